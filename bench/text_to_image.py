"""Text-to-image cost per stage: text encoder + UNet steps, then the final decode (full VAE vs tiny autoencoder),
with SDPA attention (diffusers' default) and with attention slicing.

    python -m bench.text_to_image                      # sd-turbo architecture, random weights, 256 and 512 px
    python -m bench.text_to_image --model DIR_OR_ID    # real weights (and MMDEMO_TAESD_MODEL for the TAESD rows)
    python -m bench.text_to_image --arch tiny          # the test suite's tiny pipeline (seconds, for a smoke run)

With no weights offline, the default builds stabilityai/sd-turbo's architecture (SD 2.1 UNet, OpenCLIP ViT-H
text encoder, SD VAE, and TAESD's architecture) from configs with random weights: compute cost depends on the
architecture and the resolution, not on the weights' values, so the timings stand for the real model's. The
images are noise. Every row runs through the app's own `Diffusion.generate` after one warm-up run per size.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

# stabilityai/sd-turbo's component configs (the SD 2.1 architecture at 512 px)
UNET = dict(sample_size=64, in_channels=4, out_channels=4, layers_per_block=2,
            block_out_channels=(320, 640, 1280, 1280), attention_head_dim=(5, 10, 20, 20), cross_attention_dim=1024,
            down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
            up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3, use_linear_projection=True)
VAE = dict(block_out_channels=(128, 256, 512, 512), layers_per_block=2, latent_channels=4, sample_size=512,
           down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4)
TEXT = dict(hidden_size=1024, intermediate_size=4096, num_attention_heads=16, num_hidden_layers=23,
            projection_dim=512, hidden_act="gelu", max_position_embeddings=77)


def sd_turbo_architecture():
    """(pipeline, taesd) with sd-turbo's and TAESD's architectures and random weights, in memory."""
    import torch
    from diffusers import AutoencoderKL, AutoencoderTiny, EulerDiscreteScheduler, StableDiffusionPipeline, \
        UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    from mmdemo.testing.tiny.sd import SCHEDULER, save_clip_tokenizer

    folder = Path(tempfile.mkdtemp(prefix="bench-t2i-"))
    save_clip_tokenizer(folder)
    tokenizer = CLIPTokenizer.from_pretrained(folder)
    torch.manual_seed(0)
    text = CLIPTextModel(CLIPTextConfig(vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id,
                                        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, **TEXT))
    pipe = StableDiffusionPipeline(vae=AutoencoderKL(**VAE), text_encoder=text, tokenizer=tokenizer,
                                   unet=UNet2DConditionModel(**UNET), scheduler=EulerDiscreteScheduler(**SCHEDULER),
                                   safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    return pipe, AutoencoderTiny().eval()


def make_backend(args):
    """A Diffusion object exactly as the app uses it."""
    from mmdemo import backends
    from mmdemo.backends.diffusion import Diffusion, detect_family

    if args.model or args.arch == "tiny":
        if args.arch == "tiny" and not args.model:
            from mmdemo.testing.tiny import sd, taesd

            root = Path(tempfile.mkdtemp(prefix="bench-t2i-"))
            args.model = str(sd.build(root / "sd"))
            os.environ.setdefault("MMDEMO_TAESD_MODEL", str(taesd.build(root / "taesd")))
        os.environ["MMDEMO_DIFFUSION_MODEL"] = args.model
        return backends.get("diffusion"), args.model
    pipe, taesd = sd_turbo_architecture()
    pipe.set_progress_bar_config(disable=True)
    name = "stabilityai/sd-turbo architecture, random weights"
    import torch

    return Diffusion(pipe, "cpu", torch.float32, name, detect_family("sd-turbo"), taesd, "TAESD architecture"), name


def timed(model, size: int, steps: int, fast_decode: bool) -> tuple[float, float]:
    """(seconds until the last denoising step ended, seconds of the final decode)."""
    marks = []
    started = time.perf_counter()
    out = model.generate("a lighthouse on a cliff at dusk", "", [0], steps, 0.0, size, size,
                         on_step=lambda done, total: marks.append(time.perf_counter()), fast_decode=fast_decode)
    ended = time.perf_counter()
    assert len(out.images) == 1 and out.images[0].size == (size, size)
    return marks[-1] - started, ended - marks[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=["sd-turbo", "tiny"], default="sd-turbo")
    parser.add_argument("--model", default=None, help="a diffusers folder or Hub id with real weights")
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--steps", type=int, default=1)
    args = parser.parse_args()

    import torch

    load_started = time.perf_counter()
    model, name = make_backend(args)
    load_seconds = time.perf_counter() - load_started
    has_taesd = model.can_use_taesd
    rows = []
    for size in args.sizes:
        timed(model, size, args.steps, fast_decode=has_taesd)  # warm-up: kernels are chosen per shape
        variants = [("SDPA", False)] + ([("SDPA", True)] if has_taesd else [])
        if size == args.sizes[0]:
            variants.append(("slicing", False))
        for attention, fast in variants:
            if attention == "slicing":
                model.pipe.enable_attention_slicing()
            try:
                denoise, decode = timed(model, size, args.steps, fast)
            finally:
                if attention == "slicing":
                    model.pipe.disable_attention_slicing()
            rows.append((size, attention, "TAESD" if fast else "full VAE", denoise, decode))

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"Model: {name}; {model.scheduler_name}, {args.steps} step(s), 1 image, fp32 on {model.device}.")
    print(f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__} with "
          f"{torch.get_num_threads()} threads; load average {load:.1f} at the end (shared machine). "
          f"Model built/loaded in {load_seconds:.1f} s.\n")
    print("| size | attention | final decode | text encoder + UNet (s) | decode (s) | total (s) |")
    print("|---|---|---|---|---|---|")
    for size, attention, decoder, denoise, decode in rows:
        print(f"| {size}x{size} | {attention} | {decoder} | {denoise:.2f} | {decode:.2f} | {denoise + decode:.2f} |")


if __name__ == "__main__":
    main()
