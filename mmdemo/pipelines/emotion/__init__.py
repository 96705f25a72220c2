"""Emotion analysis of any subset of text, audio, image and video, fused with user-set weights.

Each modality is read by its own model(s) onto one label set (emotion_labels.LABELS); the modalities that carried
a signal are combined by weighted late fusion (emotion_fusion.fuse). A modality without a signal (no face, no
speech) is reported in ``no_signal`` and left out of the fusion.

    from mmdemo.pipelines import emotion
    report = emotion.analyze(text="I got the job!", image="me.jpg", weights="text=1,face=2")
    report.to_dict()  # {"modalities": {...}, "fused": {"label", "scores"}, ...}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from mmdemo import applications, config
from mmdemo.emotion_labels import LABELS, scores_dict, top_label
from mmdemo.errors import BadInput
from mmdemo.media import video as video_media
from mmdemo.media.image import load_image
from mmdemo.media.text import check_text
from mmdemo.media.text import read_text_file as read_text
from mmdemo.pipelines.emotion import face as emotion_face
from mmdemo.pipelines.emotion import text as emotion_text
from mmdemo.pipelines.emotion import voice as emotion_voice
from mmdemo.pipelines.emotion.fusion import fuse, parse_weights
from mmdemo.pipelines.emotion.options import EmotionOptions as Options  # noqa: F401 (the application's settings)

# what it uses and where its tab queues: its record in mmdemo.applications
BACKENDS, SLOT = applications.of_pipeline(__name__).backends, applications.of_pipeline(__name__).slot


def max_texts() -> int:
    """The most texts in one batch, or utterances in one conversation: MMDEMO_MAX_EMOTION_TEXTS."""
    return config.get("MMDEMO_MAX_EMOTION_TEXTS")


@dataclass
class Modality:
    name: str  # "text" | "voice" | "face"
    probs: np.ndarray  # over LABELS
    method: str  # the model(s) that produced probs; fallbacks say so
    fallback: bool = False  # True when no trained model for this modality answered
    details: dict = field(default_factory=dict)  # JSON-ready extras (valence, transcript, faces, prosody...)

    def to_dict(self) -> dict:
        return {"label": top_label(self.probs), "scores": scores_dict(self.probs), "method": self.method,
                "fallback": self.fallback, **self.details}


@dataclass
class EmotionReport:
    modalities: dict[str, Modality]
    no_signal: dict[str, str]  # modality -> why it has nothing to say
    weights: dict[str, float]  # as set by the user
    fused: np.ndarray | None = None
    fused_weights: dict[str, float] = field(default_factory=dict)  # normalised, over modalities present
    timelines: dict[str, list[tuple[float, np.ndarray]]] = field(default_factory=dict)  # "voice", "face"
    arousal_timeline: list[tuple[float, float]] = field(default_factory=list)  # prosody heuristic, 2 s windows
    annotated: Image.Image | None = None  # the input image with labelled face boxes
    keyframes: list[tuple[float, Image.Image]] = field(default_factory=list)  # annotated video frames
    text: str | None = None

    @property
    def label(self) -> str | None:
        return top_label(self.fused) if self.fused is not None else None

    def to_dict(self) -> dict:
        out = {
            "modalities": {name: m.to_dict() for name, m in self.modalities.items()},
            "fused": None if self.fused is None else {
                "label": self.label, "scores": scores_dict(self.fused),
                "weights": {k: round(v, 4) for k, v in self.fused_weights.items()}},
            "no_signal": dict(self.no_signal),
            "weights": dict(self.weights),
            "labels": list(LABELS),
        }
        if self.text is not None:
            out["text"] = self.text
        timelines = {name: [{"time": round(t, 2), "label": top_label(p), "scores": scores_dict(p)} for t, p in series]
                     for name, series in self.timelines.items() if series}
        if timelines:
            out["timelines"] = timelines
        if self.arousal_timeline:
            out["arousal_timeline"] = [{"time": round(t, 2), "arousal": a} for t, a in self.arousal_timeline]
        return out


def analyze(text: str | None = None, audio=None, image=None, video=None, weights=None, progress=None,
            text_reader: str = "auto") -> EmotionReport:
    """Read every given input and fuse. ``progress`` is None or a callable(fraction, message); ``text_reader``:
    one of emotion_text.READERS."""
    return analyze_many([text] if text is not None else None, audio, image, video, weights, progress, text_reader)[0]


def reweigh(result: dict, weights) -> dict:
    """A ``to_dict()`` report fused again with new ``weights`` without reading any input again (the per-modality
    readings do not depend on the weights), as captioning's ``rerank`` re-ranks stored candidates."""
    weights = parse_weights(weights)
    present = {name: np.array([mod["scores"][label] for label in LABELS]) for name, mod in result["modalities"].items()}
    fused, used = fuse(present, weights)
    return {**result, "weights": weights,
            "fused": {"label": top_label(fused), "scores": scores_dict(fused),
                      "weights": {k: round(v, 4) for k, v in used.items()}}}


def analyze_many(texts: list[str] | None, audio=None, image=None, video=None, weights=None,
                 progress=None, text_reader: str = "auto") -> list[EmotionReport]:
    """One report per text (audio, image and video are read once and shared); one report when texts is None."""
    weights = parse_weights(weights)
    texts = _check_texts(texts)
    if texts is None and audio is None and image is None and video is None:
        raise BadInput("give at least one input: text, audio, an image or a video.")

    def step(start, span):
        return (lambda f, m: progress(start + span * f, m)) if progress else None

    shared: dict[str, Modality] = {}
    no_signal: dict[str, str] = {}
    report_extras: dict = {"timelines": {}}
    face_parts: list[tuple[str, np.ndarray]] = []
    face_details: dict = {}

    loaded_image = None
    if image is not None:  # validate cheap inputs before any heavy model runs

        loaded_image = load_image(image)
    video_info = video_media.probe(video) if video is not None else None
    voice_source = audio if audio is not None else (video if video_info and video_info.has_audio else None)
    samples = None
    if voice_source is not None:  # decode now: a bad audio file fails before minutes of video work

        samples = emotion_voice.load(voice_source)

    if loaded_image is not None:
        if progress:
            progress(0.02, "finding faces in the image")

        found = emotion_face.analyze_image(loaded_image)
        face_details["model"] = found.model
        report_extras["annotated"] = found.annotated
        face_details["faces"] = [f.to_dict() for f in found.faces]
        if found.probs is not None:
            face_parts.append(("image", found.probs))
        else:
            face_details["image_note"] = "no face found in the image"

    if video is not None:
        seen = emotion_face.analyze_video(video, progress=step(0.1, 0.35))
        face_details["model"] = seen.model or face_details.get("model")
        report_extras["timelines"]["face"] = seen.timeline
        report_extras["keyframes"] = seen.keyframes
        face_details["video"] = {"frames_sampled": seen.frames_sampled, "frames_with_faces": len(seen.timeline)}
        if seen.probs is not None:
            face_parts.append(("video", seen.probs))
        else:  # said, not fused: nothing from the video enters the face reading
            face_details.setdefault("notes", []).append(seen.note)

    model = face_details.pop("model", None)
    if face_parts:  # image and video both given: each counts once
        shared["face"] = Modality("face", np.mean([p for _, p in face_parts], axis=0), model,
                                  details={**face_details, "from": [name for name, _ in face_parts]})
    elif image is not None or video is not None:
        where = " or ".join(w for w, given in (("the image", image is not None), ("the video", video is not None)) if given)
        no_signal["face"] = f"no face found in {where}"
        if video is not None:
            no_signal["face"] += f" ({face_details['video']['frames_sampled']} frames sampled)"

    if samples is not None:
        heard = emotion_voice.analyze(samples, progress=step(0.45, 0.45))
        details = {"transcript": heard.transcript, "language": heard.language, "duration": round(heard.duration, 2),
                   "from": "audio" if audio is not None else "video's audio track",
                   "prosody": heard.prosody.to_dict() if heard.prosody else None}
        if heard.text_probs is not None:
            details["transcript_emotion"] = {"label": top_label(heard.text_probs),
                                             "scores": scores_dict(heard.text_probs), "method": heard.text_method}
        if heard.acoustic_probs is not None:
            details["acoustic_emotion"] = {"label": top_label(heard.acoustic_probs),
                                           "scores": scores_dict(heard.acoustic_probs),
                                           "method": heard.acoustic_method, "covers": heard.acoustic_covered}
        if heard.notes:
            details["notes"] = heard.notes
        report_extras["timelines"]["voice"] = heard.timeline
        report_extras["arousal"] = heard.prosody.timeline if heard.prosody else []
        if heard.probs is not None:
            method = " + ".join(m for m in (f"transcript: {heard.text_method}" if heard.text_method else None,
                                            f"voice: {heard.acoustic_method}" if heard.acoustic_method else None) if m)
            fallback = heard.text_fallback  # a missing acoustic model is no fallback: its absence is in `method`
            shared["voice"] = Modality("voice", heard.probs, method, fallback, details)
        else:
            why = "no speech detected in the audio" if "no speech detected" in heard.notes else "; ".join(heard.notes)
            no_signal["voice"] = why + (f" (prosody: {heard.prosody.level} arousal, heuristic)" if heard.prosody else "")
    elif video is not None and audio is None:
        no_signal["voice"] = "the video has no audio track"

    text_results = []
    if texts is not None:
        if progress:
            progress(0.92, "reading the text")
        text_results = emotion_text.analyze(texts, reader=text_reader)

    reports = []
    for index in range(len(texts) if texts is not None else 1):
        modalities = dict(shared)
        if texts is not None:
            res = text_results[index]
            modalities = {"text": Modality("text", res.probs, res.method, res.fallback, {
                "valence": {"method": "VADER lexicon (valence only, not an emotion model)", "compound": res.valence,
                            "reading": emotion_text.valence_word(res.valence)}}), **shared}
        report = EmotionReport(modalities, dict(no_signal), weights,
                               timelines=report_extras["timelines"], arousal_timeline=report_extras.get("arousal", []),
                               annotated=report_extras.get("annotated"), keyframes=report_extras.get("keyframes", []),
                               text=texts[index] if texts is not None else None)
        present = {name: m.probs for name, m in modalities.items()}
        if present:
            report.fused, report.fused_weights = fuse(present, weights)
        reports.append(report)
    if progress:
        progress(1.0, "done")
    return reports


def _check_texts(texts: list[str] | None) -> list[str] | None:
    if texts is None:
        return None
    if not texts or not any(t.strip() for t in texts):
        raise BadInput("the text is empty.")
    if len(texts) > (limit := max_texts()):
        raise BadInput(f"{len(texts)} texts is over the limit of {limit} (MMDEMO_MAX_EMOTION_TEXTS).")
    for i, t in enumerate(texts):
        check_text(t, "the text" if len(texts) == 1 else f"text {i + 1} of {len(texts)}")
    blank = [i + 1 for i, t in enumerate(texts) if not t.strip()]
    if blank:
        raise BadInput(f"text {blank[0]} of {len(texts)} is empty.")
    return [t.strip() for t in texts]


def read_text_file(path) -> list[str]:
    """Non-blank lines of a UTF-8 text file, one text each."""
    path = Path(path)
    lines = read_text(path).splitlines()
    texts = [line.strip() for line in lines if line.strip()]
    if not texts:
        raise BadInput(f"{path.name}: no text in the file (one text per line).")
    return texts
