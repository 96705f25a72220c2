"""The one way backends load transformers-style models: device and dtype chosen once, local files only unless the
source is the Hub, safetensors preferred, and the footprint measured for the Models view.

    model, (processor,) , placement = load_pretrained(source, BlipForQuestionAnswering, BlipProcessor)
    return placement.loaded(VisualQA(model, processor, ...), model)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmdemo.device import dtype_name, pick_device, torch_dtype
from mmdemo.registry import Loaded, Source, torch_footprint


@dataclass(frozen=True)
class Placement:
    """Where a backend's model runs: the device and the torch dtype chosen for it."""

    device: str
    dtype: Any

    @classmethod
    def choose(cls) -> "Placement":
        device = pick_device()
        return cls(device, torch_dtype(device))

    def loaded(self, wrapper, *modules, engine: str = "transformers", note: str = "") -> Loaded:
        """The registry's record of ``wrapper`` (what callers use), measuring the torch ``modules`` it holds."""
        params, nbytes = torch_footprint(*modules)
        return Loaded(wrapper, self.device, dtype_name(self.dtype), params, nbytes, engine=engine, note=note)


def prefer_safetensors(location: str, local: bool) -> bool | None:
    """True where a local folder has safetensors (so a stray .bin is never unpickled); None otherwise, which lets
    transformers prefer safetensors on the Hub and load a .bin-only folder with ``torch.load(weights_only=True)``."""
    if local and any(Path(location).glob("*.safetensors")):
        return True
    return None


def load_pretrained(source: "Source | tuple[str, bool]", model_class, *processor_classes, **model_kwargs):
    """(model on its device in eval mode, [processors...], Placement) for ``source`` (a registry Source, or a
    (location, local files only) pair for loaders that pick a folder themselves)."""
    location, local = (source.location, source.local) if isinstance(source, Source) else source
    placement = Placement.choose()
    processors = [cls.from_pretrained(location, local_files_only=local) for cls in processor_classes]
    model = model_class.from_pretrained(location, local_files_only=local, dtype=placement.dtype,
                                        use_safetensors=prefer_safetensors(location, local), **model_kwargs)
    model.to(placement.device).eval()
    return model, processors, placement
