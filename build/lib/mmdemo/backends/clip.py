"""CLIP image-text similarity through open_clip (default: laion/CLIP-ViT-B-32-laion2B-s34B-b79K).

Sources: a Hub id with open_clip files (``hf-hub:``), an open_clip folder (open_clip_config.json +
open_clip_model.safetensors, read through ``local-dir:``, the same files the Hub repo holds), or an open_clip
built-in "ARCH:TAG" such as ``ViT-B-32:openai`` (downloaded by open_clip itself when the Hub is reachable).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from mmdemo.device import dtype_name, pick_device, torch_dtype
from mmdemo.errors import BackendUnavailable
from mmdemo.registry import Loaded, Source, torch_footprint

WEIGHT_PATTERNS = ("*.safetensors", "*.bin", "*.pth", "*.pt")
TEXT_CACHE_SIZE = 4096  # label lists repeat across images and requests; a text is 77 tokens through 12 layers


class Clip:
    def __init__(self, model, preprocess, tokenizer, device: str, dtype, name: str):
        self.model, self.preprocess, self.tokenizer = model, preprocess, tokenizer
        self.device, self.dtype, self.name = device, dtype, name
        self._text_cache: OrderedDict[str, np.ndarray] = OrderedDict()  # text -> unit row, least recent first
        self._cache_lock = threading.Lock()

    @property
    def logit_scale(self) -> float:
        """The learned temperature CLIP was trained with (about 100 for released checkpoints)."""
        return float(self.model.logit_scale.exp().item())

    def encode_images(self, images, batch_size: int = 16) -> np.ndarray:
        """(n, d) float32 unit rows."""
        import torch

        images = list(images)
        out = []
        with torch.inference_mode():
            for start in range(0, len(images), batch_size):
                pixels = torch.stack([self.preprocess(img.convert("RGB")) for img in images[start:start + batch_size]])
                out.append(self.model.encode_image(pixels.to(self.device, self.dtype), normalize=True).float().cpu())
        return torch.cat(out).numpy() if out else np.zeros((0, self._dim()), dtype=np.float32)

    def encode_texts(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """(n, d) float32 unit rows. Texts seen recently (label lists) come from a small cache."""
        texts = list(texts)
        with self._cache_lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._text_cache))
        if missing:
            fresh = self._encode_texts(missing, batch_size)
            with self._cache_lock:
                for text, row in zip(missing, fresh):
                    self._text_cache[text] = row
                while len(self._text_cache) > TEXT_CACHE_SIZE:
                    self._text_cache.popitem(last=False)
        if not texts:
            return np.zeros((0, self._dim()), dtype=np.float32)
        with self._cache_lock:
            rows = []
            for text in texts:
                row = self._text_cache.get(text)
                if row is None:  # evicted by a concurrent caller in between: encode it again
                    row = self._encode_texts([text], batch_size)[0]
                else:
                    self._text_cache.move_to_end(text)
                rows.append(row)
        return np.stack(rows).astype(np.float32)

    def _encode_texts(self, texts: list[str], batch_size: int) -> np.ndarray:
        import torch

        out = []
        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                tokens = self.tokenizer(texts[start:start + batch_size]).to(self.device)
                out.append(self.model.encode_text(tokens, normalize=True).float().cpu())
        return torch.cat(out).numpy()

    def similarity(self, images, texts: list[str]) -> np.ndarray:
        """(n_images, n_texts) cosine similarities."""
        return self.encode_images(images) @ self.encode_texts(texts).T

    def _dim(self) -> int:
        return int(self.model.text_projection.shape[1]) if getattr(self.model, "text_projection", None) is not None \
            else int(self.model.visual.output_dim)


def _model_name(source: Source) -> str:
    """The open_clip model string for a source."""
    if source.kind == "hub":
        arch, sep, tag = source.location.partition(":")
        if sep:  # "ViT-B-32:openai": an open_clip built-in, not a Hub repo
            return source.location
        return f"hf-hub:{source.location}"
    folder = Path(source.location)
    if not (folder / "open_clip_config.json").is_file():
        raise BackendUnavailable(f"{folder} is not an open_clip model folder (no open_clip_config.json); "
                                 "set MMDEMO_CLIP_MODEL to one.")
    if not any(p for pattern in WEIGHT_PATTERNS for p in folder.glob(pattern)):
        # open_clip would silently build a randomly initialised model here: refuse instead
        raise BackendUnavailable(f"{folder} has no open_clip weights (open_clip_model.safetensors); "
                                 "set MMDEMO_CLIP_MODEL to a complete model folder.")
    return f"local-dir:{folder}"


def load(source: Source) -> Loaded:
    import open_clip

    device = pick_device()
    dtype = torch_dtype(device)
    name = _model_name(source)
    if source.kind == "hub" and not name.startswith("hf-hub:"):
        arch, _, tag = name.partition(":")
        model, _, preprocess = open_clip.create_model_and_transforms(arch, pretrained=tag, device=device)
        tokenizer = open_clip.get_tokenizer(arch)
    else:
        model, _, preprocess = open_clip.create_model_and_transforms(name, device=device)
        tokenizer = open_clip.get_tokenizer(name)
    model.to(device, dtype).eval()
    params, nbytes = torch_footprint(model)
    return Loaded(Clip(model, preprocess, tokenizer, device, dtype, name), device, dtype_name(dtype), params, nbytes,
                  engine="open_clip")
