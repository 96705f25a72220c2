"""`python -m mmdemo chat IMAGE [IMAGE...] "question" [--history FILE.json] [--json]`: one turn of a visual chat
about images (a video counts as a few of its frames). `--json` prints the whole conversation in "messages", which
`--history` reads back to continue it."""

HELP = "ask a vision-language model about images or a video; --history continues a conversation"


def add_arguments(parser) -> None:
    from mmdemo.options import add_flags
    from mmdemo.pipelines.chat import Options as ChatOptions

    parser.add_argument("inputs", nargs="+", metavar="IMAGE... QUESTION",
                        help="image or video files, then the question (the last argument)")
    parser.add_argument("--history", metavar="FILE.json", default=None,
                        help='earlier messages: a JSON list of {"role", "content"} (or a previous --json output)')
    parser.add_argument("--system", default=None, help="system prompt (default: the one in --history, if any)")
    add_flags(parser, ChatOptions)  # --max-new-tokens, --temperature, --top-p, --seed, --frames

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
    from mmdemo.options import from_args
    from mmdemo.pipelines.chat import Options as ChatOptions
    from mmdemo.errors import BadInput
    from mmdemo.pipelines.chat import chat, load_pictures

    *files, question = args.inputs
    if not files:
        raise BadInput("Give at least one image (or a video) before the question.")
    history = read_history_file(args.history) if args.history else None
    settings = from_args(ChatOptions, args).to_dict()
    pictures, notes = load_pictures(files, frames=settings.pop("frames"))
    reply = chat(pictures, question, history=history, system=args.system, notes=notes, **settings)
    return reply.to_dict()


def render(result) -> str:
    lines = [result["answer"]]
    lines += [f"note: {note}" for note in result["notes"]]
    return "\n".join(lines)
