"""Text-to-image with diffusers (default: stabilityai/sd-turbo), through AutoPipelineForText2Image.

Any diffusers folder or Hub id works (MMDEMO_DIFFUSION_MODEL, or `--model` on the CLI); the scheduler is kept as
the model ships it. Optional tiny autoencoder (TAESD, `AutoencoderTiny`) from MMDEMO_TAESD_MODEL (a folder or a
Hub id such as madebyollin/taesd, or madebyollin/taesdxl for SDXL models): it decodes live previews in a fraction
of the full VAE's time and, when asked, the final images too.

Speed: diffusers' attention already runs through torch's scaled_dot_product_attention; attention slicing
(MMDEMO_ATTENTION_SLICING=1) trades speed for memory and is off by default. On accelerators the pipeline runs in
half precision.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from mmdemo import config, downloads
from mmdemo.device import dtype_name, pick_device, torch_dtype
from mmdemo.errors import BackendUnavailable, MMDemoError
from mmdemo.registry import Loaded, Source, locate, torch_footprint

log = logging.getLogger(__name__)

TAESD_ENV = "MMDEMO_TAESD_MODEL"
FAMILY_ENV = "MMDEMO_DIFFUSION_FAMILY"


@dataclass(frozen=True)
class Family:
    """Settings a model family is meant to be run with (from the model cards)."""

    name: str
    steps: int
    guidance: float
    max_steps_hint: int | None  # distilled few-step models degrade past this many steps
    note: str


FAMILIES = {
    "turbo": Family("turbo", 1, 0.0, 4, "adversarially distilled (sd-turbo, sdxl-turbo): 1-4 steps, no guidance"),
    "lcm": Family("lcm", 4, 1.0, 8, "latent consistency model: 2-8 steps, guidance about 1"),
    "schnell": Family("schnell", 4, 0.0, 4, "FLUX.1-schnell: 1-4 steps, no guidance"),
    "sdxl": Family("sdxl", 30, 7.0, None, "Stable Diffusion XL: 25-40 steps, guidance 5-8"),
    "sd": Family("sd", 25, 7.0, None, "Stable Diffusion: 20-30 steps, guidance 7"),
}


def detect_family(name: str, pipeline_class: str = "", scheduler_class: str = "") -> Family:
    """The family from the model's name or folder and its classes; MMDEMO_DIFFUSION_FAMILY overrides it (for a
    renamed folder of a distilled model)."""
    forced = config.get(FAMILY_ENV)  # checked against the family names by its declaration
    if forced:
        return FAMILIES[forced]
    text = name.lower()
    if "turbo" in text:
        return FAMILIES["turbo"]
    if "lcm" in text or scheduler_class == "LCMScheduler":
        return FAMILIES["lcm"]
    if "schnell" in text:
        return FAMILIES["schnell"]
    if "xl" in pipeline_class.lower() or "sdxl" in text or "-xl" in text:
        return FAMILIES["sdxl"]
    return FAMILIES["sd"]


class Stopped(Exception):
    """Raised inside the pipeline to end a run at once; carries how many denoising steps had finished."""

    def __init__(self, steps_done: int):
        super().__init__(f"stopped after {steps_done} steps")
        self.steps_done = steps_done


@dataclass
class Output:
    images: list  # PIL images, one per seed (empty when stopped)
    stopped_at: int | None  # denoising steps finished when a stop arrived, None when the run completed
    nsfw: list[bool]  # the model's own safety checker verdicts (all False when it ships none)
    decoder: str  # "vae" or "taesd"


class Diffusion:
    def __init__(self, pipe, device: str, dtype, name: str, family: Family, taesd=None, taesd_name: str = ""):
        self.pipe, self.device, self.dtype, self.name, self.family = pipe, device, dtype, name, family
        self.taesd, self.taesd_name = taesd, taesd_name
        self._lock = threading.Lock()  # a pipeline keeps per-call state (_interrupt, _guidance_scale...)

    # -- what the model accepts ----------------------------------------------------------------------------
    @property
    def denoiser(self):
        return getattr(self.pipe, "unet", None) or getattr(self.pipe, "transformer", None)

    @property
    def size_multiple(self) -> int:
        """Width and height must be multiples of this (VAE downsampling x transformer patch size)."""
        scale = int(getattr(self.pipe, "vae_scale_factor", 8) or 8)
        patch = getattr(getattr(self.denoiser, "config", None), "patch_size", None) or 1
        return scale * int(patch)

    @property
    def default_size(self) -> int:
        """The resolution the model was trained at (its denoiser's sample size in pixels)."""
        sample = getattr(getattr(self.denoiser, "config", None), "sample_size", None)
        if isinstance(sample, (list, tuple)):
            sample = sample[0]
        return int(sample) * int(getattr(self.pipe, "vae_scale_factor", 8)) if sample else 512

    @property
    def scheduler_name(self) -> str:
        return type(self.pipe.scheduler).__name__

    @property
    def can_use_taesd(self) -> bool:
        """TAESD decodes 4-channel latents of UNet models (SD 1.x/2.x with taesd, SDXL with taesdxl)."""
        unet = getattr(self.pipe, "unet", None)
        return self.taesd is not None and unet is not None and \
            unet.config.in_channels == self.taesd.config.latent_channels

    # -- generation ----------------------------------------------------------------------------------------
    def generate(self, prompt: str, negative_prompt: str, seeds: list[int], steps: int, guidance: float,
                 width: int, height: int, on_step: Callable[[int, int], None] | None = None,
                 on_preview: Callable[[int, list], None] | None = None, should_stop: Callable[[], bool] | None = None,
                 fast_decode: bool = False) -> Output:
        """One image per seed. ``on_step(done, total)`` after every denoising step; ``on_preview(done, images)``
        with TAESD-decoded previews when TAESD is configured; ``should_stop()`` is polled inside the UNet, so a
        stop ends the run within one block instead of one whole step, and nothing is decoded after it."""
        import torch

        use_taesd = fast_decode and self.can_use_taesd
        previews = on_preview is not None and self.can_use_taesd
        generators = [torch.Generator(self._generator_device()).manual_seed(int(s)) for s in seeds]
        done = [0]

        def step_end(pipe, i, t, tensors):
            done[0] = i + 1
            if should_stop is not None and should_stop():
                raise Stopped(done[0])
            if on_step is not None:
                on_step(done[0], steps)
            if previews:
                on_preview(done[0], self.decode_taesd(tensors["latents"]))
            return {}

        kwargs = dict(prompt=[prompt] * len(seeds), num_inference_steps=steps, guidance_scale=guidance,
                      width=width, height=height, generator=generators, callback_on_step_end=step_end,
                      output_type="latent" if use_taesd else "pil")
        if negative_prompt:
            kwargs["negative_prompt"] = [negative_prompt] * len(seeds)
        with self._lock, torch.inference_mode():
            hooks = self._stop_hooks(should_stop, done) if should_stop is not None else []
            try:
                out = self.pipe(**kwargs)
            except Stopped as stop:
                self.pipe.maybe_free_model_hooks()
                return Output([], stop.steps_done, [], "taesd" if use_taesd else "vae")
            finally:
                for handle in hooks:
                    handle.remove()
            if use_taesd:
                images, nsfw = self._finish_with_taesd(out.images)
            else:
                images, nsfw = out.images, getattr(out, "nsfw_content_detected", None)
        return Output(list(images), None, [bool(x) for x in (nsfw or [False] * len(images))],
                      "taesd" if use_taesd else "vae")

    def decode_taesd(self, latents) -> list:
        """PIL images from latents with the tiny autoencoder (previews, or fast final decodes)."""
        import torch

        with torch.inference_mode():
            pixels = self.taesd.decode(latents.to(self.taesd.dtype)).sample
        return self.pipe.image_processor.postprocess(pixels.float(), output_type="pil")

    def _finish_with_taesd(self, latents):
        """Decode with TAESD, then run the model's own safety checker when it ships one, as its pipeline would."""
        import torch

        with torch.inference_mode():
            pixels = self.taesd.decode(latents.to(self.taesd.dtype)).sample
        nsfw = None
        if getattr(self.pipe, "safety_checker", None) is not None and hasattr(self.pipe, "run_safety_checker"):
            pixels, nsfw = self.pipe.run_safety_checker(pixels, self.device, self.dtype)
        denormalize = [True] * pixels.shape[0] if nsfw is None else [not x for x in nsfw]
        return self.pipe.image_processor.postprocess(pixels.float(), output_type="pil", do_denormalize=denormalize), nsfw

    def _generator_device(self) -> str:
        # CUDA draws its own noise (what other CUDA UIs reproduce); MPS and CPU draw on the CPU
        return self.device if self.device.startswith("cuda") else "cpu"

    def _stop_hooks(self, should_stop, done) -> list:
        """Forward pre-hooks on the denoiser's and VAE decoder's blocks that raise Stopped when asked to stop."""
        import torch

        def check(module, args):
            if should_stop():
                raise Stopped(done[0])

        modules = []
        for parent in (self.denoiser, getattr(getattr(self.pipe, "vae", None), "decoder", None)):
            if parent is None:
                continue
            for child in parent.children():
                modules.extend(child if isinstance(child, (torch.nn.ModuleList, torch.nn.Sequential)) else [child])
        return [m.register_forward_pre_hook(check) for m in modules]


def _load_pipeline(location: str, local: bool, dtype):
    from diffusers import AutoPipelineForText2Image

    common = dict(local_files_only=local, dtype=dtype, use_safetensors=True)
    if dtype is not None and str(dtype) == "torch.float16":
        try:  # most Hub models ship an fp16 variant: half the download
            return AutoPipelineForText2Image.from_pretrained(location, variant="fp16", **common)
        except (OSError, ValueError):
            pass
    try:
        return AutoPipelineForText2Image.from_pretrained(location, **common)
    except (OSError, ValueError, EnvironmentError) as exc:
        if local and not (Path(location) / "model_index.json").is_file():
            raise BackendUnavailable(f"{location} is not a diffusers pipeline folder (no model_index.json); "
                                     "set MMDEMO_DIFFUSION_MODEL to one.") from None
        raise BackendUnavailable(f"Could not load the diffusion model from {location}: {exc}") from None


def _taesd_source() -> Source | None:
    """Where the tiny autoencoder loads from when MMDEMO_TAESD_MODEL is set, else None."""
    value = config.get(TAESD_ENV)
    if not value:
        return None
    source = locate(value, TAESD_ENV, explicit=True)
    if source is None:
        raise BackendUnavailable(f"{TAESD_ENV}={value} is neither a local folder nor a reachable Hub id; unset it or "
                                 "point it at an AutoencoderTiny folder (e.g. a copy of madebyollin/taesd).")
    if source.kind == "hub":  # fetched like every backend: progress, checksums, complete-or-not-at-all
        return Source("cache", str(downloads.fetch(source.location)), source.model_id, source.via)
    return source


def _load_taesd(device: str, dtype):
    from diffusers import AutoencoderTiny

    source = _taesd_source()
    if source is None:
        return None, ""
    try:
        model = AutoencoderTiny.from_pretrained(source.location, local_files_only=source.local, dtype=dtype,
                                                use_safetensors=True)
    except (OSError, ValueError) as exc:
        raise BackendUnavailable(f"{TAESD_ENV}={source.location} could not be loaded as an AutoencoderTiny: "
                                 f"{exc}") from None
    return model.to(device).eval(), source.location


def load(source: Source) -> Loaded:
    device = pick_device()
    dtype = torch_dtype(device)
    pipe = _load_pipeline(source.location, source.local, dtype)
    pipe.to(device)
    pipe.set_progress_bar_config(disable=True)  # progress goes to the caller's callback instead
    if config.get("MMDEMO_ATTENTION_SLICING"):
        pipe.enable_attention_slicing()
    name = source.model_id or source.location
    family = detect_family(name, type(pipe).__name__, type(pipe.scheduler).__name__)
    try:
        taesd, taesd_name = _load_taesd(device, dtype)
    except MMDemoError as exc:  # previews are optional: the main model still works without them
        log.warning("tiny autoencoder not loaded: %s", exc)
        taesd, taesd_name = None, ""
    model = Diffusion(pipe, device, dtype, name, family, taesd, taesd_name)
    modules = [c for c in pipe.components.values() if hasattr(c, "parameters")] + [taesd]
    params, nbytes = torch_footprint(*modules)
    note = f"{type(pipe).__name__}, {family.name} family, {model.scheduler_name}"
    note += f"; previews via TAESD ({taesd_name})" if taesd is not None else "; no TAESD previews (set MMDEMO_TAESD_MODEL)"
    return Loaded(model, device, dtype_name(dtype), params, nbytes, engine="diffusers", note=note)
