"""`python -m mmdemo video FILE [--detector combined|adaptive|content|embedding] [--every SECONDS] [--threshold X]
[--method auto|extractive|abstractive] [--sentences N] [--language xx] [--emotion-timeline [--emotion-weights W]]
[--report-dir DIR] [--json]`: shots with keyframes and captions, the transcript assigned to shots, a summary, and
optionally each spoken segment's emotion. The settings' flags come from the application's declaration
(mmdemo.pipelines.video_summary.options)."""

HELP = "summarize a video: shots, keyframe captions, what was said per shot, a summary; optional report files"


def add_arguments(parser) -> None:
    from mmdemo.options import add_flags
    from mmdemo.pipelines.video_summary.options import VideoOptions

    parser.add_argument("file", metavar="FILE", help="video file (mp4, mkv, webm, mov, avi)")
    # --detector, --every, --threshold, --method, --sentences, --language, --emotion-timeline, --emotion-weights
    add_flags(parser, VideoOptions)
    parser.add_argument("--report-dir", default=None, metavar="DIR",
                        help="also write the storyboard PNG, keyframes, Markdown and JSON report here")


def run(args) -> dict:
    from mmdemo.options import from_args
    from mmdemo.pipelines.video_summary.options import VideoOptions
    from mmdemo.errors import BadInput
    from mmdemo.pipelines.video_summary import summarize_video, write_report

    settings = from_args(VideoOptions, args)
    if settings.emotion_weights and not settings.emotion_timeline:
        raise BadInput("--emotion-weights weighs the emotion timeline: add --emotion-timeline.")
    result = summarize_video(args.file, **settings.to_dict())
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
