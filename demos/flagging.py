"""The "Flag this result" panel every application tab ends with: good or bad, a comment and the right answer,
saved with the inputs and outputs by mmdemo.flags (listed and exported in the Evaluate tab)."""

from __future__ import annotations

from typing import Callable

import gradio as gr

from demos.common import user_errors
from demos.guard import caller
from mmdemo import applications, flags



def flag_panel(task: str, inputs: list, result, describe: Callable[..., dict]) -> None:
    """``describe(*input values, result value)`` returns record()'s keywords for this tab: ``input``, ``files``,
    ``settings``, ``answer`` (the output in the form of a reference) and optionally ``output`` (what to keep of
    the result)."""
    with gr.Accordion("Flag this result", open=False):
        with gr.Row():
            verdict = gr.Radio([("Good", "good"), ("Bad", "bad")], label="Verdict", scale=1)
            comment = gr.Textbox(label="Comment", scale=2, lines=1)
            hint = applications.get(task).reference_hint
            if hint:
                reference = gr.Textbox(label=hint, scale=3, lines=1)
            else:
                reference = gr.State("")
        with gr.Row():
            button = gr.Button("Flag", scale=0, min_width=120)
            saved = gr.Markdown()

    @user_errors
    def save(verdict, comment, reference, *values):
        *input_values, output = values
        if not output:
            raise gr.Error("There is no result to flag yet: run the tab first.")
        details = describe(*input_values, output)
        output = details.pop("output", output)  # a tab may flag one part of what it shows (one image of several)
        who = caller()
        flag = flags.record(task, verdict, comment=comment or "", reference=reference or "", output=output,
                            owner=who.owner, **details)
        kept = "with its right answer" if flag.reference else "without a reference (not exported for evaluate)"
        where = f": `{flag.folder}`" if who.operator else ""  # a server path is the operator's to see
        return f"Flagged **{flag.verdict}** {kept}{where}. The Evaluate tab lists your flags and exports them."

    button.click(save, [verdict, comment, reference, *inputs, result], saved, api_visibility="private", queue=False)
