"""Pipelines: one module per application, UI-agnostic. UI and CLI call these; these call backends.

Each application module declares ``BACKENDS`` (what it uses) and ``SLOT`` (the backend its tab queues on).
"""

from __future__ import annotations

import importlib

# application title -> module; the tabs and the Models view read the declarations through this
APPLICATIONS = {"Image captioning": "captioning", "Text-to-image": "text_to_image", "Speech": "speech",
                "Video summarization": "video_summary", "Emotion analysis": "emotion",
                "Visual chat": "chat", "Search": "search"}


def used_by() -> dict[str, list[str]]:
    """backend name -> titles of the applications that use it, in APPLICATIONS order."""
    users: dict[str, list[str]] = {}
    for title, module in APPLICATIONS.items():
        for backend in importlib.import_module(f"mmdemo.pipelines.{module}").BACKENDS:
            users.setdefault(backend, []).append(title)
    return users
