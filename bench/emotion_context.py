"""Does the line before help the text-emotion head? A second form of context, measured on MELD's tuning half only.

    python -m bench.emotion_context [--data ../shared/data] [--cache /tmp/feats.npz]

The training command measured one form (the previous utterance's 1,152 MiniLM features): it lowered the tuning-half
scores. This one feeds the head the previous utterance's *predicted* emotion (7 probabilities) and whether it has
the same speaker: the shipped design (MiniLM + words, C 0.3) is fitted once per fold of MELD train (5 folds by
dialogue, GoEmotions in every fold) to give each training line its predecessor's out-of-fold reading; the tuning
half reads its predecessors with the model fitted on all of train, as a conversation reader would. Both rows get
their prior shift by the training command's rule. The report halves are not read.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

CONTEXT_WIDTH = 9  # 7 probabilities, has a previous line, same speaker


def context(rows, probs: np.ndarray) -> np.ndarray:
    out = np.zeros((len(rows), CONTEXT_WIDTH))
    for i, p in enumerate(rows.previous):
        if p is not None:
            out[i, :7], out[i, 7], out[i, 8] = probs[p], 1.0, rows.speaker[p] == rows.speaker[i]
    return out


def main(argv=None) -> None:
    from scipy import sparse
    from sklearn.model_selection import GroupKFold

    from mmdemo import backends
    from mmdemo.train import emotion_data as data
    from mmdemo.train import text_emotion as train

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=data.DEFAULT_DATA)
    parser.add_argument("--per-class", type=int, default=2500)
    parser.add_argument("--cache", type=Path, default=None, help="the training command's feature cache")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    go_train = data.stratified(data.goemotions(args.data, "train"), args.per_class, 0)
    meld_train = data.meld(args.data, "train")
    go_tune, _ = data.halves(data.single_label(data.goemotions(args.data, "dev")))
    meld_tune, _ = data.halves(data.meld(args.data, "dev"))
    features = train.Features(backends.get("embedder"), args.cache)
    design = train.Design(surface=False)
    x_go, x_meld = features.matrix(go_train, design), features.matrix(meld_train, design)
    x_tune_m, x_tune_g = features.matrix(meld_tune, design), features.matrix(go_tune, design)
    index, y, w = train.training_set(go_train, meld_train)
    x = sparse.vstack([x_go, x_meld]).tocsr()
    log_prior = np.log(np.bincount(meld_train.first, minlength=7) / len(meld_train))

    def fit(keep: np.ndarray, matrix=x):
        return train.fit(matrix[index[keep]], y[keep], w[keep], 0.3, 0)

    started = time.perf_counter()
    out_of_fold = np.zeros((len(meld_train), 7))
    is_meld = index >= len(go_train)
    folds = GroupKFold(5).split(np.zeros(len(meld_train)), groups=np.array(meld_train.dialogue))
    for k, (fold_train, fold_test) in enumerate(folds):
        model = fit(np.flatnonzero(~is_meld | np.isin(index - len(go_train), fold_train)))
        out_of_fold[fold_test] = train.softmax(model.decision_function(x_meld[fold_test]))
        print(f"  fold {k + 1}/5 ({time.perf_counter() - started:.0f} s)", flush=True)
    base = fit(np.arange(len(index)))
    before_tune = train.softmax(base.decision_function(x_tune_m))
    with_context = sparse.hstack([x, sparse.csr_matrix(np.vstack([np.zeros((len(go_train), CONTEXT_WIDTH)),
                                                                   context(meld_train, out_of_fold)]))]).tocsr()
    model = fit(np.arange(len(index)), with_context)
    z_m = model.decision_function(sparse.hstack([x_tune_m, sparse.csr_matrix(context(meld_tune, before_tune))]).tocsr())
    z_g = model.decision_function(sparse.hstack([x_tune_g, sparse.csr_matrix(np.zeros((len(go_tune), CONTEXT_WIDTH)))]).tocsr())
    print("\nTuning halves (MELD lines with their predecessor's reading; GoEmotions comments have none):\n")
    print(train.HEADER.format("design", " tau, neutral delta | objective |", "---|---|"))
    for name, (zm, zg) in (("MiniLM + words, C 0.3 (shipped)", (base.decision_function(x_tune_m),
                                                                  base.decision_function(x_tune_g))),
                           ("+ previous line's predicted emotion, same speaker", (z_m, z_g))):
        tau, delta, _, meld, go = train.choose_shift(zm, meld_tune.first, zg, go_tune.first, log_prior)
        print(train.row(name, meld, go, f" {tau:g}, {delta:+g} | {train.objective(meld, go):.3f} |"))


if __name__ == "__main__":
    main()
