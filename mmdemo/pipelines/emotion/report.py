"""What an emotion reading is: one ``Modality`` per input that carried a signal, and the ``EmotionReport`` that
holds them with the fusion (``to_dict()`` is the JSON the tab, the CLI and the API share)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from mmdemo.emotion_labels import LABELS, scores_dict, top_label


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
    timeline: object | None = None  # a video's fused timeline per transcript segment (timeline.Timeline)
    options: object | None = None  # the settings it was made with (emotion.Options)

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
        if self.timeline is not None:
            out["timeline"] = self.timeline.to_dict()
        if self.options is not None:
            out["settings"] = self.options.to_dict()
        return out
