"""Concurrency: requests fired at once at several endpoints of the running app all get their own right answer,
every backend is loaded exactly once however many requests ask for it first, and each heavy event holds one
slot of its backend's queue (concurrency_limit=1, concurrency_id named after the backend): calls of one pipeline
never overlap, and a request waiting for its slot is told its queue position."""

from __future__ import annotations

import functools
import importlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mmdemo import backends, hub
from mmdemo.pipelines.speech.scoring import score as speech_score
from tests.conftest import requires_pack

pytestmark = pytest.mark.app  # starts the whole app: deselect with -m "not app" for the quick tier

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "assets"
JOY = "I got the job! Best day of my life!"
SADNESS = "My grandmother passed away last night and I can't stop crying."
# public events that only read results already computed, or list backends: no model of their own
LIGHT_EVENTS = {"models", "_table"}


def _events(blocks):
    return [fn for fn in blocks.fns.values() if fn.api_name and fn.api_visibility == "public"]


def test_every_heavy_event_holds_one_slot_of_its_backend():
    import app as studio

    blocks = studio.build_app()
    heavy = [fn for fn in _events(blocks) if fn.api_name not in LIGHT_EVENTS]
    assert {"caption", "caption_batch", "generate", "transcribe", "emotion"} <= {fn.api_name for fn in heavy}
    # /emotion admits a few requests and takes the slots of the readers each one uses (mmdemo.slots), so a text
    # reading never waits behind a voice or video reading
    by_readers = {"emotion"}
    offences = [f"/{fn.api_name} must run one at a time (concurrency_limit=1)"
                 for fn in heavy if fn.concurrency_limit != 1 and fn.api_name not in by_readers]
    # an evaluation runs a data set through several backends for minutes: it queues on its own slot
    slots = backends.REGISTRY.names + ["evaluate"]
    offences += [f"/{fn.api_name}: concurrency_id {fn.concurrency_id!r} must name the backend it mostly uses, one of "
                 f"{', '.join(backends.REGISTRY.names)}" for fn in heavy
                 if fn.concurrency_id not in slots and fn.api_name not in by_readers]
    assert not offences, "\n".join(offences)
    # tabs sharing a backend share its slot: the text-to-image "Caption it" button queues with /caption
    ids = {fn.name: fn.concurrency_id for fn in blocks.fns.values()}
    assert ids["caption_it"] == ids["caption"] == "captioner"
    # each slot is the one its pipeline declares, and a backend the pipeline uses
    from mmdemo.pipelines import captioning, chat, emotion, search, speech, text_to_image, video_summary

    declared = {"caption": captioning, "generate": text_to_image, "transcribe": speech,
                "summarize_video": video_summary, "chat": chat, "search": search, "search_index": search}
    from demos import emotion as emotion_tab

    assert emotion_tab._slots_used("hi", None, None, None) == ["emotion-text"]
    assert emotion_tab._slots_used("hi", "a.wav", None, None) == ["emotion-voice"]
    assert emotion_tab._slots_used(None, None, None, "v.mp4") == ["emotion-voice", "emotion-face"]
    by_api = {fn.api_name: fn.concurrency_id for fn in heavy}
    assert {api: by_api[api] for api in declared} == {api: m.SLOT for api, m in declared.items()}
    assert all(m.SLOT in m.BACKENDS and set(m.BACKENDS) <= set(backends.REGISTRY.names)
               for m in [*declared.values(), emotion])


def test_readme_used_by_column_is_the_pipelines_declaration():
    """The README's backend table says which applications use each backend: the same as their BACKENDS."""
    from pathlib import Path

    from mmdemo.pipelines import used_by

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    rows = [line.split("|") for line in readme.splitlines() if line.startswith("| `") and line.count("|") == 6]
    table = {cells[1].strip().strip("`"): [u.strip() for u in cells[5].split(",")] for cells in rows}
    assert table == used_by()


@pytest.fixture
def offline_app(tiny_models, use_backend, monkeypatch):
    """The whole app on a free 127.0.0.1 port: offline packs everywhere, a tiny Stable Diffusion for /generate."""
    import app as studio

    monkeypatch.setattr(hub, "hub_reachable", lambda: False)
    monkeypatch.setattr(hub, "cached_snapshot", lambda repo_id: None)
    for name in backends.REGISTRY.names:
        monkeypatch.delenv(backends.REGISTRY.spec(name).env_var, raising=False)
        backends.unload(name)  # every backend starts cold: the first requests race to load it
    use_backend("diffusion", tiny_models.get("sd"))
    monkeypatch.delenv("MMDEMO_TAESD_MODEL", raising=False)
    blocks = studio.build_app().queue(**studio.QUEUE)
    blocks.launch(server_name="127.0.0.1", prevent_thread_lock=True, quiet=True)
    yield blocks
    blocks.close()
    for name in backends.REGISTRY.names:
        backends.unload(name)


REQUESTS = [  # (endpoint, inputs); each endpoint is asked twice at once, /transcribe three times
    ("/transcribe", "speech"), ("/transcribe", "speech"), ("/transcribe", "speech"),
    ("/emotion", JOY), ("/emotion", SADNESS),
    ("/caption", "cat"), ("/caption", "coffee"),
    ("/generate", 1), ("/generate", 2),
]
# the pipeline entry point behind each endpoint: watched to see how many run at once
SPEECH_SCRIPT = "The quick brown fox jumps over the lazy dog. Speech recognition turns spoken words into text."
ENTRY_POINTS = {"/transcribe": ("mmdemo.pipelines.speech", "transcribe"),
                "/emotion": ("mmdemo.pipelines.emotion", "analyze"),
                "/caption": ("mmdemo.pipelines.captioning", "caption_images"),
                "/generate": ("mmdemo.pipelines.text_to_image", "generate")}


def _submit(url: str, endpoint: str, what):
    from gradio_client import Client, handle_file

    client = Client(url, verbose=False)  # one client per caller, as separate browsers would be
    if endpoint == "/transcribe":
        return client.submit(handle_file(str(ASSETS / "speech_en.flac")), "transcribe", "", "", "",
                             api_name="/transcribe")
    if endpoint == "/emotion":
        return client.submit(what, None, None, None, 1, 1, 1, api_name="/emotion")
    if endpoint == "/caption":
        image = ASSETS / f"captioning_{what}.jpg"
        return client.submit(handle_file(str(image)), "cat, cup of coffee, rocket", "", "", "beam", 2, 8, 1.0, 0.2,
                             0, "", api_name="/caption")
    return client.submit("a lighthouse at dusk", "", what, 2, 0, 64, 64, 1, False, False, api_name="/generate")


class Overlap:
    """Counts the calls of each entry point running at the same moment."""

    def __init__(self):
        self.lock, self.running, self.most = threading.Lock(), {}, {}

    def watch(self, endpoint: str, fn):
        @functools.wraps(fn)
        def watched(*args, **kwargs):
            with self.lock:
                self.running[endpoint] = self.running.get(endpoint, 0) + 1
                self.most[endpoint] = max(self.most.get(endpoint, 0), self.running[endpoint])
            try:
                return fn(*args, **kwargs)
            finally:
                with self.lock:
                    self.running[endpoint] -= 1
        return watched


@requires_pack("whisper-base")
@requires_pack("silero-vad")
@requires_pack("minilm")
@requires_pack("efficientnet-lite0")
def test_parallel_requests_get_right_answers_and_load_each_model_once(offline_app, monkeypatch):
    from gradio_client.utils import Status

    overlap = Overlap()
    for endpoint, (module, name) in ENTRY_POINTS.items():
        target = importlib.import_module(module)
        monkeypatch.setattr(target, name, overlap.watch(endpoint, getattr(target, name)))
    before = {name: backends.REGISTRY.load_count(name) for name in backends.REGISTRY.names}
    with ThreadPoolExecutor(len(REQUESTS)) as pool:
        jobs = list(pool.map(lambda request: _submit(offline_app.local_url, *request), REQUESTS))
    ranks: dict[str, set[int]] = {}
    deadline = time.monotonic() + 600
    while not all(job.done() for job in jobs) and time.monotonic() < deadline:
        for (endpoint, _), job in zip(REQUESTS, jobs):
            status = job.status()
            if status.code == Status.IN_QUEUE and status.rank is not None:
                ranks.setdefault(endpoint, set()).add(status.rank)
        time.sleep(0.05)
    answers = [job.result(timeout=5) for job in jobs]

    for (endpoint, what), out in zip(REQUESTS, answers):
        if endpoint == "/transcribe":
            # whisper-base on synthetic speech: close to the script, and the same answer for every concurrent call
            wer = speech_score(SPEECH_SCRIPT, out[0], "en")["wer"]
            assert wer <= 0.25 and "lazy dog" in out[0].lower() and out[-1]["language"] == "en", (wer, out[0])
            assert out[0] == answers[0][0]
        elif endpoint == "/emotion":
            assert out[-3]["fused"]["label"] == ("joy" if what == JOY else "sadness")
        elif endpoint == "/caption":
            raw = out[-1]
            assert raw["backend"] == "offline fallback: image_classifier"
            assert raw["labels"][0]["label"] == {"cat": "cat", "coffee": "cup of coffee"}[what]
        else:
            gallery, parameters = out[1], out[4]
            assert len(gallery) == 1 and f"Seed: {what}," in parameters and "a lighthouse at dusk" in parameters

    # one job per backend slot at a time; the third transcription waited behind two and was told its position
    assert overlap.most == {endpoint: 1 for endpoint in ENTRY_POINTS}, overlap.most
    assert ranks.get("/transcribe"), f"no queue position was reported while transcriptions waited: {ranks}"
    loads = {name: backends.REGISTRY.load_count(name) - before[name] for name in backends.REGISTRY.names}
    used = {"whisper", "embedder", "image_classifier", "diffusion"}
    assert {name for name, n in loads.items() if n} >= used  # every model these requests need was loaded...
    assert all(n <= 1 for n in loads.values()), loads  # ...and none twice, though two requests raced for each
