"""Train the offline text-emotion head on Reddit comments and TV dialogue, choose everything on tuning halves,
and report once on held-out report halves.

    python -m mmdemo.train.text_emotion [--data ../shared/data] [--per-class 2500] [--seed 0] [--cache FILE]
                                        [--out mmdemo/data/text_emotion_head.npz]

DATA/emotion holds GoEmotions' Ekman split and MELD's train/dev CSVs (``mmdemo.train.emotion_data``; test splits are
never read). Steps, all seeded:

1. training rows: a class-stratified sample of GoEmotions train (up to ``--per-class`` comments per first label;
   a comment with several labels counts once per label at 1/k weight) and all of MELD train; features:
   ``head_features`` (MiniLM layers 4-6, the offline pack), ``surface_features`` (VADER, punctuation) and
   ``word_buckets``;
2. scikit-learn's multinomial logistic regression, class-balanced within each corpus; on the **tuning** halves of
   the dev sets: the feature set (with or without words, surface cues, the previous utterance) and C;
3. the prior shift ``tau * log(MELD train class frequency) + delta * [neutral]``, chosen on the tuning halves: the
   best mean of MELD macro-F1, MELD balanced macro-F1 and GoEmotions balanced macro-F1 among the shifts whose MELD
   accuracy is within ACCURACY_SLACK of the best any shift reaches (the balanced head over-calls the rare classes
   in real dialogue, where neutral is half of what is said). MELD accuracy here is taken at MELD train's label
   mix (tuning rows weighted by train share / tuning share): the tuning half's 114/2 dialogues hold 37% neutral,
   the corpus 47%;
4. a temperature fitted on the tuning halves (negative log-likelihood) so that the confidence means what it says;
5. the **report** halves, read once: the shipped head beside always-neutral; ECE before and after the temperature.

Writes the head (float16 weights) and prints every table docs/emotion.md quotes. ``--cache`` keeps the MiniLM
features by text so that a rerun skips the embedding.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmdemo.backends.text_emotion import (HASH_BUCKETS, HEAD_FILE, SURFACE_FEATURES, head_features, surface_features,
                                         word_buckets)
from mmdemo.emotion_labels import LABELS
from mmdemo.train import emotion_data as data

C_GRID = (0.1, 0.3)  # C 1 and 3 lost to 0.3 on the tuning halves in the first training (docs/emotion.md)
TAU_GRID = np.round(np.arange(0.0, 1.51, 0.1), 2)
DELTA_GRID = np.round(np.arange(-0.5, 1.01, 0.25), 2)
ACCURACY_SLACK = 0.01
NEUTRAL = LABELS.index("neutral")


@dataclass(frozen=True)
class Design:
    surface: bool = True
    words: bool = True
    context: bool = False  # the previous utterance's MiniLM features, and whether it has the same speaker

    def __str__(self) -> str:
        parts = ["MiniLM"] + [name for name, on in (("surface", self.surface), ("words", self.words),
                                                    ("previous utterance", self.context)) if on]
        return " + ".join(parts)


class Features:
    """MiniLM features by text (embedded once, optionally cached on disk), and the design's matrices."""

    def __init__(self, embedder, cache: Path | None):
        self.embedder, self.path, self.by_text = embedder, cache, {}
        if cache and cache.is_file():
            with np.load(cache) as saved:
                self.by_text = dict(zip(saved["texts"].tolist(), saved["feats"]))

    def dense(self, rows: data.Rows) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in rows.texts if t not in self.by_text))
        started = time.perf_counter()
        for start in range(0, len(missing), 512):
            chunk = missing[start:start + 512]
            for text, f in zip(chunk, head_features(self.embedder, chunk)):
                self.by_text[text] = f.astype(np.float16)
            print(f"  embedded {start + len(chunk)}/{len(missing)} ({time.perf_counter() - started:.0f} s)", flush=True)
        if missing and self.path:
            texts = list(self.by_text)
            np.savez(self.path, texts=np.array(texts), feats=np.stack([self.by_text[t] for t in texts]))
        return np.stack([self.by_text[t] for t in rows.texts]).astype(np.float32)

    def matrix(self, rows: data.Rows, design: Design):
        from scipy import sparse

        x = self.dense(rows)
        parts = [x]
        if design.surface:
            parts.append(surface_features(rows.texts))
        if design.context:
            before = np.zeros_like(x)
            flags = np.zeros((len(rows), 2), np.float32)
            for i, p in enumerate(rows.previous):
                if p is not None:
                    before[i], flags[i] = x[p], (1.0, rows.speaker[p] == rows.speaker[i])
            parts += [before, flags]
        dense = np.hstack(parts)
        if not design.words:
            return dense
        buckets = [word_buckets(t) for t in rows.texts]
        pointers = np.cumsum([0] + [len(b) for b in buckets])
        indices = np.array([b for bs in buckets for b in bs], dtype=np.int64)
        words = sparse.csr_matrix((np.ones(len(indices), np.float32), indices, pointers), shape=(len(rows), HASH_BUCKETS))
        return sparse.hstack([sparse.csr_matrix(dense), words]).tocsr()


def training_set(go: data.Rows, meld: data.Rows):
    """(row index into go+meld, label, weight): GoEmotions' multi-label comments once per label at 1/k; each
    corpus class-balanced (every class of a corpus carries the same total weight) and carrying the same total."""
    index, label, weight = [], [], []
    for offset, rows in ((0, go), (len(go), meld)):
        i = np.array([offset + r for r, ls in enumerate(rows.labels) for _ in ls])
        y = np.array([l for ls in rows.labels for l in ls])
        share = np.array([1.0 / len(ls) for ls in rows.labels for _ in ls])
        per_class = np.bincount(y, weights=share, minlength=len(LABELS))
        w = share / per_class[y]
        index.append(i), label.append(y), weight.append(w / w.sum())
    w = np.concatenate(weight)
    return np.concatenate(index), np.concatenate(label), w * len(w) / w.sum()


def fit(x, y, w, c: float, seed: int):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, max_iter=3000, random_state=seed).fit(x, y, sample_weight=w)


def shifted(z: np.ndarray, shift: np.ndarray) -> np.ndarray:
    return (z + shift).argmax(1)


def objective(meld: dict, go: dict) -> float:
    return float(np.mean([meld["macro_f1"], meld["balanced_macro_f1"], go["balanced_macro_f1"]]))


def at_mix(scores: dict, truth: np.ndarray, predicted: np.ndarray, mix: np.ndarray) -> dict:
    """``scores`` plus ``accuracy_at_mix``: the accuracy with rows weighted to the label mix ``mix``."""
    share = np.bincount(truth, minlength=len(LABELS)) / len(truth)
    weight = (mix / np.where(share > 0, share, 1))[truth]
    return {**scores, "accuracy_at_mix": float(np.average(truth == predicted, weights=weight))}


def choose_shift(z_meld, y_meld, z_go, y_go, log_prior):
    """(tau, delta, shift, meld scores, go scores) by the rule of step 3 (log_prior: MELD train's mix)."""
    trials = []
    for tau in TAU_GRID:
        for delta in DELTA_GRID:
            shift = tau * log_prior + delta * np.eye(len(LABELS))[NEUTRAL]
            said = shifted(z_meld, shift)
            trials.append((tau, delta, shift, at_mix(data.scores(y_meld, said), y_meld, said, np.exp(log_prior)),
                           data.scores(y_go, shifted(z_go, shift))))
    best_accuracy = max(t[3]["accuracy_at_mix"] for t in trials)
    fair = [t for t in trials if t[3]["accuracy_at_mix"] >= best_accuracy - ACCURACY_SLACK]
    return max(fair, key=lambda t: objective(t[3], t[4]))


def fit_temperature(z: np.ndarray, y: np.ndarray) -> float:
    from scipy.optimize import minimize_scalar
    from scipy.special import log_softmax

    def nll(log_t):
        return -log_softmax(z / np.exp(log_t), axis=1)[np.arange(len(y)), y].mean()

    return float(np.exp(minimize_scalar(nll, bounds=(-3, 3), method="bounded").x))


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(1, keepdims=True)


def row(name: str, meld: dict, go: dict, extra: str = "") -> str:
    return (f"| {name} | {meld['accuracy']:.3f} | {meld['accuracy_at_mix']:.3f} | {meld['macro_f1']:.3f} | "
            f"{meld['weighted_f1']:.3f} | {meld['balanced_macro_f1']:.3f} | {go['accuracy']:.3f} | "
            f"{go['balanced_macro_f1']:.3f} |{extra}")


HEADER = ("| {} | MELD accuracy | MELD accuracy at train mix | MELD macro-F1 | MELD weighted-F1 | MELD balanced macro-F1 "
          "| GoEmotions accuracy | GoEmotions balanced macro-F1 |{}\n|---|---|---|---|---|---|---|---|{}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=data.DEFAULT_DATA, help="development data folder (emotion/)")
    parser.add_argument("--per-class", type=int, default=2500, help="GoEmotions train comments per first label")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, default=None, help="npz of MiniLM features by text (read and written)")
    parser.add_argument("--out", type=Path, default=HEAD_FILE)
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from scipy import sparse

    torch.set_num_threads(min(2, os.cpu_count() or 1))
    go_train = data.stratified(data.goemotions(args.data, "train"), args.per_class, args.seed)
    meld_train = data.meld(args.data, "train")
    go_tune, go_report = data.halves(data.single_label(data.goemotions(args.data, "dev")))
    meld_tune, meld_report = data.halves(data.meld(args.data, "dev"))
    print(f"train: {len(go_train)} GoEmotions comments, {len(meld_train)} MELD utterances; tuning halves "
          f"{len(go_tune)} / {len(meld_tune)}, report halves {len(go_report)} / {len(meld_report)} "
          f"(GoEmotions dev single-label comments / MELD dev utterances, MELD cut by dialogue, seed {data.SEED})",
          flush=True)

    from mmdemo import backends

    features = Features(backends.get("embedder"), args.cache)
    index, y, w = training_set(go_train, meld_train)
    mix = np.bincount(meld_train.first, minlength=len(LABELS)) / len(meld_train)
    log_prior = np.log(mix)
    stack = lambda a, b: sparse.vstack([a, b]).tocsr() if sparse.issparse(a) else np.vstack([a, b])  # noqa: E731

    def trial(design: Design, c: float):
        x = stack(features.matrix(go_train, design), features.matrix(meld_train, design))[index]
        started = time.perf_counter()
        model = fit(x, y, w, c, args.seed)
        z_m = model.decision_function(features.matrix(meld_tune, design))
        z_g = model.decision_function(features.matrix(go_tune, design))
        choice = choose_shift(z_m, meld_tune.first, z_g, go_tune.first, log_prior)
        print(f"  {design}, C {c:g}: fitted in {time.perf_counter() - started:.0f} s", flush=True)
        return model, z_m, z_g, choice

    print("\nTuning halves (every choice below is made here), each with its own chosen prior shift:\n")
    print(HEADER.format("design", " tau, neutral delta |", "---|"))
    results = {}
    base = Design()
    designs = [(base, c) for c in C_GRID]
    for design, c in designs:
        results[(design, c)] = trial(design, c)
    best_c = max(C_GRID, key=lambda c: objective(*results[(base, c)][3][3:]))
    for design in (Design(surface=False), Design(words=False), Design(context=True)):
        results[(design, best_c)] = trial(design, best_c)
    for (design, c), (_, _, _, (tau, delta, _, m, g)) in results.items():
        print(row(f"{design}, C {c:g}", m, g, f" {tau:g}, {delta:+g} |"))
    chosen = max(results, key=lambda k: objective(*results[k][3][3:]))
    design, c = chosen
    model, z_m, z_g, (tau, delta, shift, m_tune, g_tune) = results[chosen]
    unshifted_m = at_mix(data.scores(meld_tune.first, z_m.argmax(1)), meld_tune.first, z_m.argmax(1), mix)
    unshifted_g = data.scores(go_tune.first, z_g.argmax(1))
    print(row(f"chosen, before its prior shift", unshifted_m, unshifted_g, " 0, +0 |"))
    if design.context:
        raise SystemExit("the previous utterance won on the tuning halves: the reader does not read it yet")

    temperature = fit_temperature(np.vstack([z_m, z_g]) + shift, np.concatenate([meld_tune.first, go_tune.first]))
    print(f"\nchosen: {design}, C {c:g}, tau {tau:g}, neutral delta {delta:+g}, temperature {temperature:.3f} "
          f"(fitted on the tuning halves)")

    model.coef_ = model.coef_.astype(np.float16).astype(np.float64)  # the report reads the weights as shipped
    print("\nReport halves (read once, after every choice above):\n")
    print(HEADER.format("reader", " ECE (MELD / GoEmotions) |", "---|"))
    zr_m = model.decision_function(features.matrix(meld_report, design)) + shift
    zr_g = model.decision_function(features.matrix(go_report, design)) + shift
    y_m = meld_report.first
    always = np.full(len(meld_report), NEUTRAL)
    print(row("always neutral", at_mix(data.scores(y_m, always), y_m, always, mix),
              data.scores(go_report.first, np.full(len(go_report), NEUTRAL)), " - |"))
    for name, t in (("shipped head, no temperature", 1.0), ("shipped head", temperature)):
        ece = (data.expected_calibration_error(softmax(zr_m / t), y_m),
               data.expected_calibration_error(softmax(zr_g / t), go_report.first))
        print(row(f"**{name}**" if t != 1.0 else name, at_mix(data.scores(y_m, zr_m.argmax(1)), y_m, zr_m.argmax(1), mix),
                  data.scores(go_report.first, zr_g.argmax(1)), f" {ece[0]:.3f} / {ece[1]:.3f} |"))

    n_dense = 384 * 3
    coef = model.coef_.T.astype(np.float32)  # (features, 7)
    surface = coef[n_dense:n_dense + len(SURFACE_FEATURES)] if design.surface else None
    words = coef[-HASH_BUCKETS:] if design.words else np.zeros((HASH_BUCKETS, len(LABELS)), np.float32)
    extra = {"surface": surface.astype(np.float16)} if surface is not None else {}
    np.savez_compressed(args.out, dense=coef[:n_dense].astype(np.float16), words=words.astype(np.float16),
                        bias=model.intercept_.astype(np.float32), prior_shift=shift.astype(np.float32),
                        temperature=np.float32(temperature), labels=np.array(LABELS), c=np.float32(c),
                        tau=np.float32(tau), delta=np.float32(delta), seed=np.int64(args.seed),
                        design=np.array(str(design)), train_rows=np.int64(len(go_train) + len(meld_train)), **extra)
    print(f"\nwrote {args.out} ({args.out.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
