"""Pipelines: one module per task, UI-agnostic. UI and CLI call these; these call backends."""
