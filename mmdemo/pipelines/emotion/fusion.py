"""Weighted late fusion: p = sum_m w_m * p_m / sum_m w_m over the modalities that carried a signal."""

from __future__ import annotations

import math

import numpy as np

from mmdemo.emotion_labels import LABELS
from mmdemo.errors import BadInput

MODALITIES = ("text", "voice", "face")
DEFAULT_WEIGHTS = {name: 1.0 for name in MODALITIES}


def parse_weights(spec: str | dict | None) -> dict[str, float]:
    """"text=1,voice=0.5" (or a dict) -> a weight for every modality; unnamed ones keep their default of 1."""
    weights = dict(DEFAULT_WEIGHTS)
    if spec is None or spec == "":
        return weights
    items = spec.items() if isinstance(spec, dict) else _split(spec)
    for name, value in items:
        name = str(name).strip().lower()
        if name not in MODALITIES:
            raise BadInput(f"unknown modality {name!r} in the weights; use {', '.join(MODALITIES)}.")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise BadInput(f"the weight of {name} must be a number, not {value!r}.") from None
        if not math.isfinite(number) or number < 0:
            raise BadInput(f"the weight of {name} must be a finite number >= 0, not {value!r}.")
        weights[name] = number
    return weights


def _split(spec: str):
    for part in spec.split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        if not sep:
            raise BadInput(f"weights look like text=1,voice=1,face=1; {part.strip()!r} has no '='.")
        yield name, value.strip()


def fuse(distributions: dict[str, np.ndarray], weights: dict[str, float]) -> tuple[np.ndarray, dict[str, float]]:
    """Fuse the modalities present in ``distributions`` (each a probability vector over LABELS).

    Returns the fused vector and the normalised weight each modality actually got. Modalities with no signal
    must simply be absent; BadInput when nothing is left to fuse or every present weight is zero.
    """
    if not distributions:
        raise BadInput("no modality carried a signal to fuse (no text, no speech, no face).")
    used = {name: float(weights.get(name, 1.0)) for name in distributions}
    total = sum(used.values())
    if total <= 0:
        raise BadInput(f"every weight of the modalities present ({', '.join(used)}) is zero; raise at least one.")
    fused = np.zeros(len(LABELS))
    for name, probs in distributions.items():
        probs = np.asarray(probs, dtype=np.float64)
        if probs.shape != (len(LABELS),):
            raise ValueError(f"{name}: expected {len(LABELS)} probabilities, got shape {probs.shape}")
        fused += used[name] * probs
    return fused / total, {name: w / total for name, w in used.items()}


def fuse_modalities(modalities: dict, weights: dict[str, float]) -> tuple[np.ndarray | None, dict[str, float]]:
    """``fuse`` over readings (``report.Modality`` by name); (None, {}) when no modality carried a signal."""
    present = {name: m.probs for name, m in modalities.items()}
    return fuse(present, weights) if present else (None, {})


def fuse_scores(scores: dict[str, dict[str, float]], weights: dict[str, float]) -> tuple[np.ndarray, dict[str, float]]:
    """``fuse`` over stored readings ({modality: {label: probability}}, as a ``to_dict()`` holds them)."""
    return fuse({name: np.array([by_label[label] for label in LABELS]) for name, by_label in scores.items()}, weights)
