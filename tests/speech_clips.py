"""Helpers for the speech tests: espeak-ng speech clips, tones, and small MPEG-4 files with or without audio."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from mmdemo.media.audio import encode_pcm

ASSETS = Path(__file__).resolve().parent.parent / "assets"
SR = 16000


def espeak(path: Path, text: str, voice: str, speed: int = 150) -> Path:
    """Speech synthesised by espeak-ng (a robotic but real voice), resampled to a 16 kHz wav."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed (.ci/run installs it)")
    raw = path.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(raw), text], check=True, timeout=60)
    import librosa
    import soundfile as sf

    audio, _ = librosa.load(raw, sr=SR, mono=True)
    sf.write(path, audio, SR)
    return path


def write_tone(path: Path, seconds: float = 1.0, freq: float = 440.0) -> Path:
    import soundfile as sf

    t = np.arange(int(seconds * SR)) / SR
    sf.write(path, (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), SR)
    return path


def write_video(path: Path, audio: np.ndarray | None, seconds: float = 2.0, fps: int = 5) -> Path:
    """A small MPEG-4 file (grey frames), with an AAC track of ``audio`` (16 kHz mono) when given."""
    import av

    with av.open(str(path), "w") as out:
        video = out.add_stream("mpeg4", rate=fps)
        video.width, video.height, video.pix_fmt = 64, 64, "yuv420p"
        sound = out.add_stream("aac", rate=SR) if audio is not None else None
        if sound is not None:
            sound.layout = "mono"
        frame = np.full((64, 64, 3), 128, np.uint8)
        for _ in range(int(seconds * fps)):
            for packet in video.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        if sound is not None:
            encode_pcm(out, sound, audio, SR)
    return path
