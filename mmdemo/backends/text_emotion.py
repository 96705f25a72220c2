"""Text emotion classification (j-hartmann/emotion-english-distilroberta-base by default) on plain transformers,
returned over the shared 7-emotion label set.

Offline (no Hub, no cache) the emotion pipeline reads text with ``TrainedHead`` below: a small head trained on
GoEmotions (Reddit comments) and MELD (TV dialogue) over the offline MiniLM pack's features, stored in ``mmdemo/data/text_emotion_head.npz``;
failing that, with a labelled zero-shot reading from sentence embeddings (mmdemo.pipelines.emotion.text).
"""

from __future__ import annotations

import re
import zlib
from pathlib import Path

import numpy as np

from mmdemo.backends.pretrained import load_pretrained
from mmdemo.data import DATA_DIR
from mmdemo.errors import BackendUnavailable
from mmdemo.emotion_labels import LABELS, LabelMap, label_map
from mmdemo.registry import Loaded, Source
from mmdemo.typography import normalise


class TextEmotion:
    def __init__(self, model, tokenizer, device: str, name: str, max_length: int = 512):
        self.model, self.tokenizer, self.device, self.name = model, tokenizer, device, name
        self.max_length = min(max_length, getattr(model.config, "max_position_embeddings", max_length) - 2)
        labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
        self.mapping: LabelMap = label_map(labels)

    def predict(self, texts: list[str], batch_size: int = 16) -> np.ndarray:
        """(len(texts), 7) probabilities over LABELS."""
        import torch

        if not texts:
            return np.zeros((0, 7))
        out = []
        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                batch = self.tokenizer(list(texts[start:start + batch_size]), padding=True, truncation=True,
                                       max_length=self.max_length, return_tensors="pt").to(self.device)
                out.append(self.model(**batch).logits.float().softmax(-1).cpu().numpy())
        return self.mapping.apply(np.concatenate(out))


def load(source: Source) -> Loaded:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model, (tokenizer,), placement = load_pretrained(source, AutoModelForSequenceClassification, AutoTokenizer)
    name = source.model_id or source.location
    try:
        classifier = TextEmotion(model, tokenizer, placement.device, name)
    except ValueError as exc:
        raise BackendUnavailable(f"the text_emotion model {name} is not an emotion classifier: {exc}.") from None
    note = "" if not classifier.mapping.dropped else f"ignores classes: {', '.join(classifier.mapping.dropped)}"
    return placement.loaded(classifier, model, note=note)


# -- the offline reader: a head trained on MiniLM features (python -m mmdemo.train.text_emotion) -------------------
HEAD_FILE = DATA_DIR / "text_emotion_head.npz"
HEAD_NAME = "MiniLM + head trained on GoEmotions Reddit comments and MELD TV dialogue (offline)"
HEAD_LAYERS = (4, 5, 6)  # MiniLM-L6 hidden states mean-pooled: the last three layers read emotion better than one
HEAD_WIDTH = 384 * len(HEAD_LAYERS)  # the pooled features' width: MiniLM's 384 per layer
HEAD_MAX_TOKENS = 128
HASH_BUCKETS = 2**15
_TOKEN = re.compile(r"[a-z']+|[!?]")


def layer_features(model, batch):
    """The torch tensor behind ``head_features`` for one tokenised batch (differentiable: the LoRA fine-tune,
    mmdemo.train.minilm_lora, trains through it)."""
    import torch

    hidden = model(**batch, output_hidden_states=True).hidden_states
    mask = batch["attention_mask"].unsqueeze(-1).float()
    parts = []
    for layer in HEAD_LAYERS:
        pooled = (hidden[layer].float() * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        parts.append(torch.nn.functional.normalize(pooled, dim=-1))
    return torch.cat(parts, dim=-1)


def head_features(embedder, texts: list[str], batch_size: int = 32) -> np.ndarray:
    """(n, 384 * len(HEAD_LAYERS)) float32: each listed layer of the embedder's MiniLM mean-pooled over the
    tokens and L2-normalised, concatenated."""
    import torch

    out = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            batch = embedder.tokenizer(list(texts[start:start + batch_size]), padding=True, truncation=True,
                                       max_length=HEAD_MAX_TOKENS, return_tensors="pt").to(embedder.device)
            out.append(layer_features(embedder.model, batch).cpu().numpy())
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, HEAD_WIDTH), np.float32)


def adapted_embedder(embedder, path: Path):
    """A copy of ``embedder`` whose MiniLM carries the low-rank deltas in ``path`` (``W += B @ A * scale`` per
    adapted matrix, written by ``python -m mmdemo.train.minilm_lora``): the text-emotion reader's encoder only; the
    shared embedder (search, zero-shot) stays the plain MiniLM."""
    import copy

    import torch

    from mmdemo.backends.embedder import Embedder

    model = copy.deepcopy(embedder.model)
    modules = dict(model.named_modules())
    with np.load(path, allow_pickle=False) as saved, torch.no_grad():
        scale = float(saved["scale"])
        for key in saved.files:
            if key.endswith(".A"):
                name = key[:-2]
                if name not in modules:
                    raise BackendUnavailable(f"{path.name} adapts {name}, which this MiniLM does not have.")
                delta = torch.from_numpy(saved[name + ".B"].astype(np.float32) @ saved[key].astype(np.float32))
                modules[name].weight += (delta * scale).to(modules[name].weight.dtype)
    return Embedder(model, embedder.tokenizer, embedder.device)


def word_buckets(text: str) -> list[int]:
    """Hashed (CRC-32) buckets of the text's lower-case words, "!", "?" and word pairs, each once."""
    tokens = _TOKEN.findall(text.lower())
    grams = set(tokens) | {f"{a} {b}" for a, b in zip(tokens, tokens[1:])}
    return sorted({zlib.crc32(g.encode("utf-8")) % HASH_BUCKETS for g in grams})


_vader = None
SURFACE_FEATURES = ("vader_neg", "vader_neu", "vader_pos", "vader_compound", "has_!", "has_?", "words/30",
                    "all_caps", "has_...")


def surface_features(texts: list[str]) -> np.ndarray:
    """(n, len(SURFACE_FEATURES)): VADER's lexicon scores and punctuation/length cues. Short TV lines ("What?!",
    "Oh my God...") carry their emotion in these more than in their few words."""
    global _vader
    if _vader is None:
        from vader import SentimentIntensityAnalyzer

        _vader = SentimentIntensityAnalyzer()
    rows = []
    for t in texts:
        v = _vader.polarity_scores(t)
        rows.append([v["neg"], v["neu"], v["pos"], v["compound"], "!" in t, "?" in t, min(len(t.split()), 30) / 30,
                     t.isupper(), "..." in t])
    return np.array(rows, np.float32).reshape(len(texts), len(SURFACE_FEATURES))


CONTEXT_FEATURES = ("previous " + "/".join(LABELS), "has a previous line", "same speaker as the previous line")
CONTEXT_WIDTH = len(LABELS) + 2


def context_features(previous_probs: np.ndarray, speakers: list[str], dialogues: list[str]) -> np.ndarray:
    """(n, CONTEXT_WIDTH): for each line of a conversation (in order), the previous line's reading (7 probabilities
    from the head without context), whether there is a previous line in its dialogue, and whether that line has the
    same speaker. The first line of each dialogue gets zeros."""
    out = np.zeros((len(speakers), CONTEXT_WIDTH), np.float32)
    for i in range(1, len(speakers)):
        if dialogues[i] == dialogues[i - 1]:
            out[i, :len(LABELS)] = previous_probs[i - 1]
            out[i, len(LABELS):] = (1.0, speakers[i] == speakers[i - 1])
    return out


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=1, keepdims=True)


class TrainedHead:
    """Softmax regression over MiniLM layer features, surface cues (VADER, punctuation) and hashed word/pair
    indicators, then a prior shift and a temperature chosen on the tuning halves of GoEmotions' and MELD's dev
    splits (see the training script). Text is normalised as conversations are (typographic quotes to ASCII).

    Two modes: a single line (``predict``) takes the shift chosen for social text (GoEmotions); the lines of a
    conversation (``predict_conversation``) take the shift chosen for dialogue (MELD) and, when the head carries
    context weights, the previous line's reading and whether it has the same speaker."""

    def __init__(self, embedder, weights: dict[str, np.ndarray], name: str = HEAD_NAME):
        self.embedder, self.name = embedder, name
        self.dense = weights["dense"].astype(np.float32)  # (features, 7)
        self.words = weights["words"].astype(np.float32)  # (HASH_BUCKETS, 7)
        # heads before the MELD retraining (git history) have no surface weights and no temperature; heads before
        # the per-mode shifts have one shift and one temperature for both modes, and no context weights
        self.surface = weights["surface"].astype(np.float32) if "surface" in weights else None
        self.temperature = float(weights["temperature"]) if "temperature" in weights else 1.0
        self.raw_bias = weights["bias"].astype(np.float32)  # (7,)
        self.bias = (weights["bias"] + weights["prior_shift"]).astype(np.float32)
        dialogue_shift = weights.get("dialogue_shift", weights["prior_shift"])
        self.dialogue_bias = (weights["bias"] + dialogue_shift).astype(np.float32)
        self.dialogue_temperature = float(weights.get("dialogue_temperature", self.temperature))
        self.context = weights["context"].astype(np.float32) if "context" in weights else None  # (CONTEXT_WIDTH, 7)
        if [str(x) for x in weights["labels"]] != list(LABELS):
            raise BackendUnavailable(f"{HEAD_FILE.name} was trained for labels {list(weights['labels'])}.")

    def scores(self, texts: list[str], features: np.ndarray | None = None) -> np.ndarray:
        """The linear part before any bias, shift or context: features, words and surface cues."""
        texts = [normalise(t) for t in texts]
        if features is None:
            features = head_features(self.embedder, texts)
        z = features @ self.dense
        z += np.stack([self.words[word_buckets(t)].sum(0) for t in texts]) if texts else 0.0
        if self.surface is not None:
            z += surface_features(texts) @ self.surface
        return z

    def logits(self, texts: list[str], features: np.ndarray | None = None) -> np.ndarray:
        """A single line's logits before the temperature (the decision scores its prior shift was chosen on).
        ``features``: the texts' ``head_features`` when already computed (a benchmark reading several heads)."""
        return self.scores(texts, features) + self.bias

    def conversation_logits(self, texts: list[str], speakers: list[str], dialogues: list[str] | None = None,
                            features: np.ndarray | None = None) -> np.ndarray:
        """The logits of a conversation's lines, in order, before the temperature: the dialogue shift, and the
        previous line's context when the head has context weights (``dialogues``: a dialogue id per line; lines
        of different dialogues are not each other's context; None: one dialogue)."""
        z = self.scores(texts, features)
        if self.context is not None and len(texts):
            dialogues = dialogues if dialogues is not None else [""] * len(texts)
            # the predecessor's reading as in training: the head's own output with no bias shift and no context
            previous = _softmax(z + self.raw_bias)
            z = z + context_features(previous, list(speakers), list(dialogues)) @ self.context
        return z + self.dialogue_bias

    def predict(self, texts: list[str]) -> np.ndarray:
        """(len(texts), 7) probabilities over LABELS for single lines, calibrated by the temperature."""
        if not texts:
            return np.zeros((0, len(LABELS)))
        return _softmax(self.logits(list(texts)) / self.temperature)

    def predict_conversation(self, texts: list[str], speakers: list[str],
                             dialogues: list[str] | None = None) -> np.ndarray:
        """(len(texts), 7) probabilities for the lines of a conversation, in order (see conversation_logits)."""
        if not texts:
            return np.zeros((0, len(LABELS)))
        return _softmax(self.conversation_logits(list(texts), speakers, dialogues) / self.dialogue_temperature)


def load_head(embedder, path: Path = HEAD_FILE, name: str = HEAD_NAME) -> TrainedHead:
    if not path.is_file():
        raise BackendUnavailable(f"the trained text-emotion head {path} is missing (python -m mmdemo.train.text_emotion).")
    with np.load(path, allow_pickle=False) as data:
        weights = {k: data[k] for k in data.files}
    expected = HEAD_WIDTH
    if weights["dense"].shape != (expected, len(LABELS)) or weights["words"].shape != (HASH_BUCKETS, len(LABELS)):
        raise BackendUnavailable(f"{path.name} does not match this reader's features; retrain it.")
    return TrainedHead(embedder, weights, name)
