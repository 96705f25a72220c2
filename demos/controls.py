"""A tab's controls built from its application's declared settings (mmdemo.options): the label, default, bounds,
choices and help are the declaration's, so the tab, the CLI and the evaluation cannot drift apart. A tab passes
only what is about the page (a list to pick from, a value read from the loaded model, ``scale``...)."""

from __future__ import annotations

import gradio as gr

from mmdemo.options import Options


def control(options: type[Options], name: str, number: bool = False, **overrides) -> gr.components.Component:
    """The control of setting ``name``: a checkbox for a switch, radio buttons (two choices) or a dropdown
    for choices, a slider within bounds (a number box with ``number=True``), else a number or a text box.
    ``overrides`` go to the component (``choices=`` turns a free text setting into a dropdown that still takes
    typed values; ``minimum``/``maximum`` narrow or close the declared bounds for the page)."""
    s = options.setting(name)
    kwargs = {"label": s.title, "value": s.default, "info": s.info or None} | overrides
    if s.type is bool:
        return gr.Checkbox(**kwargs)
    if s.choices and "choices" not in overrides:
        choices = list(zip(s.labels, s.choices)) if s.labels else list(s.choices)
        component = gr.Radio if len(choices) <= 2 else gr.Dropdown  # longer labels fit a dropdown's box
        return component(choices, **kwargs)
    if "choices" in overrides:
        return gr.Dropdown(**{"allow_custom_value": True} | kwargs)
    low, high = overrides.get("minimum", s.low), overrides.get("maximum", s.high)
    if (s.low is not None and low < s.low) or (s.high is not None and high > s.high):
        raise ValueError(f"the page's bounds of {name} ({low}, {high}) go past the declared ones ({s.low}, {s.high})")
    if s.type in (int, float) and low is not None and high is not None and not number:  # a tab may close open bounds
        step = s.step or (1 if s.type is int else 0.1)
        return gr.Slider(**{"minimum": low, "maximum": high, "step": step} | kwargs)
    if s.type in (int, float):
        bounds = {"minimum": low, "maximum": high, "precision": 0 if s.type is int else None}
        return gr.Number(**bounds | kwargs)
    return gr.Textbox(**kwargs)
