"""Text emotion classification (j-hartmann/emotion-english-distilroberta-base by default) on plain transformers,
returned over the shared 7-emotion label set.

No trained text-emotion weights exist offline; the emotion pipeline then falls back to a zero-shot reading from
sentence embeddings, labelled as such (mmdemo.pipelines.emotion_text).
"""

from __future__ import annotations

import numpy as np

from mmdemo.device import dtype_name, pick_device, torch_dtype
from mmdemo.errors import BackendUnavailable
from mmdemo.pipelines.emotion_labels import LabelMap, label_map
from mmdemo.registry import Loaded, Source, torch_footprint


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

    device = pick_device()
    dtype = torch_dtype(device)
    local = source.kind != "hub"
    tokenizer = AutoTokenizer.from_pretrained(source.location, local_files_only=local)
    # use_safetensors left at None: transformers prefers safetensors and loads a .bin only with weights_only=True.
    model = AutoModelForSequenceClassification.from_pretrained(source.location, local_files_only=local, dtype=dtype)
    model.to(device).eval()
    name = source.model_id or source.location
    try:
        classifier = TextEmotion(model, tokenizer, device, name)
    except ValueError as exc:
        raise BackendUnavailable(f"the text_emotion model {name} is not an emotion classifier: {exc}.") from None
    params, nbytes = torch_footprint(model)
    note = "" if not classifier.mapping.dropped else f"ignores classes: {', '.join(classifier.mapping.dropped)}"
    return Loaded(classifier, device, dtype_name(dtype), params, nbytes, engine="transformers", note=note)
