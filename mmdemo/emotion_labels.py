"""The one label set every emotion model is mapped onto, so that text, voice and face can be fused.

Models name their classes differently ("happy", "hap", "joy"; "sad", "sadness"; "angry", "ang"...). Each
model's class names are mapped here once; classes with no counterpart (e.g. "calm" in RAVDESS models is folded
into neutral, "love" has no place) are dropped and their probability mass is renormalised away, which the
mapping reports so the UI can say so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

LABELS = ("anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise")

# Every spelling seen in common emotion models (j-hartmann, FER-2013 models, SUPERB/IEMOCAP, RAVDESS, MELD).
SYNONYMS = {
    "anger": ("anger", "angry", "ang", "mad", "annoyance", "frustrated", "frustration"),
    "disgust": ("disgust", "disgusted", "dis", "contempt"),
    "fear": ("fear", "fearful", "fea", "afraid", "scared"),
    "joy": ("joy", "happy", "happiness", "hap", "joyful", "excited", "exc"),
    "neutral": ("neutral", "neu", "calm"),
    "sadness": ("sadness", "sad", "sorrow"),
    "surprise": ("surprise", "surprised", "sur"),
}
_LOOKUP = {alias: label for label, aliases in SYNONYMS.items() for alias in aliases}


def canonical(name: str) -> str | None:
    """The label of LABELS a model's class name stands for, or None when it has none."""
    key = re.sub(r"[^a-z_]", "", name.strip().lower().replace(" ", "_").replace("-", "_"))
    return _LOOKUP.get(key)


@dataclass
class LabelMap:
    """How one model's classes land on LABELS: ``matrix`` (n_model_classes x 7) sums aliases together."""

    model_labels: list[str]
    matrix: np.ndarray
    dropped: list[str] = field(default_factory=list)  # model classes with no counterpart

    @property
    def covered(self) -> list[str]:
        """Labels of LABELS this model can predict at all (a 4-class model covers 4 of 7)."""
        return [label for label, col in zip(LABELS, self.matrix.T) if col.any()]

    def apply(self, probs: np.ndarray) -> np.ndarray:
        """(n, n_model_classes) or (n_model_classes,) probabilities -> the same over LABELS, rows summing to 1."""
        probs = np.asarray(probs, dtype=np.float64)
        single = probs.ndim == 1
        mapped = np.atleast_2d(probs) @ self.matrix
        total = mapped.sum(axis=1, keepdims=True)
        # A row whose whole mass sat on dropped classes carries no information: make it uniform over covered.
        cover = self.matrix.any(axis=0).astype(np.float64)
        mapped = np.where(total > 0, mapped / np.where(total > 0, total, 1), cover / cover.sum())
        return mapped[0] if single else mapped


def label_map(model_labels: list[str]) -> LabelMap:
    """Map a model's class names (in its output order) onto LABELS; ValueError if none of them is an emotion."""
    matrix = np.zeros((len(model_labels), len(LABELS)))
    dropped = []
    for row, name in enumerate(model_labels):
        label = canonical(name)
        if label is None:
            dropped.append(name)
        else:
            matrix[row, LABELS.index(label)] = 1.0
    if not matrix.any():
        raise ValueError(f"none of the model's classes ({', '.join(model_labels)}) is an emotion of {', '.join(LABELS)}")
    return LabelMap(list(model_labels), matrix, dropped)


def scores_dict(probs: np.ndarray) -> dict[str, float]:
    """JSON-ready {label: probability} over LABELS, rounded, in LABELS order."""
    return {label: round(float(p), 4) for label, p in zip(LABELS, probs)}


def top_label(probs: np.ndarray) -> str:
    return LABELS[int(np.argmax(probs))]
