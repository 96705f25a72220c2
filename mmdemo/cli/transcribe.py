"""`python -m mmdemo speech FILE [--format json|srt|vtt|txt] [--output PATH] [--reference TEXT] [settings] [--json]`:
Whisper on an audio file or a video's audio track. The settings' flags come from the application's declaration
(mmdemo.pipelines.speech.options)."""

HELP = "transcribe speech (or translate it to English) with timestamps; print JSON, SRT, VTT or text"


def add_arguments(parser) -> None:
    from mmdemo.options import add_flags
    from mmdemo.pipelines.speech.options import SpeechOptions

    parser.add_argument("file", metavar="FILE", help="audio file, or a video whose audio track to use")
    parser.add_argument("--format", choices=["json", "srt", "vtt", "txt"], default="txt",
                        help="what to print without --json (default txt)")
    parser.add_argument("--output", "-o", default=None,
                        help="write the chosen format to this file instead of stdout (--json still prints JSON)")
    parser.add_argument("--reference", default=None,
                        help="reference transcript (text, or @file.txt) to score the result with WER/CER")
    add_flags(parser, SpeechOptions)  # --task, --language, --translate-to, --beam-size, --batch-size, --no-vad


def run(args) -> dict:
    from mmdemo.options import from_args
    from mmdemo.pipelines.speech.options import SpeechOptions
    from pathlib import Path

    from mmdemo.errors import BadInput
    from mmdemo.media.text import read_text_file
    from mmdemo.outputs import check_writable
    from mmdemo.pipelines.speech import subtitles
    from mmdemo.pipelines.speech import process

    reference = args.reference
    if reference and reference.startswith("@"):  # read before transcribing: a bad file fails in a second
        reference = read_text_file(reference[1:], what=f"reference file {reference[1:]}")
    if args.output:
        check_writable(args.output, "--output")
    options = from_args(SpeechOptions, args)
    transcript = process(args.file, reference=reference, **options.to_dict())
    result = transcript.to_dict()
    result["_rendered"] = subtitles.render(transcript.shown, args.format)
    if args.output:
        try:
            Path(args.output).write_text(result["_rendered"], encoding="utf-8")
        except OSError as exc:
            raise BadInput(f"cannot write --output {args.output}: {exc.strerror or exc}.") from None
        result["_rendered"] = ""  # written to the file: stdout keeps only the score, if any
        result["_written"] = str(args.output)
    if args.json:
        result.pop("_rendered")
        result.pop("_written", None)
    return result


def render(result: dict) -> str:
    text = result.pop("_rendered").rstrip("\n")
    written = result.pop("_written", None)
    import sys

    for note in result.get("notes", []):  # stderr: stdout stays a clean subtitle file
        print(f"note: {note}", file=sys.stderr)
    if written:
        print(f"wrote {written}", file=sys.stderr)
    extra = []
    if "score" in result:
        scores = result["score"]
        extra.append(f"WER {scores['wer']:.3f}  CER {scores['cer']:.3f}  (headline {scores['headline'].upper()}, "
                     f"{scores['normalizer']} normalizer)")
    return "\n".join(([text] if text else []) + extra)
