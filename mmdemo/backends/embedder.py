"""Sentence embeddings (all-MiniLM-L6-v2 by default): mean pooling + L2 normalisation, as sentence-transformers
does for this model, on plain transformers."""

from __future__ import annotations

import threading

import numpy as np

from mmdemo.backends.pretrained import load_pretrained
from mmdemo.registry import Loaded, Source


class Embedder:
    def __init__(self, model, tokenizer, device: str, max_length: int = 256):
        self.model, self.tokenizer, self.device, self.max_length = model, tokenizer, device, max_length
        # one call at a time: every tab shares this model, and a fast tokenizer used from two threads at once can
        # fail ("Already borrowed"); a batch takes milliseconds, so the wait is short
        self._lock = threading.Lock()

    @property
    def dim(self) -> int:
        return self.model.config.hidden_size

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """(len(texts), dim) float32 array of unit vectors; cosine similarity is a dot product."""
        import torch

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = []
        with self._lock, torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                batch = self.tokenizer(list(texts[start:start + batch_size]), padding=True, truncation=True,
                                       max_length=self.max_length, return_tensors="pt").to(self.device)
                hidden = self.model(**batch).last_hidden_state.float()
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                out.append(torch.nn.functional.normalize(pooled, dim=-1).cpu().numpy())
        return np.concatenate(out).astype(np.float32)


def load(source: Source) -> Loaded:
    from transformers import AutoModel, AutoTokenizer

    model, (tokenizer,), placement = load_pretrained(source, AutoModel, AutoTokenizer)
    return placement.loaded(Embedder(model, tokenizer, placement.device), model)
