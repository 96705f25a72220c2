"""Where output goes: paths named on the command line, checked before the work (a run of minutes should not end in an
error about a folder that was never writable), and the app's per-request folders, expired after MMDEMO_OUTPUT_TTL."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

from mmdemo import config
from mmdemo.errors import BadInput

log = logging.getLogger("mmdemo.outputs")


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


# -- files the app writes for a request ---------------------------------------------------------------------------
# Every request's downloads, reports, storyboards and images go into their own folder under one root, next to
# Gradio's upload cache, so one sweeper can expire both: a server that runs for weeks must not fill its disk.

TTL_VAR = "MMDEMO_OUTPUT_TTL"


def root() -> Path:
    """The folder holding ``outputs/`` (request folders) and ``gradio/`` (Gradio's cache, unless GRADIO_TEMP_DIR
    was set): $MMDEMO_OUTPUT_DIR, else a per-user folder in the system temp directory."""
    return config.get("MMDEMO_OUTPUT_DIR")


def outputs_dir() -> Path:
    return root() / "outputs"


def gradio_cache_dir() -> Path:
    """Gradio's upload cache as app.py sets it (GRADIO_TEMP_DIR, unless already set)."""
    return root() / "gradio"


def check_root() -> Path:
    """The output root, created private (0700) when missing; BadInput naming the variable when it cannot be
    written (checked at start: a read-only folder would otherwise fail each request later)."""
    folder = root()
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        outputs_dir().mkdir(exist_ok=True, mode=0o700)
        for own in (folder, outputs_dir()):
            _check_own(own)
        probe = tempfile.NamedTemporaryFile(dir=outputs_dir(), prefix=".probe-")
        probe.close()
    except OSError as exc:
        raise BadInput(f"The output folder {folder} cannot be written ({exc.strerror or exc}); set "
                       "MMDEMO_OUTPUT_DIR to a writable folder.") from None
    return folder


def _check_own(folder: Path) -> None:
    """The default root sits in the shared temp folder under a name anyone can guess: a folder another user made
    there first, or a link, must not receive visitors' files (nor have its contents swept)."""
    import stat

    st = folder.lstat()
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise BadInput(f"The output folder {folder} is a link or not a folder; set MMDEMO_OUTPUT_DIR to a folder "
                       "of your own.")
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        raise BadInput(f"The output folder {folder} belongs to another user; set MMDEMO_OUTPUT_DIR to a folder of "
                       "your own.")
    if st.st_mode & 0o077:
        folder.chmod(0o700)


def client_dir(prefix: str, key: str) -> Path:
    """A folder that belongs to one client (``key``: access.private_key of its id, never a path) and lives as long
    as the client keeps using it: its search index. Expired like request folders, after the TTL unused."""
    if not key or not key.isalnum():
        raise ValueError("a client folder needs an alphanumeric key")
    folder = outputs_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder / f"{prefix}{key}"


# -- files that never expire: the copies Gradio makes of the tabs' example files --------------------------------
_kept: dict[tuple[str, int], str] = {}  # (file name, size) -> sha256 of an example file


def _sha256(path: Path) -> str:
    import hashlib

    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def keep_forever(paths) -> None:
    """Cache entries holding a copy of one of ``paths`` are never swept (the tabs' examples must keep working)."""
    for path in map(Path, paths):
        if path.is_file():
            _kept[(path.name, path.stat().st_size)] = _sha256(path)


def is_kept(entry: Path) -> bool:
    if not _kept:
        return False
    for item in ([entry] if entry.is_file() else entry.rglob("*")):
        try:
            key = (item.name, item.stat().st_size)
        except OSError:
            continue
        if key in _kept and item.is_file() and _sha256(item) == _kept[key]:
            return True
    return False


def ttl_seconds() -> float:
    """How long a request's files are kept after the last request that returned them (MMDEMO_OUTPUT_TTL)."""
    return config.get(TTL_VAR)


def request_dir(prefix: str) -> Path:
    """A new, empty folder for one request's files (private to this user: the temp directory may be shared)."""
    folder = outputs_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        return Path(tempfile.mkdtemp(prefix=prefix, dir=folder))
    except OSError as exc:  # the folder went read-only or full after start: one sentence, not an internal error
        raise BadInput(f"The app cannot write its files to {folder} ({exc.strerror or exc}); the person who "
                       "started it can set MMDEMO_OUTPUT_DIR to a writable folder.") from None


def touch(*paths: "str | os.PathLike") -> None:
    """Restart the age of the request folders holding ``paths``: called when a request returns (or reuses) files
    written earlier, so a link on a page still open is not expired early."""
    base = outputs_dir().resolve()
    now = time.time()
    for path in paths:
        try:
            relative = Path(path).resolve().relative_to(base)
        except ValueError:
            continue  # not one of ours
        if relative.parts:
            try:
                os.utime(base / relative.parts[0], (now, now))
            except OSError:
                pass


def _last_used(path: Path) -> float:
    """The newest modification or status change in ``path`` (a file or a folder and what it holds). The change
    time counts because Gradio copies files with their old modification time and ages its cache by ctime."""
    newest = 0.0
    for item in [path, *(path.rglob("*") if path.is_dir() else ())]:
        try:
            st = item.lstat()
        except OSError:
            continue
        newest = max(newest, st.st_mtime, st.st_ctime)
    return newest


def sweep(ttl: float | None = None, now: float | None = None, caches: "list[Path] | None" = None) -> int:
    """Remove request folders and Gradio cache entries (in ``caches``, default ``gradio_cache_dir()``) unused for
    more than ``ttl`` seconds, except copies of the examples; the number removed."""
    ttl = ttl_seconds() if ttl is None else ttl
    now = time.time() if now is None else now
    removed = 0
    for folder in (outputs_dir(), *dict.fromkeys(caches or [gradio_cache_dir()])):
        if folder.is_symlink():  # never sweep through a link into someone else's files
            continue
        try:
            entries = list(folder.iterdir())
        except OSError:
            continue
        for entry in entries:
            if now - _last_used(entry) <= ttl or (folder != outputs_dir() and is_kept(entry)):
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed += not entry.exists()
    return removed


class Sweeper:
    """A daemon thread that sweeps every ``interval`` seconds (a quarter of the TTL, at most 5 minutes): request
    folders, the Gradio caches in ``caches`` and whatever each of ``also`` expires (the visitors' flags)."""

    def __init__(self, ttl: float | None = None, caches: "list[Path] | None" = None, also=()):
        self.ttl = ttl_seconds() if ttl is None else ttl
        self.caches, self.also = caches, list(also)
        self.interval = min(max(self.ttl / 4, 0.5), 300.0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mmdemo-output-sweeper", daemon=True)

    def start(self) -> "Sweeper":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while True:
            try:
                swept = sweep(self.ttl, caches=self.caches) + sum(expire() for expire in self.also)
                if swept:
                    log.info("removed %d expired request folder(s) and cache entries", swept)
            except Exception:  # the sweeper must outlive one bad folder
                log.exception("sweeping %s failed", root())
            if self._stop.wait(self.interval):
                return
