"""Captioning speed: warm latency per image (caption, CLIP re-rank, zero-shot tags, offline path) and batch
throughput with batching vs one image at a time.

    python -m bench.captioning [--runs 3] [--batch 8] [--skip-full]

No BLIP or CLIP weights exist on this machine, so those rows use the *real-size architectures with random
weights* (BLIP-base captioner as in Salesforce/blip-image-captioning-base, open_clip ViT-B-32), saved to a
temporary folder and loaded through the registry like any user folder. Compute per token does not depend on the
weights' values, but a random captioner never says "stop": its captions always run to --max-tokens, so its
caption rows are an upper bound for that length. The offline rows use the real EfficientNet-Lite0 and MiniLM
packs. Photos: the captioning assets (cat, coffee, rocket), cycled.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = [ROOT / "assets" / f"captioning_{name}.jpg" for name in ("cat", "coffee", "rocket")]


def build_blip_base(folder: Path) -> Path:
    """BLIP-base captioner (ViT-B/16 at 384 px + BERT-base decoder) with random weights and a 30524-token
    tokenizer of placeholder words (real ids, so decoding works)."""
    import torch
    from transformers import (BertTokenizerFast, BlipConfig, BlipForConditionalGeneration, BlipImageProcessor,
                              BlipProcessor)

    folder.mkdir(parents=True, exist_ok=True)
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab = {tok: i for i, tok in enumerate(specials + [f"w{i}" for i in range(30522 - len(specials))])}
    tokenizer = BertTokenizerFast(vocab=vocab)
    tokenizer.add_special_tokens({"bos_token": "[DEC]", "additional_special_tokens": ["[ENC]"]})
    BlipProcessor(image_processor=BlipImageProcessor(size={"height": 384, "width": 384}),
                  tokenizer=tokenizer).save_pretrained(folder)
    torch.manual_seed(0)
    config = BlipConfig(text_config=dict(vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id,
                                         sep_token_id=tokenizer.sep_token_id, pad_token_id=0),
                        vision_config=dict(image_size=384, patch_size=16))
    BlipForConditionalGeneration(config).save_pretrained(folder, safe_serialization=True)
    return folder


def build_clip_b32(folder: Path) -> Path:
    import json

    import open_clip
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    model_cfg = open_clip.get_model_config("ViT-B-32")
    model = open_clip.create_model("ViT-B-32", pretrained=None)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, folder / "open_clip_model.safetensors")
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": model_cfg, "preprocess_cfg": {}}))
    return folder


class _Rows(list):
    """Table rows, each also echoed to stderr as it is measured (the full run takes minutes)."""

    def append(self, row) -> None:
        print(" | ".join(row), file=sys.stderr, flush=True)
        super().append(row)


def timed(fn, runs: int, warmup: bool = True) -> float:
    """Median wall time of ``runs`` calls, after one warm-up call unless the models are already warm."""
    if warmup:
        fn()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=8, help="images in the throughput rows")
    parser.add_argument("--candidates", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=20)
    parser.add_argument("--skip-full", action="store_true", help="only the offline rows (no random BLIP/CLIP)")
    args = parser.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from PIL import Image

    from mmdemo import backends
    from mmdemo.pipelines.shared import zero_shot
    from mmdemo.pipelines.captioning import caption_images

    photos = [Image.open(p).convert("RGB") for p in PHOTOS]
    batch = [photos[i % len(photos)] for i in range(args.batch)]
    labels = zero_shot.default_labels()
    rows = _Rows()
    opts = dict(num_candidates=args.candidates, max_new_tokens=args.max_tokens)

    # -- offline path: the real packs ----------------------------------------------------------------------------
    for name in ("captioner", "clip", "vqa"):
        os.environ.pop(backends.REGISTRY.spec(name).env_var, None)
    classifier = backends.get("image_classifier")
    caption_images(photos[:1])  # loads the embedder and embeds the 1000 class names once
    rows.append(("ImageNet tags (EfficientNet-Lite0, pack)", "1 image",
                 f"{timed(lambda: classifier.classify(photos[:1]), args.runs) * 1000:.0f} ms"))
    rows.append(("offline path: tags + zero-shot labels via MiniLM (whole pipeline)", "1 image",
                 f"{timed(lambda: caption_images(photos[:1]), args.runs) * 1000:.0f} ms"))
    for size, label in ((args.batch, "batched"), (1, "one at a time")):
        seconds = timed(lambda: caption_images(batch, batch_size=size), max(1, args.runs // 2), warmup=False)
        rows.append((f"offline path throughput, {label}", f"{args.batch} images", f"{args.batch / seconds:.1f} images/s"))

    if not args.skip_full:
        with tempfile.TemporaryDirectory(prefix="mmdemo-bench-") as tmp:
            os.environ["MMDEMO_CAPTIONER_MODEL"] = str(build_blip_base(Path(tmp) / "blip"))
            os.environ["MMDEMO_CLIP_MODEL"] = str(build_clip_b32(Path(tmp) / "clip"))
            for name in ("captioner", "clip"):
                backends.unload(name)
            captioner, clip = backends.get("captioner"), backends.get("clip")
            one = photos[:1]
            cands = [c.text for c in captioner.caption(one, **opts)[0]]
            rows.append((f"caption: BLIP-base, beam, {args.candidates} candidates x {args.max_tokens} tokens + scoring",
                         "1 image", f"{timed(lambda: captioner.caption(one, **opts), args.runs):.2f} s"))
            rows.append((f"re-rank: CLIP ViT-B-32 on {len(cands)} candidates", "1 image",
                         f"{timed(lambda: clip.encode_images(one) @ clip.encode_texts(cands).T, args.runs) * 1000:.0f} ms"))
            rows.append((f"zero-shot tags: CLIP ViT-B-32, {len(labels)} labels (label vectors cached after first use)",
                         "1 image",
                         f"{timed(lambda: clip.similarity(one, labels), args.runs) * 1000:.0f} ms"))
            rows.append((f"zero-shot tags: the same {len(labels)} labels encoded afresh (first request)", "1 image",
                         f"{timed(lambda: clip._encode_texts(labels, 64), 1, warmup=False) * 1000:.0f} ms"))
            rows.append(("whole pipeline: caption + re-rank + tags", "1 image",
                         f"{timed(lambda: caption_images(one, **opts), args.runs, warmup=False):.2f} s"))
            for size, label in ((args.batch, "batched"), (1, "one at a time")):
                seconds = timed(lambda: caption_images(batch, batch_size=size, **opts), 1, warmup=False)
                rows.append((f"whole pipeline throughput, {label}", f"{args.batch} images",
                             f"{args.batch / seconds:.2f} images/s"))
            for name in ("captioner", "clip"):
                backends.unload(name)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__} on "
          f"{backends.get_loaded('image_classifier').device}, {torch.get_num_threads()} threads; load average "
          f"{load:.1f} at the end (shared machine); median of {args.runs} warm runs\n")
    print("| what | input | warm latency / throughput |\n|---|---|---|")
    for what, size, value in rows:
        print(f"| {what} | {size} | {value} |")


if __name__ == "__main__":
    main()
