"""A LoRA fine-tune of the offline MiniLM for the text-emotion reader, measured on the tuning halves only.

    python -m mmdemo.train.minilm_lora [--data ../shared/data] [--epochs 1] [--limit N] [--out FILE]

Low-rank adapters (peft's LoRA, rank 8, on every attention query and value of all-MiniLM-L6-v2 from the offline
pack) and a linear classifier over the head's features (``head_features``: layers 4-6 mean-pooled and normalised)
are trained on the head's training rows (``text_emotion.training_set``: GoEmotions train stratified by class and
all of MELD train, each corpus class-balanced) with a weighted cross-entropy; max 64 tokens, batch 32, two torch
threads. The adapter is written as its A and B matrices (``W += B @ A * scale`` at load time, plain torch) and the
LoRA + linear classifier is scored on the tuning halves with each mode's prior shift chosen as the head's are
(MELD read line by line, without context). Report halves are never read here.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from mmdemo.backends.text_emotion import HEAD_WIDTH, layer_features
from mmdemo.emotion_labels import LABELS
from mmdemo.train import emotion_data as data

RANK, ALPHA, TARGETS = 8, 16, ("query", "value")
MAX_TOKENS, BATCH = 64, 32


def adapter_arrays(model) -> dict[str, np.ndarray]:
    """peft's lora_A / lora_B weights by base-module name (e.g. ``encoder.layer.0.attention.self.query.A``)."""
    out = {}
    for name, module in model.named_modules():
        if hasattr(module, "lora_A") and "default" in module.lora_A:
            base = name.split("base_model.model.", 1)[-1]
            out[f"{base}.A"] = module.lora_A["default"].weight.detach().numpy().astype(np.float16)
            out[f"{base}.B"] = module.lora_B["default"].weight.detach().numpy().astype(np.float16)
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=data.DEFAULT_DATA)
    parser.add_argument("--per-class", type=int, default=2500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--limit", type=int, default=0, help="train on this many rows only (to time an epoch)")
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--out", type=Path, default=Path("/tmp/minilm_lora.npz"))
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError:
        raise SystemExit("training the adapter needs peft (pip install -r requirements-dev.txt)") from None
    from transformers import AutoModel, AutoTokenizer

    from mmdemo.packs import PACKS
    from mmdemo.train.text_emotion import at_mix, choose_dialogue_shift, choose_text_shift, training_set

    torch.set_num_threads(min(2, os.cpu_count() or 1))
    torch.manual_seed(args.seed)
    go_train = data.stratified(data.goemotions(args.data, "train"), args.per_class, args.seed)
    meld_train = data.meld(args.data, "train")
    go_tune, _ = data.halves(data.single_label(data.goemotions(args.data, "dev")))
    meld_tune, _ = data.halves(data.meld(args.data, "dev"))
    index, y, w = training_set(go_train, meld_train)
    texts = go_train.texts + meld_train.texts
    order = np.random.default_rng(args.seed).permutation(len(index))
    if args.limit:
        order = order[:args.limit]
    steps = int(np.ceil(len(order) * args.epochs / BATCH))

    folder = PACKS["minilm"].root()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = get_peft_model(AutoModel.from_pretrained(folder),
                           LoraConfig(r=RANK, lora_alpha=ALPHA, target_modules=list(TARGETS), lora_dropout=0.1))
    classifier = torch.nn.Linear(HEAD_WIDTH, len(LABELS))
    scale = torch.nn.Parameter(torch.tensor(10.0))  # normalised features need a logit scale to be confident
    optimiser = torch.optim.AdamW([{"params": [p for p in model.parameters() if p.requires_grad], "lr": args.lr},
                                   {"params": list(classifier.parameters()) + [scale], "lr": 5e-3}],
                                  weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: min(1.0, (s + 1) / 50) * max(0.0, 1 - s / steps))
    print(f"training on {len(order)} rows, {steps} steps of {BATCH}", flush=True)
    started = time.perf_counter()
    model.train()
    for step in range(steps):
        pick = order[(np.arange(step * BATCH, (step + 1) * BATCH)) % len(order)]
        batch = tokenizer([texts[index[i]] for i in pick], padding=True, truncation=True, max_length=MAX_TOKENS,
                          return_tensors="pt")
        logits = classifier(layer_features(model, batch)) * scale
        loss = (torch.nn.functional.cross_entropy(logits, torch.as_tensor(y[pick]), reduction="none")
                * torch.as_tensor(w[pick], dtype=torch.float32)).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        if step % 50 == 0 or step == steps - 1:
            print(f"  step {step + 1}/{steps} loss {loss.item():.3f} ({time.perf_counter() - started:.0f} s)",
                  flush=True)

    model.eval()

    def logits_of(rows: data.Rows) -> np.ndarray:
        out = []
        with torch.inference_mode():
            for start in range(0, len(rows), 64):
                batch = tokenizer(rows.texts[start:start + 64], padding=True, truncation=True, max_length=MAX_TOKENS,
                                  return_tensors="pt")
                out.append((classifier(layer_features(model, batch)) * scale).numpy())
        return np.concatenate(out)

    mix = np.bincount(meld_train.first, minlength=len(LABELS)) / len(meld_train)
    z_m, z_g = logits_of(meld_tune), logits_of(go_tune)
    tau, delta, _, m = choose_dialogue_shift(z_m, meld_tune.first, np.log(mix))
    t_delta, _, g = choose_text_shift(z_g, go_tune.first)
    raw = at_mix(data.scores(meld_tune.first, z_m.argmax(1)), meld_tune.first, z_m.argmax(1), mix)
    print("\nLoRA + linear classifier, tuning halves (MELD line by line, no context):")
    for name, mm, gg in (("before shifts", raw, data.scores(go_tune.first, z_g.argmax(1))),
                         (f"shifts tau {tau:g}, delta {delta:+g} / {t_delta:+g}", m, g)):
        print(f"  {name}: MELD accuracy {mm['accuracy']:.3f}, at train mix {mm['accuracy_at_mix']:.3f}, macro-F1 "
              f"{mm['macro_f1']:.3f}, balanced macro-F1 {mm['balanced_macro_f1']:.3f}; GoEmotions accuracy "
              f"{gg['accuracy']:.3f}, balanced macro-F1 {gg['balanced_macro_f1']:.3f}")
    arrays = adapter_arrays(model)
    np.savez_compressed(args.out, scale=np.float32(ALPHA / RANK), rank=np.int64(RANK), **arrays)
    print(f"wrote {args.out} ({len(arrays) // 2} adapted matrices, {args.out.stat().st_size // 1024} KiB) after "
          f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
