"""Where models run: CUDA, then Apple MPS, then CPU, unless MMDEMO_DEVICE says otherwise.

torch is imported lazily so that importing mmdemo (and starting the app) stays fast.
"""

from __future__ import annotations

import functools
from mmdemo import config
from mmdemo.errors import MMDemoError


def pick_device() -> str:
    """The device every backend loads onto ("cuda", "cuda:1", "mps" or "cpu"): MMDEMO_DEVICE as it is now, else
    the best one found (looked for once per process)."""
    return _checked(config.get("MMDEMO_DEVICE"))


@functools.lru_cache(maxsize=4)
def _checked(wanted: str | None) -> str:
    import torch

    if wanted:
        if wanted.startswith("cuda") and not torch.cuda.is_available():
            raise MMDemoError(f"MMDEMO_DEVICE={wanted} but CUDA is not available on this machine.")
        if wanted == "mps" and not torch.backends.mps.is_available():
            raise MMDemoError("MMDEMO_DEVICE=mps but Apple MPS is not available on this machine.")
        return wanted
    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def torch_dtype(device: str):
    """Half precision on accelerators, float32 on CPU (fp16 matmuls on CPU are slow or unsupported)."""
    import torch

    return torch.float32 if device == "cpu" else torch.float16


def dtype_name(dtype) -> str:
    return str(dtype).removeprefix("torch.")
