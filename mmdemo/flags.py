"""Flags: a person marks an output good or bad, with a comment and optionally the right answer. Each flag is a
folder under ``MMDEMO_FLAG_DIR`` (default ``./flagged``) holding ``flag.json`` and copies of its input files, so
a flag outlives the request's temporary files. Flags with a reference export as a manifest for ``evaluate``.

    <MMDEMO_FLAG_DIR>/<task>/<UTC time>-<id>/flag.json   {"task", "verdict", "comment", "reference", "input",
                                                          "settings", "output", "time"}
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mmdemo.errors import BadInput

VERDICTS = ("good", "bad")
# task -> (the manifest's input column, its reference column): the columns `evaluate` reads
MANIFEST_COLUMNS = {
    "speech": ("path", "reference"),
    "emotion": (None, "label"),  # text,label or path,label: decided per flag
    "caption": ("path", "reference"),
    "video": ("path", "cuts"),
    "text-to-image": ("prompt", None),
}


def flag_dir() -> Path:
    return Path(os.environ.get("MMDEMO_FLAG_DIR", "").strip() or "flagged").expanduser()


@dataclass
class Flag:
    task: str
    verdict: str
    comment: str = ""
    reference: str = ""  # the right answer (a transcript, a label, a caption, cut times "1.2;3.4"), when known
    input: dict = field(default_factory=dict)  # {"path": "<file in the flag's folder>"} or {"text": ...}, ...
    settings: dict = field(default_factory=dict)
    output: dict = field(default_factory=dict)
    time: str = ""
    folder: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def record(task: str, verdict: str, *, comment: str = "", reference: str = "", input: dict | None = None,
           files: dict[str, str] | None = None, settings: dict | None = None, output: dict | None = None,
           answer: str = "") -> Flag:
    """Save one flag. ``files`` maps input fields to files (copied into the flag's folder, since request files
    expire); ``input`` holds the other inputs (text, prompt, seed...). ``answer`` is the output in the form of a
    reference (the transcript, the top label, the caption, the cut times): a result marked good with no
    reference given becomes its own reference."""
    if task not in MANIFEST_COLUMNS:
        raise BadInput(f"Unknown task {task!r} to flag; one of {', '.join(MANIFEST_COLUMNS)}.")
    if verdict not in VERDICTS:
        raise BadInput("Choose whether the result is good or bad before flagging it.")
    if not output:
        raise BadInput("There is no result to flag yet: run the tab first.")
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    folder = flag_dir() / task / f"{stamp}-{uuid.uuid4().hex[:8]}"
    try:
        folder.mkdir(parents=True)
    except OSError as exc:
        raise BadInput(f"Cannot write flags to {folder.parent} ({exc.strerror or exc}); set MMDEMO_FLAG_DIR.") from None
    inputs = dict(input or {})
    for key, path in (files or {}).items():
        if path:
            source = Path(path)
            if not source.is_file():
                raise BadInput(f"The input file {source.name} is gone; run the tab again before flagging.")
            shutil.copy2(source, folder / source.name)
            inputs[key] = source.name  # relative to the flag's folder, as a manifest's paths are
    reference = reference.strip() or (answer.strip() if verdict == "good" else "")
    flag = Flag(task, verdict, comment.strip(), reference, inputs, settings or {}, output, stamp,
                str(folder))
    payload = flag.to_dict()
    payload.pop("folder")
    tmp = folder / "flag.json.tmp"  # written whole, then renamed: a crash never leaves half a flag
    tmp.write_text(json.dumps(payload, ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(folder / "flag.json")
    return flag


def list_flags(task: str | None = None) -> list[Flag]:
    """Every flag saved (of one task when given), newest first; unreadable flag files are left out."""
    root = flag_dir()
    tasks = [task] if task else sorted(MANIFEST_COLUMNS)
    flags = []
    for name in tasks:
        for path in sorted((root / name).glob("*/flag.json"), reverse=True):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                flags.append(Flag(**{**data, "folder": str(path.parent)}))
            except (OSError, ValueError, TypeError):
                continue
    return sorted(flags, key=lambda f: f.time, reverse=True)


def _manifest_row(flag: Flag) -> dict | None:
    """The flag as a manifest row for `evaluate`, or None when it has no reference to score against."""
    folder = Path(flag.folder)
    path = flag.input.get("path")
    absolute = str(folder / path) if path else None
    if flag.task == "text-to-image":
        row = {"prompt": flag.input.get("prompt", "")}
        if flag.input.get("seed") not in (None, ""):
            row["seed"] = flag.input["seed"]
        return row if row["prompt"] else None
    if not flag.reference:
        return None
    if flag.task == "emotion":
        return {"text": flag.input["text"], "label": flag.reference} if flag.input.get("text") else (
            {"path": absolute, "label": flag.reference} if absolute else None)
    if absolute is None:
        return None
    column = MANIFEST_COLUMNS[flag.task][1]
    row = {"path": absolute, column: flag.reference}
    if flag.task == "speech" and flag.settings.get("language"):
        row["language"] = flag.settings["language"]
    return row


def export_manifest(task: str, destination: str | os.PathLike, verdict: str | None = None) -> tuple[Path, int, int]:
    """Write the flags of one task as a manifest CSV for ``evaluate``: (path, rows written, flags left out because
    they carry no reference). Emotion flags of text and of files go to one manifest only if they agree in kind:
    the text ones win when both exist."""
    flags = [f for f in list_flags(task) if verdict in (None, f.verdict)]
    rows = [r for r in map(_manifest_row, flags) if r]
    if task == "emotion" and any("text" in r for r in rows):
        rows = [r for r in rows if "text" in r]
    left_out = len(flags) - len(rows)
    if not rows:
        raise BadInput(f"No {task} flag has a reference to evaluate against ({len(flags)} flag(s) saved); "
                       "give the right answer when flagging.")
    columns = list(dict.fromkeys(key for row in rows for key in row))
    destination = Path(destination)
    with destination.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return destination, len(rows), left_out
