"""The offline text-emotion reader on the report halves of MELD's and GoEmotions' dev splits (``bench.real``).

The report halves are those of ``mmdemo.train.emotion_data.halves`` (seed 0; MELD cut by dialogue): no choice of
the shipped head was made on them. Beside it: always answering "neutral", and the previous head (trained on
GoEmotions alone), read from git history at PREVIOUS_COMMIT (``git show``), or from ``--previous-head FILE``.
Both heads read the same MiniLM features, computed once.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
PREVIOUS_COMMIT = "19ed00b"  # the last commit with the GoEmotions-only head
PREVIOUS_NAME = "previous head (GoEmotions only)"


def previous_head_file(folder: Path, given: Path | None = None) -> Path | None:
    """The previous head: ``given``, else extracted from git history into ``folder``; None without git."""
    if given is not None:
        return given
    out = folder / "previous_head.npz"
    try:
        blob = subprocess.run(["git", "-C", str(ROOT), "show", f"{PREVIOUS_COMMIT}:mmdemo/data/text_emotion_head.npz"],
                              check=True, capture_output=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    out.write_bytes(blob)
    return out


def emotion_rows(data: Path, previous: Path | None = None) -> list[str]:
    from mmdemo import backends
    from mmdemo.backends.text_emotion import head_features, load_head
    from mmdemo.emotion_labels import LABELS
    from mmdemo.train import emotion_data
    from mmdemo.train.text_emotion import softmax

    embedder = backends.get("embedder")
    halves = {"MELD": emotion_data.halves(emotion_data.meld(data, "dev"))[1],
              "GoEmotions": emotion_data.halves(emotion_data.single_label(emotion_data.goemotions(data, "dev")))[1]}
    features = {name: head_features(embedder, rows.texts) for name, rows in halves.items()}
    readers = {"always neutral": None, "shipped head": load_head(embedder)}
    with tempfile.TemporaryDirectory() as tmp:
        old = previous_head_file(Path(tmp), previous)
        if old is not None:
            readers[PREVIOUS_NAME] = load_head(embedder, old, PREVIOUS_NAME)
        lines = ["| reader | corpus (report half) | n | accuracy | macro-F1 | weighted-F1 | balanced macro-F1 | ECE |",
                 "|---|---|---|---|---|---|---|---|"]
        for name, head in readers.items():
            for corpus, rows in halves.items():
                if head is None:
                    predicted, ece = np.full(len(rows), LABELS.index("neutral")), None
                else:
                    probs = softmax(head.logits(rows.texts, features[corpus]) / head.temperature)
                    predicted = probs.argmax(1)
                    ece = emotion_data.expected_calibration_error(probs, rows.first)
                s = emotion_data.scores(rows.first, predicted)
                lines.append(f"| {name} | {corpus} | {s['n']} | {s['accuracy']:.3f} | {s['macro_f1']:.3f} | "
                             f"{s['weighted_f1']:.3f} | {s['balanced_macro_f1']:.3f} | "
                             f"{'-' if ece is None else f'{ece:.3f}'} |")
    if previous is None and PREVIOUS_NAME not in readers:
        lines.append(f"\n(previous head not found: no git history at {PREVIOUS_COMMIT}; pass --previous-head FILE)")
    return lines
