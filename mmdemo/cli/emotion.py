"""`python -m mmdemo emotion [--text T | --text-file F] [--audio A] [--image I] [--video V] [--weights ...]`:
emotion of text, voice and face, fused with weights (the Emotion tab's twin); `--conversation FILE`: a transcript
with speakers read utterance by utterance, as rows and a per-speaker timeline."""

HELP = "emotion of text, voice and face, fused with weights over anger/disgust/fear/joy/neutral/sadness/surprise"


def add_arguments(parser) -> None:
    from mmdemo.options import add_flags
    from mmdemo.pipelines.emotion.options import EmotionOptions

    text = parser.add_mutually_exclusive_group()
    text.add_argument("--text", metavar="T", help="text to read")
    text.add_argument("--text-file", metavar="F", help="UTF-8 file with one text per line (gives a list of results)")
    text.add_argument("--conversation", metavar="FILE",
                      help="transcript with speakers: a CSV (utterance/text, speaker, optional dialogue_id), an SRT or "
                           "VTT with speaker names, or the Speech tab's JSON; each utterance read with the one "
                           "before it (the offline trained head)")
    parser.add_argument("--audio", metavar="A", help="audio file (or a video whose sound to read)")
    parser.add_argument("--image", metavar="I", help="image with faces")
    parser.add_argument("--video", metavar="V", help="video: faces over time, and its audio track if --audio is absent")
    parser.add_argument("--weights", metavar="W", default="",
                        help="fusion weights, e.g. text=1,voice=1,face=1 (default 1 each; 0 leaves a modality out)")
    parser.add_argument("--annotated", metavar="PNG", help="save the image with labelled face boxes here")
    add_flags(parser, EmotionOptions)  # --text-reader (the weights: --weights above)


def run(args):
    from mmdemo.options import from_args
    from mmdemo.pipelines.emotion.options import EmotionOptions
    from mmdemo.errors import BadInput
    from mmdemo.pipelines import emotion

    if args.conversation is not None:
        if any(x is not None for x in (args.audio, args.image, args.video, args.annotated)) or args.weights:
            raise BadInput("--conversation reads a transcript's text only: leave out --audio, --image, --video, "
                           "--weights and --annotated.")
        from mmdemo.pipelines.emotion.conversation import analyze_conversation

        reader = from_args(EmotionOptions, args).text_reader
        return {"conversation": analyze_conversation(args.conversation, reader=reader).to_dict()}
    texts = None
    if args.text is not None:
        texts = [args.text]
    elif args.text_file is not None:
        texts = emotion.read_text_file(args.text_file)
    options = from_args(EmotionOptions, args)
    reports = emotion.analyze_many(texts, audio=args.audio, image=args.image, video=args.video, weights=args.weights,
                                   text_reader=options.text_reader)
    if args.annotated and reports[0].annotated is not None:
        try:
            reports[0].annotated.save(args.annotated)
        except (OSError, ValueError) as exc:
            raise BadInput(f"cannot save the annotated image to {args.annotated}: {exc}") from None
    for report in reports:
        if report.fused is None:  # inputs were given but none carried a signal: say why, in one line
            reasons = "; ".join(f"{name}: {why}" for name, why in report.no_signal.items())
            raise BadInput(f"nothing to fuse ({reasons}).")
    results = [report.to_dict() for report in reports]
    return results if args.text_file is not None else results[0]


def render(result) -> str:
    if isinstance(result, dict) and "conversation" in result:
        talk = result["conversation"]
        lines = [f"{talk['method']}; {talk['context']}"]
        for row in talk["utterances"]:
            when = f"{row['start']:>7.2f}s " if row.get("start") is not None else ""
            lines.append(f"{row['index']:>4} {when}{row['speaker'][:12]:<12} {row['label']:<9} "
                         f"{row['confidence']:.0%}  {row['text']}")
        return "\n".join(lines)
    results = result if isinstance(result, list) else [result]
    blocks = []
    for res in results:
        lines = [f"text: {res['text']}"] if "text" in res else []
        for name, mod in res["modalities"].items():
            top = ", ".join(f"{k} {v:.0%}" for k, v in sorted(mod["scores"].items(), key=lambda kv: -kv[1])[:3])
            lines.append(f"{name:<6} {mod['label']:<9} ({top})  [{mod['method']}]")
            if name == "text" and mod.get("valence"):
                lines.append(f"       valence {mod['valence']['reading']} ({mod['valence']['compound']:+.2f}, VADER)")
            prosody = mod.get("prosody")
            if prosody:
                lines.append(f"       arousal {prosody['arousal_level']} ({prosody['arousal']:.2f}, heuristic from prosody)")
        for name, why in res["no_signal"].items():
            lines.append(f"{name:<6} -         ({why}; left out of the fusion)")
        fused = res["fused"]
        top = ", ".join(f"{k} {v:.0%}" for k, v in sorted(fused["scores"].items(), key=lambda kv: -kv[1])[:3])
        weights = ", ".join(f"{k} {v:.2f}" for k, v in fused["weights"].items())
        lines.append(f"fused  {fused['label']:<9} ({top})  weights: {weights}")
        lines += timeline_lines(res.get("timeline"))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def timeline_lines(timeline: dict | None) -> list[str]:
    """A video's timeline, one line per transcript segment (or the line that says why there is none)."""
    if not timeline:
        return []
    from mmdemo.pipelines.emotion.timeline import table_rows

    if timeline["note"]:
        return ["", f"timeline: {timeline['note']}"]
    lines = ["", "timeline (per transcript segment: text | voice | face -> fused)"]
    for row in table_rows(timeline):
        lines.append(f"{row['start']:>7.2f}-{row['end']:<7.2f} {row['text']} | {row['voice']} | {row['face']} -> "
                     f"{row['fused']}  \"{row['said']}\"")
    return lines
