"""A result's moment, playable from its start: the audio samples of a segment, or a video cut from start to end
(re-encoded with PyAV: a stream copy could only start at a keyframe, seconds early)."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np

from mmdemo.errors import BadInput
from mmdemo.media.audio import SAMPLE_RATE, encode_pcm, load_audio

MAX_MOMENT_SECONDS = 60.0  # a long shot plays its first minute
MAX_WIDTH = 640  # the player's clip: enough to see, quick to encode


def _span(start: float, end: float) -> tuple[float, float]:
    if not (np.isfinite(start) and np.isfinite(end)) or start < 0 or end <= start:
        raise BadInput(f"A moment needs 0 <= start < end, not {start}-{end}.")
    return start, min(end, start + MAX_MOMENT_SECONDS)


def audio_moment(path: "str | os.PathLike", start: float, end: float) -> tuple[int, np.ndarray]:
    """(sample rate, mono float32 samples) of ``path`` from ``start`` to ``end`` seconds."""
    start, end = _span(start, end)
    samples = load_audio(path)
    return SAMPLE_RATE, samples[int(start * SAMPLE_RATE):int(end * SAMPLE_RATE)]


def video_moment(path: "str | os.PathLike", start: float, end: float, out: "str | os.PathLike") -> Path:
    """An MP4 (H.264 + AAC when the source has sound) of ``path`` from ``start`` to ``end`` seconds."""
    import av

    start, end = _span(start, end)
    out = Path(out)
    try:
        source = av.open(str(path))
    except av.error.FFmpegError as exc:
        raise BadInput(f"{Path(path).name}: cannot be opened ({exc}).") from None
    with source:
        if not source.streams.video:
            raise BadInput(f"{Path(path).name}: has no video stream.")
        stream = source.streams.video[0]
        rate = stream.average_rate or Fraction(25)
        audio = None
        if source.streams.audio:
            try:
                audio = audio_moment(path, start, end)[1]
            except BadInput:
                audio = None  # a damaged track: the pictures still play
        with av.open(str(out), "w") as target:
            video = target.add_stream("libx264", rate=rate)
            video.pix_fmt, video.options = "yuv420p", {"preset": "veryfast", "crf": "26"}
            sound = target.add_stream("aac", rate=SAMPLE_RATE) if audio is not None and audio.size else None
            if sound is not None:
                sound.layout = "mono"
            if stream.time_base:
                source.seek(int(start / stream.time_base), stream=stream, backward=True)
            count = 0
            for frame in source.decode(stream):
                if frame.time is None or frame.time < start:
                    continue
                if frame.time >= end:
                    break
                if count == 0:
                    scale = min(1.0, MAX_WIDTH / frame.width)
                    video.width, video.height = (max(2, int(frame.width * scale) // 2 * 2),
                                                 max(2, int(frame.height * scale) // 2 * 2))
                picture = frame.reformat(width=video.width, height=video.height, format="yuv420p")
                picture.pts, picture.time_base = count, Fraction(1) / rate
                for packet in video.encode(picture):
                    target.mux(packet)
                count += 1
            for packet in video.encode():
                target.mux(packet)
            if sound is not None:
                encode_pcm(target, sound, audio)
    if count == 0:
        raise BadInput(f"{Path(path).name}: no frame between {start:.1f} and {end:.1f} s could be decoded.")
    return out
