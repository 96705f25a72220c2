"""The embedding spaces search works in, and the functions that put images, keyframes, sentences and transcript
segments into them.

Two tables per index, because a transcript segment is text and a picture is not:

* ``visual`` (images, video keyframes):
  - ``clip``: CLIP image embeddings; a text query is CLIP's text embedding of it. Used when CLIP weights exist.
  - ``offline``: no CLIP weights anywhere. An image is the ImageNet classifier's class distribution mapped into the
    MiniLM sentence space (``zero_shot.offline_image_vectors``: the probability-weighted mean of the class-name
    vectors, the captioning fallback's own space); a text query is its MiniLM embedding. It only sees what
    ImageNet's 1000 classes cover, and results say so.
* ``speech`` (transcript segments of audio files and of videos' audio tracks): MiniLM in both spaces.

A space is recorded with the exact weights that made it (``Space.identity``): vectors made by other weights, even of
the same architecture, are not comparable, and an index refuses to mix them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mmdemo import backends
from mmdemo.errors import BackendUnavailable, BadInput
from mmdemo.pipelines.shared import zero_shot

SPACES = ("clip", "offline")
METHODS = {
    "clip": "CLIP image and text embeddings; transcript segments by MiniLM sentence embeddings",
    "offline": ("offline: images as ImageNet class probabilities mapped into the MiniLM sentence space (what "
                "ImageNet's classes cover only; no CLIP weights); transcript segments by MiniLM"),
}


@dataclass(frozen=True)
class Space:
    name: str  # "clip" or "offline"
    visual: str  # the weights behind the visual table, e.g. "clip hub:laion/CLIP-ViT-B-32..."
    text: str  # the sentence embedder's weights (speech table, and offline text queries)

    @property
    def identity(self) -> dict:
        return {"name": self.name, "visual": self.visual, "text": self.text}

    @property
    def method(self) -> str:
        return METHODS[self.name]

    @property
    def same_space_tables(self) -> bool:
        """True when a text query lands in one space for both tables (offline: MiniLM for both), so their
        cosines can be ranked together."""
        return self.name == "offline"


def _source(name: str) -> str:
    return f"{name} {backends.resolve(name).describe()}"


def current_space(name: str = "auto") -> Space:
    """The space this process can embed in now: ``auto`` is CLIP when CLIP weights resolve, else offline.
    BackendUnavailable when the requested one has no weights."""
    if name not in ("auto",) + SPACES:
        raise BadInput(f"Unknown embedding space {name!r}; choose auto, {' or '.join(SPACES)}.")
    text = _source("embedder")
    if name in ("auto", "clip"):
        try:
            return Space("clip", _source("clip"), text)
        except BackendUnavailable:
            if name == "clip":
                raise
    return Space("offline", f"{_source('image_classifier')} -> {text}", text)


def check_available(space: Space) -> None:
    """BackendUnavailable when this process cannot embed in ``space`` (other weights are configured now)."""
    now = current_space(space.name)
    if now != space:
        raise BackendUnavailable(f"The index was built with {space.visual!r} and {space.text!r}, but this process "
                                 f"resolves {now.visual!r} and {now.text!r}: point MMDEMO_CLIP_MODEL, "
                                 "MMDEMO_IMAGE_CLASSIFIER_MODEL or MMDEMO_EMBEDDER_MODEL at the weights it was "
                                 "built with, or build a new index.")


def images(space: Space, pictures: list) -> np.ndarray:
    """(n, d) unit rows of PIL images in the space's visual table."""
    if not pictures:
        return np.zeros((0, visual_dim(space)), dtype=np.float32)
    if space.name == "clip":
        return backends.get("clip").encode_images(pictures)
    probs = backends.get("image_classifier").probabilities(pictures)
    return zero_shot.offline_image_vectors(backends.get("embedder"), probs)


def text_for_visual(space: Space, texts: list[str]) -> np.ndarray:
    """(n, d) unit rows: text queries against the visual table."""
    if space.name == "clip":
        return backends.get("clip").encode_texts(texts)
    return sentences(texts)


def sentences(texts: list[str]) -> np.ndarray:
    """(n, d) unit rows of MiniLM sentence embeddings (transcript segments, text queries on the speech table)."""
    return backends.get("embedder").encode(list(texts))


def visual_dim(space: Space) -> int:
    if space.name == "clip":
        return int(backends.get("clip").encode_texts(["a"]).shape[1])
    return text_dim()


def text_dim() -> int:
    return int(backends.get("embedder").dim)
