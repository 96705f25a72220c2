"""Shot detection and keyframes in one decoding pass.

Frames are sampled every ``every_seconds`` (PyAV, decoding only what is needed); each sample goes to a cut
detector, and a thinned set of candidate frames of the current shot is kept. When a shot closes, its candidates
are embedded with the shared image backend (``image_classifier.features``) and the most central one (highest mean
cosine to the others: the frame most typical of the shot, not a transition or motion-blur frame) becomes the
keyframe. Keyframes that nearly duplicate an earlier one (A-B-A editing, a return to the same set-up) are marked
``duplicate_of`` so they are captioned and drawn once.

Cut detectors (``detector=``), compared by ``python -m bench.video`` on generated videos with known cuts
(``tests/videos.random_scenes``: hue-only changes, fast shapes, fast photo pans, A-B-A editing):
  "adaptive"  PySceneDetect's AdaptiveDetector: a sample's mean HSV change relative to its neighbours' (a cut is a
              spike; a pan is a plateau). The default: at 10 samples/s it found every cut within 0.5 s with no
              extra cut on all test videos, for adaptive thresholds 2 to 3 and windows of 1 to 3 samples.
  "content"   PySceneDetect's ContentDetector (the same HSV change against a fixed threshold). A textured photo
              panned fast changes as much between samples as some real cuts (hue-only ones) do, so no threshold
              separates them: it missed cuts next to fast pans.
  "embedding" cosine distance between consecutive samples' image-backend features. It runs the CNN on every
              sample (about 100x the cost) and still missed and added cuts on pans: an option, not the default.
At 5 samples/s every detector lost or added a cut on the fast-pan videos: decoding at 10 samples/s costs about
1.5x as much (the bulk of decoding is the reference frames either way).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from PIL import Image

from mmdemo.errors import BackendUnavailable, BadInput
from mmdemo.media.video import VideoInfo, probe, sample_frames

DEFAULT_EVERY_SECONDS = 0.1  # 10 samples/s: fast pans change little between samples; cut times within +-0.05 s
DEFAULT_DETECTOR = "adaptive"  # measured (see the module docstring and bench.video)
DEFAULT_THRESHOLDS = {
    "adaptive": 3.0,  # PySceneDetect's default: a sample's change must be 3x its neighbours' mean change
    "content": 27.0,  # PySceneDetect's default mean HSV change
    "embedding": 0.25,  # cosine distance between consecutive samples' features (calibrated in bench.video)
}
MIN_SHOT_SECONDS = 0.6  # shorter "shots" are flashes, merged into their neighbour by the flash filter
DETECT_WIDTH = 256  # PySceneDetect downscales to about this width too: enough for colour/luma statistics
KEYFRAME_SIDE = 512  # keyframes are kept this size: the captioner resizes to 384 anyway
CANDIDATES = 3  # frames per shot compared for centrality (the CNN on each is the cost of this pass: bench.video)
DUPLICATE_COSINE = 0.92  # keyframes this similar show the same thing (calibrated in bench.video)
DETECTORS = tuple(DEFAULT_THRESHOLDS)
MAX_SAMPLES_PER_SECOND = 10


@dataclass
class Shot:
    index: int
    start: float
    end: float
    keyframe_time: float
    keyframe_jpeg: bytes = field(repr=False, default=b"")
    keyframe_method: str = "centrality"  # or "middle" when no image backend could embed the candidates
    duplicate_of: int | None = None  # index of an earlier shot whose keyframe shows the same thing
    similarity_to_duplicate: float | None = None
    embedding: np.ndarray | None = field(repr=False, default=None)

    @property
    def duration(self) -> float:
        return self.end - self.start

    def keyframe(self) -> Image.Image:
        return Image.open(io.BytesIO(self.keyframe_jpeg)).convert("RGB")

    def to_dict(self) -> dict:
        return {"index": self.index, "start": round(self.start, 3), "end": round(self.end, 3),
                "keyframe_time": round(self.keyframe_time, 3), "keyframe_method": self.keyframe_method,
                "duplicate_of": self.duplicate_of}


@dataclass
class ShotList:
    shots: list[Shot]
    info: VideoInfo
    detector: str
    threshold: float
    every_seconds: float
    samples: int
    decoded_until: float  # time of the last frame that could be decoded
    notes: list[str] = field(default_factory=list)

    @property
    def cuts(self) -> list[float]:
        return [shot.start for shot in self.shots[1:]]


# -- cut detectors: feed(sample index, image) -> indices of samples that start a new shot ---------------------
class SceneDetectCuts:
    """A PySceneDetect detector fed with our own samples (one timecode per sample, ``1 / every_seconds`` fps)."""

    def __init__(self, name: str, threshold: float, every_seconds: float, min_shot_seconds: float):
        from scenedetect.detectors import AdaptiveDetector, ContentDetector

        self.name, self.rate = name, 1.0 / every_seconds
        if name == "adaptive":
            self.detector = AdaptiveDetector(adaptive_threshold=threshold, min_scene_len=float(min_shot_seconds))
        else:
            self.detector = ContentDetector(threshold=threshold, min_scene_len=float(min_shot_seconds))

    def _timecode(self, index: int):
        from scenedetect import FrameTimecode

        return FrameTimecode(index, fps=self.rate)

    def feed(self, index: int, image: Image.Image) -> list[int]:
        small = image.resize((DETECT_WIDTH, max(2, round(image.height * DETECT_WIDTH / image.width))),
                             Image.BILINEAR) if image.width > DETECT_WIDTH else image
        bgr = np.ascontiguousarray(np.asarray(small)[:, :, ::-1])  # OpenCV's channel order
        return [tc.frame_num for tc in self.detector.process_frame(self._timecode(index), bgr)]

    def finish(self, last_index: int) -> list[int]:
        return [tc.frame_num for tc in self.detector.post_process(self._timecode(last_index))]


class EmbeddingCuts:
    name = "embedding"

    def __init__(self, threshold: float, every_seconds: float, min_shot_seconds: float):
        from mmdemo import backends

        self.classifier = backends.get("image_classifier")
        self.threshold, self.min_samples = threshold, max(1, round(min_shot_seconds / every_seconds))
        self.previous: np.ndarray | None = None
        self.last_cut = 0

    def feed(self, index: int, image: Image.Image) -> list[int]:
        vector = self.classifier.features([image])[0]
        previous, self.previous = self.previous, vector
        if previous is None or 1.0 - float(vector @ previous) < self.threshold:
            return []
        if index - self.last_cut < self.min_samples:
            return []
        self.last_cut = index
        return [index]

    def finish(self, last_index: int) -> list[int]:
        return []


# -- keyframes ---------------------------------------------------------------------------------------------------
class _Candidates:
    """Frames of the current shot, thinned as it grows so at most 2 x CANDIDATES are held (evenly spread)."""

    def __init__(self):
        self.items: list[tuple[int, float, Image.Image]] = []
        self.stride, self.seen = 1, 0

    def add(self, index: int, t: float, image: Image.Image) -> None:
        if self.seen % self.stride == 0:
            self.items.append((index, t, image))
            if len(self.items) > 2 * CANDIDATES:
                self.items, self.stride = self.items[::2], self.stride * 2
        self.seen += 1

    def split(self, cut_index: int) -> list[tuple[int, float, Image.Image]]:
        """Hand over the candidates before ``cut_index``; keep those after it for the next shot."""
        before = [c for c in self.items if c[0] < cut_index]
        self.items = [c for c in self.items if c[0] >= cut_index]
        self.stride, self.seen = 1, len(self.items)
        return before


class _Embedder:
    """The image backend's features, or None (with a note) when it has no weights."""

    def __init__(self, notes: list[str]):
        self.notes, self.model, self.tried = notes, None, False

    def __call__(self, images: list[Image.Image]) -> np.ndarray | None:
        if not self.tried:
            self.tried = True
            from mmdemo import backends

            try:
                self.model = backends.get("image_classifier")
            except BackendUnavailable as exc:
                self.notes.append(f"Keyframes are the middle frame of each shot and duplicates are kept: {exc}")
        return None if self.model is None else self.model.features(images)


def _pick_keyframe(candidates, embed: _Embedder):
    """(time, image, embedding, method) of the most central candidate (medoid by cosine)."""
    if len(candidates) > 2:  # the first and last samples of a shot may catch a fade or the cut itself
        candidates = candidates[1:-1]
    chosen = [candidates[i] for i in sorted({round(x) for x in np.linspace(0, len(candidates) - 1, CANDIDATES)})]
    vectors = embed([image for _, _, image in chosen])
    if vectors is None:
        _, t, image = chosen[len(chosen) // 2]
        return t, image, None, "middle"
    centrality = (vectors @ vectors.T).mean(axis=1)
    best = int(np.argmax(centrality))
    return chosen[best][1], chosen[best][2], vectors[best], "centrality"


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def mark_duplicates(shots: list[Shot], threshold: float = DUPLICATE_COSINE) -> None:
    """Point each shot whose keyframe nearly equals an earlier kept keyframe at that shot."""
    kept: list[Shot] = []
    for shot in shots:
        if shot.embedding is None:
            continue
        if kept:
            sims = np.array([float(shot.embedding @ k.embedding) for k in kept])
            best = int(np.argmax(sims))
            if sims[best] >= threshold:
                shot.duplicate_of, shot.similarity_to_duplicate = kept[best].index, round(float(sims[best]), 4)
                continue
        kept.append(shot)


# -- the pass ----------------------------------------------------------------------------------------------------
def detect_shots(path, *, every_seconds: float = DEFAULT_EVERY_SECONDS, detector: str = DEFAULT_DETECTOR,
                 threshold: float | None = None, min_shot_seconds: float = MIN_SHOT_SECONDS,
                 dedupe: bool = True, progress: Callable[[float, str], None] | None = None) -> ShotList:
    """Shots of the video at ``path`` with their keyframes, from one sampled decoding pass."""
    if detector not in DETECTORS:
        raise BadInput(f"Unknown shot detector {detector!r}; choose {' or '.join(DETECTORS)}.")
    if not (1.0 / MAX_SAMPLES_PER_SECOND <= every_seconds <= 5.0):
        raise BadInput(f"Sample frames every {1 / MAX_SAMPLES_PER_SECOND:g} to 5 seconds, not {every_seconds}.")
    if min_shot_seconds < 0:
        raise BadInput(f"The minimum shot length cannot be negative ({min_shot_seconds}).")
    if threshold is None:
        threshold = DEFAULT_THRESHOLDS[detector]
    if not np.isfinite(threshold) or threshold <= 0:
        raise BadInput(f"The cut threshold must be a positive number, not {threshold}.")
    report = progress or (lambda fraction, message: None)
    info = probe(path)
    notes: list[str] = []
    if detector == "embedding":
        cutter = EmbeddingCuts(threshold, every_seconds, min_shot_seconds)
    else:
        cutter = SceneDetectCuts(detector, threshold, every_seconds, min_shot_seconds)
    embed = _Embedder(notes)
    candidates = _Candidates()
    times: list[float] = []
    shots: list[Shot] = []

    last_cut = [0]

    def close(cut_index: int, end: float) -> None:
        if cut_index <= last_cut[0] and shots:
            return  # a detector repeating a cut it already reported
        start = 0.0 if not shots else shots[-1].end
        chunk = candidates.split(cut_index)  # never empty: a shot's first sample is always a candidate
        last_cut[0] = cut_index
        t, image, vector, method = _pick_keyframe(chunk, embed)
        shots.append(Shot(len(shots), start, end, t, _jpeg(image), method, embedding=vector))

    def boundary(cut_index: int) -> float:
        # The cut lies between the last sample of one shot and the first of the next: take the midpoint.
        return round((times[cut_index - 1] + times[cut_index]) / 2, 3) if cut_index > 0 else times[0]

    index = -1
    for index, (t, image) in enumerate(sample_frames(path, every_seconds=every_seconds, max_side=KEYFRAME_SIDE,
                                                           notes=notes)):
        times.append(t)
        for cut in cutter.feed(index, image):
            if cut > 0:
                close(cut, boundary(cut))
        candidates.add(index, t, image)
        if index % 10 == 0:
            report(min(t / info.duration, 1.0), f"finding shots ({t:.0f} / {info.duration:.0f} s)")
    if index < 0:
        raise BadInput(f"{path!s}: no frame of the video could be decoded (the file is damaged).")
    for cut in cutter.finish(index):
        if 0 < cut <= index:
            close(cut, boundary(cut))
    decoded_until = times[-1]
    end = info.duration if decoded_until + 1.0 >= info.duration else decoded_until + every_seconds
    if decoded_until + 1.0 < info.duration:
        notes.append(f"The video says it lasts {info.duration:.1f} s but frames stop at {decoded_until:.1f} s "
                     "(the file is truncated); the timeline ends there.")
    close(index + 1, round(end, 3))
    if dedupe:
        mark_duplicates(shots)
    report(1.0, f"{len(shots)} shot{'s' if len(shots) != 1 else ''}")
    return ShotList(shots, info, detector, float(threshold), every_seconds, index + 1, decoded_until, notes)
