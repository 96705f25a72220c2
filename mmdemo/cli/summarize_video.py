"""`python -m mmdemo summarize-video FILE [--detector combined|adaptive|content|embedding] [--every SECONDS]
[--method auto|extractive|abstractive] [--sentences N] [--language xx] [--report-dir DIR] [--emotion-timeline
[--emotion-weights W]] [--json]`: shots with keyframes and captions, the transcript assigned to shots, a summary, and
optionally each spoken segment's emotion."""

HELP = "summarize a video: shots, keyframe captions, what was said per shot, a summary; optional report files"

DETECTORS = ("combined", "adaptive", "content", "embedding")  # mmdemo.pipelines.video_summary.shots.DETECTORS, kept import-free here


def add_arguments(parser) -> None:
    # no pipeline import here: every command's parser is built at start-up, and it must stay fast
    parser.add_argument("file", metavar="FILE", help="video file (mp4, mkv, webm, mov, avi)")
    parser.add_argument("--detector", choices=DETECTORS, default="combined",
                        help="cut detector (default combined: PySceneDetect's ContentDetector for hard cuts and "
                             "AdaptiveDetectors a second apart for fades and dissolves)")
    parser.add_argument("--every", type=float, default=0.04, metavar="SECONDS",
                        help="sample a frame every this many seconds for cut detection (default 0.04: every "
                             "frame of a 25 fps video)")
    parser.add_argument("--method", choices=["auto", "extractive", "abstractive"], default="auto",
                        help="summary method (default auto: abstractive when a summarization model is available)")
    parser.add_argument("--sentences", type=int, default=5, help="extractive summary length (default 5)")
    parser.add_argument("--language", default=None, help="spoken language code (en, es...); default: detect")
    parser.add_argument("--report-dir", default=None, metavar="DIR",
                        help="also write the storyboard PNG, keyframes, Markdown and JSON report here")
    parser.add_argument("--emotion-timeline", action="store_true",
                        help="also read each transcript segment's emotion (its words, its voice, the faces during it), "
                             "fused, as the Emotion tab's video timeline does")
    parser.add_argument("--emotion-weights", metavar="W", default="",
                        help="fusion weights for --emotion-timeline, e.g. text=1,voice=1,face=2 (default 1 each)")


def run(args) -> dict:
    from mmdemo.errors import BadInput
    from mmdemo.pipelines.video_summary import summarize_video, write_report

    if args.emotion_weights and not args.emotion_timeline:
        raise BadInput("--emotion-weights weighs the emotion timeline: add --emotion-timeline.")
    result = summarize_video(args.file, every_seconds=args.every, detector=args.detector, summary_method=args.method,
                             max_sentences=args.sentences, language=args.language,
                             emotion_timeline=args.emotion_timeline, emotion_weights=args.emotion_weights)
    if args.report_dir:
        files = write_report(result, args.report_dir)
        out = result.to_dict()
        out["files"] = {k: [str(p) for p in v] if isinstance(v, list) else str(v) for k, v in files.items()}
        return out
    return result.to_dict()


def render(result: dict) -> str:
    from mmdemo.pipelines.video_summary import clock

    lines = [f"{result['file']}: {clock(result['duration'])}, {len(result['shots'])} shot(s)", ""]
    for shot in result["shots"]:
        lines.append(f"#{shot['index'] + 1}  {clock(shot['start'])}-{clock(shot['end'])}  {shot['caption']}")
        if shot["transcript"]:
            lines.append(f"      said: {shot['transcript']}")
    lines += ["", f"Summary ({result['summary_method']}):", result["summary"] or "(nothing to summarize)"]
    lines += [f"note: {note}" for note in result["notes"]]
    if "emotion_timeline" in result:
        from mmdemo.cli.emotion import timeline_lines

        lines += timeline_lines(result["emotion_timeline"])
    if "files" in result:
        lines += [f"wrote {result['files'][k]}" for k in ("markdown", "json", "storyboard", "emotion_plot")
                  if k in result["files"]]
    return "\n".join(lines)
