"""Output paths named on the command line, checked before the work: a run of minutes should not end in an error
about a folder that was never writable."""

from __future__ import annotations

import os
from pathlib import Path

from mmdemo.errors import BadInput


def check_writable(path: "str | os.PathLike", what: str) -> Path:
    """``path`` if a file can be written there (its folder is created when missing), else BadInput naming ``what``."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise BadInput(f"{what} {path} is a folder; give a file name.")
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInput(f"{what} {path}: cannot create the folder {folder} ({exc.strerror or exc}).") from None
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise BadInput(f"{what} {path}: not writable.")
    return path
