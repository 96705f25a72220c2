"""Zero-shot image labels: score a user-editable list of labels for each image.

With CLIP weights: CLIP image-text cosine similarity, turned into shares of the list with CLIP's own learned
temperature (what CLIP's zero-shot classification does).

Offline (no CLIP weights anywhere): an honest, labelled approximation. The ImageNet classifier gives a
distribution over 1000 classes; each class name is embedded with the sentence embedder (MiniLM); the image's
vector is the probability-weighted mean of its class-name vectors, compared by cosine with the embedded labels.
It can only see what ImageNet's classes cover (no "person", no "astronaut"), and says so via ``method``.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmdemo.errors import BackendUnavailable, BadInput

DEFAULT_LABELS_FILE = Path(__file__).resolve().parents[2] / "assets" / "labels.txt"
MAX_LABELS = 200
MAX_LABEL_CHARS = 80
OFFLINE_SCALE = 20.0  # softmax temperature for MiniLM cosines; it changes how peaked shares look, never the order
CLIP_METHOD = "clip"
OFFLINE_METHOD = "offline: ImageNet classes mapped into MiniLM sentence space"


def default_labels() -> list[str]:
    return parse_labels(DEFAULT_LABELS_FILE.read_text(encoding="utf-8"))


def parse_labels(labels: "str | list[str] | None") -> list[str]:
    """Labels from a comma/newline separated string or a list: stripped, de-duplicated, order kept."""
    if labels is None:
        return default_labels()
    if isinstance(labels, str):
        from mmdemo.media.text import check_text

        check_text(labels, "the label list", MAX_LABELS * (MAX_LABEL_CHARS + 2))
    items = labels.replace("\n", ",").split(",") if isinstance(labels, str) else list(labels)
    out: list[str] = []
    for item in items:
        label = " ".join(str(item).split())
        if not label or label in out:
            continue
        if len(label) > MAX_LABEL_CHARS:
            raise BadInput(f"The label {label[:30]!r}... is longer than {MAX_LABEL_CHARS} characters.")
        out.append(label)
    if not out:
        raise BadInput("The label list is empty: give at least one label, separated by commas.")
    if len(out) > MAX_LABELS:
        raise BadInput(f"{len(out)} labels is more than the limit of {MAX_LABELS}.")
    return out


@dataclass
class LabelScores:
    labels: list[str]
    similarity: np.ndarray  # (n_images, n_labels) cosine similarity
    scores: np.ndarray  # (n_images, n_labels) softmax shares over the list, rows sum to 1
    method: str  # CLIP_METHOD or OFFLINE_METHOD
    backend: str  # which backends answered, e.g. "clip" or "image_classifier + embedder"

    def ranked(self, row: int) -> list[tuple[str, float, float]]:
        """(label, score, similarity) of one image, best first."""
        order = np.argsort(-self.scores[row], kind="stable")
        return [(self.labels[i], float(self.scores[row, i]), float(self.similarity[row, i])) for i in order]


def softmax(x: np.ndarray, scale: float) -> np.ndarray:
    z = scale * x
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def clip_scores(images, labels: list[str]) -> LabelScores:
    from mmdemo import backends

    clip = backends.get("clip")
    sims = clip.similarity(images, labels)
    return LabelScores(labels, sims, softmax(sims, clip.logit_scale), CLIP_METHOD, "clip")


def offline_scores(labels: list[str], class_probs: np.ndarray) -> LabelScores:
    """Zero-shot labels from an (n, 1000) ImageNet distribution, through the sentence embedder."""
    from mmdemo import backends

    embedder = backends.get("embedder")
    classes = class_name_vectors(embedder)
    image_vecs = class_probs.astype(np.float32) @ classes  # probability-weighted mean (weights sum to 1)
    image_vecs /= np.linalg.norm(image_vecs, axis=1, keepdims=True).clip(min=1e-12)
    sims = image_vecs @ embedder.encode(labels).T
    return LabelScores(labels, sims, softmax(sims, OFFLINE_SCALE), OFFLINE_METHOD, "image_classifier + embedder")


_class_cache: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # embedder -> vectors, dies with it
_class_lock = threading.Lock()


def class_name_vectors(embedder) -> np.ndarray:
    """(1000, d) unit vectors of the ImageNet class names, embedded once per embedder instance (about 3 s)."""
    from mmdemo.backends.image_classifier import imagenet_class_names

    with _class_lock:
        if embedder not in _class_cache:
            _class_cache[embedder] = embedder.encode(imagenet_class_names())
        return _class_cache[embedder]


def score_labels(images, labels, class_probs: np.ndarray | None = None) -> LabelScores:
    """CLIP when its weights can be found, else the offline mapping (computing ImageNet probabilities if not
    given)."""
    labels = parse_labels(labels)
    try:
        return clip_scores(images, labels)
    except BackendUnavailable:
        pass
    if class_probs is None:
        from mmdemo import backends

        class_probs = backends.get("image_classifier").probabilities(images)
    return offline_scores(labels, class_probs)
