"""`python -m mmdemo caption IMAGE... [--labels "a,b,c"] [--question Q] [--json]`: captions re-ranked with CLIP,
zero-shot labels and an optional visual question, one result per image (a list when several are given)."""

HELP = "caption images (BLIP + CLIP re-ranking), score labels zero-shot, answer a question about them"


def add_arguments(parser) -> None:
    from mmdemo.options import add_flags
    from mmdemo.pipelines.captioning import Options as CaptionOptions

    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files")
    parser.add_argument("--labels", default=None,
                        help="comma-separated labels to score zero-shot (default: mmdemo/data/labels.txt)")
    parser.add_argument("--question", default=None, help="a question to ask about each image (vqa backend)")
    add_flags(parser, CaptionOptions)  # --prompt, --decoding, --candidates, --max-tokens, --alpha, --beta, --seed,
    # --translate
    parser.add_argument("--sample", dest="decoding", action="store_const", const="sample",
                        help="sample candidates instead of beam search (the same as --decoding sample)")
    parser.add_argument("--imagenet", action="store_true", help="always report the ImageNet top-5 as well")


def run(args):
    """One image: its result (an unreadable file is an error). Several: a list in which an unreadable file is an
    item with "error", as in the tab's batch mode; only a batch with no readable image fails."""
    from mmdemo.options import from_args
    from mmdemo.pipelines.captioning import Options as CaptionOptions
    from mmdemo.pipelines.captioning import caption_batch, caption_images

    options = dict(labels=args.labels, question=args.question, imagenet=args.imagenet,
                   **from_args(CaptionOptions, args).pipeline_kwargs())
    if len(args.images) == 1:
        return caption_images(args.images, **options)[0].to_dict()
    return caption_batch(args.images, **options).to_dicts()


def render(result) -> str:
    blocks = []
    for r in result if isinstance(result, list) else [result]:
        if "error" in r:
            blocks.append(f"{r['file']}: skipped: {r['error']}")
            continue
        lines = [f"{r['file']} ({r['width']}x{r['height']}): {r['caption']}", f"  backend: {r['backend']}"]
        for c in r["captions"]:
            clip = f", clip {c['clip']:.2f}" if c["clip"] is not None else ""
            lines.append(f"  {c['score']:8.3f}  {c['text']}  (log-likelihood {c['loglik']:.3f}{clip})")
        if r["labels"]:
            top = ", ".join(f"{x['label']} {x['score']:.2f}" for x in r["labels"][:5])
            lines.append(f"  labels ({r['label_method']}): {top}")
        if r["imagenet"]:
            lines.append("  ImageNet: " + ", ".join(f"{x['label']} {x['prob']:.2f}" for x in r["imagenet"]))
        if r["answer"] is not None:
            lines.append(f"  answer: {r['answer']}")
        if r["translation"] is not None:
            lines.append(f"  {r['translation_language']}: {r['translation']}")
        lines += [f"  note: {note}" for note in dict.fromkeys(r["notes"])]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
