"""Evaluating a data set: every item of a manifest run through an application's pipeline under one or more
configs, metrics computed from the items' outputs (see ``tasks``), and a report as JSON, CSV and HTML.

    from mmdemo.pipelines import evaluation
    items, skipped = evaluation.read_manifest("emotion", "goemotions.csv")
    configs = [evaluation.parse_config("head:text_reader=head", "emotion"),
               evaluation.parse_config("zero:text_reader=zero-shot", "emotion")]
    report = evaluation.evaluate("emotion", items, configs, skipped=skipped)
    report.to_dict()["configs"][0]["metrics"]     # {"accuracy", "macro_f1", "confusion", "n", ...}

A config's model settings (``model=...``) point the backend at other weights for the duration of that config
only: ``Registry.set_source`` unloads the backend, the config's items load the chosen weights once, and the
previous choice is restored (and the config's model unloaded) when the config ends.
"""

from __future__ import annotations

import csv
import html
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from mmdemo import outputs
from mmdemo.errors import BadInput
from mmdemo.pipelines.evaluation.manifest import check_settings, parse_config, read_manifest
from mmdemo.pipelines.evaluation.running import chosen_sources, run_item, run_local
from mmdemo.pipelines.evaluation.tasks import TASKS, Task, get_task

__all__ = ["TASKS", "Report", "ConfigResult", "run", "evaluate", "compare", "read_manifest", "parse_config",
           "check_settings", "report_csv", "report_html", "ENGINES", "chosen_sources", "run_item"]

# Backends an evaluation may use: every application's (the Models tab's "used by" lists the applications).
BACKENDS = ("whisper", "vad", "text_emotion", "embedder", "speech_emotion", "face_emotion", "captioner", "clip",
            "image_classifier", "diffusion")
# An evaluation runs for minutes over several backends: it queues on a slot of its own (one at a time), so a
# tab's single request is never held behind a whole data set.
SLOT = "evaluate"
ENGINES = ("local", "ray")

Progress = Callable[[float, str], None]


@dataclass
class ConfigResult:
    name: str
    settings: dict
    metrics: dict
    seconds: float  # wall time of the whole config
    items: list[dict]

    @property
    def errors(self) -> int:
        return sum(1 for i in self.items if "error" in i)

    def to_dict(self) -> dict:
        return {"name": self.name, "settings": dict(self.settings), "metrics": dict(self.metrics),
                "seconds": round(self.seconds, 3), "n": self.metrics.get("n", 0), "errors": self.errors,
                "items": [dict(i) for i in self.items]}


@dataclass
class Report:
    task: str
    n: int  # items read from the manifest (skipped rows not counted)
    configs: list[ConfigResult]
    skipped: list[dict] = field(default_factory=list)  # {"row", "reason"}
    engine: str = "local"

    def to_dict(self) -> dict:
        return {"task": self.task, "n": self.n, "engine": self.engine,
                "configs": [c.to_dict() for c in self.configs], "skipped": [dict(s) for s in self.skipped]}

    @classmethod
    def from_dict(cls, data: dict) -> "Report":
        """The report back from ``to_dict()`` (a tab's JSON output, a report.json)."""
        configs = [ConfigResult(c["name"], c["settings"], c["metrics"], c["seconds"], c["items"])
                   for c in data["configs"]]
        return cls(data["task"], data["n"], configs, data.get("skipped", []), data.get("engine", ""))

    def disagreements(self) -> list[int]:
        """Rows whose output differs between configs (rows that failed in one config count as differing)."""
        outputs: dict[int, list] = {}
        for config in self.configs:
            for item in config.items:
                outputs.setdefault(item["row"], []).append(json.dumps(item.get("output"), sort_keys=True)
                                                           if "error" not in item else "error")
        return [row for row, seen in outputs.items() if len(set(seen)) > 1]

    def rows(self) -> list[dict]:
        """One flat row per item per config (what the CSV holds)."""
        out = []
        for config in self.configs:
            for item in config.items:
                flat = {"config": config.name}
                for key, value in item.items():
                    flat[key] = json.dumps(value, ensure_ascii=False) if isinstance(value, (list, dict)) else value
                out.append(flat)
        return out


def _configs(task: Task, configs) -> list[tuple[str, dict]]:
    configs = list(configs or [("default", {})])
    checked, names = [], set()
    for entry in configs:
        name, settings = (parse_config(entry, task) if isinstance(entry, str) else entry)
        if name in names:
            raise BadInput(f"two configs are named {name!r}; give each its own name.")
        names.add(name)
        checked.append((name, check_settings(task, settings, name)))
    return checked


class _Clock:
    """Items done over all configs, and an estimate of the time left from the pace so far."""

    def __init__(self, total: int, progress: Progress | None):
        self.total, self.done, self.progress, self.started = total, 0, progress, time.perf_counter()

    def tick(self, label: str) -> None:
        self.done += 1
        if self.progress is None:
            return
        elapsed = time.perf_counter() - self.started
        left = elapsed / self.done * (self.total - self.done)
        self.progress(self.done / self.total, f"{self.done}/{self.total} items · {label} · {_duration(left)} left")


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def evaluate(task: "str | Task", items: list[dict], configs=None, engine: str = "local",
             progress: Progress | None = None, skipped: list[dict] | None = None,
             folder: "str | Path | None" = None) -> Report:
    """Run ``items`` (from ``read_manifest``) under each config (``(name, settings)`` pairs or 'NAME:k=v,...'
    strings; None: one config named 'default') with the ``engine`` ('local' or 'ray'). ``folder`` receives the
    files a task writes (generated images); a request folder under the output root (it expires) when None."""
    task = get_task(task)
    if engine not in ENGINES:
        raise BadInput(f"unknown engine {engine!r}; choose {' or '.join(ENGINES)}.")
    if not items:
        raise BadInput("there is no item to evaluate.")
    configs = _configs(task, configs)
    folder = Path(folder) if folder else outputs.request_dir("evaluate-")  # expires with the other request files
    clock = _Clock(len(items) * len(configs), progress)
    if progress:
        progress(0.0, f"0/{clock.total} items")
    if engine == "ray":
        from mmdemo.pipelines.evaluation import ray_engine  # Ray is optional: imported only when asked for

        runner = ray_engine.run_config
    else:
        runner = run_local
    results = []
    for name, settings in configs:
        run_settings = task.prepare(items, settings, folder / name)
        started = time.perf_counter()
        records = runner(task, items, run_settings, name, lambda: clock.tick(name))
        seconds = time.perf_counter() - started
        results.append(ConfigResult(name, settings, task.metrics(records), seconds, records))
    return Report(task.name, len(items), results, list(skipped or []), engine)


def run(task: "str | Task", manifest: "str | Path", configs=None, engine: str = "local",
        uploads: dict[str, str] | None = None, out: "str | Path | None" = None,
        progress: Progress | None = None, reports: bool = True) -> tuple[Report, dict[str, str]]:
    """The one way through an evaluation, for the tab and the CLI alike: configs checked (a bad key fails before
    anything is read), the engine checked, the manifest read (``uploads``: file name -> path, for a manifest whose
    files were uploaded with it; else paths resolve against the manifest's folder), every item run under every
    config, and (``reports``) the reports written to ``out`` (a request folder that expires when None). Returns the
    report and the paths of report.json, report.csv and report.html (none when not written)."""
    task = get_task(task)
    if engine not in ENGINES:
        raise BadInput(f"unknown engine {engine!r}; choose {' or '.join(ENGINES)}.")
    parsed = _configs(task, configs)
    if engine == "ray":
        from mmdemo.pipelines.evaluation.ray_engine import require_ray

        require_ray()
    items, skipped = read_manifest(task, manifest, uploads=uploads if task.paths else None)
    folder = Path(out) if out else outputs.request_dir("evaluate-")
    report = evaluate(task, items, parsed, engine=engine, skipped=skipped, folder=folder / "files",
                      progress=progress)
    return report, write_reports(report, folder) if reports else {}


def compare(task: "str | Task", item: dict, configs, progress: Progress | None = None) -> Report:
    """One input under several configs: exactly the evaluation of a one-row manifest. ``item`` holds the
    manifest's columns with file paths as they are (absolute); without a reference the metrics cover nothing."""
    task = get_task(task)
    raw = {k: v if isinstance(v, str) else ";".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v)
           for k, v in item.items() if v is not None}
    checked = task.check_row(raw, need_reference=False)
    for column in task.paths:
        if column in checked and not Path(checked[column]).is_file():
            raise BadInput(f"file not found: {checked[column]}")
    return evaluate(task, [{"row": 1, **checked}], configs, progress=progress)


# -- writing -----------------------------------------------------------------------------------------------------
def metrics_table(report: Report) -> list[dict]:
    """One row per metric, one column per config (the scalar metrics only)."""
    names: list[str] = []
    for config in report.configs:
        names += [k for k, v in config.metrics.items() if isinstance(v, (int, float)) and k not in names]
    rows = [{"metric": k, **{c.name: c.metrics.get(k) for c in report.configs}} for k in names]
    rows.append({"metric": "seconds", **{c.name: round(c.seconds, 2) for c in report.configs}})
    rows.append({"metric": "errors", **{c.name: c.errors for c in report.configs}})
    return rows


def report_json(report: Report, path: "str | Path") -> Path:
    path = Path(path)
    path.write_text(json.dumps(report.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def report_csv(report: Report, path: "str | Path") -> Path:
    """One row per item per config."""
    path = Path(path)
    rows = report.rows()
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def report_html(report: Report, path: "str | Path") -> Path:
    """A self-contained page: metrics side by side, confusion matrices, skipped rows, every item."""
    import pandas as pd

    parts = [f"<h1>mmdemo evaluation: {html.escape(report.task)}</h1>",
             f"<p>{report.n} items, {len(report.configs)} config(s), engine {html.escape(report.engine)}, "
             f"{len(report.skipped)} row(s) skipped.</p>", "<h2>Metrics</h2>",
             pd.DataFrame(metrics_table(report)).to_html(index=False, na_rep="")]
    for config in report.configs:
        parts.append(f"<p><b>{html.escape(config.name)}</b>: "
                     f"{html.escape(json.dumps(config.settings, ensure_ascii=False))}</p>")
        confusion = config.metrics.get("confusion")
        if confusion:
            labels = config.metrics["labels"]
            frame = pd.DataFrame(confusion, index=[f"true {x}" for x in labels], columns=labels)
            parts += [f"<h3>Confusion matrix: {html.escape(config.name)} (rows: reference)</h3>", frame.to_html()]
    if report.skipped:
        parts += ["<h2>Skipped rows</h2>", pd.DataFrame(report.skipped).to_html(index=False)]
    parts += ["<h2>Items</h2>", pd.DataFrame(report.rows()).to_html(index=False, na_rep="")]
    page = ("<!doctype html><meta charset='utf-8'><title>mmdemo evaluation</title><style>body{font-family:sans-serif}"
            "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}</style>" + "\n".join(parts))
    path = Path(path)
    path.write_text(page, encoding="utf-8")
    return path


def write_reports(report: Report, folder: "str | Path") -> dict[str, str]:
    """report.json, report.csv and report.html in ``folder``."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        return {"json": str(report_json(report, folder / "report.json")),
                "csv": str(report_csv(report, folder / "report.csv")),
                "html": str(report_html(report, folder / "report.html"))}
    except OSError as exc:
        raise BadInput(f"cannot write the reports to {folder}: {exc.strerror or exc}.") from None
