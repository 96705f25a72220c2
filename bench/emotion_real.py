"""The offline text-emotion reader on the report halves of MELD's and GoEmotions' dev splits (``bench.real``).

The report halves are those of ``mmdemo.train.emotion_data.halves`` (seed 0; MELD cut by dialogue): no choice of
the shipped head was made on them. MELD's lines are read as the conversations they are (each dialogue in order, as
``--conversation`` reads a transcript: dialogue's prior shift and the previous line's reading), GoEmotions' comments
as single lines. Beside it: always answering "neutral", and the earlier heads (PREVIOUS: the one it replaced,
trained on both corpora with one reading for both and no context, and the GoEmotions-only one), read from git
history (``git show``), or the first from ``--previous-head FILE``. All heads read the same MiniLM features,
computed once.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
# earlier heads, read from git history: the one this reader replaced, and the GoEmotions-only one before it
PREVIOUS = {"previous head (one reading, no context)": "48544ea",
            "GoEmotions-only head": "19ed00b"}


def previous_head_file(folder: Path, commit: str) -> Path | None:
    """The head committed at ``commit``, extracted from git history into ``folder``; None without git."""
    out = folder / f"head_{commit}.npz"
    try:
        blob = subprocess.run(["git", "-C", str(ROOT), "show", f"{commit}:mmdemo/data/text_emotion_head.npz"],
                              check=True, capture_output=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    out.write_bytes(blob)
    return out


def reading(head, rows, features) -> np.ndarray:
    """Probabilities as the app reads the rows: a corpus with dialogues as conversations, else line by line."""
    from mmdemo.train.text_emotion import softmax

    if any(rows.dialogue):
        return softmax(head.conversation_logits(rows.texts, rows.speaker, rows.dialogue, features)
                       / head.dialogue_temperature)
    return softmax(head.logits(rows.texts, features) / head.temperature)


def emotion_rows(data: Path, previous: Path | None = None, shipped: Path | None = None) -> list[str]:
    """The table's lines; ``shipped``: the head to measure (default: the repository's)."""
    from mmdemo import backends
    from mmdemo.backends.text_emotion import HEAD_FILE, head_features, load_head
    from mmdemo.emotion_labels import LABELS
    from mmdemo.train import emotion_data

    embedder = backends.get("embedder")
    halves = {"MELD": emotion_data.halves(emotion_data.meld(data, "dev"))[1],
              "GoEmotions": emotion_data.halves(emotion_data.single_label(emotion_data.goemotions(data, "dev")))[1]}
    features = {name: head_features(embedder, rows.texts) for name, rows in halves.items()}
    readers = {"always neutral": None, "shipped head": load_head(embedder, shipped or HEAD_FILE)}
    with tempfile.TemporaryDirectory() as tmp:
        missing = []
        for name, commit in PREVIOUS.items():
            given = previous if previous is not None and name == next(iter(PREVIOUS)) else None
            old = given or previous_head_file(Path(tmp), commit)
            if old is None:
                missing.append(commit)
            else:
                readers[name] = load_head(embedder, old, name)
        lines = ["| reader | corpus (report half) | n | accuracy | macro-F1 | weighted-F1 | balanced macro-F1 | ECE |",
                 "|---|---|---|---|---|---|---|---|"]
        for name, head in readers.items():
            for corpus, rows in halves.items():
                if head is None:
                    predicted, ece = np.full(len(rows), LABELS.index("neutral")), None
                else:
                    probs = reading(head, rows, features[corpus])
                    predicted = probs.argmax(1)
                    ece = emotion_data.expected_calibration_error(probs, rows.first)
                s = emotion_data.scores(rows.first, predicted)
                lines.append(f"| {name} | {corpus} | {s['n']} | {s['accuracy']:.3f} | {s['macro_f1']:.3f} | "
                             f"{s['weighted_f1']:.3f} | {s['balanced_macro_f1']:.3f} | "
                             f"{'-' if ece is None else f'{ece:.3f}'} |")
    if missing:
        lines.append(f"\n(no git history at {', '.join(missing)}: those earlier heads are left out; "
                     "--previous-head FILE gives the first)")
    return lines
