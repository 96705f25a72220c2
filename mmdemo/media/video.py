"""Reading user videos with PyAV: probe the container, then decode only the frames a caller asks for.

    info = probe("clip.mp4")                       # VideoInfo(duration, fps, width, height, has_audio)
    for t, image in sample_frames("clip.mp4", every_seconds=0.5):
        ...                                        # (time in seconds from the start, RGB PIL image)

Frames are yielded one at a time and converted to RGB only when returned, so memory stays flat however long the
video is. Sparse requests (``times`` far apart, or a large ``every_seconds``) seek to the nearest keyframe instead
of decoding everything in between. Anything PyAV cannot read becomes one BadInput sentence.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Iterator

from PIL import Image

from mmdemo import config
from mmdemo.errors import BadInput

EXTENSIONS = (".mp4", ".mkv", ".webm", ".mov", ".avi")
# Seeking costs a flush plus decoding from the previous keyframe; below this gap decoding forward is cheaper.
SEEK_GAP_SECONDS = 2.0
_SKIPPABLE = {"h264", "hevc"}  # decoders that honour skip_frame=NONREF without dropping reference frames


@dataclass(frozen=True)
class VideoInfo:
    duration: float  # seconds
    fps: float  # average frame rate (0.0 when the container does not say)
    width: int  # as displayed (rotation applied)
    height: int
    has_audio: bool
    codec: str = ""
    frames: int = 0  # frame count when the container states it, else an estimate from duration x fps
    rotation: int = 0  # degrees the stored frames are rotated for display

    def to_dict(self) -> dict:
        return asdict(self)


def max_video_seconds() -> float:
    return config.get("MMDEMO_MAX_VIDEO_MINUTES") * 60.0


def probe(path: "str | os.PathLike") -> VideoInfo:
    """What the video is, without decoding it; BadInput for anything that is not a readable video in limits."""
    with _open(path) as container:
        return _info(container, _label(path))


def sample_frames(path: "str | os.PathLike", every_seconds: float | None = None,
                  times: Iterable[float] | None = None, *, max_side: int | None = None, lazy: bool = False,
                  notes: list[str] | None = None) -> Iterator[tuple[float, Image.Image]]:
    """Yield ``(time_s, RGB PIL image)`` for the requested instants, in time order.

    ``every_seconds``: one frame per interval (0, e, 2e, ...); ``times``: these instants (sorted, clipped to the
    video); neither: every frame. Each request gets the first frame shown at or after it (within half a frame).
    ``max_side`` scales frames down in the decoder's scaler (cheaper than resizing in PIL afterwards).
    ``lazy``: yield a ``Frame`` instead of an image, converted only when asked and at the size asked (a shot
    detector reads every frame at 256 pixels wide, and only a few at keyframe size).
    Damaged frames are skipped as FFmpeg skips them (a request among them gets the next good frame); a sentence
    saying how many is appended to ``notes``.
    """
    if every_seconds is not None and times is not None:
        raise BadInput("Give either every_seconds or times, not both.")
    if every_seconds is not None and not every_seconds > 0:
        raise BadInput(f"The frame sampling interval must be positive, not {every_seconds}.")
    if max_side is not None and max_side < 8:
        raise BadInput(f"max_side must be at least 8 pixels, not {max_side}.")
    label = _label(path)
    with _open(path) as container:
        info = _info(container, label)
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"  # frame + slice threads: decoding is the bulk of the cost
        if every_seconds is not None and info.fps and every_seconds * info.fps >= 4 and info.codec in _SKIPPABLE:
            # Sparse sampling: frames no other frame refers to (most B-frames) need not be decoded at all;
            # measured 2x faster on x264 720p, and a sample lands at most a frame or two later.
            stream.codec_context.skip_frame = "NONREF"
        if times is not None:
            targets: Iterator[float] | None = iter(sorted({min(max(float(t), 0.0), info.duration) for t in times}))
        elif every_seconds is not None:
            targets = _every(every_seconds, info.duration)
        else:
            targets = None
        damage = _Damage(info.fps)
        try:
            yield from _decode(container, stream, info, targets, _LAZY if lazy else max_side, label, damage)
        finally:  # also when the caller stops early: what was skipped so far
            note = damage.note(label)
            if note and notes is not None:
                notes.append(note)


# -- internals -------------------------------------------------------------------------------------------------
def _label(path) -> str:
    return Path(path).name


class _open:
    """``av.open`` with the file checked first and PyAV's errors turned into one sentence."""

    def __init__(self, path):
        self.path, self.label, self.container = Path(path), _label(path), None

    def __enter__(self):
        import av

        if not self.path.is_file():
            raise BadInput(f"{self.label}: file not found.")
        if self.path.stat().st_size == 0:
            raise BadInput(f"{self.label}: the file is empty.")
        if self.path.suffix.lower() not in EXTENSIONS:
            raise BadInput(f"{self.label}: unsupported video type {self.path.suffix or '(no extension)'}; "
                           f"use {', '.join(e[1:] for e in EXTENSIONS)}.")
        try:
            self.container = av.open(str(self.path), mode="r", metadata_errors="ignore")
        except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
            raise BadInput(f"{self.label}: not a readable video (the file is damaged or not a video: "
                           f"{_reason(exc)}).") from None
        return self.container

    def __exit__(self, *exc_info):
        if self.container is not None:
            self.container.close()
        return False


def _reason(exc) -> str:
    return getattr(exc, "strerror", None) or str(exc)


def _info(container, label: str) -> VideoInfo:
    if not container.streams.video:
        raise BadInput(f"{label}: the file has no video track.")
    stream = container.streams.video[0]
    if stream.codec_context is None or not stream.codec_context.name:
        raise BadInput(f"{label}: the video track uses a codec this build cannot decode.")
    fps = float(stream.average_rate or stream.guessed_rate or 0.0)
    duration = 0.0
    if stream.duration is not None and stream.time_base is not None:
        duration = float(stream.duration * stream.time_base)
    if duration <= 0 and container.duration is not None:
        duration = container.duration / 1_000_000  # microseconds (av.time_base)
    frames = int(stream.frames or 0)
    if duration <= 0 and frames and fps:
        duration = frames / fps
    if duration <= 0:
        raise BadInput(f"{label}: the video states no duration (the file is damaged or still being written).")
    limit = max_video_seconds()
    if duration > limit:
        raise BadInput(f"{label}: {duration / 60:.1f} minutes is longer than the limit of {limit / 60:g} minutes "
                       f"(MMDEMO_MAX_VIDEO_MINUTES).")
    width, height = stream.codec_context.width, stream.codec_context.height
    if not width or not height:
        raise BadInput(f"{label}: the video track has no picture size (the file is damaged).")
    rotation = _rotation(stream)
    if rotation % 180:
        width, height = height, width
    return VideoInfo(duration=round(duration, 3), fps=round(fps, 3), width=width, height=height,
                     has_audio=bool(container.streams.audio), codec=stream.codec_context.name,
                     frames=frames or int(round(duration * fps)), rotation=rotation)


def _rotation(stream) -> int:
    """Display rotation from the stream's display matrix (phones record portrait video as rotated landscape)."""
    try:
        from av.sidedata.sidedata import Type

        matrix = stream.side_data.get(Type.DISPLAYMATRIX) if hasattr(stream, "side_data") else None
        if matrix is not None:
            return int(round(-matrix.rotation)) % 360
    except Exception:  # older PyAV or no display matrix: frames are shown as stored
        pass
    return 0


def _every(step: float, duration: float) -> Iterator[float]:
    k = 0
    while k * step < duration:
        yield round(k * step, 6)
        k += 1


class _Damage:
    """What damage cost while decoding: packets the decoder rejected, and holes in the frame times (a damaged
    keyframe makes the decoder drop the frames that depend on it without an error)."""

    def __init__(self, fps: float):
        self.frame = 1.0 / fps if fps else 0.04
        self.rejected, self.error, self.missing, self.expected = 0, None, 0.0, None
        self.trailing, self.unreadable = 0, None  # rejected since the last good frame; where reading stopped

    def reject(self, packet, exc) -> None:
        self.trailing, self.error = self.trailing + 1, exc

    def good(self, t: float) -> None:
        # Only a hole right after rejected packets is damage (variable frame rate video, and sparse sampling that
        # skips non-reference frames, have holes of their own)
        if self.trailing and self.expected is not None and t - self.expected > 0.5 * self.frame:
            self.missing += t - self.expected
        self.rejected, self.trailing = self.rejected + self.trailing, 0
        self.expected = t + self.frame

    def jump(self, start: float | None) -> None:
        """A seek: the next frame's time says nothing about frames in between."""
        self.expected = start

    def note(self, label: str) -> str:
        parts = []
        rejected = self.rejected + self.trailing  # trailing: rejected at the very end, nothing decoded after
        frames = max(rejected, round(self.missing / self.frame))
        if frames:
            parts.append(f"{label}: {frames} damaged video frame{'s' if frames != 1 else ''} "
                         f"({max(self.missing, rejected * self.frame):.2f} s) could not be decoded and "
                         f"{'were' if frames != 1 else 'was'} skipped; samples there use the next good frame.")
        if self.unreadable is not None:
            parts.append(f"{label}: the video could not be read past {self.unreadable[0]:.1f} s "
                         f"({self.unreadable[1]}); the frames after that are missing.")
        return " ".join(parts)


def _packet_frames(container, stream, damage: _Damage):
    """``container.decode(stream)``, except that a packet the decoder rejects is skipped (and counted) instead
    of ending the whole decode."""
    import av

    for packet in container.demux(stream):
        try:
            frames = stream.decode(packet)  # the last, empty packet flushes the decoder
        except av.FFmpegError as exc:
            if packet.size:
                damage.reject(packet, exc)
            continue
        yield from frames


def _decode(container, stream, info: VideoInfo, targets, max_side, label,
            damage: _Damage) -> Iterator[tuple[float, Image.Image]]:
    import av

    base, start = stream.time_base, stream.start_time or 0
    half_frame = 0.5 / info.fps if info.fps else 0.02
    limit = max_video_seconds()
    target = next(targets, None) if targets is not None else None
    if targets is not None and target is None:
        return  # nothing was asked for
    position, last = 0.0, None  # time of the last decoded frame, and that frame
    damage.jump(0.0)
    try:
        while True:
            if target is not None and target - position > SEEK_GAP_SECONDS:
                container.seek(int(target / base) + start, stream=stream, backward=True)  # lands on a keyframe
                damage.jump(None)
            ended = True
            for frame in _packet_frames(container, stream, damage):
                if frame.pts is None:
                    continue
                t = float((frame.pts - start) * base)
                position, last = t, frame
                damage.good(t)
                if t > limit + 1.0:  # the container understated its duration
                    raise BadInput(f"{label}: the video runs past the limit of {limit / 60:g} minutes "
                                   f"(MMDEMO_MAX_VIDEO_MINUTES).")
                if targets is None:
                    yield round(max(t, 0.0), 4), _image(frame, info, max_side)
                    continue
                if target is None or t + half_frame < target:
                    continue
                while target is not None and t + half_frame >= target:
                    yield round(max(t, 0.0), 4), _image(frame, info, max_side)
                    target = next(targets, None)
                if target is None:
                    return
                # Only right after serving a request: a seek must land before the next one, never loop.
                if target - t > SEEK_GAP_SECONDS:
                    ended = False
                    break
            if ended:
                break
    except av.FFmpegError as exc:
        if last is None:
            raise BadInput(f"{label}: the video could not be decoded ({_reason(exc)}).") from None
        # The container cannot be read further: keep the frames before the damage, as FFmpeg does.
        damage.unreadable = (position, _reason(exc))
    if last is None and damage.trailing:
        raise BadInput(f"{label}: no frame of the video could be decoded (the file is damaged: "
                       f"{_reason(damage.error)}).")
    # A request just past the last decodable frame (the stated duration is often a little longer): that frame.
    if target is not None and last is not None and target - position <= 1.0:
        yield round(max(position, 0.0), 4), _image(last, info, max_side)


class Frame:
    """A decoded frame, converted on demand (PyAV's scaler does the resizing: cheaper than PIL afterwards)."""

    def __init__(self, frame, rotation: int):
        self._frame, self._rotation = frame, rotation

    def _size(self, max_side: int | None) -> tuple[int, int]:
        width, height = self._frame.width, self._frame.height
        if max_side and max(width, height) > max_side:
            scale = max_side / max(width, height)
            width, height = max(2, round(width * scale)), max(2, round(height * scale))
        return width, height

    def image(self, max_side: int | None = None) -> Image.Image:
        width, height = self._size(max_side)
        image = self._frame.to_image(width=width, height=height)
        return image.rotate(self._rotation, expand=True) if self._rotation else image

    def bgr(self, max_width: int) -> "np.ndarray":
        """The frame as an OpenCV-style BGR array at most ``max_width`` wide (as displayed)."""
        import numpy as np

        width, height = self._frame.width, self._frame.height
        if self._rotation % 180:
            width, height = height, width
        scale = min(1.0, max_width / width)
        out_w, out_h = max(2, round(width * scale)), max(2, round(height * scale))
        if self._rotation % 180:
            out_w, out_h = out_h, out_w
        array = self._frame.to_ndarray(format="bgr24", width=out_w, height=out_h)
        return np.ascontiguousarray(np.rot90(array, self._rotation // 90)) if self._rotation else array


_LAZY = object()  # max_side marker: yield Frame objects


def _image(frame, info: VideoInfo, max_side: int | None) -> Image.Image:
    if max_side is _LAZY:
        return Frame(frame, info.rotation)
    width, height = frame.width, frame.height
    if max_side and max(width, height) > max_side:
        scale = max_side / max(width, height)
        width, height = max(2, round(width * scale)), max(2, round(height * scale))
        image = frame.to_image(width=width, height=height)
    else:
        image = frame.to_image()
    if info.rotation:
        image = image.rotate(info.rotation, expand=True)
    return image
