"""`python -m mmdemo generate PROMPT --out FILE.png [--model DIR_OR_ID] [--seed N] [--steps N] [--guidance G]
[--width W] [--height H] [--negative TEXT] [--num-images N] [--json]`: text-to-image with the `diffusion` backend;
the PNGs carry their generation parameters and each image is scored against the prompt with CLIP."""

HELP = "generate images from a text prompt (diffusers; PNGs carry their parameters; CLIP score per image)"


def add_arguments(parser) -> None:
    from mmdemo.options import add_flags
    from mmdemo.pipelines.text_to_image import Options as TextToImageOptions

    parser.add_argument("prompt", metavar="PROMPT", help="what the image should show")
    parser.add_argument("--out", required=True, metavar="FILE.png",
                        help="output PNG (several images: FILE-1.png, FILE-2.png...)")
    parser.add_argument("--model", default=None, metavar="DIR_OR_ID",
                        help="diffusers model folder or Hub id (default: MMDEMO_DIFFUSION_MODEL or stabilityai/sd-turbo)")
    # --negative, --seed, --steps, --guidance, --width, --height, --num-images, --fast-decode
    add_flags(parser, TextToImageOptions)
    parser.add_argument("--no-score", action="store_true", help="skip the CLIP score")


def run(args) -> dict:
    from mmdemo.options import from_args
    from mmdemo.pipelines.text_to_image import Options as TextToImageOptions
    from pathlib import Path

    from mmdemo import backends
    from mmdemo.errors import BadInput
    from mmdemo.outputs import check_writable
    from mmdemo.pipelines.text_to_image import generate
    from mmdemo.registry import looks_like_path

    if Path(args.out).suffix.lower() != ".png":
        raise BadInput(f"--out must name a .png file (the parameters live in PNG text chunks), not {args.out}.")
    if args.model and looks_like_path(args.model) and not Path(args.model).expanduser().is_dir():
        raise BadInput(f"--model {args.model}: no such folder (give a diffusers model folder or a Hub id).")
    check_writable(args.out, "--out")  # before the generation, not after it
    if args.model:
        backends.REGISTRY.set_source("diffusion", args.model)
    result = generate(args.prompt, score=not args.no_score,
                      **from_args(TextToImageOptions, args).pipeline_kwargs())
    result.save(args.out)
    return result.to_dict()


def render(result: dict) -> str:
    lines = []
    for path, seed, score in zip(result["images"], result["seeds"], result["clip_scores"]):
        lines.append(f"{path}  seed {seed}  CLIP score {score if score is not None else 'n/a'}")
    lines.append(f"model {result['model']}, {result['seconds']:.1f} s")
    lines += [f"note: {n}" for n in ([result["clip_note"]] if result["clip_note"] else []) + result["notes"]]
    return "\n".join(lines)
