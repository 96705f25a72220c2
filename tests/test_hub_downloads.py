"""The Hub path, for real: a Hub-compatible server on 127.0.0.1 (tests/hub_server.py, selected with HF_ENDPOINT)
serves tiny random models under the default repo ids, and each Hub-default backend's first use runs end to end:
reachability, download into an empty cache (only the files the loader reads), progress, load; then a start with
the Hub gone uses the cache; a dropped connection resumes; a corrupt file, a gated model and a killed download
each end in one clear sentence."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mmdemo import backends, downloads, hub
from mmdemo.errors import BackendUnavailable
from tests.hub_server import HubServer

# backend -> tiny builder of the same architecture and layout as its Hub default
TINY = {"captioner": "blip", "clip": "clip", "whisper": "whisper", "diffusion": "sd", "embedder": "bert",
        "text_emotion": "roberta_emotion"}
# files real repos carry that no loader reads: they must never be fetched
DECOYS = {"captioner": ["pytorch_model.bin", "tf_model.h5"], "clip": ["pytorch_model.bin", "open_clip_pytorch_model.bin"],
          "whisper": ["pytorch_model.bin", "flax_model.msgpack"], "embedder": ["onnx/model.onnx", "openvino/openvino_model.bin"],
          "diffusion": ["sd_turbo.safetensors", "unet/diffusion_pytorch_model.fp16.safetensors"], "text_emotion": []}


@pytest.fixture(scope="module")
def repos(tiny_models, tmp_path_factory) -> dict[str, Path]:
    """Hub repo id -> a folder laid out like the real repo (the tiny model plus decoy files)."""
    root = tmp_path_factory.mktemp("hub-repos")
    out = {}
    for name, arch in TINY.items():
        folder = root / name
        shutil.copytree(tiny_models.get(arch), folder)
        for decoy in DECOYS[name]:
            (folder / decoy).parent.mkdir(parents=True, exist_ok=True)
            (folder / decoy).write_bytes(b"not for this app\n" * 64)
        out[backends.REGISTRY.spec(name).default_model] = folder
    return out


@pytest.fixture
def online(monkeypatch, tmp_path):
    """A process started with HF_ENDPOINT at the test Hub, HF_HOME empty and offline mode off."""
    import huggingface_hub.constants

    def point(server: HubServer | None, home: Path | None = None) -> Path:
        home = home or tmp_path / "hf-home"
        monkeypatch.setenv("HF_HOME", str(home))
        monkeypatch.setenv("HF_ENDPOINT", server.url if server else "http://127.0.0.1:9")  # 9: nothing listens
        hub.hub_reachable.cache_clear()
        return home

    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_CACHE", "HF_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)  # read once at import, from conftest
    for name in TINY:
        monkeypatch.delenv(backends.REGISTRY.spec(name).env_var, raising=False)
        backends.unload(name)
    yield point
    for name in TINY:
        backends.unload(name)
    hub.hub_reachable.cache_clear()


def test_first_use_downloads_each_backend_then_a_start_without_the_hub_uses_the_cache(repos, online):
    with HubServer(repos) as server:
        online(server)
        assert hub.hub_reachable()
        for name in TINY:
            repo = backends.REGISTRY.spec(name).default_model
            assert backends.resolve(name).kind == "hub", name
            seen: list[downloads.DownloadProgress] = []
            with downloads.progress_to(seen.append):
                loaded = backends.get_loaded(name)
            assert loaded.parameters and loaded.parameters > 0
            assert backends.REGISTRY._entries[name].source.kind == "cache"
            fetched = {path.split("/resolve/")[1].split("/", 1)[1] for path, _ in server.downloads() if repo in path}
            assert fetched and not fetched & set(DECOYS[name]), (name, fetched)
            assert seen[-1].done_bytes == seen[-1].total_bytes > 0 and seen[-1].file_index == seen[-1].file_count
            assert {s.filename for s in seen} == fetched  # per file, as it goes
            assert all(a.done_bytes <= b.done_bytes for a, b in zip(seen, seen[1:]))
            assert f"downloading {repo} (first use)" in seen[0].describe()
        assert not any(r for _, _, r in server.requests if "authorization" in r)  # no token was set, none sent
    asked = len(server.requests)

    online(None)  # the next start: the Hub is unreachable, the cache has every model
    assert not hub.hub_reachable()
    for name in TINY:
        backends.unload(name)
        assert backends.resolve(name).kind == "cache", name
        assert backends.get_loaded(name).parameters > 0
    assert len(server.requests) == asked


def test_the_tab_shows_the_download(repos, online):
    import gradio as gr

    from demos import emotion as tab

    shown: list[tuple[float, str]] = []

    class Shown(gr.Progress):
        def __call__(self, progress=None, desc=None, *args, **kwargs):
            shown.append((progress, desc))

    with HubServer(repos) as server:
        online(server)
        tab.analyze(text="What a wonderful day, I am so happy!", reader="auto", progress=Shown())
    downloading = [d for _, d in shown if d and d.startswith("downloading j-hartmann/emotion-english-distilroberta-base")]
    assert downloading and "model.safetensors" in " ".join(downloading) and " MB of " in downloading[-1]


def test_a_dropped_connection_resumes_where_it_stopped(repos, online):
    """huggingface_hub keeps what it wrote in whole 10 MB chunks and asks for the rest with a Range request: the tiny
    Whisper's 14 MB weights, cut after 12 MB, resume at 10 MB."""
    import huggingface_hub.constants

    repo = backends.REGISTRY.spec("whisper").default_model
    chunk = huggingface_hub.constants.DOWNLOAD_CHUNK_SIZE
    with HubServer(repos) as server:
        online(server)
        assert (repos[repo] / "model.safetensors").stat().st_size > chunk + 2**20
        server.drop_after[(repo, "model.safetensors")] = chunk + 2**20
        assert backends.get_loaded("whisper").parameters > 0  # complete: its SHA-256 was checked
    gets = [r for path, r in server.downloads() if path.endswith(f"{repo}/resolve/{server.commit(repo)}/model.safetensors")]
    assert gets == [None, f"bytes={chunk}-"]  # the second request asks only for the rest


def test_a_corrupt_file_is_one_message_naming_it_and_is_fetched_again(repos, online):
    repo = backends.REGISTRY.spec("text_emotion").default_model
    with HubServer(repos) as server:
        online(server)
        server.corrupt.add((repo, "model.safetensors"))
        with pytest.raises(BackendUnavailable, match=r"The download of model\.safetensors from "
                                                     r"j-hartmann/emotion-english-distilroberta-base is corrupt"):
            backends.get("text_emotion")
        assert not backends.REGISTRY.is_loaded("text_emotion")
        hub.hub_reachable.cache_clear()
        assert backends.resolve("text_emotion").kind == "hub"  # the broken snapshot is not taken for a cached one
        server.corrupt.clear()
        assert backends.get_loaded("text_emotion").parameters > 0


def test_a_killed_download_is_never_loaded_and_the_next_start_finishes_it(repos, online):
    """What a SIGKILL mid-download leaves behind: some files complete, the rest absent, no ref to the snapshot."""
    repo = backends.REGISTRY.spec("captioner").default_model
    with HubServer(repos) as server:
        online(server)
        files = downloads.choose_files({n: 0 for n in server.files(repo)})

        def killed_in_the_third_file(state: downloads.DownloadProgress) -> None:
            if state.file_index == 3 and state.done_bytes < state.total_bytes:
                raise KeyboardInterrupt  # stands for the process dying with the third file half written

        with pytest.raises(KeyboardInterrupt), downloads.progress_to(killed_in_the_third_file):
            downloads.fetch(repo)
        assert hub.cached_snapshot(repo) is None  # half a model is never taken for a cached one
        before = len(server.downloads())
        backends.get("captioner")
        again = [p.rsplit("/", 1)[1] for p, _ in server.downloads()[before:]]
        assert again == files[2:]  # the two finished files are kept, the third starts over
        assert hub.cached_snapshot(repo) is not None


def test_a_gated_model_asks_for_hf_token_and_the_token_is_sent(repos, online, monkeypatch):
    repo = backends.REGISTRY.spec("embedder").default_model
    with HubServer(repos) as server:
        online(server)
        server.tokens[repo] = "hf_test_token"
        with pytest.raises(BackendUnavailable, match=r"refused sentence-transformers/all-MiniLM-L6-v2 \(HTTP 401\)"
                                                     r".*set HF_TOKEN"):
            backends.get("embedder")
        monkeypatch.setenv("HF_TOKEN", "hf_wrong")
        with pytest.raises(BackendUnavailable, match="although HF_TOKEN is set"):
            backends.get("embedder")
        monkeypatch.setenv("HF_TOKEN", "hf_test_token")
        assert backends.get_loaded("embedder").parameters > 0
        assert server.requests[-1][2]["authorization"] == "Bearer hf_test_token"


def test_file_choice_follows_what_the_loaders_read():
    sizes = dict.fromkeys(["config.json", "model.safetensors", "pytorch_model.bin", "tf_model.h5", "onnx/model.onnx",
                           "model_index.json", "sd_turbo.safetensors", "unet/diffusion_pytorch_model.safetensors",
                           "unet/diffusion_pytorch_model.fp16.safetensors", "unet/config.json"], 1)
    assert downloads.choose_files(sizes) == ["config.json", "model_index.json", "unet/config.json",
                                             "unet/diffusion_pytorch_model.safetensors"]
    ct2 = dict.fromkeys(["config.json", "model.bin", "vocabulary.txt"], 1)  # faster-whisper: model.bin is not a pickle
    assert downloads.choose_files(ct2) == ["config.json", "model.bin", "vocabulary.txt"]
    assert downloads.choose_files(dict.fromkeys(["open_clip_config.json", "open_clip_model.safetensors",
                                                 "model.safetensors", "config.json"], 1), ("open_clip_*",)) == \
        ["open_clip_config.json", "open_clip_model.safetensors"]
    assert not downloads.is_repo_id("ViT-B-32:openai") and downloads.is_repo_id("openai/whisper-small")
