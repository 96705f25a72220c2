"""Shot detection and keyframes in one decoding pass.

Every frame is decoded (PyAV) and read at 256 pixels wide by a cut detector; only the few frames kept as keyframe
candidates are converted at keyframe size. When a shot closes, its candidates are embedded with the shared image
backend (``image_classifier.features``) and the most central one (highest mean cosine to the others: the frame
most typical of the shot, not a transition or motion-blur frame) becomes the keyframe. Keyframes that nearly
duplicate an earlier one (A-B-A editing, a return to the same set-up) are marked ``duplicate_of``.

Cut detectors (``detector=``), compared by ``python -m bench.video`` on generated videos with known transitions
(``mmdemo.testing.videos.random_transitions``: hard cuts, fades through black, dissolves, fades to and from title cards,
with fast pans, an object sweeping across the lens, camera shake and crowds inside shots; ``random_scenes``: hard
cuts only) and on three real films with 8 hard cuts (numbers in docs/video.md):
  "combined"  the default. PySceneDetect's ContentDetector on every frame for hard cuts (no extra cut on pans or
              objects crossing the lens, every real cut found, the one ending a fast pan included), plus
              AdaptiveDetectors on 16-pixel-wide frames one second apart, read as colour layout and as colour
              palette, in 4 staggered streams each, for gradual transitions (see ``CombinedCuts``). On generated
              videos the tuning set gave 57 of 59 transitions with no extra cut, fresh seeds and 3 real films 75
              of 78 with 3 extra (before the palette streams: 53/59 with 7 extra, 72/78 with 10 extra); the
              misses are dissolves between two fast-moving scenes. Two more real films (bench.real
              --fetch-opencv-doc): a damaged one, 3 of 3 with no extra after the flash check; a street camera
              with pedestrians, no cut.
  "content"   ContentDetector alone on every frame: every hard cut, no extra, but 28 of 49 transitions (a
              dissolve changes each frame less than a pan does).
  "adaptive"  AdaptiveDetector (the previous default, at 10 samples/s): missed the cut that ends a fast pan in
              a real film and every gradual transition; on every frame it finds the real cuts but few gradual ones.
  "embedding" cosine distance between consecutive samples' image-backend features: the CNN on every sample
              (about 100x the cost), an option only.
Also measured (exploration, 5 transition videos): ThresholdDetector (fades through black) added no transition to
ContentDetector's; HistogramDetector or HashDetector on frames half a second apart added 23 to 27 extra cuts.
Decoding is the cost: every frame at 256 wide cost less than the former 10 samples/s at 512 (bench.video).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from PIL import Image

from mmdemo import backends
from mmdemo.errors import BackendUnavailable, BadInput
from mmdemo.media.video import VideoInfo, probe, sample_frames

DEFAULT_EVERY_SECONDS = 0.04  # 25 samples/s: every frame of most videos (decoding is the cost either way)
DEFAULT_DETECTOR = "combined"  # measured (see the module docstring and bench.video)
DEFAULT_THRESHOLDS = {
    "combined": 27.0,  # ContentDetector's threshold for hard cuts (the gradual part has its own, below)
    "adaptive": 3.0,  # PySceneDetect's default: a sample's change must be 3x its neighbours' mean change
    "content": 27.0,  # PySceneDetect's default mean HSV change
    "embedding": 0.25,  # cosine distance between consecutive samples' features (calibrated in bench.video)
}
GRADUAL_SECONDS = 1.0  # the gradual part compares frames this far apart (a dissolve fits between two of them)
GRADUAL_PHASES = 4  # ... in this many staggered streams, so in one of them a transition falls between two samples
GRADUAL_WIDTH = 16  # ... downscaled to this width: colour layout without texture, so motion changes it little
GRADUAL_RATIO = 2.0  # AdaptiveDetector's threshold there (a change 2x its neighbours' mean), window 2 samples
MIN_SHOT_SECONDS = 0.6  # shorter "shots" are flashes, merged into their neighbour by the flash filter
FLASH_SECONDS = 0.16  # a hard cut whose picture comes back this soon was a flash or a damaged frame, not a cut
FLASH_RETURN = 0.5  # ... "comes back": a later frame this much closer to the frame before it than the cut's
DETECT_WIDTH = 256  # PySceneDetect downscales to about this width too: enough for colour/luma statistics
KEYFRAME_SIDE = 512  # keyframes are kept this size: the captioner resizes to 384 anyway
CANDIDATES = 3  # frames per shot compared for centrality (the CNN on each is the cost of this pass: bench.video)
DUPLICATE_COSINE = 0.92  # keyframes this similar show the same thing (calibrated in bench.video)
DETECTORS = tuple(DEFAULT_THRESHOLDS)
MAX_SAMPLES_PER_SECOND = 25


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


# -- cut detectors: feed(sample index, frame) -> indices of samples that start a new shot ---------------------
# ``frame`` is a ``mmdemo.media.video.Frame`` (converted on demand); ``finish`` flushes what is still pending.
def _timecode(index: int, rate: float):
    from scenedetect import FrameTimecode

    return FrameTimecode(index, fps=rate)


class SceneDetectCuts:
    """A PySceneDetect detector fed with our own samples (one timecode per sample, ``1 / every_seconds`` fps)."""
    delay = 0  # samples by which reported cuts can lag the sample being fed (beyond the detector's own lag)

    def __init__(self, name: str, threshold: float, every_seconds: float, min_shot_seconds: float):
        from scenedetect.detectors import AdaptiveDetector, ContentDetector

        self.name, self.rate = name, 1.0 / every_seconds
        if name == "adaptive":
            self.detector = AdaptiveDetector(adaptive_threshold=threshold, min_scene_len=float(min_shot_seconds))
        else:
            self.detector = ContentDetector(threshold=threshold, min_scene_len=float(min_shot_seconds))
        self.delay = getattr(self.detector, "event_buffer_length", 0) + 1

    def feed(self, index: int, frame) -> list[int]:
        return [tc.frame_num for tc in self.detector.process_frame(_timecode(index, self.rate),
                                                                   frame.bgr(DETECT_WIDTH))]

    def finish(self, last_index: int) -> list[int]:
        return [tc.frame_num for tc in self.detector.post_process(_timecode(last_index, self.rate))]


class CombinedCuts:
    """Hard cuts from ContentDetector on every sample; gradual transitions (fades, dissolves, fades to and from
    title cards) from AdaptiveDetectors on tiny frames ``GRADUAL_SECONDS`` apart.

    A dissolve spread over a second changes each frame little (less than a fast pan does), but two frames a
    second apart on either side of it differ as much as across a cut. Compared a second apart, motion inside a
    shot changes a lot too, so the tiny frames are read two ways, each by its own staggered AdaptiveDetectors
    (a change twice its neighbours' mean: a pan, shake or crowd changes every sample alike):
    * layout: the frame at 16 pixels wide, colour layout without texture;
    * palette: the same pixels sorted by brightness, i.e. the colour distribution with no position, which a pan,
      shake or crowd over one scene hardly changes (a dissolve between two panning scenes shows only here).
    An object crossing the frame makes two neighbouring samples change (it comes, it goes): a ratio near 1, no
    cut. Each stream reports the sample interval that holds a change; reports whose intervals overlap and whose
    starts follow each other phase by phase are one transition (a long dissolve is reported by many), cut in
    the middle of their span, unless a hard cut explains it: one inside every one of its reports' intervals (a
    lone report ending on a hard cut is that cut, not a second one 0.4 s before it), or in the middle of its span.
    A hard cut after which the picture comes back within ``FLASH_SECONDS`` (a photographer's flash, a damaged
    frame, as in OpenCV's Megamind_bugy.avi sample) is no cut. ContentDetector's flash filter keeps the cut into a
    flash and merges the changes of the next minimum shot length into it, so a real cut among those takes the
    flash's place.
    """
    name = "combined"

    def __init__(self, threshold: float, every_seconds: float, min_shot_seconds: float):
        from scenedetect.detectors import AdaptiveDetector, ContentDetector

        self.rate = 1.0 / every_seconds
        self.min_samples = max(1, round(min_shot_seconds * self.rate))
        self.threshold = threshold
        self.content = ContentDetector(threshold=threshold, min_scene_len=self.min_samples)
        self.stride = max(2, round(GRADUAL_SECONDS * self.rate))
        offsets = sorted({round(k * self.stride / GRADUAL_PHASES) for k in range(GRADUAL_PHASES)})
        self.phase_step = self.stride / len(offsets)  # samples between two staggered streams' samples
        self.streams = {view: [(offset, AdaptiveDetector(adaptive_threshold=GRADUAL_RATIO, window_width=2,
                                                          min_scene_len=1)) for offset in offsets]
                        for view in ("layout", "palette")}
        self.hard: list[int] = []
        self.flash_samples = int(FLASH_SECONDS * self.rate + 1e-6)  # 0 (no check) when samples are further apart
        self.unconfirmed: list[int] = []  # hard cuts not yet checked for a flash
        self.flashes: list[tuple[int, int]] = []  # (cut, sample where the picture came back): replacement pending
        # The last samples at GRADUAL_WIDTH and whether ContentDetector's score was over its threshold: a cut is
        # reported up to a minimum shot length late, and a flash's replacement may lie as far again after it.
        self.recent: dict[int, tuple[np.ndarray, bool]] = {}
        self.keep_recent = 2 * self.min_samples + 2 * self.flash_samples + 4
        self.intervals: list[tuple[int, int]] = []  # (first sample after, last sample before) a gradual change
        self.done = self.last = 0  # samples up to `done` are settled; `last` is the last cut reported
        # A gradual change is known 3 strides (AdaptiveDetector's window) after it; then all phases have spoken.
        self.delay = 4 * self.stride

    def _report(self, offset: int, frame_num: int) -> None:
        if frame_num > 0:
            self.intervals.append((offset + (frame_num - 1) * self.stride, offset + frame_num * self.stride))

    def feed(self, index: int, frame) -> list[int]:
        import cv2

        bgr = frame.bgr(DETECT_WIDTH)
        tiny = cv2.resize(bgr, (GRADUAL_WIDTH, max(2, round(bgr.shape[0] * GRADUAL_WIDTH / bgr.shape[1]))),
                          interpolation=cv2.INTER_AREA)
        self.unconfirmed += [tc.frame_num for tc in self.content.process_frame(_timecode(index, self.rate), bgr)]
        score = self.content._frame_score  # this sample's change (AdaptiveDetector reads it the same way)
        self.recent[index] = (tiny.astype(np.float32), score is not None and score >= self.threshold)
        self.recent.pop(index - self.keep_recent, None)
        self._confirm(index)
        for view, phases in self.streams.items():
            for offset, detector in phases:
                if index < offset or (index - offset) % self.stride:
                    continue
                image = tiny if view == "layout" else _palette(tiny)
                n = (index - offset) // self.stride
                for tc in detector.process_frame(_timecode(n, self.rate / self.stride), image):
                    self._report(offset, tc.frame_num)
        return self._settle(index - self.delay)

    def _confirm(self, index: int, end: bool = False) -> None:
        """Hard cuts whose next ``flash_samples`` samples are in (or the video ended) join ``hard`` unless they were
        flashes; a flash's replacement is looked for once a minimum shot length has passed."""
        waiting = []
        for cut in self.unconfirmed:
            if cut + self.flash_samples > index and not end:
                waiting.append(cut)
                continue
            back = self._comes_back(cut)
            if back is None:
                self.hard.append(cut)
            else:
                self.flashes.append((cut, back))
        pending = []
        for cut, back in self.flashes:
            if cut + self.min_samples > index and not end:
                pending.append((cut, back))
                continue
            merged = [i for i in range(back + 1, cut + self.min_samples + 1) if self.recent.get(i, (None, False))[1]]
            waiting += merged[:1]  # the first change after the flash, checked in turn
        self.unconfirmed, self.flashes = waiting, pending
        if end and (waiting or pending):
            self._confirm(index, end)

    def _comes_back(self, cut: int) -> int | None:
        """The first sample within ``flash_samples`` after ``cut`` that is much closer to the one before the cut
        than the cut's own sample is (the picture came back: a flash); None if none is (or the check is off)."""
        before, at = self.recent.get(cut - 1), self.recent.get(cut)
        if before is None or at is None:
            return None
        jump = np.abs(at[0] - before[0]).mean()
        for later in range(cut + 1, cut + self.flash_samples + 1):
            if later in self.recent and np.abs(self.recent[later][0] - before[0]).mean() < FLASH_RETURN * jump:
                return later
        return None

    def finish(self, last_index: int) -> list[int]:
        self.unconfirmed += [tc.frame_num for tc in self.content.post_process(_timecode(last_index, self.rate))]
        self._confirm(last_index, end=True)
        for phases in self.streams.values():
            for offset, detector in phases:
                if last_index >= offset:
                    for tc in detector.post_process(_timecode((last_index - offset) // self.stride,
                                                              self.rate / self.stride)):
                        self._report(offset, tc.frame_num)
        return self._settle(last_index + 1)

    def _groups(self) -> list[list[int]]:
        """[first start, last start, end] per transition: reports chained while they overlap and each starts at
        most two phase steps after the one before (one stream may stay silent); a longer jump is a new change."""
        groups: list[list[int]] = []
        for a, b in sorted(self.intervals):
            if groups and a < groups[-1][2] and a - groups[-1][1] <= 2 * self.phase_step + 1:
                groups[-1][1], groups[-1][2] = a, max(groups[-1][2], b)
            else:
                groups.append([a, a, b])
        return groups

    def _settle(self, before: int) -> list[int]:
        """Cuts at samples before ``before`` that no later report can move, in order, each reported once."""
        groups = self._groups()
        margin = self.stride // 2  # a group spans the change plus up to a stride on each side
        slack = int(0.1 * self.rate + 0.5)  # where ContentDetector places a cut may differ by a frame or two

        def explained(a: int, last: int, end: int) -> bool:
            return any(a + margin <= c <= end - margin or last - slack <= c <= a + self.stride + slack
                       for c in self.hard)

        cuts = set(self.hard)
        cuts.update((a + end) // 2 for a, last, end in groups if not explained(a, last, end))
        limit = min([before] + [a for a, _, end in groups if end >= before])  # a group that may still grow
        out = []
        for cut in sorted(c for c in cuts if self.done < c < limit):
            if cut - self.last >= self.min_samples:
                out.append(cut)
                self.last = cut
        self.done = max(self.done, limit - 1)
        return out


def _palette(tiny: np.ndarray) -> np.ndarray:
    """The tiny frame's pixels sorted by brightness, in the same shape: its colours without their positions."""
    pixels = tiny.reshape(-1, 3)
    order = np.argsort(pixels @ np.array([0.114, 0.587, 0.299]), kind="stable")  # BGR luma weights
    return np.ascontiguousarray(pixels[order].reshape(tiny.shape))


class EmbeddingCuts:
    name = "embedding"
    delay = 0

    def __init__(self, threshold: float, every_seconds: float, min_shot_seconds: float):
        self.classifier = backends.get("image_classifier")
        self.threshold, self.min_samples = threshold, max(1, round(min_shot_seconds / every_seconds))
        self.previous: np.ndarray | None = None
        self.last_cut = 0

    def feed(self, index: int, frame) -> list[int]:
        vector = self.classifier.features([frame.image(KEYFRAME_SIDE)])[0]
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
    """Frames of the current shot for the keyframe choice, as (sample index, time, image at KEYFRAME_SIDE).

    A detector may report a cut up to ``delay`` samples late, so the newest samples may still belong to the next
    shot: they are kept one per ``step`` samples. Older ones are thinned as the shot grows, so at most
    2 x CANDIDATES of them are held (evenly spread); only kept frames are converted to images."""
    def __init__(self, delay: int, step: int):
        self.delay, self.step = delay, max(1, step)
        self.settled: list[tuple[int, float, Image.Image]] = []
        self.pending: list[tuple[int, float, Image.Image]] = []
        self.stride, self.seen = 1, 0

    def add(self, index: int, t: float, frame) -> None:
        if index % self.step == 0 or not (self.settled or self.pending):
            self.pending.append((index, t, frame.image(KEYFRAME_SIDE)))
        while self.pending and self.pending[0][0] <= index - self.delay:
            self._settle(self.pending.pop(0))

    def _settle(self, item) -> None:
        if self.seen % self.stride == 0:
            self.settled.append(item)
            if len(self.settled) > 2 * CANDIDATES:
                self.settled, self.stride = self.settled[::2], self.stride * 2
        self.seen += 1

    def split(self, cut_index: int) -> list[tuple[int, float, Image.Image]]:
        """Hand over the candidates before ``cut_index``; keep those after it for the next shot."""
        items = self.settled + self.pending
        before = [c for c in items if c[0] < cut_index]
        after = [c for c in items if c[0] >= cut_index]
        self.settled, self.pending = [], []
        self.stride, self.seen = 1, 0
        self.pending = after  # settled again as decoding moves on
        return before or after[:1]  # a shot shorter than `step` samples: the next shot's first frame


class _Embedder:
    """The image backend's features, or None (with a note) when it has no weights."""
    def __init__(self, notes: list[str]):
        self.notes, self.model, self.tried = notes, None, False

    def __call__(self, images: list[Image.Image]) -> np.ndarray | None:
        if not self.tried:
            self.tried = True

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
    every_frame = info.fps > 0 and every_seconds * info.fps < 1.5  # sampling this often: decode every frame
    every = 1.0 / info.fps if every_frame else every_seconds
    if detector == "embedding":
        cutter = EmbeddingCuts(threshold, every, min_shot_seconds)
    elif detector == "combined":
        cutter = CombinedCuts(threshold, every, min_shot_seconds)
    else:
        cutter = SceneDetectCuts(detector, threshold, every, min_shot_seconds)
    embed = _Embedder(notes)
    candidates = _Candidates(cutter.delay + round(min_shot_seconds / every) + 1, round(0.25 / every))
    times: list[float] = []
    shots: list[Shot] = []

    last_cut = [0]

    def close(cut_index: int, end: float) -> None:
        if cut_index <= last_cut[0] and shots:
            return  # a detector repeating a cut it already reported
        start = 0.0 if not shots else shots[-1].end
        chunk = candidates.split(cut_index)  # never empty (see _Candidates.split)
        last_cut[0] = cut_index
        t, image, vector, method = _pick_keyframe(chunk, embed)
        shots.append(Shot(len(shots), start, end, t, _jpeg(image), method, embedding=vector))

    def boundary(cut_index: int) -> float:
        # The cut lies between the last sample of one shot and the first of the next: take the midpoint.
        return round((times[cut_index - 1] + times[cut_index]) / 2, 3) if cut_index > 0 else times[0]

    index = -1
    frames = sample_frames(path, every_seconds=None if every_frame else every_seconds, lazy=True, notes=notes)
    for index, (t, frame) in enumerate(frames):
        times.append(t)
        for cut in cutter.feed(index, frame):
            if cut > 0:
                close(cut, boundary(cut))
        candidates.add(index, t, frame)
        if index % 25 == 0:
            report(min(t / info.duration, 1.0), f"finding shots ({t:.0f} / {info.duration:.0f} s)")
    if index < 0:
        raise BadInput(f"{path!s}: no frame of the video could be decoded (the file is damaged).")
    for cut in cutter.finish(index):
        if 0 < cut <= index:
            close(cut, boundary(cut))
    decoded_until = times[-1]
    end = info.duration if decoded_until + 1.0 >= info.duration else decoded_until + every
    if decoded_until + 1.0 < info.duration:
        notes.append(f"The video says it lasts {info.duration:.1f} s but frames stop at {decoded_until:.1f} s "
                     "(the file is truncated); the timeline ends there.")
    close(index + 1, round(end, 3))
    if dedupe:
        mark_duplicates(shots)
    report(1.0, f"{len(shots)} shot{'s' if len(shots) != 1 else ''}")
    return ShotList(shots, info, detector, float(threshold), round(every, 4), index + 1, decoded_until, notes)
