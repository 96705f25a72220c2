"""`python -m mmdemo video FILE [--detector combined|adaptive|content|embedding] [--every SECONDS] [--threshold X]
[--method auto|extractive|abstractive] [--sentences N] [--language xx] [--report-dir DIR] [--json]`: shots with
keyframes and captions, the transcript assigned to shots, and a summary. The settings' flags come from the
application's declaration (mmdemo.pipelines.video_summary.options)."""

from mmdemo.options import add_flags, from_args
from mmdemo.pipelines.video_summary.options import VideoOptions

HELP = "summarize a video: shots, keyframe captions, what was said per shot, a summary; optional report files"


def add_arguments(parser) -> None:
    parser.add_argument("file", metavar="FILE", help="video file (mp4, mkv, webm, mov, avi)")
    add_flags(parser, VideoOptions)  # --detector, --every, --threshold, --method, --sentences, --language
    parser.add_argument("--report-dir", default=None, metavar="DIR",
                        help="also write the storyboard PNG, keyframes, Markdown and JSON report here")


def run(args) -> dict:
    from mmdemo.pipelines.video_summary import summarize_video, write_report

    result = summarize_video(args.file, **from_args(VideoOptions, args).to_dict())
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
    if "files" in result:
        lines += [f"wrote {result['files'][k]}" for k in ("markdown", "json", "storyboard")]
    return "\n".join(lines)
