"""Text-to-image: prompt -> images through the `diffusion` backend, each scored against its prompt by CLIP.

    gen = generate("a lighthouse at dusk", seed=7, steps=2, num_images=2, progress=print)
    gen.images[0].image, gen.images[0].seed, gen.images[0].clip_score
    gen.save("out.png")          # PNGs carrying their parameters (see png_parameters)
    gen.to_dict()

Seeds follow the convention of the big web UIs: image i of a batch uses seed + i, so any image can be remade on
its own. The same seed, settings and device reproduce the same pixels.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from mmdemo import applications, backends, config, hub, options
from mmdemo.backends.diffusion import TAESD_ENV, detect_family
from mmdemo.errors import BadInput, MMDemoError
from mmdemo.media.text import MAX_PROMPT_CHARS, check_text
from mmdemo.options import MAX_SEED, setting
from mmdemo.pipelines.shared.png_parameters import infotext, save_png
from mmdemo.registry import looks_like_path

# what it uses and where its tab queues: its record in mmdemo.applications
BACKENDS, SLOT = applications.of_pipeline(__name__).backends, applications.of_pipeline(__name__).slot

log = logging.getLogger(__name__)

MIN_SIDE = 64
MAX_STEPS = 150
MAX_GUIDANCE = 30.0
MAX_IMAGES = 8

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class Options(options.Options):
    """The Text-to-image application's settings, declared once (mmdemo.options): the tab's controls, the CLI's flags
    and the evaluation keys come from here. None leaves a setting to the model family (the tab shows its value)."""

    negative: str = setting("", "negative prompt: what to keep out of the image (needs guidance above 1)",
                            label="Negative prompt", evaluated=False)
    # an evaluation's seed is its own: the seed of rows without a seed column, 0 by default (reproducible)
    seed: int = setting(-1, "random seed; -1 draws one and reports it", low=-1, high=MAX_SEED,
                        label="Seed (-1 = random)", evaluated=False)
    steps: int = setting(None, "denoising steps (default: the model family's)", type=int, low=1, high=MAX_STEPS,
                         label="Steps")
    guidance: float = setting(None, "guidance scale, CFG (default: the model family's)", type=float, low=0.0,
                              high=MAX_GUIDANCE, step=0.5, label="Guidance scale (CFG)", noun="guidance scale")
    # the largest side is a limit of the server (MMDEMO_MAX_IMAGE_SIDE), checked by generate() when it runs
    width: int = setting(None, "width in pixels (default: the model's size)", type=int, low=MIN_SIDE, label="Width")
    height: int = setting(None, "height in pixels (default: the model's size)", type=int, low=MIN_SIDE,
                          label="Height")
    num_images: int = setting(1, "images to generate, with seeds seed, seed+1...", low=1, high=MAX_IMAGES,
                              label="Number of images (seeds seed, seed+1, ...)", noun="number of images",
                              evaluated=False)
    fast_decode: bool = setting(False, "decode with the tiny autoencoder (MMDEMO_TAESD_MODEL) instead of the full "
                                       "VAE", label="Fast decode with the tiny autoencoder", evaluated=False)

    def pipeline_kwargs(self) -> dict:
        """``generate``'s keyword arguments for these settings."""
        values = self.to_dict()
        return {"negative_prompt": values.pop("negative"), **values}


@dataclass
class Suggested:
    """What the loaded model should be run with by default."""
    model: str
    family: str
    family_note: str
    steps: int
    guidance: float
    width: int
    height: int
    multiple: int
    max_steps_hint: int | None
    previews: bool  # a tiny autoencoder is configured for previews / fast decodes


@dataclass
class GeneratedImage:
    image: object  # PIL.Image
    seed: int
    params: dict  # what goes into the PNG
    clip_score: float | None = None  # 100 x CLIP cosine(image, prompt)
    nsfw: bool = False  # the model's own safety checker blacked it out
    path: Path | None = None

    @property
    def label(self) -> str:
        score = f"CLIP {self.clip_score:.1f}" if self.clip_score is not None else "CLIP n/a"
        return f"seed {self.seed} · {score}" + (" · blocked by the model's safety checker" if self.nsfw else "")


@dataclass
class Generation:
    images: list[GeneratedImage]
    seed: int
    model: str
    steps: int
    seconds: float  # denoising + decoding, model loading excluded
    load_seconds: float
    stopped_at: int | None = None  # steps finished when Stop arrived; None when the run completed
    clip_note: str | None = None  # why there are no CLIP scores
    notes: list[str] = field(default_factory=list)
    parameters: str = ""  # infotext of the first image, for copying
    options: Options | None = None  # the settings it was asked for (seed -1: the drawn one is ``seed``)

    @property
    def stopped(self) -> bool:
        return self.stopped_at is not None

    def summary(self) -> str:
        if self.stopped:
            return (f"Stopped after step {self.stopped_at} of {self.steps} ({self.seconds:.1f} s); "
                    "nothing was decoded.")
        count = len(self.images)
        return (f"{count} image{'s' if count != 1 else ''} in {self.seconds:.1f} s ({self.steps} step"
                f"{'s' if self.steps != 1 else ''}, seed {self.seed})"
                + (f", model loaded in {self.load_seconds:.1f} s" if self.load_seconds >= 0.5 else "") + ".")

    def save(self, target: "str | os.PathLike") -> list[Path]:
        """Write the PNGs: ``x.png`` for one image, ``x-1.png, x-2.png...`` for several; a folder gets
        ``<seed>.png`` files."""
        target = Path(target)
        if target.suffix.lower() == ".png":
            paths = [target] if len(self.images) == 1 else \
                [target.with_name(f"{target.stem}-{i + 1}.png") for i in range(len(self.images))]
        else:
            paths = [target / f"{item.seed}.png" for item in self.images]
        for item, path in zip(self.images, paths):
            item.path = save_png(item.image, path, item.params)
        return paths

    def to_dict(self) -> dict:
        first = self.images[0] if self.images else None
        return {
            "images": [str(i.path) if i.path else None for i in self.images],
            "seed": self.seed,
            "seeds": [i.seed for i in self.images],
            "model": self.model,
            "seconds": round(self.seconds, 3),
            "load_seconds": round(self.load_seconds, 3),
            "clip_score": first.clip_score if first else None,
            "clip_scores": [i.clip_score for i in self.images],
            "clip_note": self.clip_note,
            "stopped_at": self.stopped_at,
            "nsfw": [i.nsfw for i in self.images],
            "parameters": [i.params for i in self.images],
            "notes": self.notes,
            **({"settings": self.options.to_dict()} if self.options is not None else {}),
        }


def suggested_settings() -> Suggested:
    """Defaults of the configured model (loads it: sizes and family come from its own config)."""
    model = backends.get("diffusion")
    size = model.default_size
    return Suggested(model.name, model.family.name, model.family.note, model.family.steps, model.family.guidance,
                     size, size, model.size_multiple, model.family.max_steps_hint, model.taesd is not None)


def configured_defaults(check_hub: bool = False) -> tuple[Suggested, str]:
    """The defaults of the configured model without loading it and without touching the network (for building
    the UI): from its name and, for local folders, its config files. Also returns where its weights will come
    from, in one sentence; a Hub id is said to be downloaded only when ``check_hub`` found the Hub reachable
    (one bounded probe, cached; a page load asks, not the start-up)."""
    spec = backends.REGISTRY.spec("diffusion")
    name, _ = backends.REGISTRY.configured("diffusion")
    folder = Path(name).expanduser() if Path(name).expanduser().is_dir() else hub.cached_snapshot(name)
    if folder is not None:
        where = f"Model: `{name}` (local files)."
    elif looks_like_path(name):
        where = f"{spec.env_var}={name} is not an existing folder: point it at a local diffusers model folder."
    elif not check_hub:
        where = f"Model: `{name}` (a Hugging Face Hub id)."
    elif hub.hub_reachable():
        where = f"Model: `{name}`, from the Hugging Face Hub (downloaded on first use)."
    else:
        where = f"Model: `{name}`: no local copy here, and the Hugging Face Hub cannot be reached."
    index = _read_json(folder / "model_index.json") if folder else {}
    family = detect_family(name, index.get("_class_name", ""), (index.get("scheduler") or ["", ""])[1])
    size, multiple = (1024 if family.name == "sdxl" else 512), 8
    if folder:
        unet, vae = _read_json(folder / "unet" / "config.json"), _read_json(folder / "vae" / "config.json")
        if vae.get("block_out_channels"):
            multiple = 2 ** (len(vae["block_out_channels"]) - 1)
        if isinstance(unet.get("sample_size"), int):
            size = unet["sample_size"] * multiple
    suggested = Suggested(name, family.name, family.note, family.steps, family.guidance, size, size, multiple,
                          family.max_steps_hint, config.get(TAESD_ENV) is not None)
    return suggested, where


def max_side() -> int:
    """The largest width or height asked for: MMDEMO_MAX_IMAGE_SIDE."""
    return config.get("MMDEMO_MAX_IMAGE_SIDE")


def _read_json(path: Path) -> dict:
    import json

    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def generate(prompt: str, negative_prompt: str = "", seed: int | None = None, steps: int | None = None,
             guidance: float | None = None, width: int | None = None, height: int | None = None,
             num_images: int = 1, progress: Progress | None = None,
             preview: Callable[[int, list], None] | None = None,
             stop: "threading.Event | Callable[[], bool] | None" = None, fast_decode: bool = False,
             score: bool = True) -> Generation:
    """Generate ``num_images`` images. ``None`` settings take the model family's defaults; ``seed`` None or -1
    draws a random seed (always reported). ``stop`` (an Event or a callable) ends the run mid-way."""
    prompt = check_text(prompt, "the prompt", MAX_PROMPT_CHARS).strip()
    negative_prompt = check_text(negative_prompt, "the negative prompt", MAX_PROMPT_CHARS).strip()
    if not prompt:
        raise BadInput("Write a prompt first: the text describing the image to generate.")
    settings = Options(negative=negative_prompt, seed=seed, steps=steps, guidance=guidance, width=width,
                       height=height, num_images=num_images, fast_decode=fast_decode)
    for label, side in (("width", settings.width), ("height", settings.height)):
        if side is not None and side > (limit := max_side()):
            raise BadInput(f"The {label} must be a whole number from {MIN_SIDE} to {limit}, not {side}.")
    seed = secrets.randbelow(MAX_SEED + 1) if settings.seed == -1 else settings.seed
    steps, guidance, width, height = settings.steps, settings.guidance, settings.width, settings.height
    num_images, fast_decode = settings.num_images, settings.fast_decode

    started = time.perf_counter()
    model = backends.get("diffusion")
    load_seconds = time.perf_counter() - started
    family = model.family
    steps = steps if steps is not None else family.steps
    guidance = float(guidance) if guidance is not None else family.guidance
    width, height = int(width or model.default_size), int(height or model.default_size)
    multiple = model.size_multiple
    for label, side in (("width", width), ("height", height)):
        if side % multiple:
            low = side - side % multiple
            raise BadInput(f"The {label} {side} is not a multiple of {multiple}, which this model needs: "
                           f"use {max(low, MIN_SIDE)} or {low + multiple}.")

    notes = _notes(model, steps, guidance, negative_prompt, preview, fast_decode)
    seeds = [(seed + i) % (MAX_SEED + 1) for i in range(num_images)]
    should_stop = stop.is_set if isinstance(stop, threading.Event) else stop
    began = time.perf_counter()

    def on_step(done: int, total: int) -> None:
        if progress is not None:
            elapsed = time.perf_counter() - began
            message = f"step {done}/{total} · {elapsed:.1f} s"
            progress(done / (total + 1), message if done < total else message + " · decoding")

    if progress is not None:
        progress(0.0, f"step 0/{steps}")
    out = model.generate(prompt, negative_prompt, seeds, steps, guidance, width, height, on_step=on_step,
                         on_preview=preview, should_stop=should_stop, fast_decode=fast_decode)
    seconds = time.perf_counter() - began
    if out.stopped_at is not None:
        return Generation([], seed, model.name, steps, seconds, load_seconds, stopped_at=out.stopped_at, notes=notes,
                          options=settings)
    if progress is not None:
        progress(1.0, f"done in {seconds:.1f} s")

    base = dict(prompt=prompt, negative_prompt=negative_prompt, steps=steps, guidance=guidance, width=width,
                height=height, model=model.name, scheduler=model.scheduler_name, family=family.name,
                decoder=out.decoder)
    items = [GeneratedImage(img, s, dict(base, seed=s), nsfw=flag) for img, s, flag in zip(out.images, seeds, out.nsfw)]
    if any(out.nsfw):
        notes.append("The model's own safety checker replaced some images with black ones.")
    clip_note = _score(items, prompt) if score else "CLIP score not computed (scoring turned off)."
    return Generation(items, seed, model.name, steps, seconds, load_seconds, clip_note=clip_note, notes=notes,
                      options=settings,
                      parameters=infotext(items[0].params))


def clip_scores(images: list, prompt: str) -> list[float]:
    """100 x cosine(image, prompt) with the shared `clip` backend (the usual CLIPScore scale, not clipped at 0)."""
    sims = backends.get("clip").similarity(images, [prompt])
    return [round(100.0 * float(s), 2) for s in sims[:, 0]]


def _score(items: list[GeneratedImage], prompt: str) -> str | None:
    """Fill in CLIP scores; a missing or failing CLIP never costs the user their images."""
    try:
        for item, value in zip(items, clip_scores([i.image for i in items], prompt)):
            item.clip_score = value
        return None
    except MMDemoError as exc:
        return f"CLIP score unavailable: {exc}"
    except Exception as exc:  # a bug in scoring: log it, keep the images
        log.exception("CLIP scoring failed")
        return f"CLIP score unavailable: internal error ({type(exc).__name__}: {exc})."


def _notes(model, steps: int, guidance: float, negative: str, preview, fast_decode: bool) -> list[str]:
    notes = []
    hint = model.family.max_steps_hint
    if hint is not None and steps > hint:
        notes.append(f"This {model.family.name} model is distilled for at most {hint} steps; more steps mostly "
                     "cost time.")
    # diffusers only runs the unconditional (negative) branch when guidance > 1
    if negative and guidance <= 1.0:
        notes.append("The negative prompt has no effect at guidance 1 or below.")
    if (preview is not None or fast_decode) and not model.can_use_taesd:
        notes.append("No tiny autoencoder for this model: set MMDEMO_TAESD_MODEL for live previews and fast "
                     "decoding.")
    return notes


