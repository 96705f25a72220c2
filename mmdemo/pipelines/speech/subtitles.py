"""Transcript -> SRT, WebVTT, plain text and JSON, the formats players and editors open."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from mmdemo.errors import BadInput

FORMATS = ("srt", "vtt", "txt", "json")
LINE_WIDTH = 42  # the usual subtitle line length: two lines of this fit a screen


def timestamp(seconds: float, separator: str = ",") -> str:
    """HH:MM:SS,mmm (SRT) or HH:MM:SS.mmm (VTT)."""
    millis = max(0, int(round(seconds * 1000)))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def _cues(segments):
    """(start, end, wrapped text) per segment; cues never overlap and never have zero length."""
    cues = []
    for seg in segments:
        text = " ".join(seg.text.split())
        if not text:
            continue
        start = max(seg.start, cues[-1][1]) if cues else seg.start
        end = max(seg.end, start + 0.2)
        cues.append((start, end, "\n".join(textwrap.wrap(text, LINE_WIDTH)) or text))
    return cues


def to_srt(segments) -> str:
    blocks = [f"{i}\n{timestamp(s)} --> {timestamp(e)}\n{text}\n" for i, (s, e, text) in enumerate(_cues(segments), 1)]
    return "\n".join(blocks)


def to_vtt(segments) -> str:
    # "-->" cannot appear in a cue's text; Whisper never writes it, but a translation might.
    blocks = [f"{timestamp(s, '.')} --> {timestamp(e, '.')}\n{text.replace('-->', '->')}\n"
              for s, e, text in _cues(segments)]
    return "WEBVTT\n\n" + "\n".join(blocks)


def to_txt(segments) -> str:
    return "\n".join(" ".join(seg.text.split()) for seg in segments if seg.text.strip()) + "\n"


def render(transcript, fmt: str) -> str:
    if fmt == "srt":
        return to_srt(transcript.segments)
    if fmt == "vtt":
        return to_vtt(transcript.segments)
    if fmt == "txt":
        return to_txt(transcript.segments)
    if fmt == "json":
        return json.dumps(transcript.to_dict(), ensure_ascii=False, indent=2) + "\n"
    raise BadInput(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}.")


def write_all(transcript, folder, stem: str = "transcript") -> dict[str, Path]:
    """Write every format into ``folder``; {format: path}."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for fmt in FORMATS:
        path = folder / f"{stem}.{fmt}"
        path.write_text(render(transcript, fmt), encoding="utf-8")
        paths[fmt] = path
    return paths
