"""A video's fused emotion timeline: one row per transcript segment with its text reading (the text reader on the
segment's words), its voice reading (the ``speech_emotion`` model on the segment's audio when one is available;
otherwise the prosody heuristic's arousal, reported and never fused) and the faces seen during it (frames sampled
inside the segment only), fused with the user's weights as the whole reading is (``fusion.fuse``).

    timeline = read_timeline("talk.mp4", samples, [(0.0, 2.4, "I got the job!"), ...], weights="face=2")
    timeline.to_dict()   # {"segments": [{"start", "end", "text", "modalities": {...}, "fused": {...}}], ...}

A segment in which no sampled frame held a face says "no face seen"; a video without speech gets no rows and one
line in ``note``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from mmdemo import backends
from mmdemo.emotion_labels import LABELS, scores_dict, top_label
from mmdemo.errors import BackendUnavailable, BadInput
from mmdemo.media import video as video_media
from mmdemo.pipelines.emotion import face as emotion_face
from mmdemo.pipelines.emotion import text as emotion_text
from mmdemo.pipelines.emotion import voice as emotion_voice
from mmdemo.pipelines.emotion.fusion import fuse, parse_weights

FACE_FRAMES_PER_SECOND = 1.0  # faces change slower than words; one look a second keeps decoding bounded
MAX_FACE_FRAMES_PER_SEGMENT = 4
MAX_FACE_FRAMES = 120  # over the whole video: long films get fewer looks per segment, never more decoding
FACE_MAX_SIDE = emotion_face.DETECT_MAX_SIDE  # detection downscales to this anyway: let the decoder do it
MIN_VOICE_SECONDS = 0.5  # the speech-emotion model gets at least this much audio (a short word is padded)
PROSODY_MAX_S = emotion_voice.PROSODY_MAX_S  # pYIN is read on this much speech at most
SAMPLE_RATE = emotion_voice.SAMPLE_RATE
NO_FACE = "no face seen"
NO_SPEECH = "No speech was heard in the video, so there is no timeline: it follows the transcript's segments."
NO_AUDIO = "The video has no audio track, so there is no timeline: it follows the transcript's segments."


@dataclass
class SegmentReading:
    """One transcript segment read three ways and fused. A modality that has nothing to say is absent from
    ``probs`` and says why in ``notes``."""
    start: float
    end: float
    text: str
    probs: dict[str, np.ndarray]  # "text", "voice" (the speech-emotion model), "face": over LABELS
    methods: dict[str, str]
    notes: dict[str, str] = field(default_factory=dict)  # modality -> why it is not fused ("no face seen")
    arousal: float | None = None  # prosody heuristic, 0 calm .. 1 aroused (never fused)
    frames_sampled: int = 0
    frames_with_faces: int = 0
    fused: np.ndarray | None = None
    fused_weights: dict[str, float] = field(default_factory=dict)
    spoken: tuple[float, float] | None = None  # where the VAD heard speech inside the segment (None: all of it)

    @property
    def heard(self) -> tuple[float, float]:
        """The span the voice and the faces are read on: Whisper's segment times are loose (after a pause a segment
        often starts where the previous one ended, seconds before its first word), the VAD's are not."""
        return self.spoken or (self.start, self.end)

    def to_dict(self) -> dict:
        modalities = {}
        for name in ("text", "voice", "face"):
            if name in self.probs:
                p = self.probs[name]
                row = {"label": top_label(p), "confidence": round(float(p.max()), 4), "scores": scores_dict(p),
                       "method": self.methods[name]}
            else:
                row = {"label": None, "confidence": None, "note": self.notes.get(name, "")}
            if name == "voice" and self.arousal is not None:
                row["arousal"] = round(self.arousal, 3)
                row["arousal_level"] = emotion_voice.arousal_level(self.arousal)
            if name == "face":
                row.update(frames_sampled=self.frames_sampled, frames_with_faces=self.frames_with_faces)
            modalities[name] = row
        return {"start": round(self.start, 3), "end": round(self.end, 3), "text": self.text,
                "spoken": [round(t, 3) for t in self.heard], "modalities": modalities,
                "fused": _fused_dict(self.fused, self.fused_weights, self.notes)}


@dataclass
class Timeline:
    segments: list[SegmentReading]
    weights: dict[str, float]
    note: str | None = None  # one line when there are no segments (no speech, no audio track)
    face_frames_sampled: int = 0

    def to_dict(self) -> dict:
        return {"segments": [s.to_dict() for s in self.segments], "weights": dict(self.weights), "note": self.note,
                "face_frames_sampled": self.face_frames_sampled,
                "face_sampling": f"up to {FACE_FRAMES_PER_SECOND:g} frame/s inside each segment, at most "
                                 f"{MAX_FACE_FRAMES_PER_SEGMENT} per segment and {MAX_FACE_FRAMES} in all"}


def empty(note: str, weights=None) -> Timeline:
    """No segments, and the one line that says why."""
    return Timeline([], parse_weights(weights), note)


def read_timeline(video, samples: np.ndarray, segments: list[tuple[float, float, str]], weights=None, *,
                  text_readings: list[np.ndarray] | None = None, text_method: str | None = None,
                  text_reader: str = "auto", speech_spans=None, progress=None) -> Timeline:
    """The fused timeline of ``video`` over transcript ``segments`` ((start s, end s, text), in time order) of its
    16 kHz ``samples``. ``text_readings``: the segments' text probabilities when the caller has them already
    (the voice reading reads every segment), with ``text_method``; otherwise the text reader reads them.
    ``speech_spans``: where the VAD heard speech (seconds), found here when not given and the vad backend loads."""
    weights = parse_weights(weights)
    segments = [(float(a), float(max(a, b)), t.strip()) for a, b, t in segments if t.strip()]
    if not segments:
        return empty(NO_SPEECH, weights)

    def step(fraction, message):
        if progress:
            progress(fraction, message)

    step(0.0, "timeline: reading each segment's words")
    if text_readings is None:
        results = emotion_text.analyze([t for _, _, t in segments], reader=text_reader)
        text_readings, text_method = [r.probs for r in results], results[0].method
    if speech_spans is None:
        try:
            speech_spans = backends.get("vad").speech_spans(samples)
        except BackendUnavailable:
            speech_spans = []
    rows = [SegmentReading(a, b, t, {"text": np.asarray(p)}, {"text": text_method},
                           spoken=spoken_part(a, b, speech_spans)) for (a, b, t), p in zip(segments, text_readings)]
    step(0.2, "timeline: reading each segment's voice")
    _read_voices(rows, samples)
    step(0.5, "timeline: reading the faces during each segment")
    sampled = _read_faces(rows, video, lambda f, m: step(0.5 + 0.45 * f, m))
    for row in rows:
        _fuse(row, weights)
    step(1.0, "timeline done")
    return Timeline(rows, weights, None, sampled)


def reweigh(timeline: dict, weights) -> dict:
    """A ``Timeline.to_dict()`` fused again with new ``weights`` (the readings do not depend on them)."""
    weights = parse_weights(weights)
    out = {**timeline, "weights": weights, "segments": []}
    for seg in timeline.get("segments", []):
        present = {name: np.array([m["scores"][label] for label in LABELS])
                   for name, m in seg["modalities"].items() if m.get("scores")}
        fused, used, notes = _fuse_present(present, weights)
        out["segments"].append({**seg, "fused": _fused_dict(fused, used, notes)})
    return out


def spoken_part(start: float, end: float, speech_spans) -> tuple[float, float] | None:
    """From the first to the last moment of speech inside [start, end]; None when the VAD heard none there."""
    inside = [(max(a, start), min(b, end)) for a, b in speech_spans or [] if min(b, end) > max(a, start)]
    return (inside[0][0], inside[-1][1]) if inside else None


# -- the three readings --------------------------------------------------------------------------------------------
def _span(samples: np.ndarray, start: float, end: float) -> np.ndarray:
    return samples[int(start * SAMPLE_RATE):max(int(start * SAMPLE_RATE) + 1, int(end * SAMPLE_RATE))]


def _read_voices(rows: list[SegmentReading], samples: np.ndarray) -> None:
    """The speech-emotion model on each segment's audio when one is available (fused); the prosody heuristic's
    arousal otherwise (reported, not fused: one axis, not seven emotions)."""
    pieces = [_span(samples, *r.heard) for r in rows]
    try:
        classifier = backends.get("speech_emotion")
    except BackendUnavailable:
        classifier = None
    if classifier is not None:
        minimum = int(MIN_VOICE_SECONDS * SAMPLE_RATE)
        padded = [np.pad(p, (0, max(0, minimum - len(p)))) for p in pieces]
        for row, probs in zip(rows, classifier.predict(padded, SAMPLE_RATE)):
            row.probs["voice"], row.methods["voice"] = probs, classifier.name
    read, capped = 0.0, False
    for row, piece in zip(rows, pieces):
        # once the cap is reached, no later segment is read either: the note says "the first N s" and means it
        capped = capped or read + len(piece) / SAMPLE_RATE > PROSODY_MAX_S
        if capped:
            row.notes.setdefault("voice", f"prosody is read on the first {PROSODY_MAX_S:.0f} s of speech only")
            continue
        read += len(piece) / SAMPLE_RATE
        prosody = emotion_voice.prosody_reading(piece, words=len(row.text.split()),
                                                speech_seconds=max(row.heard[1] - row.heard[0], 1e-3))
        row.arousal = prosody.arousal
        if classifier is None:
            row.notes["voice"] = "no speech-emotion model: the prosody heuristic's arousal only, not fused"


def face_times(rows: list[SegmentReading], duration: float) -> list[list[float]]:
    """The instants at which each segment's faces are looked at: evenly inside its spoken part,
    ``FACE_FRAMES_PER_SECOND``, at least one and at most ``MAX_FACE_FRAMES_PER_SEGMENT``; fewer for all when the video's total would pass
    ``MAX_FACE_FRAMES``."""
    spans = [r.heard for r in rows]
    wanted = [min(MAX_FACE_FRAMES_PER_SEGMENT, max(1, math.ceil((b - a) * FACE_FRAMES_PER_SECOND))) for a, b in spans]
    if sum(wanted) > MAX_FACE_FRAMES:
        scale = MAX_FACE_FRAMES / sum(wanted)
        wanted = [max(1, int(n * scale)) for n in wanted]
    return [[round(min(duration, a + (k + 0.5) * (b - a) / n), 4) for k in range(n)]
            for (a, b), n in zip(spans, wanted)]


def _read_faces(rows: list[SegmentReading], video, progress) -> int:
    """Decode only the frames inside the segments (``face_times``) and read their faces; returns frames read."""
    info = video_media.probe(video)
    times = face_times(rows, info.duration)
    owners: dict[float, list[int]] = {}
    for index, instants in enumerate(times):
        for t in instants:
            owners.setdefault(min(max(t, 0.0), info.duration), []).append(index)
    wanted = sorted(owners)  # as sample_frames serves them: one frame per distinct instant, in order
    faces: dict[int, list[np.ndarray]] = {i: [] for i in range(len(rows))}
    sampled: dict[int, int] = {i: 0 for i in range(len(rows))}
    model = None
    frames = video_media.sample_frames(video, times=wanted, max_side=FACE_MAX_SIDE)
    for count, (instant, (_, frame)) in enumerate(zip(wanted, frames), start=1):
        found = emotion_face.analyze_image(frame)
        model = found.model or model
        for index in owners[instant]:
            sampled[index] += 1
            if found.probs is not None:
                faces[index].append(found.probs)
        progress(count / len(wanted), f"timeline: faces at {instant:.1f} s")
    for index, row in enumerate(rows):
        row.frames_sampled, row.frames_with_faces = sampled[index], len(faces[index])
        if faces[index]:
            row.probs["face"], row.methods["face"] = np.mean(faces[index], axis=0), model
        else:
            row.notes["face"] = NO_FACE
    return len(wanted)


# -- fusion --------------------------------------------------------------------------------------------------------
def _fuse(row: SegmentReading, weights: dict[str, float]) -> None:
    row.fused, row.fused_weights, notes = _fuse_present(row.probs, weights)
    row.notes.update(notes)


def _fuse_present(present: dict[str, np.ndarray], weights: dict[str, float]):
    """(fused, weights used, notes): the segment's readings through ``fusion.fuse``; a segment whose present
    modalities all weigh zero has no fused reading (and says so) instead of failing the whole timeline."""
    try:
        fused, used = fuse(present, weights)
    except BadInput as exc:
        return None, {}, {"fused": str(exc)}
    return fused, used, {}


def _fused_dict(fused, used: dict[str, float], notes: dict[str, str]) -> dict:
    if fused is None:
        return {"label": None, "confidence": None, "note": notes.get("fused", "")}
    return {"label": top_label(fused), "confidence": round(float(np.max(fused)), 4), "scores": scores_dict(fused),
            "weights": {k: round(v, 4) for k, v in used.items()}}


# -- words for a row -----------------------------------------------------------------------------------------------
COLUMNS = ("start", "end", "said", "text", "voice", "face", "fused")


def describe(reading: dict) -> str:
    """One cell of a row: "joy 82%", or why there is nothing ("no face seen"); the voice's arousal beside it."""
    arousal = (f"arousal {reading['arousal_level']} {reading['arousal']:.2f}" if reading.get("arousal") is not None
               else None)
    if reading.get("label"):
        said = f"{reading['label']} {reading['confidence']:.0%}" + (f" · {arousal}" if arousal else "")
    else:
        said = f"{arousal} (prosody heuristic, not fused)" if arousal else reading.get("note", "")
    return said


def table_rows(timeline: dict) -> list[dict]:
    """The timeline as flat rows (COLUMNS), for the tab's table, the CSV and the Markdown report."""
    return [{"start": seg["start"], "end": seg["end"], "said": seg["text"],
             **{name: describe(seg["modalities"][name]) for name in ("text", "voice", "face")},
             "fused": describe(seg["fused"])} for seg in timeline.get("segments", [])]
