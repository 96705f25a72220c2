"""Crash safety. A first-use download: a process killed with SIGKILL in the middle of a model's weights leaves no
snapshot a later start would load, and the next start finishes the download (keeping the files completed before the
kill) and loads the model. A server killed mid-request starts again on the same folders and serves."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import requires_pack
from tests.hub_server import HubServer

pytestmark = pytest.mark.app  # starts the whole app: deselect with -m "not app" for the quick tier

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


def _start_app(port: int, env: dict) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env={**env, "GRADIO_SERVER_PORT": str(port)},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1):
                return proc
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read()
            time.sleep(0.1)  # polling while the server boots


@requires_pack("whisper-base")
def test_a_server_killed_mid_request_starts_again_and_serves(tmp_path):
    """SIGKILL in the middle of a transcription, then `python app.py` again on the same folders: it answers, and
    what the killed process left (its upload, any half-made request folder) is swept, never served."""
    import socket

    import numpy as np
    import soundfile as sf
    from gradio_client import Client, handle_file

    clip, rate = sf.read(str(ROOT / "assets" / "speech_en.flac"), dtype="float32")
    long_clip = tmp_path / "long.wav"
    sf.write(long_clip, np.concatenate([clip, np.zeros(rate, np.float32)] * 6), rate)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root = tmp_path / "root"
    env = {k: v for k, v in os.environ.items() if k != "MMDEMO_WHISPER_MODEL"}
    # GRADIO_TEMP_DIR too: importing app.py in this test process (other tests do) set it to the default root
    env.update(MMDEMO_OUTPUT_DIR=str(root), MMDEMO_OUTPUT_TTL="4", GRADIO_ANALYTICS_ENABLED="False",
               GRADIO_TEMP_DIR=str(root / "gradio"))
    first = _start_app(port, env)
    try:
        job = Client(f"http://127.0.0.1:{port}/", verbose=False).submit(handle_file(str(long_clip)),
                                                                       api_name="/transcribe")
        deadline = time.monotonic() + 120
        while not list((root / "gradio").rglob("long.wav")):  # the upload arrived: the request is under way
            assert time.monotonic() < deadline and not job.done()
            time.sleep(0.1)  # polling for the upload
        time.sleep(2)  # let the server get into the transcription before the kill (its progress is not observable)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(30)
    left = list((root / "gradio").rglob("long.wav"))
    assert left  # the killed process's upload is still on disk
    second = _start_app(port, env)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        text = client.predict(handle_file(str(ROOT / "assets" / "speech_en.flac")), api_name="/transcribe")[0]
        assert "fox" in text.lower()
        deadline = time.monotonic() + 30
        while any(path.exists() for path in left):  # the sweeper takes what the killed process left
            assert time.monotonic() < deadline, "the killed request's upload was never swept"
            time.sleep(0.2)  # polling for the sweeper
    finally:
        second.terminate()
        output = second.communicate(timeout=30)[0]
    assert "Traceback" not in output
