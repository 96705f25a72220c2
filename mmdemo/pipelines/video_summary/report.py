"""A video summary written out: the storyboard PNG, keyframe JPEGs, a Markdown report and the JSON record."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from mmdemo.pipelines.video_summary.result import VideoSummary
from mmdemo.timecode import clock


def write_storyboard(result: VideoSummary, path: "str | os.PathLike", width: int = 1280) -> Path:
    """Keyframes in a grid, each labelled with its shot number and time range; PNG."""
    from PIL import Image, ImageDraw, ImageFont

    n = len(result.shots)
    columns = 1 if n == 1 else 2 if n <= 4 else 3 if n <= 9 else 4 if n <= 24 else 6 if n <= 72 else 8
    gap, tile_w = 8, (width - 8 * (min(columns, n) + 1)) // min(columns, n)
    aspect = result.info.height / result.info.width if result.info.width else 9 / 16
    tile_h, label_h = max(2, round(tile_w * aspect)), max(18, tile_w // 12)
    rows = -(-n // columns)
    sheet = Image.new("RGB", (gap + min(columns, n) * (tile_w + gap), gap + rows * (tile_h + label_h + gap)),
                      (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=max(10, label_h - 6))
    for i, shot in enumerate(result.shots):
        x = gap + (i % columns) * (tile_w + gap)
        y = gap + (i // columns) * (tile_h + label_h + gap)
        image = Image.open(_bytes(shot.keyframe_jpeg)).convert("RGB").resize((tile_w, tile_h), Image.BILINEAR)
        sheet.paste(image, (x, y))
        label = f"#{shot.index + 1}  {clock(shot.start)}-{clock(shot.end)}"
        if shot.duplicate_of is not None:
            label += f"  (= #{shot.duplicate_of + 1})"
        draw.text((x + 2, y + tile_h + 2), label, fill=(235, 235, 235), font=font)
    path = Path(path)
    sheet.save(path, format="PNG", optimize=True)
    return path


def markdown(result: VideoSummary, storyboard_name: str | None = None, emotion_plot_name: str | None = None) -> str:
    d = result.to_dict()
    lines = [f"# Video summary: {result.name}", "",
             f"{clock(result.duration)} · {len(result.shots)} shot{'s' if len(result.shots) != 1 else ''} · "
             f"{result.info.width}x{result.info.height} · detector {result.detector}", "",
             "## Summary", "", d["summary"] or "*(nothing to summarize)*", "", f"*Written by: {d['summary_method']}*",
             ""]
    if storyboard_name:
        lines += [f"![storyboard]({storyboard_name})", ""]
    lines += ["## Timeline", "", "| shot | time | keyframe at | shows | said |", "|---|---|---|---|---|"]
    for s in result.shots:
        shows = s.caption + (f" (same as shot {s.duplicate_of + 1})" if s.duplicate_of is not None else "")
        lines.append(f"| {s.index + 1} | {clock(s.start)}-{clock(s.end)} | {clock(s.keyframe_time)} | "
                     f"{_cell(shows)} | {_cell(s.transcript)} |")
    if "emotion_timeline" in d:
        lines += ["", *_emotion_section(d["emotion_timeline"], emotion_plot_name)]
    lines += ["", "## Transcript", "", result.transcript_text or "*(no speech)*", ""]
    if d["notes"]:
        lines += ["## Notes", ""] + [f"- {note}" for note in d["notes"]] + [""]
    lines += ["## Time per stage", "", "| stage | seconds |", "|---|---|"]
    lines += [f"| {k} | {v:.2f} |" for k, v in result.timings.items()]
    return "\n".join(lines) + "\n"


def write_report(result: VideoSummary, folder: "str | os.PathLike", stem: str | None = None) -> dict:
    """Storyboard PNG, keyframe JPEGs, Markdown and JSON reports in ``folder``; returns their paths."""
    started = time.perf_counter()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stem = stem or Path(result.name).stem or "video"
    storyboard = write_storyboard(result, folder / f"{stem}_storyboard.png")
    keyframes = []
    for s in result.shots:
        keyframe = folder / f"{stem}_shot{s.index + 1:03d}.jpg"
        keyframe.write_bytes(s.keyframe_jpeg)
        keyframes.append(keyframe)
    files = {}
    timeline = result.emotion_timeline.to_dict() if result.emotion_timeline is not None else None
    if timeline and timeline["segments"]:
        from mmdemo.pipelines.emotion import timeline_plot

        files["emotion_plot"] = timeline_plot.write(timeline, result.duration, folder / f"{stem}_emotion.png")
    result.timings["report"] = time.perf_counter() - started  # before writing, so the files include it
    md = folder / f"{stem}_summary.md"
    md.write_text(markdown(result, storyboard.name, files["emotion_plot"].name if files else None), encoding="utf-8")
    js = folder / f"{stem}_summary.json"
    js.write_text(json.dumps(result.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")
    result.timings["report"] = time.perf_counter() - started
    return {"markdown": md, "json": js, "storyboard": storyboard, "keyframes": keyframes, **files}


def _emotion_section(timeline: dict, plot_name: str | None) -> list[str]:
    """The emotion timeline: one row per transcript segment, or the line saying why there is none."""
    from mmdemo.pipelines.emotion.timeline import table_rows

    lines = ["## Emotion timeline", ""]
    if timeline["note"]:
        return lines + [timeline["note"], ""]
    weights = ", ".join(f"{k}={v:g}" for k, v in timeline["weights"].items())
    lines += [f"Each transcript segment read as text, voice and faces ({timeline['face_sampling']}), fused with "
              f"weights {weights}.", ""]
    if plot_name:
        lines += [f"![emotion timeline]({plot_name})", ""]
    lines += ["| time | said | text | voice | face | fused |", "|---|---|---|---|---|---|"]
    lines += [f"| {clock(r['start'])}-{clock(r['end'])} | {_cell(r['said'])} | {_cell(r['text'])} | "
              f"{_cell(r['voice'])} | {_cell(r['face'])} | {_cell(r['fused'])} |" for r in table_rows(timeline)]
    return lines + [""]


def _cell(text: str) -> str:
    return " ".join((text or "").split()).replace("|", "\\|")


def _bytes(data: bytes):
    import io

    return io.BytesIO(data)
