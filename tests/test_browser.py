"""End to end in a real browser: Debian's Chromium driven by Playwright against `python app.py`.

Set MMDEMO_SCREENSHOTS=docs to (re)write the README's screenshots.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
TABS = ["Image captioning", "Text-to-image", "Speech", "Video summarization", "Emotion analysis", "Models"]

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")


@pytest.fixture(scope="module")
def app_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, GRADIO_SERVER_PORT=str(port), GRADIO_ANALYTICS_ENABLED="False")
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"app.py did not start:\n{proc.stdout.read()}")
            time.sleep(0.1)  # polling interval while the server boots
    yield url
    proc.terminate()
    proc.wait(20)


@pytest.fixture(scope="module")
def page(app_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(app_url)
        page.get_by_role("tab", name="Models").wait_for(timeout=60_000)
        yield page
        browser.close()


def _screenshot(page, name: str) -> None:
    folder = os.environ.get("MMDEMO_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def test_every_tab_is_there(page):
    assert page.title() == "mmdemo"
    for name in TABS:
        assert page.get_by_role("tab", name=name).is_visible(), name


def test_models_tab_reports_backends(page):
    page.get_by_role("tab", name="Models").click()
    panel = page.get_by_role("tabpanel")
    panel.get_by_text("summarizer", exact=True).first.wait_for(timeout=30_000)
    text = panel.inner_text()
    for backend in ("whisper", "captioner", "embedder", "summarizer"):
        assert backend in text
    if _packs_installed():
        assert "pack:minilm" in text and "pack:whisper-base" in text
    _screenshot(page, "models")


def _packs_installed() -> bool:
    from mmdemo import packs

    return packs.PACKS["minilm"].installed()
