"""Summaries of timed text (what was said, what was shown): extractive with MiniLM by default, abstractive when a
summarization model is available.

    items = [Sentence("The rocket lifts off.", 3.0, 5.5, "speech"), Sentence("a cat on a sofa", 6.0, 9.0, "caption")]
    s = summarize(items)                   # method "auto": abstractive if the summarizer backend loads
    s.text, s.method                       # "...", "extractive (MiniLM centrality)" or "abstractive (model id)"

Extractive: every sentence is embedded with the shared sentence embedder; a sentence's centrality is its mean
cosine to all the others (what the whole video keeps coming back to). Sentences are picked greedily by
``centrality - REDUNDANCY * max cosine to an already picked sentence`` (maximal marginal relevance), so a point
made twice is kept once, then put back in time order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from mmdemo import backends
from mmdemo.errors import BackendUnavailable, BadInput

EXTRACTIVE_METHOD = "extractive (MiniLM centrality)"
METHODS = ("auto", "extractive", "abstractive")
DEFAULT_SENTENCES = 5
MAX_SENTENCES = 20
REDUNDANCY = 0.7  # weight of the similarity to picked sentences (MMR); 0 keeps near-duplicates
DUPLICATE_COSINE = 0.95  # above this two sentences say the same thing: never both in a summary
_SPLIT = re.compile(r"(?<=[.!?])\s+(?=\S)")


@dataclass
class Sentence:
    text: str
    start: float
    end: float
    source: str  # "speech" or "caption"

    def to_dict(self) -> dict:
        return {"text": self.text, "start": round(self.start, 3), "end": round(self.end, 3), "source": self.source}


@dataclass
class Summary:
    text: str
    method: str  # which method (and model) wrote it, in words
    sentences: list[Sentence] = field(default_factory=list)  # extractive: the picked sentences, in time order
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"text": self.text, "method": self.method, "sentences": [s.to_dict() for s in self.sentences],
                "notes": list(self.notes)}


def split_sentences(text: str, start: float, end: float, source: str) -> list[Sentence]:
    """``text`` cut into sentences, each given a share of [start, end] proportional to its length."""
    parts = [p.strip() for p in _SPLIT.split(" ".join((text or "").split())) if p.strip()]
    total = sum(len(p) for p in parts) or 1
    out, at = [], start
    for part in parts:
        span = (end - start) * len(part) / total
        out.append(Sentence(part, round(at, 3), round(at + span, 3), source))
        at += span
    return out


def summarize(sentences: list[Sentence], method: str = "auto", max_sentences: int = DEFAULT_SENTENCES) -> Summary:
    """A summary of ``sentences`` (any order; they are sorted by time). ``method``: "extractive",
    "abstractive" (BackendUnavailable without a summarization model) or "auto" (abstractive when available)."""
    if method not in METHODS:
        raise BadInput(f"Unknown summary method {method!r}; choose {', '.join(METHODS)}.")
    if not 1 <= max_sentences <= MAX_SENTENCES:
        raise BadInput(f"The summary length must be 1 to {MAX_SENTENCES} sentences, not {max_sentences}.")
    sentences = sorted((s for s in sentences if s.text.strip()), key=lambda s: (s.start, s.end))
    if not sentences:
        return Summary("", "none: nothing was said or shown that could be summarized")
    notes: list[str] = []
    if method in ("auto", "abstractive"):
        try:
            return abstractive(sentences)
        except BackendUnavailable:
            if method == "abstractive":
                raise

            variable = backends.REGISTRY.spec("summarizer").env_var
            notes.append(f"Extractive summary: no summarization model is available (set {variable} to a "
                         "summarization model folder or Hub id for an abstractive one).")
    summary = extractive(sentences, max_sentences)
    summary.notes = notes + summary.notes
    return summary


def extractive(sentences: list[Sentence], max_sentences: int = DEFAULT_SENTENCES,
               redundancy: float = REDUNDANCY) -> Summary:
    """The most central sentences with redundancy control (MMR), in time order."""
    unique = _unique(sentences)
    vectors = backends.get("embedder").encode([s.text for s in unique])
    picked = select(vectors, max_sentences, redundancy)
    chosen = [unique[i] for i in sorted(picked, key=lambda i: (unique[i].start, unique[i].end))]
    return Summary(" ".join(_as_sentence(s) for s in chosen), EXTRACTIVE_METHOD, chosen)


def select(vectors: np.ndarray, k: int, redundancy: float = REDUNDANCY) -> list[int]:
    """Indices of up to ``k`` rows of unit ``vectors`` by maximal marginal relevance over centrality, in the
    order they were picked."""
    n = len(vectors)
    if n == 0:
        return []
    sims = vectors @ vectors.T
    centrality = (sims.sum(axis=1) - np.diag(sims)) / max(1, n - 1) if n > 1 else np.ones(1)
    picked: list[int] = []
    while len(picked) < min(k, n):
        if picked:
            closest = sims[:, picked].max(axis=1)
            score = centrality - redundancy * closest
            score[closest >= DUPLICATE_COSINE] = -np.inf
        else:
            score = centrality.copy()
        score[picked] = -np.inf
        best = int(np.argmax(score))
        if not np.isfinite(score[best]):
            break  # everything left repeats a picked sentence
        picked.append(best)
    return picked


def abstractive(sentences: list[Sentence]) -> Summary:
    """The summarizer backend's summary of the sentences in time order (BackendUnavailable without a model)."""
    summarizer = backends.get("summarizer")
    text = " ".join(_as_sentence(s) for s in _unique(sentences))
    return Summary(summarizer.summarize(text), f"abstractive ({summarizer.model_id})")


def _unique(sentences: list[Sentence]) -> list[Sentence]:
    """First occurrence of each text (duplicate keyframes give the same caption twice)."""
    seen: set[str] = set()
    out = []
    for s in sentences:
        key = s.text.strip().lower()
        if key not in seen:
            seen.add(key)
            out.append(s)
    return out


def _as_sentence(s: Sentence) -> str:
    text = s.text.strip()
    if s.source == "caption":
        text = "Shown: " + text
    return text if text[-1:] in ".!?" else text + "."
