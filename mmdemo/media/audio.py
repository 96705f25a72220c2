"""Opening user audio safely: any audio file, or the audio track of a video, as 16 kHz mono float32 samples.

PyAV (FFmpeg) decodes and resamples in one pass, so mp3/m4a/ogg/webm and mp4/mkv/mov tracks all take the same
path; every failure becomes one BadInput sentence naming the problem.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from mmdemo import config
from mmdemo.errors import BadInput

SAMPLE_RATE = 16000


def max_audio_seconds() -> float:
    return config.get("MMDEMO_MAX_AUDIO_MINUTES") * 60.0


def load_audio(path: "str | os.PathLike", sample_rate: int = SAMPLE_RATE, max_seconds: float | None = None,
               name: str | None = None, notes: list[str] | None = None) -> np.ndarray:
    """Mono float32 samples at ``sample_rate``. Audio longer than ``max_seconds`` (default:
    MMDEMO_MAX_AUDIO_MINUTES, 120 minutes) is refused with BadInput rather than silently cut. A file damaged
    part-way gives the audio before the damage, and a sentence saying so is appended to ``notes``."""
    import av

    path = Path(path)
    label = name or path.name
    limit = max_audio_seconds() if max_seconds is None else float(max_seconds)
    if not path.is_file():
        raise BadInput(f"{label}: file not found.")
    if path.stat().st_size == 0:
        raise BadInput(f"{label}: the file is empty.")
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError):
        raise BadInput(f"{label}: not an audio or video file (or a format FFmpeg cannot read).") from None
    with container:
        if not container.streams.audio:
            # FFmpeg opens a still image as a one-frame video: call it what the user would
            still = container.format.name.endswith("_pipe") or container.format.name == "image2"
            kind = "image" if still else "video" if container.streams.video else "file"
            raise BadInput(f"{label}: this {kind} has no audio track.")
        stream = container.streams.audio[0]
        declared = _declared_seconds(container, stream)
        if declared is not None and declared > limit + 1.0:
            raise BadInput(f"{label}: {_minutes(declared)} of audio is over the limit of {_minutes(limit)} "
                           "(MMDEMO_MAX_AUDIO_MINUTES).")
        samples, damaged = _decode(container, stream, sample_rate, limit, label, declared, notes)
    if samples.size == 0:
        raise BadInput(f"{label}: the file contains no audio samples.")
    if declared is not None and samples.size / sample_rate < declared - max(0.5, 0.02 * declared):
        damaged = True  # the stream ended early without an error (mp3, ogg): the header knew the real length
    if damaged and notes is not None:
        notes.append(f"{label} is damaged or truncated: only its first {samples.size / sample_rate:.1f} s "
                     "could be decoded, and only they were used.")
    if not np.isfinite(samples).all():
        samples = np.nan_to_num(samples, nan=0.0, posinf=0.0, neginf=0.0)
    return samples


def _decode(container, stream, sample_rate: int, limit: float, label: str, declared: float | None,
            notes: list[str] | None) -> tuple[np.ndarray, bool]:
    """(samples, whether decoding stopped at damage before the end of the stream).

    Packets are demuxed and decoded one at a time so that a damaged one costs only itself, as in FFmpeg: a packet
    the decoder rejects is skipped, and any hole in the timeline (a skipped packet, or an Ogg page dropped for a
    bad checksum) is filled with silence of the same length, so later speech keeps its time in the file."""
    import av

    # 16-bit PCM, mono, target rate in one FFmpeg resampler step, scaled to [-1, 1) afterwards: the samples Whisper
    # was trained and evaluated on (its loader and faster-whisper's decode_audio do the same). Float output differs
    # by under 2e-5 and was enough to flip a beam-search decision into a repeated sentence (bench.real).
    resampler = av.AudioResampler(format="s16", layout="mono", rate=sample_rate)
    chunks: list[np.ndarray] = []
    damaged = False
    total, max_samples = 0, int((limit + 1.0) * sample_rate)
    # Decoded frames carry the stream's time base; one float, not a Fraction product per frame (measurably slower)
    unit = float(stream.time_base) if stream.time_base is not None else None
    origin = stream.start_time * unit if stream.start_time is not None and unit else 0.0
    expected = origin  # where, in seconds of the stream's timeline, the next frame should start
    decoded, bad_packets, skipped, error = 0, 0, 0.0, None
    trailing, pending = 0, 0.0  # packets rejected since the last good frame, and their seconds
    try:
        for packet in container.demux(stream):
            try:
                frames = stream.decode(packet)  # the last, empty packet flushes the decoder
            except (av.error.FFmpegError, ValueError) as exc:
                if packet.size:
                    trailing, error = trailing + 1, exc
                    if packet.duration and packet.time_base is not None:
                        pending += float(packet.duration * packet.time_base)
                continue
            for frame in frames:
                decoded += 1
                seconds = frame.samples / frame.sample_rate
                gap = pending
                if frame.pts is not None and unit:
                    start = frame.pts * unit
                    # Timestamps jitter by a millisecond in some containers; a lost frame leaves a whole frame.
                    gap = start - expected if start - expected > max(0.005, 0.5 * seconds) else 0.0
                    expected = start + seconds
                else:
                    expected += pending + seconds
                if gap > 0 and (declared is None or (total / sample_rate) + gap <= declared + 1.0):
                    silence = np.zeros(int(round(gap * sample_rate)), np.float32)
                    chunks.append(silence)
                    total += silence.size
                    skipped += gap
                bad_packets, trailing, pending = bad_packets + trailing, 0, 0.0
                for out in resampler.resample(frame):
                    chunk = _pcm(out)
                    chunks.append(chunk)
                    total += chunk.size
                if total > max_samples:  # containers without a duration: stop decoding as soon as we know
                    raise BadInput(f"{label}: the audio is over the limit of {_minutes(limit)} "
                                   "(MMDEMO_MAX_AUDIO_MINUTES).")
    except BadInput:
        raise
    except (av.error.FFmpegError, ValueError) as exc:
        # The container itself cannot be read further (a truncated file): keep the audio before the damage, as
        # FFmpeg players do.
        damaged, error = True, exc
    if decoded == 0 and error is not None:
        raise BadInput(f"{label}: the audio could not be decoded ({error}).")
    for out in resampler.resample(None):
        chunks.append(_pcm(out))
    if trailing:  # nothing decoded after them: the end of the file is damaged or cut mid-packet
        damaged = True
    if (bad_packets or skipped) and notes is not None:
        notes.append(_skipped_note(label, bad_packets, skipped))
    samples = np.concatenate(chunks).astype(np.float32, copy=False) if chunks else np.zeros(0, np.float32)
    return samples, damaged


def _skipped_note(label: str, packets: int, seconds: float) -> str:
    if packets:
        # The first AAC packet is mostly encoder priming, discarded anyway: its loss costs no time
        length = f" ({seconds:.2f} s)" if seconds >= 0.005 else ""
        what = f"{packets} damaged audio packet{'s' if packets != 1 else ''}{length}"
        verb = "were" if packets != 1 else "was"
    else:
        what, verb = f"{seconds:.2f} s of damaged or missing audio", "was"
    return f"{label}: {what} {verb} skipped; silence stands in for it so later times stay in place."


def _pcm(frame) -> np.ndarray:
    return frame.to_ndarray().reshape(-1).astype(np.float32) / 32768.0


def _declared_seconds(container, stream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000  # av.time_base
    return None


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} minutes" if seconds >= 60 else f"{seconds:.1f} seconds"


def duration(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> float:
    return len(samples) / sample_rate


def encode_pcm(container, stream, samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    """Mux mono float samples (-1..1) into an open PyAV output ``container`` through its audio ``stream``, as 16-bit
    PCM frames, and flush the encoder (a moment clip's sound; the tests' narrated videos)."""
    import av

    pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16)
    for offset in range(0, len(pcm), 1024):
        frame = av.AudioFrame.from_ndarray(pcm[None, offset:offset + 1024], format="s16", layout="mono")
        frame.sample_rate = sample_rate
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
