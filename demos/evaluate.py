"""Evaluate tab: a manifest (CSV) and the files it names, uploaded together, run through one application under
several configs; metrics side by side, a plot per metric, the confusion matrix, every item, report downloads.

Files are matched by file name: a manifest row's ``clips/a.wav`` is the uploaded ``a.wav``. A browser upload can
never make the server read one of its own files; data sets already on the server go through the CLI
(``python -m mmdemo evaluate TASK MANIFEST``), whose relative paths resolve against the manifest's folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import gradio as gr
import pandas as pd

from demos.common import gpu, user_errors
from demos.compare import check_model_choices
from demos.guard import caller
from mmdemo import flags, outputs
from mmdemo.errors import BadInput
from mmdemo.pipelines import evaluation
from mmdemo.pipelines.evaluation import ENGINES, TASKS, metrics_table

TITLE = "Evaluate"
MAX_PLOTS = 4  # the most scalar metrics a task reports (caption: accuracy, BLEU, CLIP score)
NOT_PLOTTED = {"n", "clip_n", "tolerance_s", "fallback_captions", "seconds", "errors"}
EMPTY_PLOT = pd.DataFrame({"config": [], "value": []})


def _settings_help(task_name: str) -> str:
    task = TASKS[task_name]
    keys = "\n".join(f"- `{key}` ({s.type.__name__}, default `{s.default!r}`): {s.help}"
                     + (f"; one of {', '.join(map(str, s.choices))}" if s.choices else "")
                     + (f"; {s.bounds_text()}" if s.bounds_text() else "")
                     for key, s in task.settings.items())
    return f"**{task.name}** manifest columns: {task.describe_columns()}.\n\nConfig keys:\n{keys}"


def _configs(text: str, task_name: str, request=None) -> list[tuple[str, dict]] | None:
    """The configs typed, parsed; naming a model (a folder or Hub id) is a power the operator grants."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip() and not line.strip().startswith("#")]
    parsed = [evaluation.parse_config(line, task_name) for line in lines] or None
    check_model_choices(task_name, parsed, request)
    return parsed



def _uploads(files) -> dict[str, str]:
    out = {}
    for f in files or []:
        path = Path(getattr(f, "name", f))
        out[path.name] = str(path)
    return out


def _cell(value):
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return value


def items_table(result: dict, only_disagreements: bool) -> pd.DataFrame:
    """One row per item: its input and reference, then each config's output (or error)."""
    rows: dict[int, dict] = {}
    names = [c["name"] for c in result["configs"]]
    for config in result["configs"]:
        for item in config["items"]:
            shown = item["input"]
            if isinstance(shown, str) and Path(shown).is_absolute():  # an upload: its name, not the server's path
                shown = Path(shown).name
            row = rows.setdefault(item["row"], {"row": item["row"], "input": shown,
                                                "reference": _cell(item.get("reference"))})
            row[config["name"]] = f"error: {item['error']}" if "error" in item else _cell(item.get("output"))
    table = list(rows.values())
    if only_disagreements:
        differ = set(evaluation.Report.from_dict(result).disagreements())
        table = [r for r in table if r["row"] in differ]
    return pd.DataFrame(table, columns=["row", "input", "reference", *names])


def confusion_table(result: dict) -> pd.DataFrame | None:
    frames = []
    for config in result["configs"]:
        confusion = config["metrics"].get("confusion")
        if confusion:
            labels = config["metrics"]["labels"]
            frame = pd.DataFrame(confusion, columns=labels)
            frame.insert(0, "reference", labels)
            frame.insert(0, "config", config["name"])
            frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else None


def _plots(result: dict) -> list:
    report = evaluation.Report.from_dict(result)
    table = [r for r in metrics_table(report) if r["metric"] not in NOT_PLOTTED]
    plots = []
    for row in table[:MAX_PLOTS]:
        frame = pd.DataFrame({"config": [c.name for c in report.configs],
                              "value": [row[c.name] for c in report.configs]}).dropna()
        low = min(0.0, float(frame["value"].min())) if len(frame) else 0.0
        top = max(0.0, float(frame["value"].max())) if len(frame) else 0.0
        # bars from 0 (a bar's length is its value), in config order as the metrics table lists them
        plots.append(gr.BarPlot(value=frame, title=row["metric"], visible=True, sort=list(frame["config"]),
                                y_lim=[low, top * 1.05 if top > 0 else 1.0]))
    plots += [gr.BarPlot(value=EMPTY_PLOT, visible=False)] * (MAX_PLOTS - len(plots))
    return plots


def _status(result: dict) -> str:
    covered = ", ".join(f"{c['name']}: {c['n']} scored, {c['errors']} failed" for c in result["configs"])
    lines = [f"**{result['n']} items**, {len(result['skipped'])} row(s) skipped, engine {result['engine']} "
             f"({covered})."]
    lines += [f"- row {s['row']} skipped: {s['reason']}" for s in result["skipped"][:20]]
    if len(result["skipped"]) > 20:
        lines.append(f"- ... and {len(result['skipped']) - 20} more (see the reports)")
    return "\n".join(lines)


@gpu(duration=600)
@user_errors
def evaluate(task="emotion", manifest=None, files=None, configs="", engine="local", progress=gr.Progress(),
             request: gr.Request = None):
    """Runs the evaluation; returns status, metrics, plots, confusion, items, downloads and the raw report."""
    if task not in TASKS:
        raise BadInput(f"unknown task {task!r}; choose one of {', '.join(TASKS)}.")
    if not manifest:
        raise BadInput("Upload a manifest first: a CSV whose header names the task's columns.")
    parsed = _configs(configs, task, request)  # a bad key or a refused model fails before anything is read
    # a browser upload never names a server file: the manifest's files are matched among the uploads by name
    return _evaluated(task, getattr(manifest, "name", manifest), _uploads(files), parsed, engine, progress)


def _evaluated(task, manifest, uploads, parsed, engine, progress):
    report, paths = evaluation.run(task, manifest, parsed, engine=engine, uploads=uploads,
                                   progress=lambda f, m: progress(f, desc=m))
    result = report.to_dict()
    table = pd.DataFrame(metrics_table(report))
    confusion = confusion_table(result)
    return (_status(result), table, *_plots(result),
            gr.Dataframe(value=confusion, visible=confusion is not None),
            items_table(result, False), [paths["csv"], paths["json"], paths["html"]], result)


FLAG_COLUMNS = ["time", "verdict", "reference", "comment", "input", "output"]


def _owner(request=None) -> str | None:
    """Whose flags a caller sees: a client its own, the operator everyone's (None)."""
    who = caller(request)
    return None if who.operator else who.owner


def _flag_rows(found: list) -> pd.DataFrame:
    rows = [[f.time, f.verdict, f.reference, f.comment, json.dumps(f.input, ensure_ascii=False),
             json.dumps(f.output, ensure_ascii=False)[:200]] for f in found]
    return pd.DataFrame(rows, columns=FLAG_COLUMNS)


@user_errors
def list_flags(task):
    owner = _owner()
    found = flags.list_flags(task, owner)
    where = f" in `{flags.flag_dir()}`" if owner is None else " (yours; each visitor sees only their own)"
    return _flag_rows(found), f"{len(found)} {task} flag(s){where}."


@user_errors
def export_flags(task):
    folder = outputs.request_dir("flags-")
    path, written, left_out = flags.export_manifest(task, folder / f"{task}-flags.csv", owner=_owner())
    note = f"{written} flag(s) exported" + (f"; {left_out} left out (no reference: marked bad without the right "
                                            "answer)" if left_out else "") + "."
    return str(path), note


@gpu(duration=600)
@user_errors
def evaluate_flags(task="emotion", configs="", engine="local", progress=gr.Progress(), request: gr.Request = None):
    """The caller's saved flags of ``task`` (those with a reference; the operator's: everyone's) as the data set:
    their files are the server's own copies in MMDEMO_FLAG_DIR, made when they were flagged."""
    parsed = _configs(configs, task, request)
    path, _, _ = flags.export_manifest(task, outputs.request_dir("flags-") / "manifest.csv", owner=_owner(request))
    return _evaluated(task, path, None, parsed, engine, progress)  # the flags' own copies, named absolutely


@user_errors
def refilter(result, only_disagreements):
    if not result or not result.get("configs"):
        return gr.skip()
    return items_table(result, bool(only_disagreements))


def build() -> None:
    gr.Markdown(
        "Run a whole data set through one application under one or more configs and compare them. Upload the "
        "manifest (CSV with a header) and the files it names, matched by file name. One config per line: "
        "`NAME:key=value,key=value` (no line: one config named `default`). Every metric is computed from the "
        "items' outputs with jiwer, scikit-learn, sacrebleu or mir_eval; rows that cannot be used are listed, "
        "never dropped silently.")
    with gr.Row():
        with gr.Column(scale=1):
            task = gr.Dropdown(list(TASKS), value="emotion", label="Task")
            manifest = gr.File(label="Manifest (CSV)", file_types=[".csv"])
            files = gr.File(label="Files the manifest names (audio, images, videos)", file_count="multiple")
            configs = gr.Textbox(label="Configs, one per line", lines=3,
                                 placeholder="head:text_reader=head\nzero:text_reader=zero-shot")
            engine = gr.Radio(list(ENGINES), value="local", label="Engine (ray: pip install -r requirements-scale.txt)")
            run = gr.Button("Evaluate", variant="primary")
            with gr.Accordion("Columns and config keys of this task", open=False):
                keys = gr.Markdown(_settings_help("emotion"))
        with gr.Column(scale=2):
            status = gr.Markdown()
            metrics = gr.Dataframe(label="Metrics (one column per config)", interactive=False)
            with gr.Row():
                plots = [gr.BarPlot(EMPTY_PLOT, x="config", y="value", visible=False) for _ in range(MAX_PLOTS)]
            confusion = gr.Dataframe(label="Confusion matrix (rows: reference, columns: output)", visible=False,
                                     interactive=False)
            downloads = gr.File(label="Reports (CSV, JSON, HTML)", file_count="multiple", interactive=False)
    only = gr.Checkbox(label="only items where configs disagree", value=False)
    items = gr.Dataframe(label="Items", interactive=False, wrap=True)
    raw = gr.JSON(visible=False)
    with gr.Accordion("Flags: results marked good or bad in the tabs", open=False):
        with gr.Row():
            flag_task = gr.Dropdown(list(TASKS), value="emotion", label="Task", scale=2)
            refresh = gr.Button("Refresh", scale=1)
            export = gr.Button("Export as a manifest", scale=1)
            run_flags = gr.Button("Evaluate the flags with the configs above", scale=2)
        flag_note = gr.Markdown()
        flag_table = gr.Dataframe(headers=FLAG_COLUMNS, interactive=False, wrap=True, max_height=400)
        exported = gr.File(label="Manifest of the flags (the right answers as references)", interactive=False)
    task.change(_settings_help, inputs=task, outputs=keys, api_visibility="private")
    run.click(evaluate, inputs=[task, manifest, files, configs, engine],
              outputs=[status, metrics, *plots, confusion, items, downloads, raw], api_name="evaluate",
              concurrency_limit=1, concurrency_id=evaluation.SLOT)
    only.change(refilter, inputs=[raw, only], outputs=items, api_visibility="private")
    for trigger in (refresh.click, flag_task.change):
        trigger(list_flags, flag_task, [flag_table, flag_note], api_visibility="private", queue=False)
    export.click(export_flags, flag_task, [exported, flag_note], api_visibility="private", queue=False)
    run_flags.click(evaluate_flags, inputs=[flag_task, configs, engine],
                    outputs=[status, metrics, *plots, confusion, items, downloads, raw], api_visibility="private",
                    concurrency_limit=1, concurrency_id=evaluation.SLOT)
