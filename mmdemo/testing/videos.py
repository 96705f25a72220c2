"""Synthetic videos with known ground truth, written with PyAV: scenes with known cut times (coloured
backgrounds with moving shapes, still photos with a pan, title cards), joined by hard cuts or by gradual
transitions (fade through black, cross-dissolve, which into or out of a title card is a fade to/from the card);
motion inside a shot that must not read as a cut (fast pans, a large object sweeping across a static shot,
camera shake, crowds of moving shapes); optional espeak-ng narration at known times.

Part of the test kit: used by the tests and by ``bench.video`` (never at app run time).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from mmdemo.testing.speech_clips import mux_frames, speech_audio

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
    title: str | None = None  # a title card: this text on the plain ``colour`` background (no shapes)
    enter: str = "cut"  # how this scene begins after the previous one: "cut", "fade" (through black), "dissolve"
    enter_seconds: float = 1.0  # length of a gradual entrance, centred on the scene boundary
    sweep: float = 0.0  # seconds a large dark object (a hand before the lens) takes to cross the frame; 0: none
    shake: float = 0.0  # hand-held camera shake: amplitude as a fraction of the frame width; 0: none


@dataclass
class Transition:
    kind: str  # "cut", "fade" or "dissolve"
    start: float  # seconds; a hard cut has start == end
    end: float

    @property
    def at(self) -> float:
        return round((self.start + self.end) / 2, 4)

    def hit(self, t: float, tolerance: float = 0.5) -> bool:
        """A hard cut is found within ``tolerance`` seconds; a gradual one anywhere inside its span (give or
        take a frame: where a detector places it within the span is its own choice)."""
        if self.kind == "cut":
            return abs(t - self.at) <= tolerance
        return self.start - 0.04 <= t <= self.end + 0.04


@dataclass
class Narration:
    start: float  # seconds from the start of the video
    text: str


@dataclass
class Made:
    path: Path
    cuts: list[float]  # ground-truth cut times (seconds; a gradual transition's middle)
    duration: float
    narration: list[Narration] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)  # one per cut, with its kind and span


def score(found: list[float], transitions: list[Transition], tolerance: float = 0.5):
    """(missed transitions, extra cuts): a found cut counts for at most one transition, so a second cut inside
    the same fade is extra."""
    missed, used = [], set()
    for transition in transitions:
        hits = [i for i, t in enumerate(found) if i not in used and transition.hit(t, tolerance)]
        if hits:
            used.add(min(hits, key=lambda i: abs(found[i] - transition.at)))
        else:
            missed.append(transition)
    return missed, [t for i, t in enumerate(found) if i not in used]


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
        # Scene boundaries land exactly on frame boundaries; gradual transitions are centred on them.
        bounds, elapsed = [0], 0.0
        for scene in scenes:
            elapsed += scene.seconds
            bounds.append(int(round(elapsed * fps)))
        painters = [_painter(scene, size, rng, fps) for scene in scenes]
        transitions = []
        for number, scene in enumerate(scenes[1:], start=1):
            at = bounds[number] / fps
            half = 0.0 if scene.enter == "cut" else scene.enter_seconds / 2
            transitions.append(Transition(scene.enter, round(at - half, 4), round(at + half, 4)))
        def frames():
            for frame_index in range(bounds[-1]):
                image = _compose(frame_index, scenes, bounds, painters, fps)
                frame = av.VideoFrame.from_image(image).reformat(format=pix_fmt)
                frame.pts, frame.time_base = frame_index, Fraction(1, fps)
                yield frame

        mux_frames(container, vstream, frames())
        if astream is not None:
            _write_audio(container, astream, track, sample_rate)
    return Made(path, [t.at for t in transitions], frames_total / fps, list(narration), transitions)


def _audio_track(narration, duration: float, sample_rate: int) -> np.ndarray:
    track = np.zeros(int(round(duration * sample_rate)), dtype=np.float32)
    for item in narration:
        speech = speech_audio(item.text, sample_rate) * 0.8
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


def _compose(frame_index: int, scenes, bounds, painters, fps: int) -> Image.Image:
    """Frame ``frame_index``: its scene's picture, mixed with the neighbour's inside a gradual transition."""
    number = next(i for i in range(len(scenes)) if frame_index < bounds[i + 1])

    def paint(i: int) -> Image.Image:  # scene i at this instant (progress may run past 0..1 inside a transition)
        return painters[i]((frame_index - bounds[i]) / max(1, bounds[i + 1] - bounds[i] - 1), frame_index)

    pair = None
    if number > 0 and scenes[number].enter != "cut":
        pair = number - 1, number
    if number + 1 < len(scenes) and scenes[number + 1].enter != "cut":
        half = scenes[number + 1].enter_seconds / 2
        if frame_index >= bounds[number + 1] - half * fps:
            pair = number, number + 1
    if pair is None:
        return paint(number)
    old, new = pair
    scene, at = scenes[new], bounds[new]
    alpha = (frame_index + 0.5 - (at - scene.enter_seconds / 2 * fps)) / (scene.enter_seconds * fps)
    if not 0.0 < alpha < 1.0:
        return paint(number)
    if scene.enter == "fade":  # out to black, then in from black
        image, gain = (paint(old), 1.0 - 2.0 * alpha) if alpha < 0.5 else (paint(new), 2.0 * alpha - 1.0)
        return Image.fromarray((np.asarray(image, dtype=np.float32) * gain).round().astype(np.uint8))
    if scene.enter == "dissolve":
        mixed = (np.asarray(paint(old), dtype=np.float32) * (1.0 - alpha)
                 + np.asarray(paint(new), dtype=np.float32) * alpha)
        return Image.fromarray(mixed.round().astype(np.uint8))
    raise ValueError(f"unknown transition {scene.enter!r}")


def _painter(scene: Scene, size, rng, fps: int = 25):
    """paint(progress through the scene, frame index) -> image, with the scene's motion and disturbances."""
    base = _base_painter(scene, size, rng)
    width, height = size
    if scene.shake:  # hand-held: a smooth random wobble (a few incommensurate sines) of the whole picture
        amp = scene.shake * width
        freqs, phases = rng.uniform(1.5, 6.0, (2, 3)), rng.uniform(0, 2 * np.pi, (2, 3))

        def shaken(progress, frame_index, paint=base):
            t = frame_index / fps
            dx, dy = (amp * np.sin(2 * np.pi * freqs[k] * t + phases[k]).sum() / 2 for k in range(2))
            image = paint(progress, frame_index)
            pad = int(amp * 1.6) + 1
            big = image.resize((width + 2 * pad, height + 2 * pad), Image.BILINEAR)
            x, y = pad + int(round(dx)), pad + int(round(dy * height / width))
            return big.crop((x, y, x + width, y + height))

        base = shaken
    if scene.sweep:  # a dark blurred blob (a hand before the lens) crossing left to right, centred in the scene
        from PIL import ImageFilter

        blob_w, blob_h = int(width * 0.7), int(height * 1.1)
        mask = Image.new("L", (blob_w, blob_h), 0)
        ImageDraw.Draw(mask).ellipse((0, 0, blob_w - 1, blob_h - 1), fill=255)
        mask = mask.filter(ImageFilter.GaussianBlur(max(2, blob_w // 20)))
        skin = Image.new("RGB", (blob_w, blob_h), (92, 60, 48))
        frames_total = scene.seconds * fps
        first = (frames_total - scene.sweep * fps) / 2

        def swept(progress, frame_index, paint=base):
            image = paint(progress, frame_index)
            local = progress * max(1.0, frames_total - 1)
            share = (local - first) / (scene.sweep * fps)
            if 0.0 <= share <= 1.0:
                x = int(round(-blob_w + share * (width + blob_w)))
                image.paste(skin, (x, (height - blob_h) // 2), mask)
            return image

        base = swept
    return base


def _base_painter(scene: Scene, size, rng):
    width, height = size
    if scene.title is not None:
        from PIL import ImageFont

        card = Image.new("RGB", size, scene.colour or (0, 0, 0))
        draw = ImageDraw.Draw(card)
        font = ImageFont.load_default(size=max(10, height // 8))
        lines = scene.title.split("\n")
        line_h = int(height / 8 * 1.4)
        top = (height - line_h * len(lines)) // 2
        ink = (245, 245, 245) if sum(card.getpixel((0, 0))) < 384 else (15, 15, 15)
        for k, line in enumerate(lines):
            box = draw.textbbox((0, 0), line, font=font)
            draw.text(((width - (box[2] - box[0])) // 2, top + k * line_h), line, font=font, fill=ink)

        return lambda progress, frame_index: card.copy()
    if scene.photo is not None:
        photo = scene.photo.convert("RGB")
        # Cover the frame with some spare width, then pan across the spare part.
        scale = max(width * (1.0 + scene.pan) / photo.width, height / photo.height)
        big = photo.resize((max(width, round(photo.width * scale)), max(height, round(photo.height * scale))),
                           Image.BILINEAR)
        spare_x, spare_y = big.width - width, big.height - height

        def paint_photo(progress: float, frame_index: int = 0) -> Image.Image:
            x, y = round(spare_x * min(max(progress, 0.0), 1.0)), round(spare_y / 2)
            return big.crop((x, y, x + width, y + height))

        return paint_photo

    colour = scene.colour or tuple(int(c) for c in rng.integers(0, 256, 3))
    shapes = [(rng.uniform(0.1, 0.9, 2), rng.uniform(-0.3, 0.3, 2) * scene.speed,
               int(rng.integers(8, max(9, height // 4))),
               tuple(int(c) for c in rng.integers(0, 256, 3))) for _ in range(scene.shapes)]
    noise = rng.integers(-12, 13, (height, width, 1), dtype=np.int16)  # texture, so frames are not flat

    def paint_shapes(progress: float, frame_index: int = 0) -> Image.Image:
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


TITLES = ["THE END", "Chapter Two\nThe Launch", "Six months later", "Credits", "Part III"]


def random_transitions(rng: np.random.Generator, count: int, pictures: list[Image.Image],
                       shortest: float = 2.5, longest: float = 4.5) -> list[Scene]:
    """Scenes joined by every kind of transition (hard cut, fade through black, cross-dissolve, fades to and from
    title cards on dark or light backgrounds, 0.6 to 1.6 s long) with motion inside shots that is not a cut: fast
    pans, a large object sweeping across a static shot, camera shake, a crowd of fast shapes. Neighbours never
    show the same picture."""
    scenes: list[Scene] = []
    last_photo = -1
    for number in range(count):
        seconds = round(float(rng.uniform(shortest, longest)), 2)
        enter = "cut" if number == 0 else str(rng.choice(["cut", "fade", "dissolve", "dissolve"]))
        enter_seconds = round(float(rng.uniform(0.6, 1.6)), 2)
        previous_title = bool(scenes) and scenes[-1].title is not None
        kind = str(rng.choice(["pan", "fast pan", "sweep", "shake", "crowd", "title"]))
        if kind == "title" and previous_title:
            kind = "pan"
        if kind == "title":
            dark = bool(rng.integers(0, 2))
            colour = (tuple(int(c) for c in rng.integers(0, 50, 3)) if dark
                      else tuple(int(c) for c in rng.integers(170, 250, 3)))
            scene = Scene(seconds, colour, title=str(rng.choice(TITLES)), shapes=0)
            enter = "dissolve" if enter == "cut" and number else enter  # a card fades in
            last_photo = -1
        elif kind == "crowd":
            scene = Scene(seconds, tuple(int(c) for c in rng.integers(40, 220, 3)), shapes=30, speed=3.0)
            last_photo = -1
        else:
            choice = int(rng.choice([i for i in range(len(pictures)) if i != last_photo]))
            last_photo = choice
            scene = Scene(seconds, photo=pictures[choice], pan={"pan": 0.15, "fast pan": 0.6}.get(kind, 0.0))
            if kind == "sweep":
                scene.sweep = round(float(rng.uniform(0.4, 1.0)), 2)
            elif kind == "shake":
                scene.shake = round(float(rng.uniform(0.01, 0.03)), 3)
        if previous_title and number and enter == "cut":
            enter = "dissolve"  # and fades out
        if number:
            scene.enter, scene.enter_seconds = enter, enter_seconds
        scenes.append(scene)
    return scenes
