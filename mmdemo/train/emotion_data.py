"""The development data of the text-emotion reader, read and split once with a fixed seed.

DATA (``--data``, default ``../shared/data``) holds ``emotion/``: GoEmotions' Ekman-grouped split (Demszky et al.
2020, Apache-2.0; Reddit comments) and MELD's train and dev CSVs (Poria et al. 2019, GPL-3.0; utterances of the TV
series Friends). Test splits are never read. Each dev set is cut once, by SEED, into

* a **tuning** half: every choice (regularisation, class weights, prior shift, context, temperature) is made here;
* a **report** half: read once per reported model, never used to choose anything.

MELD's dev set is cut by Dialogue_ID (a conversation stays on one side), GoEmotions' by comment.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmdemo.emotion_labels import LABELS
from mmdemo.typography import normalise

DEFAULT_DATA = Path("../shared/data")
SEED = 0  # the one split of each dev set; never changed after the first choice was made on it


@dataclass
class Rows:
    texts: list[str]
    labels: list[list[int]]  # label indices into LABELS (GoEmotions may give several)
    dialogue: list[str]  # MELD Dialogue_ID ("" for GoEmotions)
    speaker: list[str]
    previous: list[int | None]  # index of the utterance before, same dialogue (None: first, or GoEmotions)

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def first(self) -> np.ndarray:
        return np.array([ls[0] for ls in self.labels])

    def take(self, index) -> "Rows":
        index = [int(i) for i in index]
        where = {old: new for new, old in enumerate(index)}
        return Rows([self.texts[i] for i in index], [self.labels[i] for i in index],
                    [self.dialogue[i] for i in index], [self.speaker[i] for i in index],
                    [where.get(self.previous[i]) if self.previous[i] is not None else None for i in index])


def emotion_folder(data: Path) -> Path:
    folder = Path(data) / "emotion"
    if not folder.is_dir():
        raise SystemExit(f"no emotion/ folder under {data} (pass --data, the development data folder)")
    return folder


def goemotions(data: Path, split: str) -> Rows:
    """``ekman_{split}.tsv``: text, comma-separated label ids, comment id."""
    folder = emotion_folder(data)
    names = (folder / "ekman_labels.txt").read_text().split()
    if names != list(LABELS):
        raise SystemExit(f"ekman_labels.txt lists {names}, not the app's {list(LABELS)}")
    texts, labels = [], []
    for line in (folder / f"ekman_{split}.tsv").read_text(encoding="utf-8").splitlines():
        text, label, _ = line.split("\t")
        texts.append(normalise(text))
        labels.append([int(x) for x in label.split(",")])
    n = len(texts)
    return Rows(texts, labels, [""] * n, [""] * n, [None] * n)


def meld(data: Path, split: str) -> Rows:
    """``meld_{split}_sent_emo.csv``, each dialogue in Utterance_ID order, quotes normalised."""
    path = emotion_folder(data) / f"meld_{split}_sent_emo.csv"
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    rows.sort(key=lambda r: (int(r["Dialogue_ID"]), int(r["Utterance_ID"])))
    texts = [normalise(r["Utterance"]) for r in rows]
    labels = [[LABELS.index(r["Emotion"].strip().lower())] for r in rows]
    dialogue = [r["Dialogue_ID"] for r in rows]
    previous = [i - 1 if i and dialogue[i - 1] == dialogue[i] else None for i in range(len(rows))]
    return Rows(texts, labels, dialogue, [normalise(r["Speaker"]) for r in rows], previous)


def halves(rows: Rows, seed: int = SEED) -> tuple[Rows, Rows]:
    """(tuning, report): MELD by dialogue, GoEmotions by row; half each, drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    if any(rows.dialogue):
        ids = sorted(set(rows.dialogue), key=int)
        rng.shuffle(ids)
        tuning_ids = set(ids[: len(ids) // 2])
        tuning = [i for i, d in enumerate(rows.dialogue) if d in tuning_ids]
        report = [i for i, d in enumerate(rows.dialogue) if d not in tuning_ids]
    else:
        order = rng.permutation(len(rows))
        tuning, report = sorted(order[: len(rows) // 2]), sorted(order[len(rows) // 2:])
    return rows.take(tuning), rows.take(report)


def single_label(rows: Rows) -> Rows:
    """Rows with exactly one label (scored as plain single-label classification)."""
    return rows.take([i for i, ls in enumerate(rows.labels) if len(ls) == 1])


def stratified(rows: Rows, per_class: int, seed: int) -> Rows:
    """Up to ``per_class`` rows per first label (all of the rarer classes), shuffled with ``seed``."""
    rng = np.random.default_rng(seed)
    first = rows.first
    picks = []
    for c in range(len(LABELS)):
        idx = np.flatnonzero(first == c)
        rng.shuffle(idx)
        picks.append(idx[:per_class])
    picks = np.concatenate(picks)
    rng.shuffle(picks)
    return rows.take(picks)


def scores(truth, predicted) -> dict:
    """Accuracy, macro- and weighted-F1 on the rows as they come (the natural mix), and macro-F1 with every class
    weighted equally (each row weighted 1 / its class's count: a class-balanced sample's expected mix)."""
    from sklearn.metrics import accuracy_score, f1_score

    truth, predicted = np.asarray(truth), np.asarray(predicted)
    counts = np.bincount(truth, minlength=len(LABELS)).astype(float)
    balance = 1.0 / counts[truth]
    labels = [c for c in range(len(LABELS)) if counts[c]]
    return {"accuracy": float(accuracy_score(truth, predicted)),
            "macro_f1": float(f1_score(truth, predicted, labels=labels, average="macro", zero_division=0)),
            "weighted_f1": float(f1_score(truth, predicted, average="weighted", zero_division=0)),
            "balanced_macro_f1": float(f1_score(truth, predicted, labels=labels, average="macro",
                                                sample_weight=balance, zero_division=0)),
            "n": int(len(truth))}


def expected_calibration_error(probs: np.ndarray, truth, bins: int = 10) -> float:
    """ECE of the top answer: |accuracy - mean confidence| averaged over equal-width confidence bins by count."""
    truth = np.asarray(truth)
    confidence, answer = probs.max(1), probs.argmax(1)
    edges = np.linspace(0, 1, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (confidence > lo) & (confidence <= hi)
        if inside.any():
            ece += inside.mean() * abs((answer[inside] == truth[inside]).mean() - confidence[inside].mean())
    return float(ece)


def write_manifests(data: Path, folder: Path) -> list[Path]:
    """MELD's tuning and report halves as evaluation manifests (MELD's own column names), for
    ``python -m mmdemo evaluate emotion``. They hold MELD's text (GPL-3.0): write them outside the repository."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, rows in zip(("tuning", "report"), halves(meld(data, "dev"))):
        path = folder / f"meld_dev_{name}.csv"
        order: dict[str, int] = {}
        with open(path, "w", newline="", encoding="utf-8") as f:
            out = csv.writer(f)
            out.writerow(["Utterance", "Speaker", "Emotion", "Dialogue_ID", "Utterance_ID"])
            for text, labels, dialogue, speaker in zip(rows.texts, rows.labels, rows.dialogue, rows.speaker):
                order[dialogue] = order.get(dialogue, -1) + 1
                out.writerow([text, speaker, LABELS[labels[0]], dialogue, order[dialogue]])
        written.append(path)
    return written


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="write MELD dev's tuning and report halves as evaluation manifests")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="development data folder (emotion/)")
    parser.add_argument("--out", type=Path, required=True, help="folder for meld_dev_tuning.csv, meld_dev_report.csv")
    args = parser.parse_args()
    for path in write_manifests(args.data, args.out):
        print(path)
