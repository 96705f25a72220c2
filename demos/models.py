"""Models tab: what each backend is, where its weights come from, and what it costs once loaded."""

from __future__ import annotations

import re
from pathlib import Path

import gradio as gr

from demos.common import show_to, user_errors
from demos.guard import caller
from mmdemo import backends, packs
from mmdemo.pipelines import used_by
from mmdemo.registry import PACK_CHOICE, locate

TITLE = "Models"
COLUMNS = ["backend", "task", "used by", "source", "state", "params (M)", "memory (MB)", "load (s)", "note"]
WIDTHS = ["9%", "13%", "11%", "15%", "15%", "6%", "6%", "5%", "20%"]


def _table() -> list[list]:
    """The table of backends, for the page's load and Refresh."""
    rows, users = [], used_by()
    for r in backends.report():
        params = f"{r['parameters'] / 1e6:.1f}" if r["parameters"] else ""
        if r["loaded"]:
            state = " · ".join(x for x in ("loaded", r["device"], r["dtype"], r["engine"]) if x)
        else:
            state = "not loaded" if r["available"] else "unavailable"
        rows.append([r["name"], r["task"], ", ".join(users.get(r["name"], [])), r["source"] or "-", state, params,
                     r["memory_mb"] or "", r["load_seconds"] or "", _note(r)])
    return rows if caller().operator else _redacted(rows)  # a visitor sees folder names, not paths


def _note(row: dict) -> str:
    if row["available"]:
        return row["note"]
    if row["pack"]:  # a pack exists but is not installed
        return f"install the offline packs, or set {row['env_var']}"
    return f"no offline weights: set {row['env_var']} (folder or Hub id)"


_PATH = re.compile(r"(?<![\w.])(?:~|/)[^\s,;:'\"()]*")


def _redacted(value):
    """A visitor sees a folder's name, not where it lies on the server (the operator's folders are theirs)."""
    if isinstance(value, str):
        return _PATH.sub(lambda m: Path(m.group(0)).name or m.group(0), value)
    if isinstance(value, list):
        return [_redacted(v) for v in value]
    if isinstance(value, dict):
        return {k: _redacted(v) for k, v in value.items()}
    return value


@user_errors
def refresh():
    report = backends.report()
    return _table(), report if caller().operator else _redacted(report)


@user_errors
def load(name: str):
    caller().require_model_changes()
    if not name:
        raise gr.Error("Choose a backend to load.")
    backends.get(name)
    return refresh()


@user_errors
def choose_source(name: str, value: str):
    """This process's source for a backend (a Hub id, a folder or the offline pack; empty: back to the default),
    without a restart;
    every tab using the backend loads it on its next request."""
    caller().require_model_changes()  # before the value is looked at: a refusal says nothing of the folder
    if not name:
        raise gr.Error("Choose a backend first.")
    value = (value or "").strip()
    if value == PACK_CHOICE:
        pack = backends.REGISTRY.spec(name).pack
        if not pack or not packs.PACKS[pack].installed():
            raise gr.Error(f"{name} has no offline pack installed here; type a Hub id or a folder instead.")
    elif value:
        locate(value, "the source typed", explicit=True)  # a mistyped folder is refused now
    backends.REGISTRY.set_source(name, value)
    return refresh()


def source_choices(name: str):
    """The source box offers what this backend can take: its Hub default and, where one exists, its offline pack
    (any other Hub id or folder can be typed)."""
    if not name:
        return gr.update(choices=[], value="")
    spec = backends.REGISTRY.spec(name)
    choices = [c for c in (spec.default_model, PACK_CHOICE if spec.pack else None) if c]
    chosen, via = backends.REGISTRY.configured(name)
    return gr.update(choices=choices, value=chosen if via != "default" else "")


@user_errors
def unload(name: str):
    caller().require_model_changes()
    if not name:
        raise gr.Error("Choose a backend to unload.")
    backends.unload(name)
    return refresh()


def build() -> None:
    gr.Markdown(
        "Every backend is loaded once, on first use, and shared by all tabs. Sources are tried in order: "
        "`MMDEMO_<BACKEND>_MODEL` (folder or Hub id), the local Hugging Face cache, the Hub, then the offline "
        "weight packs of `requirements-weights.txt`."
    )
    table = gr.Dataframe(value=_table, headers=COLUMNS, interactive=False, wrap=True,
                         column_widths=WIDTHS, max_height=1400)  # every backend without an inner scroll bar
    with gr.Row():
        choice = gr.Dropdown(backends.REGISTRY.names, label="Backend", scale=3, visible=False)
        load_btn = gr.Button("Load", scale=1, visible=False)
        unload_btn = gr.Button("Unload", scale=1, visible=False)
        refresh_btn = gr.Button("Refresh", scale=1)
    with gr.Row(visible=False) as sources:  # shown to the operator, or to all with --allow-model-changes
        source = gr.Dropdown(label="Source for this backend", scale=4, choices=[], value="",
                             allow_custom_value=True,
                             info="a Hub id (org/name), a local folder, or pack (the offline pack); "
                                  "empty: back to the default")
        source_btn = gr.Button("Use this source", scale=1)
    changes = gr.Markdown(visible=False, value="Loading, unloading and choosing sources act for every visitor of "
                                              "this app; only the operator (or all, with --allow-model-changes) may.")
    show_to("models", [choice, load_btn, unload_btn, sources, changes])
    with gr.Accordion("Raw report (JSON)", open=False):
        raw = gr.JSON()
    refresh_btn.click(refresh, outputs=[table, raw], api_name="models")
    load_btn.click(load, inputs=choice, outputs=[table, raw], api_visibility="private")
    unload_btn.click(unload, inputs=choice, outputs=[table, raw], api_visibility="private")
    choice.change(source_choices, inputs=choice, outputs=source, api_visibility="private")
    source_btn.click(choose_source, inputs=[choice, source], outputs=[table, raw], api_visibility="private")
