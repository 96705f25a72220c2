"""End to end in a real browser: Debian's Chromium driven by Playwright against `python app.py`.

Each tab is used as a person would: click an example, press the main button, wait for the result and read it off
the page. The tests run in file order and share one page; the Models test comes after the tabs and checks that
the backends they used show as loaded.

Set MMDEMO_SCREENSHOTS=docs/screenshots to (re)write the README's screenshots (one PNG per tab).
"""

from __future__ import annotations

import contextlib
import os
import re
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
TABS = ["Image captioning", "Text-to-image", "Speech", "Video summarization", "Emotion analysis", "Visual chat",
        "Search", "Evaluate", "Models"]
WORK_TIMEOUT = 240_000  # ms for one model-backed click: first use loads the model, and CI's 2 cores are shared
SCREENSHOT_MAX_HEIGHT = 1700  # px: tall pages are cut here, the README wants the top of the tab

# starts the whole app (python app.py): deselect with -m "not app" for the quick tier
pytestmark = [pytest.mark.app,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")]

USED_BACKENDS: set[str] = set()  # backends the tab tests saw working; the Models test expects them loaded
OPERATOR_TOKEN = "browser-test-operator-token"  # the app under test is started with it (MMDEMO_OPERATOR_TOKEN)


@contextlib.contextmanager
def _serve(**env_vars: str):
    """`python app.py` on a free port; yields its URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, GRADIO_SERVER_PORT=str(port), GRADIO_ANALYTICS_ENABLED="False",
               MMDEMO_OPERATOR_TOKEN=OPERATOR_TOKEN, **env_vars)
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    try:
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
    finally:
        proc.terminate()
        proc.wait(20)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield browser
        browser.close()


def _open_page(browser, url: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(30_000)
    page.goto(url)
    page.get_by_role("tab", name="Models").wait_for(timeout=60_000)
    return page


@pytest.fixture(scope="module")
def page(browser):
    with _serve() as url:
        page = _open_page(browser, url)
        yield page
        page.close()


def _tab(page, name: str):
    """Clicks a top-level tab and returns its panel (the outer one when the tab has tabs of its own)."""
    page.get_by_role("tab", name=name, exact=True).click()
    panel = page.get_by_role("tabpanel").filter(visible=True).first
    panel.wait_for()
    return panel


def _example(panel, file_name: str):
    """The gr.Examples entry whose preview shows `file_name` (image/video examples have no text to select by)."""
    preview = panel.page.locator(f"img[src$='/{file_name}'], video[src$='/{file_name}']")
    return panel.get_by_role("button").filter(has=preview)


def _error_toast(page) -> str:
    toast = page.get_by_test_id("toast-body").filter(visible=True).first
    toast.wait_for(timeout=WORK_TIMEOUT)
    assert "error" in (toast.get_attribute("class") or "")
    return toast.get_by_test_id("toast-text").inner_text()


def _wait_for_result(page, result) -> None:
    """Waits for `result` to show; an error toast instead fails the test at once, with its message."""
    toast = page.get_by_test_id("toast-body").filter(visible=True)
    result.or_(toast).first.wait_for(timeout=WORK_TIMEOUT)
    if not result.first.is_visible():
        pytest.fail(f"the app showed an error instead of a result: {toast.first.inner_text()}")


def _watch_progress(page) -> None:
    """Keeps every progress text the page shows ("listening - 2.0%") from now on, for _progress_seen."""
    page.evaluate("""() => {
        window.__progress = [];
        const grab = () => document.querySelectorAll('.progress-level-inner').forEach(e => {
            const text = e.textContent.trim();
            if (text.includes('%') && !window.__progress.includes(text)) window.__progress.push(text);
        });
        window.__progressObserver?.disconnect();
        window.__progressObserver = new MutationObserver(grab);
        window.__progressObserver.observe(document.body, {subtree: true, childList: true, characterData: true});
    }""")


def _progress_seen(page) -> list[str]:
    return page.evaluate("() => window.__progress || []")


def _close_toasts(page) -> None:
    """Closes every toast and waits until none is left (one clicked while it slides in can stay, and the next
    test would take it for its own error)."""
    from playwright.sync_api import expect

    closers = page.get_by_test_id("toast-close")
    for _ in range(5):
        for button in closers.all():
            try:
                button.click(timeout=2_000)
            except Exception:  # it closed by itself meanwhile
                pass
        try:
            expect(closers).to_have_count(0, timeout=3_000)
            return
        except AssertionError:
            continue
    expect(closers).to_have_count(0)


def _no_traceback(page) -> None:
    assert "Traceback" not in page.locator("body").inner_text()


def _screenshot(page, name: str) -> None:
    folder = os.environ.get("MMDEMO_SCREENSHOTS")
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    page.mouse.move(0, 0)  # no hover highlight in the picture
    height = min(page.evaluate("document.documentElement.scrollHeight"), SCREENSHOT_MAX_HEIGHT)
    path = Path(folder) / f"{name}.png"
    page.screenshot(path=str(path), full_page=True, clip={"x": 0, "y": 0, "width": 1400, "height": height})
    _shrink_png(path)


def _shrink_png(path: Path) -> None:
    """A 256-colour palette keeps a UI screenshot sharp at a fraction of the RGB size (README weight)."""
    from PIL import Image

    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    small.save(path, optimize=True)


def test_every_tab_is_there(page):
    assert page.title() == "mmdemo"
    for name in TABS:
        assert page.get_by_role("tab", name=name, exact=True).is_visible(), name


def test_search_example_image_box_shows_its_whole_text(page):
    """The box was squeezed to "Drop Image Here or ..." beside the sentence box."""
    panel = _tab(page, "Search")
    box = panel.locator(".block").filter(has_text="or by an example image").last
    assert box.bounding_box()["width"] >= 250
    hint = box.get_by_text("Click to Upload")
    assert hint.is_visible() and hint.evaluate("e => e.scrollWidth <= e.clientWidth + 1")


def test_bad_input_is_one_clear_message(page):
    from playwright.sync_api import expect

    panel = _tab(page, "Speech")
    panel.get_by_role("button", name="Transcribe", exact=True).click()
    message = _error_toast(page)
    assert message == "Upload an audio or video file, or record from the microphone, first."
    _close_toasts(page)
    # the toast fades; the tab's status line keeps the message
    expect(panel.get_by_text(f"Error: {message}")).to_be_visible(timeout=WORK_TIMEOUT)
    _no_traceback(page)


def test_captioning_example_gives_offline_tags(page):
    _close_toasts(page)  # an earlier test's error toast is not this test's
    panel = _tab(page, "Image captioning")
    _example(panel, "captioning_cat.jpg").click()
    _watch_progress(page)
    panel.get_by_role("button", name="Caption", exact=True).click()
    _wait_for_result(page, panel.get_by_text("Honest offline fallback"))
    # the first caption loads two models: the page says which, and from where, instead of a silent spinner
    shown = " ".join(_progress_seen(page))
    assert "loading image_classifier from pack:efficientnet-lite0 (first use)" in shown, shown
    tags = panel.locator(".block").filter(has_text="Zero-shot tags").last.inner_text().lower()
    imagenet = panel.locator(".block").filter(has_text="ImageNet classes").last.inner_text().lower()
    assert "cat" in tags and "cat" in imagenet, (tags, imagenet)
    assert "EfficientNet" in panel.inner_text()  # the result names the backend that produced it
    _no_traceback(page)
    USED_BACKENDS.update({"image_classifier", "embedder"})
    _screenshot(page, "captioning")


def test_text_to_image_offline_names_the_variable_to_set(page):
    panel = _tab(page, "Text-to-image")
    assert "MMDEMO_DIFFUSION_MODEL" in panel.inner_text()  # the header says where weights come from, up front
    header = panel.get_by_text(re.compile(r"^Model: "))
    assert "downloaded on first use" not in header.inner_text()  # the Hub cannot be reached here
    assert "cannot be reached" in header.inner_text(), header.inner_text()
    # plain text: Debian's Chromium drew the dice emoji as a missing-glyph box
    assert panel.get_by_role("button", name="Random seed", exact=True).is_visible()
    panel.get_by_role("textbox", name="Prompt", exact=True).fill("a watercolor lighthouse on a cliff at dusk")
    panel.get_by_role("button", name="Generate", exact=True).click()
    message = _error_toast(page)
    assert "MMDEMO_DIFFUSION_MODEL" in message and "\n" not in message.strip(), message
    _no_traceback(page)
    _screenshot(page, "text_to_image_offline")
    _close_toasts(page)


def test_text_to_image_draws_with_a_local_pipeline(browser, tiny_models, tmp_path):
    """A second app pointed at the tiny random SD pipeline (mmdemo/testing/tiny/sd.py): images appear with their
    parameters. The pixels are noise; what is tested is the tab's whole path, not the model."""
    with _serve(MMDEMO_DIFFUSION_MODEL=str(tiny_models.get("sd")), MMDEMO_OUTPUT_DIR=str(tmp_path)) as url:
        page = _open_page(browser, url)
        panel = _tab(page, "Text-to-image")
        assert "(local files)" in panel.inner_text()
        panel.get_by_role("textbox", name="Prompt", exact=True).fill("a watercolor lighthouse on a cliff at dusk")
        panel.get_by_role("spinbutton", name="Seed (-1 = random)").fill("7")
        panel.get_by_role("spinbutton", name="Number of images (seeds seed, seed+1, ...)").fill("2")
        panel.get_by_role("button", name="Generate", exact=True).click()
        _wait_for_result(page, panel.get_by_text("2 images in"))
        # a read-only textbox has no accessible name in Chromium: find it through its label element
        parameters = panel.locator("label").filter(has_text="Parameters (also stored in each PNG)") \
            .get_by_test_id("textbox").input_value()
        assert parameters.startswith("a watercolor lighthouse on a cliff at dusk\n"), parameters
        assert "Seed: 7" in parameters and "Size: 64x64" in parameters, parameters
        gallery = panel.locator(".block").filter(has=page.get_by_text("Images", exact=True)).last
        assert gallery.locator("img").count() >= 2
        assert list(tmp_path.rglob("*.png")), "the PNGs were not written to MMDEMO_OUTPUT_DIR"
        _no_traceback(page)
        _screenshot(page, "text_to_image")
        page.close()


def test_speech_without_speech_answers_soon_with_moving_progress(page):
    """Ambient sound (tests/data/CREDITS.md): "No speech found" (it took minutes and answered "Hmm"), and the
    progress bar moves through the steps (it sat at "listening - 2.0%" for the whole run)."""
    panel = _tab(page, "Speech")  # before the example test: the audio box is still empty, its upload input first
    panel.locator("input[type=file]").first.set_input_files(str(ROOT / "tests" / "data" / "bigbuckbunny_ambient.ogg"))
    panel.locator("audio").first.wait_for(state="attached", timeout=60_000)  # the upload is in
    _watch_progress(page)
    panel.get_by_role("button", name="Transcribe", exact=True).click()
    summary = panel.get_by_text("No speech found", exact=True)
    _wait_for_result(page, summary)
    assert "Whisper heard no speech" in panel.inner_text()
    shown = _progress_seen(page)
    assert len({re.search(r"(\d+(\.\d+)?)%", text).group(1) for text in shown}) >= 3, shown
    assert panel.get_by_role("textbox", name="Transcript").input_value() == ""
    _no_traceback(page)


def test_speech_example_transcript_segments_and_downloads(page):
    panel = _tab(page, "Speech")
    panel.get_by_role("gridcell", name="speech_en.flac").click()  # the example row: clip + reference
    _watch_progress(page)
    panel.get_by_role("button", name="Transcribe", exact=True).click()
    transcript = panel.get_by_role("textbox", name="Transcript")
    summary = panel.get_by_text("Against your reference")
    _wait_for_result(page, summary)
    shown = _progress_seen(page)  # the bar moves with the work: it once sat at "listening - 2.0%" to the end
    assert len({re.search(r"(\d+(\.\d+)?)%", text).group(1) for text in shown}) >= 3, shown
    assert "quick brown fox" in transcript.input_value().lower()
    assert "spoken language en" in panel.inner_text()
    segments = panel.locator(".block").filter(has_text="Segments").last
    assert re.search(r"\d+(\.\d+)?\s+\d+(\.\d+)?\s+\S", segments.inner_text()), segments.inner_text()
    downloads = re.sub(r"\s+", "", panel.locator(".block").filter(has_text="Downloads").last.inner_text())
    for ext in ("srt", "vtt", "txt", "json"):
        assert f"speech_en.{ext}" in downloads, downloads
    _no_traceback(page)
    USED_BACKENDS.add("whisper")
    _screenshot(page, "speech")


def test_video_stop_says_stopped_not_failed(page):
    """Stop during a summary: the status line says what was stopped, not "Error: the run failed"."""
    from playwright.sync_api import expect

    panel = _tab(page, "Video summarization")
    detector = panel.get_by_label("Cut detector", exact=True)
    width = detector.evaluate("e => [e.scrollWidth, e.clientWidth]")  # the chosen detector's name is not cut
    assert width[0] <= width[1], width
    _example(panel, "video_example.mp4").click()
    panel.get_by_role("button", name="Summarize", exact=True).click()
    panel.locator(".progress-level-inner").filter(has_text="%").first.wait_for(timeout=WORK_TIMEOUT)
    panel.get_by_role("button", name="Stop", exact=True).click()
    expect(panel.get_by_text(re.compile(r"^Stopped during: "))).to_be_visible(timeout=30_000)
    time.sleep(2)  # the cancelled event's failure step comes after the stop: it must not overwrite the line
    assert "Error" not in panel.get_by_text(re.compile(r"^Stopped during: ")).inner_text()
    assert "the run failed" not in panel.inner_text()
    _no_traceback(page)


def test_video_example_gives_timeline_and_summary(page):
    panel = _tab(page, "Video summarization")
    _example(panel, "video_example.mp4").click()
    panel.get_by_role("button", name="Summarize", exact=True).click()
    _wait_for_result(page, panel.get_by_text("Time per stage"))
    text = panel.inner_text()
    assert "Nothing was said or shown" not in text
    assert "4 shots" in text, text
    # the shots table: one row per shot, starting at the example's known cuts (assets/video_CREDITS.md)
    shots = panel.locator(".block").filter(has=page.get_by_text("Shots", exact=True)).last
    starts = [float(t) for t in _column(shots, 1)]
    assert [round(t) for t in starts] == [0, 5, 10, 14], starts
    said = _column(shots, 4)
    assert any(words.strip() for words in said), said  # the narration was transcribed and placed in shots
    timeline = panel.locator(".block").filter(has_text="Timeline: keyframe").last
    assert timeline.locator("img").count() == 4  # one keyframe per shot
    downloads = re.sub(r"\s+", "", panel.locator(".block").filter(has_text="Downloads").last.inner_text())
    for ext in ("md", "json", "png"):  # Markdown and JSON reports, storyboard
        assert re.search(rf"video_example[\w-]*\.{ext}", downloads), downloads
    _no_traceback(page)
    USED_BACKENDS.update({"whisper", "embedder", "image_classifier"})
    _screenshot(page, "video")


def _column(block, column: int) -> list[str]:
    """The cells of one column of a gr.Dataframe, top to bottom."""
    return [cell.inner_text().strip() for cell in block.locator(f"[role=gridcell][data-col='{column}']").all()]


def test_emotion_example_reads_joy_with_plots(page):
    panel = _tab(page, "Emotion analysis")
    panel.get_by_role("gridcell").filter(has_text="I finally got the job").click()  # text + smiling photo
    panel.get_by_role("button", name="Analyze", exact=True).click()
    fused = panel.get_by_text(re.compile(r"^Fused: "))
    _wait_for_result(page, fused)
    assert fused.inner_text().startswith("Fused: joy"), fused.inner_text()
    summary = panel.get_by_text(re.compile(r"^Fused: ")).locator("xpath=ancestor::div[contains(@class,'prose')][1]")
    text = summary.inner_text()
    assert re.search(r"text: joy", text) and re.search(r"face: joy", text), text
    faces = panel.locator(".block").filter(has=page.get_by_text("Faces found", exact=True)).last
    faces.locator("img").first.wait_for()  # the photo with the face boxes drawn
    # the fused plot and one per modality read (text, face) are drawn; voice stays hidden without audio
    assert panel.locator(".vega-embed").filter(visible=True).count() >= 3
    _no_traceback(page)
    USED_BACKENDS.update({"embedder", "face_emotion"})
    _screenshot(page, "emotion")


def test_emotion_timelines_of_a_video_keep_every_legend_label_in_view(page):
    """A video with speech and a face draws three timelines (voice, faces, arousal); side by side, the voice
    plot's legend ran past its box and lost labels ("surprise")."""
    panel = _tab(page, "Emotion analysis")
    panel.locator("input[type=file]").last.set_input_files(str(ROOT / "assets" / "video_example.mp4"))
    panel.locator("video").first.wait_for(state="attached", timeout=60_000)  # the upload is in
    panel.get_by_role("button", name="Analyze", exact=True).click()
    plot = panel.locator(".block").filter(has_text="Speech over time").last
    _wait_for_result(page, plot.locator(".vega-embed"))
    box = plot.bounding_box()
    label = plot.locator("svg text", has_text="surprise").first
    label.wait_for()
    where = label.bounding_box()
    assert box["x"] <= where["x"] and where["x"] + where["width"] <= box["x"] + box["width"] + 1, (box, where)
    _no_traceback(page)


def test_visual_chat_without_weights_says_so_up_front(page):
    """No chat weights offline: the tab says so as the others do, and offers no question that could only fail."""
    panel = _tab(page, "Visual chat")
    notice = panel.locator("p").filter(has_text="Not available here, for lack of weights:").first
    notice.wait_for(timeout=30_000)
    assert "MMDEMO_CHAT_MODEL" in notice.inner_text()
    assert not panel.get_by_role("button", name="Send", exact=True).is_visible()
    assert not panel.get_by_role("textbox", name="Question").is_visible()
    _no_traceback(page)


def test_models_tab_shows_the_used_backends_loaded(page):
    from playwright.sync_api import expect

    panel = _tab(page, "Models")
    panel.get_by_role("button", name="Refresh", exact=True).click()  # the table was filled when the page loaded

    def cell(backend: str, column: int):
        row = panel.get_by_role("row").filter(has=page.get_by_role("gridcell", name=backend, exact=True))
        return row.get_by_role("gridcell").nth(column)

    if not USED_BACKENDS:
        pytest.skip("needs the tab tests above to run first (run the whole module)")
    for backend in sorted(USED_BACKENDS):  # COLUMNS: backend, task, used by, source, state, ...
        expect(cell(backend, 4)).to_have_text(re.compile(r"^\s*loaded · cpu"))
        expect(cell(backend, 6)).to_have_text(re.compile(r"^\s*\d"))  # memory (MB) measured once loaded
    for backend in ("captioner", "summarizer"):  # no weights offline: never loaded by the tabs above
        expect(cell(backend, 4)).to_have_text(re.compile(r"^\s*(not loaded|unavailable)\s*$"))
    if _packs_installed():
        expect(cell("embedder", 3)).to_have_text("pack:minilm")
        expect(cell("whisper", 3)).to_have_text("pack:whisper-base")
        expect(cell("embedder", 2)).to_have_text("Image captioning, Video summarization, Emotion analysis, Search")
    # a visitor: the page says so, and the controls that act for everyone are not there
    expect(page.get_by_text("Visitor", exact=False).first).to_be_visible()
    expect(panel.get_by_role("button", name="Load", exact=True)).to_have_count(0)
    _no_traceback(page)


def test_the_operator_link_gives_the_models_controls(page):
    from playwright.sync_api import expect

    base = page.url.split("?")[0]
    page.goto(f"{base}?mmdemo_token={OPERATOR_TOKEN}")
    assert "mmdemo_token" not in page.url  # the token left the address bar
    page.get_by_role("tab", name="Models").wait_for(timeout=60_000)
    expect(page.get_by_text("Operator", exact=False).first).to_be_visible()
    panel = _tab(page, "Models")
    expect(panel.get_by_role("button", name="Load", exact=True)).to_be_visible()
    expect(panel.get_by_role("button", name="Use this source", exact=True)).to_be_visible()
    _no_traceback(page)
    _screenshot(page, "models")


def _packs_installed() -> bool:
    from mmdemo import packs

    return packs.PACKS["minilm"].installed()
