"""The "Compare configurations" panel of every application tab: the tab's current input run under two or three
configurations (model source and main settings), outputs side by side with the time of each and, where the tab
has a reference, its score. It is the evaluation of a one-row manifest (mmdemo.pipelines.evaluation.compare),
so its numbers are the Evaluate tab's and the CLI's."""

from __future__ import annotations

from typing import Callable

import gradio as gr

from demos.common import user_errors
from demos.guard import caller
from mmdemo.errors import BadInput
from mmdemo.pipelines import evaluation

MAX_CONFIGS = 3


def _output_text(value) -> str:
    if isinstance(value, list):
        return "; ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value) or "(none)"
    return "" if value is None else str(value)


def side_by_side(report: evaluation.Report) -> tuple[list[str], list[list]]:
    """Headers and rows: one row per config with its output, seconds, error, the item's own numbers (a CLIP score)
    and, where there was a reference, every scalar metric."""
    def numbers(mapping: dict, skip: set) -> list[str]:
        return [k for k, v in mapping.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
                and k not in skip]

    measured = list(dict.fromkeys(k for c in report.configs for k in numbers(c.items[0], {"row", "seconds"})))
    metrics = list(dict.fromkeys(k for c in report.configs for k in numbers(c.metrics, {"n", *measured})))
    headers = ["config", "settings", "output", "seconds", *measured, *metrics]
    defaults = {k: s.default for k, s in evaluation.TASKS[report.task].settings.items()}
    rows = []
    for config in report.configs:
        [item] = config.items
        output = f"error: {item['error']}" if "error" in item else _output_text(item.get("output"))
        settings = ", ".join(f"{k}={v}" for k, v in config.settings.items() if v != defaults.get(k)) or "defaults"
        rows.append([config.name, settings, output, item.get("seconds"), *(item.get(k) for k in measured),
                     *(config.metrics.get(k) for k in metrics)])
    return headers, rows


def check_model_choices(task_name: str, parsed, request=None) -> None:
    """A config naming a model (a folder or Hub id) is refused to a client without the grant, before anything is
    resolved, so the answer never says whether a folder exists."""
    sources = evaluation.TASKS[task_name].sources
    if any(value for _, settings in parsed or [] for key, value in settings.items() if key in sources):
        caller(request).require_model_changes()


def compare_panel(task: str, inputs: list, to_item: Callable[..., dict], example: str, slot: str,
                  reference: str | None = None) -> None:
    """``to_item(*input values)`` returns the manifest columns of the tab's current input (its reference column
    too); ``example`` prefills the configurations box. ``reference``: the label of a reference box the panel adds
    (its value comes last to ``to_item``), for tabs that have none of their own."""
    spec = evaluation.TASKS[task]
    keys = ", ".join(f"`{name}`" for name in spec.settings)
    with gr.Accordion("Compare configurations", open=False):
        gr.Markdown(f"This input under {MAX_CONFIGS - 1} or {MAX_CONFIGS} configurations, one per line as "
                    f"`NAME:key=value,key=value`. Keys: {keys} (`model` is a Hub id or a folder). Unset keys keep "
                    "the defaults. The same configurations work in the Evaluate tab and "
                    f"`python -m mmdemo evaluate {task} MANIFEST --config ...`.")
        configs = gr.Textbox(example, lines=MAX_CONFIGS, label="Configurations")
        if reference:
            inputs = [*inputs, gr.Textbox(label=reference, lines=1)]
        button = gr.Button("Compare", scale=0, min_width=160)
        table = gr.Dataframe(label="Side by side", wrap=True, interactive=False)
        images = gr.Gallery(label="Images side by side", columns=MAX_CONFIGS, height=320,
                            visible=task == "text-to-image")

    @user_errors
    def run(lines: str, *values, progress=gr.Progress()):
        entries = [line.strip() for line in (lines or "").splitlines() if line.strip()]
        if not 2 <= len(entries) <= MAX_CONFIGS:
            raise BadInput(f"Give 2 or {MAX_CONFIGS} configurations, one per line (NAME:key=value,...).")
        parsed = [evaluation.parse_config(e, task) for e in entries]
        check_model_choices(task, parsed)  # naming a model is a power the operator grants
        item = to_item(*values)
        report = evaluation.compare(task, item, parsed,
                                    progress=lambda fraction, message: progress(fraction, desc=message))
        headers, rows = side_by_side(report)
        pictures = [(c.items[0]["output"], c.name) for c in report.configs
                    if task == "text-to-image" and "error" not in c.items[0]]
        return gr.update(value=rows, headers=headers), pictures

    button.click(run, [configs, *inputs], [table, images], api_visibility="private", concurrency_limit=1,
                 concurrency_id=slot)

