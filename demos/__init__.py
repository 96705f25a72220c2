"""The Gradio UI: one module per tab. Each module has build() (an application's title is its record in
mmdemo.applications; the two tools, Evaluate and Models, carry TITLE); it only wires widgets to pipelines in mmdemo
(no model code here)."""
