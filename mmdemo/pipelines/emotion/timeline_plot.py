"""A video's emotion timeline drawn as a PNG for reports: time across, one lane per reading (text, voice, face,
fused), each segment a block in its label's colour, taller for a more confident reading; a segment whose reading
is missing ("no face seen") is an empty outline."""

from __future__ import annotations

import math
import os
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from mmdemo.emotion_labels import LABELS
from mmdemo.pipelines.emotion.face import COLOURS

LANES = ("text", "voice", "face", "fused")


def draw(timeline: dict, duration: float, width: int = 1280) -> Image.Image:
    """The plot of a ``Timeline.to_dict()`` over ``duration`` seconds."""
    font = ImageFont.load_default(size=14)
    left, right, lane_h, gap, top = 70, 20, 44, 8, 10
    axis_y = top + len(LANES) * (lane_h + gap)
    sheet = Image.new("RGB", (width, axis_y + 60), "white")
    draw = ImageDraw.Draw(sheet)
    span = max(duration, max((s["end"] for s in timeline["segments"]), default=0.0), 1e-3)

    def x(t: float) -> float:
        return left + (width - left - right) * t / span

    for lane, name in enumerate(LANES):
        y0 = top + lane * (lane_h + gap)
        draw.text((6, y0 + lane_h / 2 - 8), name, fill="black", font=font)
        draw.line((left, y0 + lane_h, width - right, y0 + lane_h), fill="#cccccc")
        for seg in timeline["segments"]:
            reading = seg["fused"] if name == "fused" else seg["modalities"][name]
            x0, x1 = x(seg["start"]), max(x(seg["start"]) + 2, x(seg["end"]) - 1)
            if not reading.get("label"):
                draw.rectangle((x0, y0 + 4, x1, y0 + lane_h), outline="#bbbbbb")
                continue
            height = max(4, lane_h * reading["confidence"])
            draw.rectangle((x0, y0 + lane_h - height, x1, y0 + lane_h), fill=COLOURS[reading["label"]])
    # at most 12 ticks; past 6 hours, whole half hours
    step = next((s for s in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800) if span / s <= 12),
                math.ceil(span / 12 / 1800) * 1800)
    for k in range(int(span // step) + 1):
        draw.line((x(k * step), axis_y - 4, x(k * step), axis_y), fill="black")
        draw.text((x(k * step) - 6, axis_y + 2), f"{k * step:g}s", fill="black", font=font)
    at = left
    for label in LABELS:
        draw.rectangle((at, axis_y + 30, at + 14, axis_y + 44), fill=COLOURS[label])
        draw.text((at + 18, axis_y + 29), label, fill="black", font=font)
        at += 28 + int(draw.textlength(label, font=font))
    draw.text((at + 10, axis_y + 29), "height = confidence; outline = nothing read", fill="#555555", font=font)
    return sheet


def write(timeline: dict, duration: float, path: "str | os.PathLike") -> Path:
    path = Path(path)
    draw(timeline, duration).save(path, format="PNG", optimize=True)
    return path
