"""Emotion of text: the ``text_emotion`` classifier when its weights exist; offline, the head trained on GoEmotions
and MELD over MiniLM features (``mmdemo/data/text_emotion_head.npz``, python -m mmdemo.train.text_emotion); else, or on request,
a labelled zero-shot reading.

The zero-shot reader embeds the text with the sentence embedder (MiniLM, offline pack) and compares it with a
handful of prototype sentences per emotion; a VADER lexicon valence reading is reported next to it (never mixed
into the 7-class scores: valence is one axis, not seven emotions).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import numpy as np

from mmdemo import backends
from mmdemo.backends.text_emotion import load_head
from mmdemo.emotion_labels import LABELS
from mmdemo.errors import BackendUnavailable

log = logging.getLogger(__name__)

# Written for this demo; first person and third person, short and long, so that the nearest prototype is close
# in style to what people type.
PROTOTYPES = {
    "anger": [
        "I am so angry right now.",
        "This makes me furious, I can't stand it.",
        "I'm outraged at how unfairly they treated us.",
        "Stop it, you are really pissing me off!",
        "He slammed the door in rage.",
        "I hate you for what you did.",
        "They cancelled my order without telling me and I'm fuming.",
        "I'm sick of being ignored, this is so unfair!",
        "He insulted my family and I wanted to punch him.",
        "I yelled at the driver who cut me off, I was seething.",
    ],
    "disgust": [
        "That is disgusting.",
        "Ew, this smells revolting and makes me want to throw up.",
        "I find their behaviour repulsive and gross.",
        "The food was rotten and nauseating.",
        "What a vile, sickening thing to do.",
        "Yuck, there is mold all over it.",
        "I stepped in dog poop and it was all over my shoe.",
        "The kitchen was crawling with cockroaches.",
        "His racist jokes made me feel sick.",
        "The milk had gone sour and curdled, gross.",
    ],
    "fear": [
        "I am scared.",
        "I'm terrified something bad is going to happen.",
        "She was afraid to walk home alone in the dark.",
        "My heart is pounding, I'm so frightened.",
        "I'm anxious and worried about what comes next.",
        "Please help me, I think someone is following me.",
        "The storm was getting closer and we had nowhere to hide.",
        "I panicked when the lights went out in the empty house.",
        "I'm dreading the surgery tomorrow.",
        "A stranger with a knife came toward me.",
    ],
    "joy": [
        "I am so happy!",
        "This is wonderful news, I'm thrilled!",
        "We had a lovely time and laughed all day.",
        "I love this, it makes me feel great.",
        "What a beautiful day, I'm full of joy.",
        "I'm delighted and grateful for everything.",
        "We're going to the beach next week, I can't wait!",
        "My team won the final and we celebrated all night.",
        "Seeing my kids laugh makes me so glad.",
        "I passed all my exams, hooray!",
    ],
    "neutral": [
        "The meeting is at three o'clock.",
        "The report has twelve pages.",
        "I am going to the store to buy some bread.",
        "The train leaves from platform four.",
        "Please send me the file when you have time.",
        "It is a table made of wood.",
        "The library closes at eight on weekdays.",
        "He works as an accountant in a small firm.",
        "Add two cups of flour and stir.",
        "The next update is scheduled for March.",
    ],
    "sadness": [
        "I feel so sad.",
        "I miss her so much, my heart is broken.",
        "He cried alone after the funeral.",
        "Everything feels hopeless and empty today.",
        "I'm lonely and depressed.",
        "We lost our dog and I can't stop crying.",
        "I was rejected again and feel worthless.",
        "My best friend moved abroad and I miss him terribly.",
        "It hurts that nobody remembered my birthday.",
        "I didn't get the scholarship and all my plans fell apart.",
    ],
    "surprise": [
        "Wow, I did not expect that!",
        "I can't believe it, what a surprise!",
        "She was astonished by the sudden news.",
        "No way, really? That's unbelievable!",
        "I was shocked to see him there out of nowhere.",
        "Whoa, that came completely out of the blue.",
        "Out of nowhere she told us she's quitting.",
        "I didn't see that plot twist coming at all!",
        "To everyone's amazement, the underdog won.",
        "Suddenly my long-lost cousin knocked on the door.",
    ],
}
TOP_K = 2  # mean of the two closest prototypes: steadier than the single nearest one
NEUTRAL_FLOOR = 0.25  # "none of the above": a text close to no emotion prototype reads as neutral
TEMPERATURE = 0.04  # cosine gaps between emotions are ~0.1-0.3 for MiniLM; this turns them into clear margins
ZERO_SHOT_METHOD = "zero-shot (MiniLM sentence similarity to emotion prototypes; not a trained emotion model)"
READERS = ("auto", "head", "zero-shot")  # auto: the Hub/cached model, else the trained head, else zero-shot


@dataclass
class TextEmotionResult:
    probs: np.ndarray  # over LABELS
    method: str  # the model that answered, or the labelled zero-shot fallback
    valence: float | None  # VADER compound in [-1, 1]: a lexicon valence reading, not an emotion
    fallback: bool = False


def analyze(texts: list[str], reader: str = "auto") -> list[TextEmotionResult]:
    """One result per text. ``reader``: "auto" (the text_emotion model when its weights can be found, else the
    offline trained head, else zero-shot), "head" or "zero-shot"."""
    if reader not in READERS:
        raise ValueError(f"reader must be one of {', '.join(READERS)}, not {reader!r}")
    valences = [vader_valence(t) for t in texts]
    why = ""
    if reader == "auto":
        try:
            classifier = backends.get("text_emotion")
        except BackendUnavailable as exc:
            log.info("text_emotion unavailable, using the offline reader: %s", exc)
            why = str(exc)
        else:
            probs = classifier.predict(texts)
            return [TextEmotionResult(p, classifier.name, v) for p, v in zip(probs, valences)]
    if reader in ("auto", "head"):
        try:
            head = trained_head()
        except BackendUnavailable as exc:
            if reader == "head":
                raise
            log.info("trained head unavailable, using the zero-shot fallback: %s", exc)
            why = f"{why} {exc}".strip()
        else:
            probs = head.predict(list(texts))
            return [TextEmotionResult(p, head.name, v) for p, v in zip(probs, valences)]
    probs = zero_shot(texts, why=why)
    return [TextEmotionResult(p, ZERO_SHOT_METHOD, v, fallback=True) for p, v in zip(probs, valences)]


# How earlier lines enter a conversation's reading, per reader (measured on MELD's tuning half: docs/emotion.md)
HEAD_CONTEXT = ("each line is read with the previous line's reading and whether it has the same speaker, and the "
                "label mix of dialogue (the trained head; measured on MELD's tuning half: docs/emotion.md)")
NO_CONTEXT = "each line is read on its own: only the trained head reads context ({})"


def analyze_conversation_lines(texts: list[str], speakers: list[str], dialogues: list[str] | None = None,
                               reader: str = "auto") -> tuple[list[TextEmotionResult], str]:
    """The lines of a conversation, in order, with how context entered: the trained head reads each line with the
    one before it in its dialogue (``dialogues``: an id per line; None: one dialogue) and dialogue's label mix;
    a Hub model or the zero-shot reader reads each line on its own (as ``analyze``)."""
    if reader not in READERS:
        raise ValueError(f"reader must be one of {', '.join(READERS)}, not {reader!r}")
    if reader == "auto":
        try:
            backends.get("text_emotion")
        except BackendUnavailable:
            reader = "head" if _head_available() else "zero-shot"
        else:
            return analyze(texts, reader), NO_CONTEXT.format("the Hub model reads single lines")
    if reader == "zero-shot":
        return analyze(texts, reader), NO_CONTEXT.format("the zero-shot reader was used")
    head = trained_head()
    probs = head.predict_conversation(list(texts), list(speakers), dialogues)
    note = HEAD_CONTEXT if head.context is not None else NO_CONTEXT.format("this head has no context weights")
    return [TextEmotionResult(p, head.name, vader_valence(t)) for p, t in zip(probs, texts)], note


def _head_available() -> bool:
    try:
        trained_head()
    except BackendUnavailable as exc:
        log.info("trained head unavailable, using the zero-shot fallback: %s", exc)
        return False
    return True


_head = None
_head_lock = threading.Lock()


def trained_head():
    """The offline head over the loaded embedder (reloaded if the embedder was)."""
    global _head

    embedder = backends.get("embedder")
    with _head_lock:
        if _head is None or _head.embedder is not embedder:
            _head = load_head(embedder)
        return _head


_prototype_cache: dict[int, np.ndarray] = {}
_cache_lock = threading.Lock()


def _prototype_vectors(embedder) -> np.ndarray:
    """(7, n_prototypes, dim) unit vectors, embedded once per loaded embedder."""
    with _cache_lock:
        key = id(embedder)
        if key not in _prototype_cache:
            _prototype_cache.clear()  # a reloaded embedder replaces the old one
            counts = {len(v) for v in PROTOTYPES.values()}
            assert len(counts) == 1, "every emotion needs the same number of prototypes"
            flat = [s for label in LABELS for s in PROTOTYPES[label]]
            _prototype_cache[key] = embedder.encode(flat).reshape(len(LABELS), counts.pop(), -1)
        return _prototype_cache[key]


def zero_shot(texts: list[str], why: str = "") -> np.ndarray:
    """(len(texts), 7) zero-shot probabilities from sentence similarity to the prototypes."""
    try:
        embedder = backends.get("embedder")
    except BackendUnavailable as exc:
        raise BackendUnavailable(f"{why} The zero-shot fallback needs the embedder too: {exc}".strip()) from None
    if not texts:
        return np.zeros((0, len(LABELS)))
    protos = _prototype_vectors(embedder)
    vectors = embedder.encode(list(texts))
    sims = np.einsum("nd,lpd->nlp", vectors, protos)  # (n, 7, prototypes)
    closest = np.sort(sims, axis=-1)[..., -TOP_K:].mean(-1)
    neutral = LABELS.index("neutral")
    closest[:, neutral] = np.maximum(closest[:, neutral], NEUTRAL_FLOOR)
    logits = closest / TEMPERATURE
    logits -= logits.max(axis=1, keepdims=True)
    probs = np.exp(logits)
    return probs / probs.sum(axis=1, keepdims=True)


_vader = None


def vader_valence(text: str) -> float | None:
    """VADER compound valence in [-1, 1] (lexicon and rules, English only)."""
    global _vader
    if not text.strip():
        return None
    if _vader is None:
        from vader import SentimentIntensityAnalyzer

        _vader = SentimentIntensityAnalyzer()
    return round(float(_vader.polarity_scores(text)["compound"]), 4)


def valence_word(valence: float | None) -> str:
    """VADER's own thresholds (compound >= 0.05 positive, <= -0.05 negative)."""
    if valence is None:
        return "n/a"
    return "positive" if valence >= 0.05 else "negative" if valence <= -0.05 else "neutral"


def read_texts(texts: list[str], reader: str = "auto") -> list:
    """One text modality (``report.Modality``) per text, with its VADER valence beside the scores."""
    from mmdemo.pipelines.emotion.report import Modality

    return [Modality("text", res.probs, res.method, res.fallback, {
        "valence": {"method": "VADER lexicon (valence only, not an emotion model)", "compound": res.valence,
                    "reading": valence_word(res.valence)}}) for res in analyze(texts, reader=reader)]
