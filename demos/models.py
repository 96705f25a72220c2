"""Models tab: what each backend is, where its weights come from, and what it costs once loaded."""

from __future__ import annotations

import gradio as gr

from demos.common import user_errors
from mmdemo import backends

TITLE = "Models"
COLUMNS = ["backend", "task", "source", "loaded", "engine", "device", "dtype", "parameters (M)", "memory (MB)",
           "load (s)", "note"]


def _table() -> list[list]:
    rows = []
    for r in backends.report():
        params = f"{r['parameters'] / 1e6:.1f}" if r["parameters"] else ""
        rows.append([r["name"], r["task"], r["source"] or "unavailable", "yes" if r["loaded"] else "no",
                     r["engine"] or "", r["device"] or "", r["dtype"] or "", params, r["memory_mb"] or "",
                     r["load_seconds"] or "", r["error"] or r["note"]])
    return rows


@user_errors
def refresh():
    return _table(), backends.report()


@user_errors
def load(name: str):
    if not name:
        raise gr.Error("Choose a backend to load.")
    backends.get(name)
    return refresh()


@user_errors
def unload(name: str):
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
    table = gr.Dataframe(value=_table, headers=COLUMNS, interactive=False, wrap=True)
    with gr.Row():
        choice = gr.Dropdown(backends.REGISTRY.names, label="Backend", scale=3)
        load_btn = gr.Button("Load", scale=1)
        unload_btn = gr.Button("Unload", scale=1)
        refresh_btn = gr.Button("Refresh", scale=1)
    with gr.Accordion("Raw report (JSON)", open=False):
        raw = gr.JSON()
    refresh_btn.click(refresh, outputs=[table, raw], api_name="models")
    load_btn.click(load, inputs=choice, outputs=[table, raw], api_visibility="private")
    unload_btn.click(unload, inputs=choice, outputs=[table, raw], api_visibility="private")
