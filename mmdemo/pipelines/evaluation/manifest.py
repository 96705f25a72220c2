"""Reading an evaluation manifest (a CSV with a header) and ``--config`` strings.

A row that cannot be used (a value missing, a file that is not there, a label outside the task's set, more values
than columns) is skipped and listed with its row number and the reason, never dropped silently; a missing column
or a file that is not CSV text stops everything with one message.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from mmdemo import config
from mmdemo.errors import BadInput
from mmdemo.media.text import check_text
from mmdemo.pipelines.evaluation.tasks import Setting, Task, get_task

MAX_MANIFEST_BYTES = 50 * 2**20  # a manifest lists files; 50 MB of CSV is already millions of rows


def read_manifest(task: "str | Task", path: "str | Path", uploads: dict[str, str] | None = None
                  ) -> tuple[list[dict], list[dict]]:
    """(items, skipped) of the manifest at ``path`` for ``task``. Items are the typed rows plus ``row`` (the line
    number in the file, the header being line 1), file columns resolved against the manifest's folder. Skipped rows
    are ``{"row", "reason"}``.

    ``uploads`` (file name -> path), from a browser upload: a file column must then name one of the uploaded files
    (by its file name); nothing else on the server can be read through such a manifest."""
    task = get_task(task)
    path = Path(path)
    name = path.name
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise BadInput(f"cannot read the manifest {name}: {exc.strerror or exc}.") from None
    if len(raw) > MAX_MANIFEST_BYTES:
        raise BadInput(f"{name} is over {MAX_MANIFEST_BYTES // 2**20} MB; split the manifest.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadInput(f"{name} is not UTF-8 text (byte {exc.start}); save the manifest as UTF-8 CSV.") from None
    check_text(text, name, max_chars=MAX_MANIFEST_BYTES)
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if not header or not any(h.strip() for h in header):
        raise BadInput(f"{name} is empty: the first line must name the columns ({task.describe_columns()}).")
    header = [h.strip().lower() for h in header]
    header = [task.aliases[h] if h in task.aliases and task.aliases[h] not in header else h for h in header]
    missing = [c for c in task.required if c not in header]
    if task.one_of and not any(c in header for c in task.one_of):
        missing.append(" or ".join(task.one_of))
    if missing:
        raise BadInput(f"{name} has no column {', '.join(repr(m) for m in missing)}: a {task.name} manifest needs "
                       f"{task.describe_columns()}; its header is {', '.join(header)}.")
    folder = path.resolve().parent
    items, skipped = [], []
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # e.g. an unclosed quote: the rest of the file cannot be split into rows
            skipped.append({"row": reader.line_num, "reason": f"unreadable CSV ({exc}); the rows after it too"})
            break
        row_number = reader.line_num
        if not any(v.strip() for v in values):
            continue  # blank line
        if len(values) != len(header):
            skipped.append({"row": row_number, "reason": f"{len(values)} values for {len(header)} columns"})
            continue
        try:
            row = dict(zip(header, values))
            item = task.check_row(row)
            for column in task.paths:
                if column in item:
                    item[column] = _resolve(item[column], folder, uploads)
        except BadInput as exc:
            skipped.append({"row": row_number, "reason": str(exc)})
            continue
        items.append({"row": row_number, **item})
    if not items:
        reasons = "; ".join(f"row {s['row']}: {s['reason']}" for s in skipped[:3])
        raise BadInput(f"{name} has no usable row" + (f" ({reasons})." if reasons else "."))
    return items, skipped


def _resolve(value: str, folder: Path, uploads: dict[str, str] | None) -> str:
    if uploads is not None:
        found = uploads.get(Path(value.replace("\\", "/")).name)
        if found is None:
            raise BadInput(f"{value} is not among the uploaded files")
        return found
    path = Path(value).expanduser()
    path = path if path.is_absolute() else folder / path
    if not path.is_file():
        raise BadInput(f"file not found: {value}")
    return str(path)


# -- configs -----------------------------------------------------------------------------------------------------
_TRUE, _FALSE = config.TRUE_WORDS, config.FALSE_WORDS


def parse_config(spec: str, task: "str | Task") -> tuple[str, dict]:
    """'NAME:key=value,key=value' -> (NAME, {key: typed value}); 'NAME' alone keeps every default. Without a
    name ('beam_size=1') the spec itself names the config. BadInput names a bad key (listing the valid ones) or
    a value of the wrong type."""
    task = get_task(task)
    spec = (spec or "").strip()
    if not spec:
        raise BadInput("empty --config: write NAME:key=value,key=value.")
    name, sep, body = spec.partition(":")
    if not sep and "=" in name:
        name, body = spec, spec
    name = name.strip()
    if not name:
        raise BadInput(f"config {spec!r} has no name before ':'.")
    pairs = {}
    for part in body.split(","):
        if not part.strip():
            continue
        key, eq, value = part.partition("=")
        key = key.strip()
        if not eq:
            raise BadInput(f"config {name}: {part.strip()!r} is not key=value.")
        if key in pairs:
            raise BadInput(f"config {name}: {key} is set twice.")
        pairs[key] = value.strip()
    return name, check_settings(task, pairs, name)


def check_settings(task: "str | Task", settings: dict, name: str = "config") -> dict:
    """Every setting of ``task`` typed and checked: defaults completed with ``settings`` (values may be strings,
    as typed on a command line, or already typed). BadInput names a bad key and lists the valid ones."""
    task = get_task(task)
    out = {key: s.default for key, s in task.settings.items()}
    for key, value in (settings or {}).items():
        setting = task.settings.get(key)
        if setting is None:
            raise BadInput(f"config {name}: unknown key {key!r} for the {task.name} task; valid keys: "
                           f"{', '.join(task.settings)}.")
        out[key] = _typed(setting, value, f"config {name}: {key}")
    return out


def _typed(setting: Setting, value, label: str):
    kind = setting.type
    try:
        if kind is bool:
            if isinstance(value, bool):
                typed = value
            elif str(value).strip().lower() in _TRUE | _FALSE:
                typed = str(value).strip().lower() in _TRUE
            else:
                raise ValueError
        elif kind is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            typed = int(str(value).strip()) if isinstance(value, str) else int(value)
        elif kind is float:
            typed = float(value)
            if typed != typed or typed in (float("inf"), float("-inf")):
                raise ValueError
        else:
            typed = str(value).strip()
    except (TypeError, ValueError):
        raise BadInput(f"{label} must be {'a whole number' if kind is int else 'a number' if kind is float else 'true or false'}"
                       f", not {value!r}.") from None
    if setting.choices and typed not in setting.choices:
        raise BadInput(f"{label} must be one of {', '.join(map(str, setting.choices))}, not {value!r}.")
    return typed
