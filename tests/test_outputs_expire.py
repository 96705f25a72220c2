"""Request files expire: every folder the app writes for a request and Gradio's upload cache live under one root
and are removed once unused for MMDEMO_OUTPUT_TTL seconds; a file handed out again is kept from that moment on.

The server test runs the app with a three-second TTL and the real whisper-base pack (two short
transcriptions), so it waits a few seconds of real time for the files to age."""

from __future__ import annotations

import os
import time
import urllib.request
from pathlib import Path

import pytest

from mmdemo import outputs
from mmdemo.errors import BadInput
from tests.conftest import requires_pack

pytestmark = pytest.mark.app  # starts the whole app: deselect with -m "not app" for the quick tier

ROOT = Path(__file__).resolve().parent.parent
SPEECH = ROOT / "assets" / "speech_en.flac"
TTL = 3.0


def test_request_folders_live_under_one_private_root(tmp_path, monkeypatch):
    monkeypatch.setenv("MMDEMO_OUTPUT_DIR", str(tmp_path))
    folder = outputs.request_dir("speech-")
    assert folder.parent == tmp_path / "outputs" and folder.name.startswith("speech-") and folder.is_dir()
    assert outputs.gradio_cache_dir() == tmp_path / "gradio"
    assert (folder.stat().st_mode & 0o777) == 0o700  # the temp directory may be shared with other users
    monkeypatch.delenv("MMDEMO_OUTPUT_DIR")
    assert outputs.root().parent == Path(__import__("tempfile").gettempdir())


@pytest.mark.parametrize("raw, expected", [("", 3600.0), ("90", 90.0), ("0.5", 0.5)])
def test_ttl_from_the_environment(monkeypatch, raw, expected):
    monkeypatch.setenv(outputs.TTL_VAR, raw)
    assert outputs.ttl_seconds() == expected


@pytest.mark.parametrize("raw", ["0", "-5", "an hour", "nan"])
def test_a_bad_ttl_is_one_clear_message(monkeypatch, raw):
    import app as studio

    monkeypatch.setenv(outputs.TTL_VAR, raw)
    with pytest.raises(BadInput, match="MMDEMO_OUTPUT_TTL must be a positive number of seconds"):
        outputs.ttl_seconds()
    with pytest.raises(SystemExit):  # python app.py refuses to start, with the same sentence
        studio.launch_options([])


def test_sweep_removes_what_is_older_than_the_ttl(tmp_path, monkeypatch):
    monkeypatch.setenv("MMDEMO_OUTPUT_DIR", str(tmp_path))
    run = outputs.request_dir("video-")
    (run / "report.md").write_text("# report\n")
    upload = outputs.gradio_cache_dir() / "0123abcd"
    upload.mkdir(parents=True)
    (upload / "clip.mp4").write_bytes(b"\0" * 100)
    now = time.time()
    assert outputs.sweep(ttl=60, now=now + 30) == 0 and run.is_dir() and upload.is_dir()
    assert outputs.sweep(ttl=60, now=now + 90) == 2
    assert not run.exists() and not upload.exists() and (tmp_path / "outputs").is_dir()


def test_touch_restarts_the_age_of_the_folder_holding_a_file(tmp_path, monkeypatch):
    monkeypatch.setenv("MMDEMO_OUTPUT_DIR", str(tmp_path))
    run = outputs.request_dir("images-")
    image = run / "seed-1.png"
    image.write_bytes(b"png")
    os.utime(run, (1_000_000, 1_000_000))
    outputs.touch(image, tmp_path / "elsewhere.txt")  # a path outside the outputs folder is ignored
    assert run.stat().st_mtime > time.time() - 60


def test_a_caption_of_an_expired_image_says_so(tmp_path, monkeypatch):
    import gradio as gr

    from demos import text_to_image as tab

    monkeypatch.setenv("MMDEMO_OUTPUT_DIR", str(tmp_path))
    gone = [{"path": str(tmp_path / "outputs" / "images-x" / "seed-1.png"), "seed": 1}]
    with pytest.raises(gr.Error, match="expired"):
        tab.caption_it(gone, 0)


# -- the running app ----------------------------------------------------------------------------------------------
def _wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)  # polling interval, not a stand-in for work


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:  # not listening yet
        return 0


@requires_pack("whisper-base")
def test_the_server_expires_request_files_and_its_upload_cache(tmp_path, monkeypatch, capfd):
    """The app as `python app.py` runs it (its sweeper, Gradio's delete_cache), launched in this process."""
    from gradio_client import Client, handle_file

    import app as studio

    root = tmp_path / "root"
    stale = root / "outputs" / "video-left-by-a-killed-server"
    stale.mkdir(parents=True)
    (stale / "storyboard.png").write_bytes(b"half")
    os.utime(stale / "storyboard.png", (0, 0))
    monkeypatch.setenv("MMDEMO_OUTPUT_DIR", str(root))
    monkeypatch.setenv("MMDEMO_OUTPUT_TTL", str(TTL))
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(outputs.gradio_cache_dir()))  # what app.py sets at import
    monkeypatch.delenv("MMDEMO_WHISPER_MODEL", raising=False)
    sweeper = outputs.Sweeper().start()
    blocks = studio.build_app().queue(**studio.QUEUE)
    blocks.launch(**{**studio.launch_options([]), "server_port": None}, prevent_thread_lock=True, quiet=True)
    base = blocks.local_url.rstrip("/")
    try:
        client = Client(blocks.local_url, verbose=False)
        served = client.predict(handle_file(str(SPEECH)), api_name="/transcribe")[3]
        assert sorted(Path(p).suffix for p in served) == [".json", ".srt", ".txt", ".vtt"]
        first = sorted((root / "outputs").glob("speech-*"))
        assert len(first) == 1 and sorted(p.suffix for p in first[0].iterdir()) == [".json", ".srt", ".txt", ".vtt"]
        copies = sorted((root / "gradio").rglob("*.srt"))  # what the download links point at
        assert len(copies) == 1
        link = f"{base}/gradio_api/file={copies[0]}"
        assert _status(link) == 200
        _wait_until(lambda: not stale.exists(), TTL, "a previous process's leftovers to go")

        # its age counts from when its files were written, not from when the client had downloaded them
        written = max(p.stat().st_mtime for p in [first[0], *first[0].iterdir()])
        time.sleep(TTL * 0.6)  # the first answer ages; the same transcript handed out again renews its link
        client.predict(handle_file(str(SPEECH)), api_name="/transcribe")
        _wait_until(lambda: not first[0].exists(), TTL * 3, "the first request's folder to expire")
        assert time.time() - written > TTL * 0.9  # not before its time
        assert _status(link) == 200, "the link returned again by the second request expired early"
        # the copies of the tabs' example files stay: the examples must keep working
        _wait_until(lambda: not any((root / "outputs").iterdir())
                    and all(outputs.is_kept(entry) for entry in (root / "gradio").iterdir()),
                    TTL * 4, "every request folder and the whole upload cache but the examples to expire")
        assert _status(link) in (403, 404)  # Gradio no longer serves it
        assert client.predict(handle_file(str(SPEECH)), api_name="/transcribe")[0]  # and it keeps serving
    finally:
        blocks.close()
        sweeper.stop()
    assert "Traceback" not in capfd.readouterr().err
