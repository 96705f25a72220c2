"""Speech inputs for tests and benchmarks: espeak-ng speech clips, tones, and small MPEG-4 files with or without
audio."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from mmdemo.media.audio import encode_pcm

ASSETS = Path(__file__).resolve().parents[2] / "assets"
SR = 16000


def have_espeak() -> bool:
    """Whether espeak-ng can make clips here (tests that need it are marked ``requires_espeak``)."""
    return shutil.which("espeak-ng") is not None


def speech_audio(text: str, sample_rate: int = SR, voice: str = "en-us", speed: int = 160) -> np.ndarray:
    """Speech for ``text`` synthesised by espeak-ng (a robotic but real voice), float32 mono at ``sample_rate``."""
    import librosa
    import soundfile as sf

    if not have_espeak():
        raise RuntimeError("espeak-ng is not installed (.ci/run installs it).")
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(wav), text], check=True,
                       capture_output=True, timeout=60)
        audio, rate = sf.read(wav, dtype="float32")
    if audio.ndim > 1:
        audio = audio.mean(axis=1)
    return librosa.resample(audio, orig_sr=rate, target_sr=sample_rate) if rate != sample_rate else audio


def espeak(path: Path, text: str, voice: str, speed: int = 150) -> Path:
    """A 16 kHz wav of ``text`` spoken by espeak-ng."""
    import soundfile as sf

    sf.write(path, speech_audio(text, SR, voice, speed), SR)
    return path


def write_tone(path: Path, seconds: float = 1.0, freq: float = 440.0) -> Path:
    import soundfile as sf

    t = np.arange(int(seconds * SR)) / SR
    sf.write(path, (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), SR)
    return path


def write_video(path: Path, audio: np.ndarray | None, seconds: float = 2.0, fps: int = 5, frame_at=None,
                side: int = 64) -> Path:
    """A small MPEG-4 file, with an AAC track of ``audio`` (16 kHz mono) when given. Its frames: grey, or
    ``frame_at(time)`` (PIL images ``side`` pixels square)."""
    import av

    grey = np.full((side, side, 3), 128, np.uint8)
    with av.open(str(path), "w") as out:
        video = out.add_stream("mpeg4", rate=fps)
        video.width, video.height, video.pix_fmt = side, side, "yuv420p"
        sound = out.add_stream("aac", rate=SR) if audio is not None else None
        if sound is not None:
            sound.layout = "mono"
        mux_frames(out, video, ((av.VideoFrame.from_ndarray(grey, format="rgb24") if frame_at is None
                                 else av.VideoFrame.from_image(frame_at(i / fps))) for i in range(int(seconds * fps))))
        if sound is not None:
            encode_pcm(out, sound, audio, SR)
    return path


def mux_frames(container, stream, frames) -> None:
    """Encode ``frames`` (PyAV video frames) into ``stream`` and write them, then flush the encoder."""
    for frame in frames:
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
