"""`python -m mmdemo chat IMAGE [IMAGE...] "question" [--history FILE.json] [--json]`: one turn of a visual chat
about images (a video counts as a few of its frames). `--json` prints the whole conversation in "messages", which
`--history` reads back to continue it."""

HELP = "ask a vision-language model about images or a video; --history continues a conversation"


def add_arguments(parser) -> None:
    # no pipeline import here: every command's parser is built at start-up, and it must stay fast
    parser.add_argument("inputs", nargs="+", metavar="IMAGE... QUESTION",
                        help="image or video files, then the question (the last argument)")
    parser.add_argument("--history", metavar="FILE.json", default=None,
                        help='earlier messages: a JSON list of {"role", "content"} (or a previous --json output)')
    parser.add_argument("--system", default=None, help="system prompt (default: the one in --history, if any)")
    parser.add_argument("--frames", type=int, default=4, help="frames taken from each video (default 4)")
    parser.add_argument("--max-new-tokens", type=int, default=256, help="longest answer in tokens (default 256)")
    parser.add_argument("--temperature", type=float, default=0.0,
                        help="sampling temperature; 0 (the default) is greedy decoding")
    parser.add_argument("--top-p", type=float, default=0.9, help="nucleus sampling mass (default 0.9)")
    parser.add_argument("--seed", type=int, default=0, help="random seed for sampling (default 0)")


def read_history_file(path: str):
    """The messages in a --history file: a list, or the "messages" of a previous --json output."""
    import json

    from mmdemo.errors import BadInput
    from mmdemo.media.text import read_text_file

    try:
        data = json.loads(read_text_file(path, what=path))
    except json.JSONDecodeError as exc:
        raise BadInput(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}).") from None
    if isinstance(data, dict) and "messages" in data:
        data = data["messages"]
    return data


def run(args):
    from mmdemo.errors import BadInput
    from mmdemo.pipelines.chat import chat, load_pictures

    *files, question = args.inputs
    if not files:
        raise BadInput("Give at least one image (or a video) before the question.")
    history = read_history_file(args.history) if args.history else None
    pictures, notes = load_pictures(files, frames=args.frames)
    reply = chat(pictures, question, history=history, system=args.system, notes=notes,
                 max_new_tokens=args.max_new_tokens, temperature=args.temperature, top_p=args.top_p, seed=args.seed)
    return reply.to_dict()


def render(result) -> str:
    lines = [result["answer"]]
    lines += [f"note: {note}" for note in result["notes"]]
    return "\n".join(lines)
