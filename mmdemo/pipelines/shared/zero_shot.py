"""Zero-shot image labels: score a user-editable list of labels for each image.

With CLIP weights: CLIP image-text cosine similarity, turned into shares of the list with CLIP's own learned
temperature (what CLIP's zero-shot classification does).

Offline (no CLIP weights anywhere): an honest, labelled approximation from the ImageNet classifier's distribution
over its 1000 classes, through the structure of those classes. Each class carries its WordNet hypernym chain
(``mmdemo/data/imagenet_hypernyms.tsv``: Pekinese -> toy dog -> dog -> canine -> ... -> animal; Granny Smith -> apple ->
edible fruit -> fruit). Every class hands its probability to one label of the list:

* the label that names the nearest synset on the class's chain (the list "dog, animal" gives a Pekinese to "dog");
* for a class none of whose chain the list names, the labels share its probability by MiniLM similarity between
  the class name and each label (softmax, ``OFFLINE_SCALE``), which keeps labels that are not WordNet lemmas
  ("astronaut", "city at night") usable.

A label's score is the sum of what it receives: the shares over the list sum to 1. ``similarity`` stays a cosine:
that of the label with the probability-weighted mean of the class-name vectors. The method can only see what
ImageNet's classes cover (no "person", no "astronaut"), and says so via ``method``.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

import numpy as np

from mmdemo import backends
from mmdemo.backends.image_classifier import imagenet_class_names
from mmdemo.data import DATA_DIR
from mmdemo.errors import BackendUnavailable, BadInput
from mmdemo.media.text import check_text

ASSETS = DATA_DIR
DEFAULT_LABELS_FILE = ASSETS / "labels.txt"
HYPERNYMS_FILE = ASSETS / "imagenet_hypernyms.tsv"  # python -m mmdemo.train.imagenet_hypernyms
MAX_LABELS = 200
MAX_LABEL_CHARS = 80
OFFLINE_SCALE = 20.0  # softmax temperature for MiniLM cosines; it changes how peaked shares look, never the order
CLIP_METHOD = "clip"
OFFLINE_METHOD = ("offline: ImageNet classes handed to labels through their WordNet hypernyms, "
                  "else by MiniLM similarity of class names")
_ARTICLES = ("a ", "an ", "the ")


def default_labels() -> list[str]:
    return parse_labels(DEFAULT_LABELS_FILE.read_text(encoding="utf-8"))


def parse_labels(labels: "str | list[str] | None") -> list[str]:
    """Labels from a comma/newline separated string or a list: stripped, de-duplicated, order kept."""
    if labels is None:
        return default_labels()
    if isinstance(labels, str):
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
    clip = backends.get("clip")
    sims = clip.similarity(images, labels)
    return LabelScores(labels, sims, softmax(sims, clip.logit_scale), CLIP_METHOD, "clip")


def offline_scores(labels: list[str], class_probs: np.ndarray) -> LabelScores:
    """Zero-shot labels from an (n, 1000) ImageNet distribution: WordNet hypernyms first, MiniLM for the rest."""
    embedder = backends.get("embedder")
    classes = class_name_vectors(embedder)
    label_vecs = embedder.encode(labels)
    probs = class_probs.astype(np.float32)
    sims = offline_image_vectors(embedder, probs) @ label_vecs.T
    assignment = label_assignment(labels, classes @ label_vecs.T)
    # Each label's share over what it gets from classes picked at random: a label many classes feed (120 dog
    # breeds feed "dog") would otherwise win whenever the classifier is unsure. Measured on real photos
    # (bench.zero_shot_photos): default list 20/32 instead of 19/32, fitting list 20/35 instead of 18/35.
    lift = (probs @ assignment) / assignment.mean(axis=0).clip(min=1e-12)
    scores = lift / lift.sum(axis=1, keepdims=True).clip(min=1e-12)
    return LabelScores(labels, sims, scores, OFFLINE_METHOD, "image_classifier + embedder")


def offline_image_vectors(embedder, class_probs: np.ndarray) -> np.ndarray:
    """(n, d) unit vectors placing images in the embedder's sentence space: the probability-weighted mean of the
    ImageNet class-name vectors (weights sum to 1). The offline image space of zero-shot labels and of search."""
    vectors = class_probs.astype(np.float32) @ class_name_vectors(embedder)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-12)


def label_assignment(labels: list[str], class_label_cosine: np.ndarray) -> np.ndarray:
    """(n_classes, n_labels) rows summing to 1: how each ImageNet class's probability is split over the labels.

    A class whose hypernym chain names one of the labels gives everything to the label named nearest to it (ties
    share); any other class splits by softmax of MiniLM cosine between its name and the labels.
    """
    assignment = softmax(class_label_cosine.astype(np.float64), OFFLINE_SCALE)
    chains = hypernym_chains()
    if len(chains) != len(assignment):
        raise BackendUnavailable(f"{HYPERNYMS_FILE.name} has {len(chains)} classes, the classifier "
                                 f"{len(assignment)}: rebuild it with python -m mmdemo.train.imagenet_hypernyms.")
    keys = [lemma_keys(label) for label in labels]
    for index, levels in enumerate(chains):
        for level in levels:
            hits = [j for j, candidates in enumerate(keys) if candidates & level]
            if hits:
                assignment[index] = 0.0
                assignment[index, hits] = 1.0 / len(hits)
                break
    return assignment


def lemma_keys(label: str) -> set[str]:
    """The WordNet lemma spellings a label may stand for: lower case, no leading article, and its singular."""
    key = " ".join(label.lower().replace("_", " ").split())
    for article in _ARTICLES:
        if key.startswith(article):
            key = key[len(article):]
    keys = {key}
    if key.endswith("ies") and len(key) > 4:
        keys.add(key[:-3] + "y")
    elif key.endswith(("ses", "xes", "ches", "shes")):
        keys.add(key[:-2])
    elif key.endswith("s") and not key.endswith("ss") and len(key) > 3:
        keys.add(key[:-1])
    return keys


_chains: list[list[set[str]]] | None = None


def hypernym_chains() -> list[list[set[str]]]:
    """Per ImageNet class, in index order, the WordNet lemma sets by distance (the class itself first)."""
    global _chains
    if _chains is None:
        if not HYPERNYMS_FILE.is_file():
            raise BackendUnavailable(f"{HYPERNYMS_FILE} is missing: build it with python -m "
                                     "mmdemo.train.imagenet_hypernyms.")
        rows = HYPERNYMS_FILE.read_text(encoding="utf-8").splitlines()
        _chains = [[set(level.split("|")) - {""} for level in row.split("\t")[1:]] for row in rows if row]
    return _chains


_class_cache: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # embedder -> vectors, dies with it
_class_lock = threading.Lock()


def class_name_vectors(embedder) -> np.ndarray:
    """(1000, d) unit vectors of the ImageNet classes described as "name, nearest hypernym" ("Pekinese, toy dog"):
    MiniLM knows rare breed and species names poorly, their hypernym well. Embedded once per embedder instance."""
    with _class_lock:
        if embedder not in _class_cache:
            _class_cache[embedder] = embedder.encode(class_descriptions())
        return _class_cache[embedder]


def class_descriptions() -> list[str]:
    """"name, hypernym" per ImageNet class: the class name and the first lemma of its nearest named hypernym."""
    names = imagenet_class_names()
    rows = [row.split("\t") for row in HYPERNYMS_FILE.read_text(encoding="utf-8").splitlines() if row] \
        if HYPERNYMS_FILE.is_file() else []
    if len(rows) != len(names):
        return names
    out = []
    for name, row in zip(names, rows):
        parent = next((level.split("|")[0] for level in row[2:] if level), "")
        out.append(f"{name}, {parent}" if parent else name)
    return out
