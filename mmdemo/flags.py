"""Flags: a person marks an output good or bad, with a comment and optionally the right answer. Each flag is a
folder under ``MMDEMO_FLAG_DIR`` (default ``./flagged``) holding ``flag.json``; its input files are kept once each,
by content hash, under ``files/``, so a flag outlives the request's temporary files and the same upload flagged
five times is stored once. Flags with a reference export as a manifest for ``evaluate``.

    <MMDEMO_FLAG_DIR>/<task>/<UTC time>-<id>/flag.json   {"task", "verdict", "comment", "reference", "input",
                                                          "settings", "output", "time", "owner"}
    <MMDEMO_FLAG_DIR>/files/<sha256[:32]>/<file name>   an input file ("input": {"path": "files/<hash>/<name>"})

A flag has an owner: "" for the operator (the CLI, the operator link), else a client's opaque key. A client lists
and exports only its own flags, within a quota (MMDEMO_FLAG_QUOTA_MB each, MMDEMO_FLAG_TOTAL_MB for all clients
together), and its flags expire MMDEMO_FLAG_TTL_DAYS after they were made; the operator's are kept and it sees all.
"""

from __future__ import annotations

import calendar
import csv
import hashlib
import json
import os
import shutil
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mmdemo import config
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


FILES = "files"
QUOTA_VAR, TOTAL_VAR, TTL_VAR = "MMDEMO_FLAG_QUOTA_MB", "MMDEMO_FLAG_TOTAL_MB", "MMDEMO_FLAG_TTL_DAYS"
_write_lock = threading.Lock()  # a quota is checked and spent in one step
MAX_TEXT_CHARS = 10_000  # a comment or a right answer (a long transcript fits)
MAX_FLAG_BYTES = 2_000_000  # a flag's record: its texts, settings and the output it keeps


def flag_dir() -> Path:
    """Absolute, so that exported manifests name files that resolve from any working folder."""
    return config.get("MMDEMO_FLAG_DIR").absolute()


def check_dir() -> Path:
    """The flag folder, created private when missing; BadInput naming MMDEMO_FLAG_DIR when it cannot be written
    (checked at start), or when a flag limit variable is unreadable."""
    for var in (QUOTA_VAR, TOTAL_VAR, TTL_VAR):
        config.get(var)
    folder = flag_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        probe = folder / f".probe-{uuid.uuid4().hex[:8]}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise BadInput(f"The flag folder {folder} cannot be written ({exc.strerror or exc}); set MMDEMO_FLAG_DIR "
                       "to a writable folder.") from None
    return folder


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
    owner: str = ""  # "" the operator's, else a client's opaque key

    def to_dict(self) -> dict:
        return asdict(self)

    def input_file(self, key: str = "path") -> Path | None:
        """The absolute path of an input file: kept under files/ by content hash, or (flags made before that)
        beside flag.json."""
        name = self.input.get(key)
        if not name:
            return None
        own = Path(self.folder) / name
        return own if own.exists() or not name.startswith(FILES + "/") else flag_dir() / name

    def stored_files(self) -> dict[str, Path]:
        """The input files kept by content hash: hash -> the file under files/ (older flags' own copies are not)."""
        return {value.split("/")[1]: flag_dir() / value for value in self.input.values()
                if isinstance(value, str) and value.startswith(FILES + "/")}


def record(task: str, verdict: str, *, comment: str = "", reference: str = "", input: dict | None = None,
           files: dict[str, str] | None = None, settings: dict | None = None, output: dict | None = None,
           answer: str = "", owner: str = "") -> Flag:
    """Save one flag. ``files`` maps input fields to files (kept once each by content hash, since request files
    expire); ``input`` holds the other inputs (text, prompt, seed...). ``answer`` is the output in the form of a
    reference (the transcript, the top label, the caption, the cut times): a result marked good with no
    reference given becomes its own reference. ``owner``: a client's key (its flags count against its quota)."""
    if task not in MANIFEST_COLUMNS:
        raise BadInput(f"Unknown task {task!r} to flag; one of {', '.join(MANIFEST_COLUMNS)}.")
    if verdict not in VERDICTS:
        raise BadInput("Choose whether the result is good or bad before flagging it.")
    if not output:
        raise BadInput("There is no result to flag yet: run the tab first.")
    sources = {key: Path(path) for key, path in (files or {}).items() if path}
    for source in sources.values():
        if not source.is_file():
            raise BadInput(f"The input file {source.name} is gone; run the tab again before flagging.")
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    root = flag_dir()
    folder = root / task / f"{stamp}-{uuid.uuid4().hex[:8]}"
    # what a visitor types is bounded as typed; a "good" result's own answer, copied as its reference, is bounded
    # with the rest of the record (MAX_FLAG_BYTES): a long transcript marked good is not "a long right answer"
    for what, value in (("The comment", comment.strip()), ("The right answer", reference.strip())):
        if len(value) > MAX_TEXT_CHARS:
            raise BadInput(f"{what} is {len(value):,} characters long; a flag keeps at most {MAX_TEXT_CHARS:,}.")
    reference = reference.strip() or (answer.strip() if verdict == "good" else "")
    flag = Flag(task, verdict, comment.strip(), reference, dict(input or {}), settings or {}, output, stamp,
                str(folder), owner)
    with _write_lock:  # the quota is checked and spent in one step: parallel flags cannot pass it together
        hashes = {key: _content_hash(source) for key, source in sources.items()}
        for key, source in sources.items():
            flag.input[key] = f"{FILES}/{hashes[key]}/{source.name}"
        payload = flag.to_dict()
        payload.pop("folder")
        text = json.dumps(payload, ensure_ascii=False, indent=1)
        try:
            size = len(text.encode("utf-8"))
        except UnicodeEncodeError:  # a lone surrogate from a client: not text a file can hold
            raise BadInput("This flag holds text that is not valid Unicode.") from None
        if size > MAX_FLAG_BYTES:
            raise BadInput(f"This flag's record is {size / 1e6:.1f} MB; a flag keeps at most "
                           f"{MAX_FLAG_BYTES / 1e6:g} MB besides its input files.")
        if owner:
            _check_quota(owner, {h: s.stat().st_size for h, s in zip(hashes.values(), sources.values())}, size)
        try:
            folder.mkdir(parents=True)
            for key, source in sources.items():
                kept = root / FILES / hashes[key] / source.name
                if not kept.exists():  # the same upload flagged again is stored once
                    kept.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(source, kept)
            tmp = folder / "flag.json.tmp"  # written whole, then renamed: a crash never leaves half a flag
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(folder / "flag.json")
        except OSError as exc:
            raise BadInput(f"Cannot write flags to {root} ({exc.strerror or exc}); set MMDEMO_FLAG_DIR.") from None
    return flag


def _content_hash(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()[:32]


def _footprint(flags: list[Flag]) -> int:
    """Bytes these flags hold: their flag.json files, and each input file once however many flags name it."""
    files = {digest: path for flag in flags for digest, path in flag.stored_files().items()}
    return sum(_size(Path(flag.folder) / "flag.json") for flag in flags) + sum(map(_size, files.values()))


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _check_quota(owner: str, new_files: dict[str, int], record_bytes: int) -> None:
    everyone = [f for f in list_flags() if f.owner]
    mine = [f for f in everyone if f.owner == owner]
    held = {digest for f in mine for digest in f.stored_files()}
    adding = sum(size for digest, size in new_files.items() if digest not in held) + record_bytes
    quota = config.get(QUOTA_VAR) * 1e6
    total = config.get(TOTAL_VAR) * 1e6
    used = _footprint(mine)
    if used + adding > quota:
        raise BadInput(f"Your flags already hold {used / 1e6:.1f} MB; this one would pass the {quota / 1e6:g} MB "
                       f"each visitor may keep ({QUOTA_VAR}). Flags expire after "
                       f"{config.get(TTL_VAR):g} days.")
    if _footprint(everyone) + adding > total:
        raise BadInput(f"Visitors' flags fill the {total / 1e6:g} MB this server keeps for them ({TOTAL_VAR}); "
                       "try again once older flags expire.")


def list_flags(task: str | None = None, owner: str | None = None) -> list[Flag]:
    """The flags saved (of one task when given; of one owner when given: a client sees its own, the operator
    passes None and sees all), newest first; unreadable flag files are left out."""
    root = flag_dir()
    tasks = [task] if task else sorted(MANIFEST_COLUMNS)
    flags = []
    for name in tasks:
        for path in sorted((root / name).glob("*/flag.json"), reverse=True):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                flag = Flag(**{**data, "folder": str(path.parent)})
            except (OSError, ValueError, TypeError):
                continue
            if owner is None or flag.owner == owner:
                flags.append(flag)
    return sorted(flags, key=lambda f: f.time, reverse=True)


def expire(now: float | None = None) -> int:
    """Remove clients' flags older than MMDEMO_FLAG_TTL_DAYS and input files no flag names any more; the number
    of flags removed (the operator's flags are kept)."""
    now = time.time() if now is None else now
    ttl = config.get(TTL_VAR) * 86400
    removed = 0
    with _write_lock:
        kept_files = set()
        for flag in list_flags():
            made = _made(flag)
            if flag.owner and made is not None and now - made > ttl:
                shutil.rmtree(flag.folder, ignore_errors=True)
                removed += 1
                continue
            kept_files.update(flag.stored_files())
        store = flag_dir() / FILES
        if store.is_dir():
            for entry in store.iterdir():
                if entry.name not in kept_files and now - _mtime(entry) > 60:  # not one being written now
                    shutil.rmtree(entry, ignore_errors=True)
    return removed


def _made(flag: Flag) -> float | None:
    try:
        return float(calendar.timegm(time.strptime(flag.time, "%Y%m%dT%H%M%SZ")))
    except (ValueError, OverflowError):
        return None


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _manifest_row(flag: Flag) -> dict | None:
    """The flag as a manifest row for `evaluate`, or None when it has no reference to score against."""
    path = flag.input_file("path")
    absolute = str(path) if path is not None else None
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


def export_manifest(task: str, destination: str | os.PathLike, verdict: str | None = None,
                    owner: str | None = None) -> tuple[Path, int, int]:
    """Write the flags of one task (of one owner when given) as a manifest CSV for ``evaluate``, with absolute
    paths: (path, rows written, flags left out because they carry no reference). Emotion flags of text and of
    files go to one manifest only if they agree in kind: the text ones win when both exist."""
    flags = [f for f in list_flags(task, owner) if verdict in (None, f.verdict)]
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
