"""Is the Hugging Face Hub reachable, and is a model already in the local cache?

Both questions must be answered fast: with no network the app has to fall back to local weights in well under
two seconds instead of letting a download library retry for minutes.
"""

from __future__ import annotations

import functools
import os
import socket
import threading
from pathlib import Path
from urllib.parse import urlparse

from mmdemo import config

PROBE_TIMEOUT_S = 1.5


def offline_forced() -> bool:
    return config.switch("HF_HUB_OFFLINE") or config.switch("TRANSFORMERS_OFFLINE")


def endpoint_url() -> str:
    """The Hub's address: HF_ENDPOINT (a mirror, or a test server) or huggingface.co. Read at each call, not once at
    import as huggingface_hub does, so the value in effect is the one the app was started (or tested) with."""
    return (os.environ.get("HF_ENDPOINT", "").strip() or "https://huggingface.co").rstrip("/")


def cache_dir() -> str:
    """The Hugging Face cache folder (HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub), read now."""
    if os.environ.get("HF_HUB_CACHE", "").strip():
        return os.path.expanduser(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME", "").strip() or os.path.join(
        os.environ.get("XDG_CACHE_HOME", "").strip() or os.path.join(os.path.expanduser("~"), ".cache"), "huggingface")
    return os.path.join(os.path.expanduser(home), "hub")


def _endpoint() -> tuple[str, int]:
    url = urlparse(endpoint_url())
    return url.hostname or "huggingface.co", url.port or (443 if url.scheme != "http" else 80)


@functools.lru_cache(maxsize=1)
def hub_reachable() -> bool:
    """One TCP connect to the Hub endpoint, bounded in time (DNS included, hence the thread)."""
    if offline_forced():
        return False
    host, port = _endpoint()
    result: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=PROBE_TIMEOUT_S):
                result.append(True)
        except OSError:
            result.append(False)

    worker = threading.Thread(target=probe, daemon=True)
    worker.start()
    worker.join(PROBE_TIMEOUT_S)
    return bool(result and result[0])


def cached_snapshot(repo_id: str) -> Path | None:
    """The folder of a model already downloaded to the local Hugging Face cache, or None. Never touches the
    network."""
    if not (Path(cache_dir()) / f"models--{repo_id.replace('/', '--')}" / "snapshots").is_dir():
        return None  # nothing of it in the cache: said without importing huggingface_hub (0.4 s of a cold CLI call)
    from huggingface_hub import snapshot_download

    try:
        folder = snapshot_download(repo_id, local_files_only=True, cache_dir=cache_dir())
    except Exception:  # not cached, partially cached, or not a valid repo id
        return None
    path = Path(folder)
    return path if path.is_dir() and any(path.iterdir()) else None
