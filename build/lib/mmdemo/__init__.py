"""mmdemo: a multimodal AI demo studio.

The library half of the app: backends (shared model registry), pipelines (one per task), media I/O and the CLI.
Nothing in this package imports Gradio; the UI lives in ``demos/`` and ``app.py``.
"""

__version__ = "0.1.0"
