"""Synthetic videos with known ground truth, written with PyAV: scenes with known cut times (coloured
backgrounds with moving shapes, or still photos with a slow pan), optional espeak-ng narration at known times.

Used by the video tests and by ``bench.video`` (never at app run time).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

CONTAINER_CODECS = {  # extension -> (video codec, audio codec, pixel format)
    ".mp4": ("libx264", "aac", "yuv420p"),
    ".mov": ("libx264", "aac", "yuv420p"),
    ".mkv": ("libx264", "libopus", "yuv420p"),
    ".webm": ("libvpx", "libopus", "yuv420p"),
    ".avi": ("mpeg4", "mp3", "yuv420p"),
}


@dataclass
class Scene:
    seconds: float
    colour: tuple[int, int, int] | None = None  # a coloured background with moving shapes...
    photo: Image.Image | None = None  # ...or a still photo with a slow pan (Ken Burns)
    shapes: int = 3
    speed: float = 1.0  # shape speed multiplier (1.0: up to 0.3 frame widths over the scene)
    pan: float = 0.15  # photo scenes: how much wider than the frame the photo is, panned across


@dataclass
class Narration:
    start: float  # seconds from the start of the video
    text: str


@dataclass
class Made:
    path: Path
    cuts: list[float]  # ground-truth cut times (seconds)
    duration: float
    narration: list[Narration] = field(default_factory=list)


def espeak(text: str, sample_rate: int = 16000, voice: str = "en-us", speed: int = 160) -> np.ndarray:
    """Speech for ``text`` from espeak-ng as float32 mono at ``sample_rate``."""
    import librosa
    import soundfile as sf

    if shutil.which("espeak-ng") is None:
        raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng)")
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(wav), text], check=True,
                       capture_output=True)
        audio, rate = sf.read(wav, dtype="float32")
    if audio.ndim > 1:
        audio = audio.mean(axis=1)
    return librosa.resample(audio, orig_sr=rate, target_sr=sample_rate) if rate != sample_rate else audio


def make_video(path, scenes: list[Scene], size=(320, 180), fps: int = 25, narration: list[Narration] = (),
               audio: bool | None = None, seed: int = 0, gop: int | None = None) -> Made:
    """Write a video of ``scenes`` back to back; the cut times are the scene boundaries."""
    import av

    path = Path(path)
    vcodec, acodec, pix_fmt = CONTAINER_CODECS[path.suffix.lower()]
    width, height = size
    rng = np.random.default_rng(seed)
    duration = sum(s.seconds for s in scenes)
    frames_total = int(round(duration * fps))
    with_audio = bool(narration) if audio is None else audio
    sample_rate = 48000 if acodec == "libopus" else 16000 if acodec in ("aac", "mp3") else 16000
    track = _audio_track(narration, duration, sample_rate) if with_audio else None

    with av.open(str(path), mode="w") as container:
        vstream = container.add_stream(vcodec, rate=fps)
        vstream.width, vstream.height, vstream.pix_fmt = width, height, pix_fmt
        if vcodec == "libx264":
            vstream.options = {"preset": "veryfast", "crf": "23"}
        if gop:
            vstream.codec_context.gop_size = gop
        astream = None
        if track is not None:
            astream = container.add_stream(acodec, rate=sample_rate)
            astream.layout = "mono"
        # Render scene by scene so the cut lands exactly on a frame boundary.
        cuts, frame_index, elapsed = [], 0, 0.0
        for number, scene in enumerate(scenes):
            end_frame = int(round((elapsed + scene.seconds) * fps))
            painter = _painter(scene, size, rng)
            first = frame_index
            while frame_index < end_frame:
                image = painter((frame_index - first) / max(1, end_frame - first - 1))
                frame = av.VideoFrame.from_image(image).reformat(format=pix_fmt)
                frame.pts = frame_index
                frame.time_base = Fraction(1, fps)
                for packet in vstream.encode(frame):
                    container.mux(packet)
                frame_index += 1
            elapsed += scene.seconds
            if number < len(scenes) - 1:
                cuts.append(round(end_frame / fps, 4))
        for packet in vstream.encode():
            container.mux(packet)
        if astream is not None:
            _write_audio(container, astream, track, sample_rate)
    return Made(path, cuts, frames_total / fps, list(narration))


def _audio_track(narration, duration: float, sample_rate: int) -> np.ndarray:
    track = np.zeros(int(round(duration * sample_rate)), dtype=np.float32)
    for item in narration:
        speech = espeak(item.text, sample_rate) * 0.8
        at = int(item.start * sample_rate)
        speech = speech[: max(0, len(track) - at)]
        track[at:at + len(speech)] += speech
    return np.clip(track, -1.0, 1.0)


def _write_audio(container, stream, track: np.ndarray, sample_rate: int) -> None:
    import av

    chunk = 1024 if stream.codec_context.name != "libopus" else 960
    pcm = (track * 32767).astype(np.int16)
    for start in range(0, len(pcm), chunk):
        piece = pcm[start:start + chunk]
        frame = av.AudioFrame.from_ndarray(piece.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = sample_rate, start, Fraction(1, sample_rate)
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)


def _painter(scene: Scene, size, rng):
    width, height = size
    if scene.photo is not None:
        photo = scene.photo.convert("RGB")
        # Cover the frame with some spare width, then pan across the spare part.
        scale = max(width * (1.0 + scene.pan) / photo.width, height / photo.height)
        big = photo.resize((max(width, round(photo.width * scale)), max(height, round(photo.height * scale))),
                           Image.BILINEAR)
        spare_x, spare_y = big.width - width, big.height - height

        def paint_photo(progress: float) -> Image.Image:
            x, y = round(spare_x * progress), round(spare_y / 2)
            return big.crop((x, y, x + width, y + height))

        return paint_photo

    colour = scene.colour or tuple(int(c) for c in rng.integers(0, 256, 3))
    shapes = [(rng.uniform(0.1, 0.9, 2), rng.uniform(-0.3, 0.3, 2) * scene.speed,
               int(rng.integers(8, max(9, height // 4))),
               tuple(int(c) for c in rng.integers(0, 256, 3))) for _ in range(scene.shapes)]
    noise = rng.integers(-12, 13, (height, width, 1), dtype=np.int16)  # texture, so frames are not flat

    def paint_shapes(progress: float) -> Image.Image:
        base = np.clip(np.array(colour, dtype=np.int16)[None, None, :] + noise, 0, 255).astype(np.uint8)
        image = Image.fromarray(base)
        draw = ImageDraw.Draw(image)
        for start, velocity, radius, fill in shapes:
            # Bounce off the frame edges: wrapping around would make a shape jump across the frame, a
            # discontinuity inside the shot that every frame-difference detector rightly scores like a cut.
            x, y = 1.0 - np.abs(1.0 - (start + velocity * progress) % 2.0)
            cx, cy = x * width, y * height
            draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=fill)
        return image

    return paint_shapes


def photos() -> list[Image.Image]:
    """Real photographs shipped with scikit-image (a test dependency)."""
    import skimage.data

    names = ["astronaut", "chelsea", "coffee", "rocket", "cat", "hubble_deep_field", "immunohistochemistry"]
    return [Image.fromarray(getattr(skimage.data, name)()).convert("RGB") for name in names]


def random_scenes(rng: np.random.Generator, count: int, pictures: list[Image.Image],
                  shortest: float = 1.0, longest: float = 5.0) -> list[Scene]:
    """A mix that stresses cut detectors: neighbours of equal brightness and saturation (only the hue changes),
    fast-moving shapes, photos panned quickly, and the same photo coming back later (A-B-A editing). Two
    neighbours are never the same picture, so every boundary is a real cut."""
    import colorsys

    scenes: list[Scene] = []
    value, hue, last_photo = int(rng.integers(120, 230)), float(rng.uniform(0, 1)), -1
    for _ in range(count):
        seconds = round(float(rng.uniform(shortest, longest)), 2)
        kind = str(rng.choice(["colour", "isoluminant", "fast", "photo", "pan"]))
        if kind in ("colour", "fast"):
            scenes.append(Scene(seconds, tuple(int(c) for c in rng.integers(0, 256, 3)),
                                speed=4.0 if kind == "fast" else 1.0, shapes=int(rng.integers(1, 6))))
            last_photo = -1
        elif kind == "isoluminant":  # same V and S as the last one of its kind, a hue at least 0.2 away
            hue = (hue + float(rng.uniform(0.2, 0.8))) % 1.0
            scenes.append(Scene(seconds, tuple(int(c * 255) for c in colorsys.hsv_to_rgb(hue, 0.8, value / 255))))
            last_photo = -1
        else:
            choice = int(rng.choice([i for i in range(len(pictures)) if i != last_photo]))
            scenes.append(Scene(seconds, photo=pictures[choice], pan=0.6 if kind == "pan" else 0.15))
            last_photo = choice
    return scenes
