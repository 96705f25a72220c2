"""The Gradio UI: one module per tab. Each module has TITLE and build(); it only wires widgets to pipelines in
mmdemo (no model code here)."""
