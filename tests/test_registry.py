"""The shared backend registry: source resolution order, load-once under concurrency, memory bound, report."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time

import pytest

from mmdemo import backends, hub
from mmdemo.errors import BackendUnavailable, BadInput
from mmdemo.registry import BackendSpec, Loaded, Registry
from tests.conftest import requires_pack


def _spec(name="thing", default="org/thing", pack=None):
    return BackendSpec(name, "testing", default, "nowhere:load", pack=pack)


@pytest.fixture
def no_hub(monkeypatch):
    monkeypatch.setattr(hub, "hub_reachable", lambda: False)
    monkeypatch.setattr(hub, "cached_snapshot", lambda repo_id: None)


# -- resolution order ------------------------------------------------------------------------------------------
def test_override_folder_wins_over_everything(tmp_path, monkeypatch):
    monkeypatch.setattr(hub, "hub_reachable", lambda: True)
    monkeypatch.setenv("MMDEMO_THING_MODEL", str(tmp_path))
    source = Registry([_spec(pack="minilm")]).resolve("thing")
    assert (source.kind, source.location, source.via) == ("folder", str(tmp_path.resolve()), "MMDEMO_THING_MODEL")


def test_override_hub_id_then_cache_then_hub(tmp_path, monkeypatch):
    monkeypatch.setenv("MMDEMO_THING_MODEL", "someone/other-model")
    asked = []
    monkeypatch.setattr(hub, "cached_snapshot", lambda repo_id: asked.append(repo_id) or tmp_path)
    source = Registry([_spec()]).resolve("thing")
    assert asked == ["someone/other-model"]
    assert (source.kind, source.location, source.model_id) == ("cache", str(tmp_path), "someone/other-model")

    monkeypatch.setattr(hub, "cached_snapshot", lambda repo_id: None)
    monkeypatch.setattr(hub, "hub_reachable", lambda: True)
    source = Registry([_spec()]).resolve("thing")
    assert (source.kind, source.location) == ("hub", "someone/other-model")


def test_offline_falls_back_to_pack(no_hub):
    registry = Registry([_spec(pack="minilm")])
    if not __import__("mmdemo.packs").packs.PACKS["minilm"].installed():
        with pytest.raises(BackendUnavailable, match="requirements-weights.txt"):
            registry.resolve("thing")
        return
    source = registry.resolve("thing")
    assert source.kind == "pack" and source.model_id == "minilm"


def test_unavailable_names_the_variable_to_set(no_hub):
    with pytest.raises(BackendUnavailable) as info:
        Registry([_spec()]).resolve("thing")
    assert "MMDEMO_THING_MODEL" in str(info.value) and "\n" not in str(info.value)


def test_mistyped_override_folder_is_reported(no_hub, monkeypatch):
    monkeypatch.setenv("MMDEMO_THING_MODEL", "./no/such/folder")
    with pytest.raises(BackendUnavailable, match="neither an existing folder nor a Hub id"):
        Registry([_spec()]).resolve("thing")


def test_source_chosen_in_the_app_wins_and_reloads(tmp_path, monkeypatch, no_hub):
    """set_source: the Models tab's (and the CLI's --model) choice, ahead of the environment, without a restart."""
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    monkeypatch.setenv("MMDEMO_THING_MODEL", str(first))
    registry = Registry([_spec()], loaders={"thing": lambda source: Loaded(source.location, "cpu", "float32")})
    assert registry.get("thing") == str(first.resolve())
    registry.set_source("thing", str(second))
    assert not registry.is_loaded("thing")  # the old model is let go at once
    assert registry.configured("thing") == (str(second), "chosen in the app")
    assert registry.get("thing") == str(second.resolve()) and registry.load_count("thing") == 2
    registry.set_source("thing", None)  # back to the environment
    assert registry.get("thing") == str(first.resolve())
    registry.set_source("thing", "./not/there")
    with pytest.raises(BackendUnavailable, match=r"\./not/there \(chosen in the app\) is neither"):
        registry.get("thing")


def test_pack_chosen_by_name_even_with_the_hub_reachable(monkeypatch):
    """"pack" as a source (Models tab, MMDEMO_<NAME>_MODEL=pack): the offline pack, not the Hub default."""
    monkeypatch.setattr(hub, "hub_reachable", lambda: True)
    registry = Registry([_spec(pack="minilm"), _spec("bare")])
    registry.set_source("bare", "pack")
    with pytest.raises(BackendUnavailable, match="bare: chosen in the app asks for the offline pack, but it has no"):
        registry.resolve("bare")
    monkeypatch.setenv("MMDEMO_THING_MODEL", "pack")
    if not __import__("mmdemo.packs").packs.PACKS["minilm"].installed():
        with pytest.raises(BackendUnavailable, match="'minilm' is not installed"):
            registry.resolve("thing")
        return
    source = registry.resolve("thing")
    assert (source.kind, source.model_id) == ("pack", "minilm")


def test_a_load_is_announced_to_the_caller_that_waits_for_it(tmp_path, monkeypatch, no_hub):
    """A tab's progress bar hears "loading <backend> ... (first use)" before a load, and nothing once loaded."""
    from mmdemo.registry import announce_loads

    monkeypatch.setenv("MMDEMO_THING_MODEL", str(tmp_path))
    registry = Registry([_spec()], loaders={"thing": lambda source: Loaded("model", "cpu", "float32")})
    heard: list[str] = []
    with announce_loads(heard.append):
        registry.get("thing")
        registry.get("thing")
    registry.unload("thing")
    registry.get("thing")  # outside the block: nobody to tell
    assert heard == [f"loading thing from folder:{tmp_path.resolve()} (first use)..."]


# -- the Hub probe ---------------------------------------------------------------------------------------------
def test_hub_probe_honours_hf_hub_offline(monkeypatch):
    hub.hub_reachable.cache_clear()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert hub.hub_reachable() is False
    hub.hub_reachable.cache_clear()


def test_hub_probe_is_fast_when_unreachable_and_true_when_listening(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens on this port now
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    hub.hub_reachable.cache_clear()
    started = time.perf_counter()
    assert hub.hub_reachable() is False
    assert time.perf_counter() - started < 2.0

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.getsockname()[1]}")
        hub.hub_reachable.cache_clear()
        assert hub.hub_reachable() is True
    hub.hub_reachable.cache_clear()


def test_cached_snapshot_misses_without_network(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    assert hub.cached_snapshot("nobody/not-a-model") is None


# -- loading ---------------------------------------------------------------------------------------------------
def test_two_threads_asking_at_once_load_once(tmp_path, monkeypatch):
    monkeypatch.setenv("MMDEMO_THING_MODEL", str(tmp_path))
    entered, release = threading.Event(), threading.Event()
    calls = []

    def loader(source):
        calls.append(source)
        entered.set()
        assert release.wait(10)
        return Loaded(object(), "cpu", "float32")

    registry = Registry([_spec()], loaders={"thing": loader})
    results = [None, None]
    first = threading.Thread(target=lambda: results.__setitem__(0, registry.get("thing")))
    second = threading.Thread(target=lambda: results.__setitem__(1, registry.get("thing")))
    first.start()
    assert entered.wait(10)
    second.start()  # arrives while the first load is still running
    second.join(0.2)
    assert second.is_alive(), "the second caller must wait for the first load, not start its own"
    release.set()
    first.join(10)
    second.join(10)
    assert len(calls) == 1 and results[0] is results[1] is not None
    assert registry.load_count("thing") == 1


def test_two_backends_are_never_built_at_once(tmp_path, monkeypatch):
    """Model construction is process-global in places (accelerate's init_empty_weights patches torch.nn.Module
    while diffusers loads), so a second backend's build waits for the first one's to end."""
    monkeypatch.setenv("MMDEMO_A_MODEL", str(tmp_path))
    monkeypatch.setenv("MMDEMO_B_MODEL", str(tmp_path))
    a_building, a_release, b_building = threading.Event(), threading.Event(), threading.Event()

    def build_a(source):
        a_building.set()
        assert a_release.wait(10)
        return Loaded("a", "cpu", "float32")

    def build_b(source):
        b_building.set()
        return Loaded("b", "cpu", "float32")

    registry = Registry([_spec("a"), _spec("b")], loaders={"a": build_a, "b": build_b})
    first = threading.Thread(target=registry.get, args=("a",))
    second = threading.Thread(target=registry.get, args=("b",))
    first.start()
    assert a_building.wait(10)
    second.start()
    assert not b_building.wait(0.3), "b was built while a was still being built"
    a_release.set()
    first.join(10)
    second.join(10)
    assert b_building.is_set() and registry.get("a") == "a" and registry.get("b") == "b"


@requires_pack("minilm")
def test_real_backend_loads_once_for_concurrent_callers(no_hub):
    backends.unload("embedder")
    start = threading.Barrier(4)
    got = []

    def ask():
        start.wait()
        got.append(backends.get("embedder"))

    before = backends.REGISTRY.load_count("embedder")
    threads = [threading.Thread(target=ask) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(got) == 4 and all(model is got[0] for model in got)
    assert backends.REGISTRY.load_count("embedder") == before + 1
    vectors = got[0].encode(["a dog runs in the park", "a puppy plays outside", "interest rates rose"])
    assert vectors @ vectors[1] == pytest.approx(vectors @ vectors[1])  # deterministic
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2  # real weights: related sentences are closer


def test_tiny_model_loads_through_override(tiny_models, use_backend):
    folder = tiny_models.get("bert")
    use_backend("embedder", folder)
    loaded = backends.get_loaded("embedder")
    assert loaded.parameters > 0 and loaded.memory_bytes > 0 and loaded.device == "cpu"
    assert loaded.model.encode(["the dog runs", "a cat sits"]).shape == (2, 32)
    row = next(r for r in backends.report() if r["name"] == "embedder")
    assert row["loaded"] and row["source"] == f"folder:{folder.resolve()}"


def test_memory_bound_unloads_least_recently_used(monkeypatch, tmp_path):
    monkeypatch.setenv("MMDEMO_MAX_MEMORY_GB", "1")
    specs = [_spec(name) for name in ("a", "b", "c")]
    for name in "abc":
        monkeypatch.setenv(f"MMDEMO_{name.upper()}_MODEL", str(tmp_path))
    big = lambda source: Loaded(object(), "cpu", "float32", memory_bytes=600 * 2**20)  # noqa: E731
    registry = Registry(specs, loaders={n: big for n in "abc"})
    registry.get("a")
    registry.get("b")  # 1.2 GB > 1 GB: "a" goes
    assert not registry.is_loaded("a") and registry.is_loaded("b")
    registry.get("c")
    assert [registry.is_loaded(n) for n in "abc"] == [False, False, True]


def test_loader_missing_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("MMDEMO_THING_MODEL", str(tmp_path))
    with pytest.raises(BackendUnavailable, match="not part of this build"):
        Registry([BackendSpec("thing", "t", None, "mmdemo.backends.no_such_module:load")]).get("thing")


def test_device_override(monkeypatch):
    from mmdemo import device

    monkeypatch.setenv("MMDEMO_DEVICE", "cpu")
    assert device.pick_device() == "cpu"
    monkeypatch.setenv("MMDEMO_DEVICE", "tpu")  # read at each call: the change is seen without a restart
    with pytest.raises(BadInput, match="MMDEMO_DEVICE must be one of cpu, cuda, cuda:N, mps, not 'tpu'"):
        device.pick_device()


# -- report and CLI --------------------------------------------------------------------------------------------
EXPECTED = {"whisper", "vad", "captioner", "vqa", "clip", "diffusion", "translator", "embedder", "text_emotion",
            "speech_emotion", "face_emotion", "image_classifier", "summarizer", "chat"}


def test_cli_models_json_lists_every_backend():
    done = subprocess.run([sys.executable, "-m", "mmdemo", "models", "--json"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert {r["name"] for r in rows} == EXPECTED
    for row in rows:
        assert row["source"] or (row["error"] and row["env_var"] in row["error"])


def test_cli_errors_are_one_line():
    done = subprocess.run([sys.executable, "-m", "mmdemo", "models", "--load", "nope", "--json"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and done.stdout == ""
    assert done.stderr.strip().count("\n") == 0 and "unknown backend" in done.stderr
