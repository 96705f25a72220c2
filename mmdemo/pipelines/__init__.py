"""Pipelines: one module per application, UI-agnostic. UI and CLI call these; these call backends.

Each application is declared once in ``mmdemo.applications`` (its name, backends, slot, endpoint...); a pipeline
module reads its own record (``BACKENDS``, ``SLOT``) from there.
"""

from __future__ import annotations

from mmdemo.applications import APPLICATIONS as RECORDS
from mmdemo.applications import used_by

# application title -> pipeline module (derived from the records)
APPLICATIONS = {app.title: app.pipeline for app in RECORDS}

__all__ = ["APPLICATIONS", "used_by"]
