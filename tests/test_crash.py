"""Crash safety of a first-use download: a process killed with SIGKILL in the middle of a model's weights leaves
no snapshot a later start would load, and the next start finishes the download (keeping the files completed before
the kill) and loads the model."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.hub_server import HubServer

ROOT = Path(__file__).resolve().parent.parent
REPO = "openai/whisper-small"  # the whisper backend's Hub default
LOAD = "from mmdemo import backends; print('loaded with', backends.get_loaded('whisper').engine)"


def test_a_download_killed_mid_file_is_finished_by_the_next_start(tiny_models, tmp_path):
    home = tmp_path / "hf-home"
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_CACHE",
                                                              "MMDEMO_WHISPER_MODEL", "HF_TOKEN")}
    with HubServer({REPO: tiny_models.get("whisper")}) as server:
        env.update(HF_ENDPOINT=server.url, HF_HOME=str(home))
        server.slow[(REPO, "model.safetensors")] = 0.2  # 14 MB at 320 KB/s: the kill lands mid-file
        first = subprocess.Popen([sys.executable, "-c", LOAD], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 180
        while server.sent.get((REPO, "model.safetensors"), 0) < 2**20:
            assert first.poll() is None and time.monotonic() < deadline, first.stdout.read()
            time.sleep(0.1)  # polling for the transfer to be under way
        first.send_signal(signal.SIGKILL)
        first.wait(30)
        storage = home / "hub" / "models--openai--whisper-small"
        assert not (storage / "refs" / "main").exists()  # half a model is not a cached model
        assert list((storage / "blobs").glob("*.incomplete"))  # what the kill left behind

        server.slow.clear()
        before = len(server.downloads())
        second = subprocess.run([sys.executable, "-c", LOAD], cwd=ROOT, env=env, capture_output=True, text=True,
                                timeout=300)
        assert second.returncode == 0 and "loaded with transformers" in second.stdout, second.stderr[-2000:]
        again = sorted(path.rsplit("/", 1)[1] for path, _ in server.downloads()[before:])
        assert "model.safetensors" in again and "config.json" not in again  # finished files were kept
    assert (storage / "refs" / "main").read_text() == server.commit(REPO)
    assert "Traceback" not in second.stderr
