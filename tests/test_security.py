"""The trust boundary, attacked over HTTP against a running app as a client would: queue joins by ``fn_index`` as
the browser sends them, gradio_client, raw requests. A client reaches only what it uploaded and what the app wrote
for it; server folders and model changes need the operator's grant (or the operator's token); refusals name the
flag and never say whether a server path exists; disk use per client is bounded; the web layer refuses foreign
hosts and origins. The same calls with the grant or the token succeed where they should.

The app under test starts with no grant, as ``python app.py`` does; tests that need one set it for their duration
(grants are read per request). Model-free except where marked with the offline packs they use."""

from __future__ import annotations

import csv
import json
import os
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest

from mmdemo import access, backends, flags, outputs
from tests.conftest import requires_pack

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "assets"
pytestmark = pytest.mark.app  # starts the whole app


@dataclass
class Served:
    url: str
    root: Path
    blocks: object

    def client(self, **kw):
        from gradio_client import Client

        return Client(self.url, verbose=False, **kw)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    import app as studio

    root = tmp_path_factory.mktemp("security")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MMDEMO_OUTPUT_DIR", str(root / "out"))
        mp.setenv("MMDEMO_FLAG_DIR", str(root / "flags"))
        mp.setenv("MMDEMO_FLAG_QUOTA_MB", "2")
        for name in (access.ALLOW_DIRS_VAR, access.ALLOW_MODELS_VAR, access.TOKEN_VAR, "SPACE_ID",
                     "MMDEMO_ALLOWED_HOSTS"):
            mp.delenv(name, raising=False)
        options = studio.launch_options([])
        assert not access.grants().dirs and not access.grants().models  # started as the README says: no grant
        blocks = studio.build_app().queue(**studio.QUEUE)
        blocks.launch(**{**options, "server_port": None}, prevent_thread_lock=True, quiet=True)
        try:
            yield Served(blocks.local_url, root, blocks)
        finally:
            blocks.close()


@pytest.fixture
def granted(tmp_path):
    """Grants for one test: a folder visitors may use, and model changes."""
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    before = access.grants()
    access.configure(access.Grants((allowed.resolve(),), True, before.private))
    try:
        yield allowed.resolve()
    finally:
        access.configure(before)


def operator_headers() -> dict:
    return {access.TOKEN_HEADER: access.operator_token()}


# -- the browser's own way in: queue joins by fn_index ----------------------------------------------------------
class Browser:
    """Calls events as the page does (by fn_index through the queue), with its own client cookie."""

    def __init__(self, url: str, headers: dict | None = None):
        self.url = url.rstrip("/")
        self.http = httpx.Client(timeout=120, headers=headers or {},
                                 cookies={access.CLIENT_COOKIE: uuid.uuid4().hex})
        self.config = self.http.get(f"{self.url}/config").json()

    def fn_index(self, api_name: str, trigger_value: str | None = None) -> tuple[int, int]:
        """The event named ``api_name`` (private events have one in the config too), fired by the component
        whose value is ``trigger_value`` when several share the name."""
        labels = {c["id"]: c.get("props", {}).get("value") for c in self.config["components"]}
        for dep in self.config["dependencies"]:
            if dep.get("api_name") == api_name and dep["targets"]:
                target = dep["targets"][0][0]
                if trigger_value is None or labels.get(target) == trigger_value:
                    return dep["id"], target
        raise AssertionError(f"no event {api_name!r}")

    def upload(self, path: Path) -> dict:
        with open(path, "rb") as handle:
            [saved] = self.http.post(f"{self.url}/gradio_api/upload", files={"files": (path.name, handle)}).json()
        return {"path": saved, "orig_name": path.name, "meta": {"_type": "gradio.FileData"}}

    def call(self, api_name: str, data: list, trigger_value: str | None = None, fn: int | None = None
             ) -> tuple[bool, object]:
        """(success, output data or error message)."""
        if fn is None:
            fn, target = self.fn_index(api_name, trigger_value)
        else:
            target = next(d for d in self.config["dependencies"] if d["id"] == fn)["targets"][0][0]
        session = uuid.uuid4().hex[:11]
        joined = self.http.post(f"{self.url}/gradio_api/queue/join",
                                json={"data": data, "fn_index": fn, "trigger_id": target, "session_hash": session,
                                      "event_data": None})
        assert joined.status_code == 200, joined.text
        with self.http.stream("GET", f"{self.url}/gradio_api/queue/data", params={"session_hash": session}) as events:
            for line in events.iter_lines():
                if not line.startswith("data:"):
                    continue
                message = json.loads(line[5:])
                if message.get("msg") == "process_completed":
                    if message.get("success"):
                        return True, message["output"]["data"]
                    return False, str(message["output"].get("error"))
        raise AssertionError("the event never completed")


# -- web hygiene ----------------------------------------------------------------------------------------------
def test_a_foreign_host_name_is_refused(app):
    assert httpx.get(app.url, headers={"Host": "attacker.example"}).status_code == 403  # DNS rebinding
    assert httpx.get(app.url, headers={"Host": "attacker.example:7860"}).status_code == 403
    assert httpx.get(app.url).status_code == 200
    assert httpx.get(app.url.replace("127.0.0.1", "localhost")).status_code == 200


def test_pages_carry_the_security_headers(app):
    headers = httpx.get(app.url).headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY" and "frame-ancestors 'none'" in headers["content-security-policy"]


def test_state_changing_calls_from_another_site_are_refused(app, tmp_path):
    sample = tmp_path / "a.txt"
    sample.write_text("hello")
    for origin in ("http://attacker.example", "null", app.url.rstrip("/").rsplit(":", 1)[0] + ":9999"):
        refused = httpx.post(f"{app.url}gradio_api/upload", files={"files": ("a.txt", b"hello")},
                             headers={"Origin": origin})
        assert refused.status_code == 403, origin
        joined = httpx.post(f"{app.url}gradio_api/queue/join", headers={"Origin": origin},
                            json={"data": [], "fn_index": 0, "session_hash": "x"})
        assert joined.status_code == 403, origin
    same = httpx.post(f"{app.url}gradio_api/upload", files={"files": ("a.txt", b"hello")},
                      headers={"Origin": app.url.rstrip("/")})
    assert same.status_code == 200


def test_host_policy_follows_how_the_app_is_served(monkeypatch):
    from demos.guard import HostPolicy

    local = HostPolicy("127.0.0.1")
    assert local.allows("localhost:7860") and local.allows("[::1]:7860") and not local.allows("10.0.0.5:7860")
    wide = HostPolicy("0.0.0.0")
    assert wide.allows("10.0.0.5:7860") and not wide.allows("rebind.attacker.example:7860")
    assert HostPolicy("127.0.0.1", share=True).allows("abcd1234.gradio.live")
    monkeypatch.setenv("SPACE_HOST", "someone-mmdemo.hf.space")
    assert HostPolicy("0.0.0.0", on_space=True).allows("someone-mmdemo.hf.space")
    monkeypatch.setenv("MMDEMO_ALLOWED_HOSTS", "*.lab.example")
    assert HostPolicy("127.0.0.1").allows("gpu1.lab.example") and not HostPolicy("127.0.0.1").allows("lab.example.com")


# -- the operator's link ------------------------------------------------------------------------------------------
def test_the_operator_link_becomes_a_private_cookie_and_leaves_the_address(app):
    wrong = httpx.get(f"{app.url}?{access.TOKEN_QUERY}=guess", follow_redirects=False)
    assert wrong.status_code == 403 and access.TOKEN_COOKIE not in wrong.headers.get("set-cookie", "")
    right = httpx.get(f"{app.url}?{access.TOKEN_QUERY}={access.operator_token()}&x=1", follow_redirects=False)
    assert right.status_code == 303 and right.headers["location"] == "/?x=1"
    cookie = right.headers["set-cookie"]
    assert f"{access.TOKEN_COOKIE}={access.operator_cookie()}" in cookie and access.operator_token() not in cookie
    assert "HttpOnly" in cookie and "samesite=strict" in cookie.lower()


def test_the_operator_link_is_printed_at_start_and_only_there(monkeypatch, capsys):
    import gradio as gr

    import app as studio

    monkeypatch.setattr(gr.Blocks, "launch", lambda self, **kw: setattr(self, "local_url", "http://127.0.0.1:7860/"))
    monkeypatch.setattr(gr.Blocks, "block_thread", lambda self: None)
    monkeypatch.setattr(access, "_direct_calls_trusted", True)  # main() turns it off; restored after the test
    previous = os.umask(0o022)
    try:
        studio.main([])
        assert os.umask(previous) == 0o077  # what the app writes is the operator's alone
    finally:
        os.umask(previous)
    err = capsys.readouterr().err
    assert f"http://127.0.0.1:7860/?{access.TOKEN_QUERY}={access.operator_token()}" in err
    assert "Visitors: server folders open to visitors: none" in err
    assert not access.direct_calls_trusted()  # the served app trusts no call that cannot say who made it


# -- server folders -------------------------------------------------------------------------------------------
FOLDER_REFUSAL = "--allow-dir"


def test_server_folders_are_not_readable_by_clients(app):
    from gradio_client.exceptions import AppError

    client = app.client()
    for folder in ("/etc", "/root", str(app.root)):
        with pytest.raises(AppError) as refused:
            client.predict(None, folder, "", api_name="/search_index")
        assert FOLDER_REFUSAL in str(refused.value) and "shadow" not in str(refused.value)
    ok, answer = Browser(app.url).call("search_index", [None, "/etc", ""])  # as the page sends it
    assert not ok and FOLDER_REFUSAL in answer


def test_a_client_cannot_make_the_app_write_where_it_chooses(app, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    target = tmp_path / "chain" / "of" / "folders"
    with pytest.raises(AppError) as refused:
        app.client().predict([handle_file(str(ASSETS / "captioning_cat.jpg"))], "", str(target),
                             api_name="/search_index")
    assert FOLDER_REFUSAL in str(refused.value)
    assert not (tmp_path / "chain").exists()  # refused before anything was created


def test_a_refusal_never_says_whether_a_path_exists(app, tmp_path):
    from gradio_client.exceptions import AppError

    client = app.client()
    answers = set()
    for folder in ("/etc", "/no/such/folder", str(tmp_path)):
        with pytest.raises(AppError) as refused:
            client.predict(None, folder, "", api_name="/search_index")
        answers.add(str(refused.value))
    assert len(answers) == 1
    answers = set()
    for query in ("/etc/hostname.jpg", "/no/such/picture.jpg", "a cat on a sofa"):  # a query is never a file name
        with pytest.raises(AppError) as refused:
            client.predict(query, api_name="/search")
        answers.add(str(refused.value))
    assert answers == {"Your index is empty: index some files first."}


def test_granted_folders_are_checked_after_resolving_links_and_dots(granted, tmp_path):
    (granted / "photos").mkdir()
    (granted / "escape").symlink_to("/etc")
    visitor = access.Caller(False, "k", access.grants())
    assert visitor.server_path(str(granted / "photos")) == granted / "photos"
    for outside in ("/etc", str(granted / "escape"), str(granted / "photos" / ".." / ".." ), "photos", "",
                    str(granted / "photos") + "\x00"):  # a NUL byte: refused, not an internal error
        with pytest.raises(access.Refused):
            visitor.server_path(outside)
    assert access.Caller.the_operator().server_path("/etc") == Path("/etc")


@requires_pack("minilm")
@requires_pack("efficientnet-lite0")
def test_a_granted_folder_is_indexed_and_searched_by_a_client(app, granted):
    import shutil

    shutil.copy(ASSETS / "captioning_cat.jpg", granted / "cat.jpg")
    client = app.client()
    report = client.predict(None, str(granted), "", api_name="/search_index")[2]
    assert [a["file"] for a in report["added"]] == ["cat.jpg"]  # named under the root, not as a server path
    found = client.predict("a cat", api_name="/search")[2]
    assert found["results"] and found["results"][0]["file"] == "cat.jpg"
    assert "path" not in json.dumps(found) and str(granted) not in json.dumps(found)


# -- each client's own search index -------------------------------------------------------------------------------
@requires_pack("minilm")
@requires_pack("efficientnet-lite0")
def test_uploads_go_into_the_clients_own_index_and_one_argument_calls_work(app):
    from gradio_client import handle_file

    mine, theirs = app.client(), app.client()
    status, _, report = mine.predict([handle_file(str(ASSETS / "captioning_cat.jpg"))], api_name="/search_index")
    assert "1 added" in status and report["index"].startswith("your own index")
    found = mine.predict("a cat", api_name="/search")[2]  # the documented call: one argument, JSON without files
    assert [r["file"] for r in found["results"]] == ["captioning_cat.jpg"]
    assert "path" not in json.dumps(found) and "thumbnail" not in json.dumps(found)
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="Your index is empty"):
        theirs.predict("a cat", api_name="/search")
    own = sorted((app.root / "out" / "outputs").glob("search-*"))
    assert own and all(p.parent == app.root / "out" / "outputs" for p in own)  # expires with request files


def test_open_indexes_are_bounded(tmp_path, monkeypatch):
    from mmdemo.pipelines import search
    from mmdemo.pipelines.search.index import SearchIndex

    monkeypatch.setattr(search, "MAX_OPEN", 4)
    space = {"name": "offline", "visual": "x", "text": "y"}
    folders = []
    for n in range(10):
        index = SearchIndex.create_or_open(tmp_path / f"i{n}", space, {"visual": 8, "speech": 8})
        index.save()
        index.close()
        folders.append(tmp_path / f"i{n}")
    held = []
    for folder in folders:
        with search.opened_index(folder) as index:
            held.append(index)
    assert search.open_count() <= 4
    import sqlite3

    with pytest.raises(sqlite3.ProgrammingError):  # the least recently used were closed
        held[0].db.execute("SELECT 1")
    with search.opened_index(folders[-1]) as index:
        index.db.execute("SELECT 1")  # the recent ones stay open


# -- models ------------------------------------------------------------------------------------------------------
MODEL_REFUSAL = "--allow-model-changes"


def test_clients_cannot_change_models_for_everyone(app, tmp_path):
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text("{ not json")
    before = backends.REGISTRY.configured("embedder")
    browser = Browser(app.url)
    for api_name, data, button in (("choose_source", ["embedder", str(broken)], "Use this source"),
                                   ("choose_source", ["embedder", "/no/such/model"], "Use this source"),
                                   ("load", ["vad"], "Load"), ("unload", ["vad"], "Unload")):
        ok, answer = browser.call(api_name, data, button)
        assert not ok and MODEL_REFUSAL in answer, (api_name, answer)
    assert backends.REGISTRY.configured("embedder") == before
    operator = Browser(app.url, operator_headers())
    ok, _ = operator.call("choose_source", ["vad", ""], "Use this source")
    assert ok
    ok, _ = operator.call("unload", ["vad"], "Unload")
    assert ok


def _manifest(tmp_path: Path) -> Path:
    path = tmp_path / "manifest.csv"
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows([["text", "label"], ["what a lovely day", "joy"]])
    return path


def test_evaluation_configs_cannot_name_models_without_the_grant(app, tmp_path, granted):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    access.configure(access.Grants((), False, access.grants().private))  # this test starts without the grant
    client = app.client()
    answers = set()
    for model in ("/etc", "/no/such/model", "org/some-model"):
        with pytest.raises(AppError) as refused:
            client.predict("emotion", handle_file(str(_manifest(tmp_path))), None, f"x:model={model}", "local",
                           api_name="/evaluate")
        answers.add(str(refused.value))
    assert len(answers) == 1 and MODEL_REFUSAL in answers.pop()  # the same words whether the folder exists or not
    access.configure(access.Grants((granted,), True, access.grants().private))
    with pytest.raises(AppError) as resolved:
        client.predict("emotion", handle_file(str(_manifest(tmp_path))), None, "x:model=/no/such/model", "local",
                       api_name="/evaluate")
    assert MODEL_REFUSAL not in str(resolved.value)  # granted: the folder is looked at


# -- flags: stored once, bounded, private ----------------------------------------------------------------------------
def _flag(browser: Browser, upload: dict, comment: str = "") -> tuple[bool, object]:
    """The Speech tab's Flag button as the page sends it: verdict, comment, reference, audio, task, language,
    result (the inputs named in demos/speech.py's flag panel)."""
    types = {c["id"]: c["type"] for c in browser.config["components"]}
    fn, inputs = next((d["id"], d["inputs"]) for d in browser.config["dependencies"]
                      if str(d.get("api_name")).startswith("save") and any(types[i] == "audio" for i in d["inputs"])
                      and not any(types[i] == "image" for i in d["inputs"]))
    defaults = {c["id"]: c.get("props", {}).get("value") for c in browser.config["components"]}
    data = ["bad", comment, "hello world"] + [defaults[i] for i in inputs[3:]]
    for n, component in enumerate(inputs[3:], start=3):
        if types[component] == "audio":
            data[n] = upload
        elif types[component] in ("file", "video"):
            data[n] = None
        elif types[component] == "json":
            data[n] = {"text": "hello word", "segments": []}
    return browser.call("save", data, fn=fn)


def test_flags_store_each_input_once_within_a_quota_and_stay_private(app, tmp_path):
    rng = np.random.default_rng(0)
    clips = []
    for n in range(3):
        clip = tmp_path / f"clip{n}.wav"
        clip.write_bytes(rng.bytes(800_000))
        clips.append(clip)
    browser, other = Browser(app.url), Browser(app.url)
    first = browser.upload(clips[0])
    for _ in range(5):
        ok, answer = _flag(browser, first)
        assert ok, answer
    stored = sum(p.stat().st_size for p in (app.root / "flags").rglob("*") if p.is_file() and p.suffix == ".wav")
    assert stored == 800_000  # five flags of one upload: one copy
    assert _flag(browser, browser.upload(clips[1]))[0]
    ok, answer = _flag(browser, browser.upload(clips[2]))  # 2.4 MB > MMDEMO_FLAG_QUOTA_MB=2
    assert not ok and "MMDEMO_FLAG_QUOTA_MB" in answer
    assert _flag(other, other.upload(clips[2]))[0]  # another visitor has its own quota
    ok, listed = browser.call("list_flags", ["speech"], "Refresh")
    assert ok and len(listed[0]["data"]) == 6 and "yours" in listed[1]
    ok, listed = other.call("list_flags", ["speech"], "Refresh")
    assert ok and len(listed[0]["data"]) == 1
    ok, listed = Browser(app.url, operator_headers()).call("list_flags", ["speech"], "Refresh")
    assert ok and len(listed[0]["data"]) == 7  # the operator sees every flag
    assert str(app.root) not in json.dumps(other.call("list_flags", ["speech"], "Refresh")[1])


def test_visitors_flags_expire_and_their_files_with_them(tmp_path, monkeypatch):
    monkeypatch.setenv("MMDEMO_FLAG_DIR", str(tmp_path / "flags"))
    clip = tmp_path / "a.wav"
    clip.write_bytes(b"RIFF" * 100)
    visitor = flags.record("speech", "bad", files={"path": str(clip)}, output={"text": "x"}, owner="abc")
    operator = flags.record("speech", "bad", input={"note": "kept"}, output={"text": "x"})
    assert flags.expire(now=time.time() + 31 * 86400) == 1
    assert not Path(visitor.folder).exists() and Path(operator.folder).exists()
    assert not any((tmp_path / "flags" / flags.FILES).iterdir())


# -- fair queues ---------------------------------------------------------------------------------------------------
def test_a_text_reading_never_waits_behind_a_voice_reading(app, monkeypatch, tmp_path):
    """A voice reading held open (until released) does not delay a text-only request."""
    from gradio_client import handle_file

    from demos import emotion as tab
    from mmdemo.pipelines.emotion import analyze as real_analyze

    release, voice_started = threading.Event(), threading.Event()

    def analyze(**kw):
        if kw.get("audio"):
            voice_started.set()
            assert release.wait(120), "never released"
        return real_analyze(**{**kw, "audio": None, "text": kw.get("text") or "fine"})

    monkeypatch.setattr(tab.emotion, "analyze", analyze)
    # one voice reading running and two waiting for the voice reader: none of them holds up a text reading
    voices = [app.client().submit(None, handle_file(str(ASSETS / "speech_en.flac")), api_name="/emotion")
              for _ in range(3)]
    assert voice_started.wait(60)
    try:
        text = app.client().predict("What a wonderful surprise!", api_name="/emotion")
        assert text[0] and not any(v.done() for v in voices)  # answered while the voice readings wait
    finally:
        release.set()
    for voice in voices:
        voice.result(timeout=120)


# -- start-up checks and what is kept ------------------------------------------------------------------------------
@pytest.mark.parametrize("variable", ["MMDEMO_OUTPUT_DIR", "MMDEMO_FLAG_DIR"])
def test_an_unwritable_folder_is_one_line_at_start(variable, tmp_path, monkeypatch, capsys):
    import app as studio

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("MMDEMO_OUTPUT_DIR", str(tmp_path / "out"))
    monkeypatch.setenv("MMDEMO_FLAG_DIR", str(tmp_path / "flags"))
    monkeypatch.setenv(variable, str(blocker / "inside"))
    with pytest.raises(SystemExit) as stopped:
        studio.launch_options([])
    err = capsys.readouterr().err.strip().splitlines()
    assert stopped.value.code == 2 and variable in err[-1] and "Traceback" not in "\n".join(err)


def test_the_app_marks_its_examples_before_its_first_sweep(monkeypatch):
    """python app.py sweeps at once when it starts: the examples' copies must already be marked kept then (an
    example older than the TTL was removed at start and failed when clicked)."""
    import gradio as gr

    import app as studio

    seen = []

    class Recorder:
        def __init__(self, *args, **kwargs):
            pass

        def start(self):
            seen.append(dict(outputs._kept))
            return self

    monkeypatch.setattr(outputs, "_kept", {})
    monkeypatch.setattr(outputs, "Sweeper", Recorder)
    monkeypatch.setattr(gr.Blocks, "launch", lambda self, **kw: setattr(self, "local_url", "http://127.0.0.1:7860/"))
    monkeypatch.setattr(gr.Blocks, "block_thread", lambda self: None)
    monkeypatch.setattr(access, "_direct_calls_trusted", True)
    previous = os.umask(0o022)
    try:
        studio.main([])
    finally:
        os.umask(previous)
    [kept] = seen
    assert ("captioning_cat.jpg", (ASSETS / "captioning_cat.jpg").stat().st_size) in kept


@pytest.mark.parametrize("argv, variable, value, message", [
    (["--allow-dir", "/no/such/folder"], None, None,
     "--allow-dir / MMDEMO_ALLOW_DIRS: /no/such/folder is not a folder"),
    ([], "MMDEMO_ALLOW_DIRS", "/no/such/folder", "/no/such/folder is not a folder"),
    ([], "MMDEMO_FLAG_QUOTA_MB", "lots", "MMDEMO_FLAG_QUOTA_MB must be a positive number of megabytes, not 'lots'"),
    ([], "MMDEMO_FLAG_TOTAL_MB", "-1", "MMDEMO_FLAG_TOTAL_MB must be a positive number of megabytes, not '-1'"),
    ([], "MMDEMO_FLAG_TTL_DAYS", "nan", "MMDEMO_FLAG_TTL_DAYS must be a positive number of days, not 'nan'"),
])
def test_a_bad_grant_or_limit_is_one_line_at_start(argv, variable, value, message, tmp_path, monkeypatch, capsys):
    import app as studio

    monkeypatch.setenv("MMDEMO_OUTPUT_DIR", str(tmp_path / "out"))
    monkeypatch.setenv("MMDEMO_FLAG_DIR", str(tmp_path / "flags"))
    if variable:
        monkeypatch.setenv(variable, value)
    before = access.grants()
    try:
        with pytest.raises(SystemExit) as stopped:
            studio.launch_options(argv)
    finally:
        access.configure(before)
    err = capsys.readouterr().err.strip().splitlines()
    assert stopped.value.code == 2 and message in err[-1] and "Traceback" not in "\n".join(err)


def test_a_bad_index_size_limit_is_one_sentence(tmp_path, monkeypatch):
    from demos import search as tab
    from mmdemo.errors import BadInput

    monkeypatch.setenv("MMDEMO_SESSION_INDEX_MB", "a lot")
    with pytest.raises(BadInput, match="MMDEMO_SESSION_INDEX_MB must be a positive number of megabytes"):
        tab._check_room(tmp_path, [], access.Caller(False, "k", access.Grants()))


def test_the_examples_copies_never_expire(tmp_path, monkeypatch):
    monkeypatch.setenv("MMDEMO_OUTPUT_DIR", str(tmp_path))
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    outputs.keep_forever([ASSETS / "captioning_cat.jpg"])
    example = tmp_path / "gradio" / "abc123" / "captioning_cat.jpg"
    upload = tmp_path / "gradio" / "def456" / "captioning_cat.jpg"  # same name, other bytes: a visitor's file
    for path, data in ((example, (ASSETS / "captioning_cat.jpg").read_bytes()), (upload, b"x" * 10)):
        path.parent.mkdir(parents=True)
        path.write_bytes(data)
    assert outputs.sweep(ttl=1, now=time.time() + 3600) == 1
    assert example.is_file() and not upload.exists()


def test_an_output_folder_lost_after_start_is_one_sentence(tmp_path, monkeypatch):
    from mmdemo.errors import BadInput

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("MMDEMO_OUTPUT_DIR", str(blocker))
    with pytest.raises(BadInput, match="MMDEMO_OUTPUT_DIR"):
        outputs.request_dir("speech-")


# -- what an adversarial review found ------------------------------------------------------------------------------
def test_an_origin_on_another_share_link_or_space_is_another_site(monkeypatch):
    from demos.guard import Guard, HostPolicy

    shared = Guard(None, HostPolicy("127.0.0.1", share=True))
    assert shared.policy.allows("victim.gradio.live")  # the app answers on its own share link
    assert shared._same_origin("https://victim.gradio.live", "victim.gradio.live")
    assert not shared._same_origin("https://attacker.gradio.live", "victim.gradio.live")
    monkeypatch.setenv("SPACE_HOST", "me-mmdemo.hf.space")
    space = Guard(None, HostPolicy("0.0.0.0", on_space=True), on_space=True)
    assert not space._same_origin("https://attacker-app.hf.space", "10.0.0.2:7860")
    assert space._same_origin("https://me-mmdemo.hf.space", "10.0.0.2:7860")  # the Space's proxy rewrites Host
    monkeypatch.setenv("MMDEMO_ALLOWED_HOSTS", "*")
    assert not Guard(None, HostPolicy("127.0.0.1"))._same_origin("https://attacker.example", "127.0.0.1:7860")


def test_the_operator_cookie_is_not_the_token():
    assert access.operator_cookie() != access.operator_token()
    assert access.is_operator_cookie(access.operator_cookie())
    assert not access.is_operator_cookie(access.operator_token())


def test_a_call_without_a_request_in_the_served_app_is_a_visitor(monkeypatch):
    from demos.guard import caller

    assert caller().operator  # a test or a script importing a tab calls as the person who runs it
    monkeypatch.setattr(access, "_direct_calls_trusted", False)  # what python app.py sets (access.serving)
    assert not caller().operator


def test_a_visitor_path_never_expands_a_home_folder(granted):
    visitor = access.Caller(False, "k", access.grants())
    for typed in ("~root/x", "~no-such-user-here/x", "~/x"):
        with pytest.raises(access.Refused):
            visitor.server_path(typed)


def test_the_apps_own_folders_stay_private_under_a_granted_root(tmp_path):
    outputs_root = tmp_path / "home" / "tmp-out"
    (outputs_root / "outputs" / "search-abc").mkdir(parents=True)
    grants = access.Grants((tmp_path / "home",), False, (outputs_root,))
    visitor = access.Caller(False, "k", grants)
    with pytest.raises(access.Refused):
        visitor.server_path(str(outputs_root / "outputs"))
    assert visitor.server_path(str(tmp_path / "home")) == tmp_path / "home"  # the root itself, walked without it
    assert not grants.reachable(outputs_root / "outputs" / "search-abc" / "x.jpg")


@requires_pack("minilm")
@requires_pack("efficientnet-lite0")
def test_links_and_indexes_under_a_granted_root_lead_nowhere_else(app, granted, tmp_path):
    import shutil

    from mmdemo.pipelines import search as pipeline

    secret = tmp_path / "secret"
    secret.mkdir()
    shutil.copy(ASSETS / "captioning_cat.jpg", secret / "private_cat.jpg")
    (granted / "photos").mkdir()
    (granted / "photos" / "innocent.jpg").symlink_to(secret / "private_cat.jpg")
    shutil.copy(ASSETS / "captioning_rocket.jpg", granted / "photos" / "rocket.jpg")
    client = app.client()
    report = client.predict(None, str(granted / "photos"), "", api_name="/search_index")[2]
    assert [a["file"] for a in report["added"]] == ["photos/rocket.jpg"]
    assert [s["file"] for s in report["skipped"]] == ["photos/innocent.jpg"]  # the link is not followed
    # an index the operator built under the granted root from a folder outside it
    pipeline.build_index([secret], granted / "operator-index")
    found = client.predict("a cat", None, 12, str(granted / "operator-index"), api_name="/search")[2]
    assert found["results"] == []  # its files outside the granted root are not shown to a visitor


def test_parallel_flags_cannot_pass_the_quota_together(tmp_path, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    from mmdemo.errors import BadInput

    monkeypatch.setenv("MMDEMO_FLAG_DIR", str(tmp_path / "flags"))
    monkeypatch.setenv("MMDEMO_FLAG_QUOTA_MB", "2")
    rng = np.random.default_rng(1)
    clips = []
    for n in range(8):
        clips.append(tmp_path / f"c{n}.wav")
        clips[-1].write_bytes(rng.bytes(800_000))

    def flag(clip):
        try:
            flags.record("speech", "bad", files={"path": str(clip)}, output={"text": "x"}, owner="same-visitor")
            return True
        except BadInput:
            return False

    with ThreadPoolExecutor(8) as pool:
        accepted = sum(pool.map(flag, clips))
    assert accepted == 2  # 2 x 0.8 MB fit in 2 MB, a third does not, however many arrive at once


def test_a_flags_texts_are_bounded(tmp_path, monkeypatch):
    from mmdemo.errors import BadInput

    monkeypatch.setenv("MMDEMO_FLAG_DIR", str(tmp_path / "flags"))
    with pytest.raises(BadInput, match="comment"):
        flags.record("emotion", "bad", comment="x" * 8_000_000, input={"text": "hi"}, output={"label": "joy"},
                     owner="v")
    with pytest.raises(BadInput, match="record"):
        flags.record("emotion", "bad", input={"text": "hi"}, output={"label": "joy", "junk": "y" * 3_000_000},
                     owner="v")
    assert not any((tmp_path / "flags").rglob("flag.json"))


def test_an_output_root_made_by_someone_else_or_a_link_is_refused(tmp_path, monkeypatch):
    from mmdemo.errors import BadInput

    elsewhere = tmp_path / "victim-docs"
    elsewhere.mkdir()
    (tmp_path / "root").mkdir(mode=0o777)
    (tmp_path / "root").chmod(0o777)
    (tmp_path / "root" / "outputs").symlink_to(elsewhere)
    monkeypatch.setenv("MMDEMO_OUTPUT_DIR", str(tmp_path / "root"))
    with pytest.raises(BadInput, match="link"):
        outputs.check_root()
    (tmp_path / "root" / "outputs").unlink()
    assert outputs.check_root() == tmp_path / "root"
    assert (tmp_path / "root").stat().st_mode & 0o777 == 0o700  # made private
    monkeypatch.setattr(os, "getuid", lambda: 12345)  # as if another user had made it first
    with pytest.raises(BadInput, match="another user"):
        outputs.check_root()


def test_visitors_see_folder_names_not_server_paths_in_the_models_report(app, tmp_path, monkeypatch):
    folder = tmp_path / "operators-models" / "my-vad"
    monkeypatch.setenv(backends.REGISTRY.spec("vad").env_var, str(folder))
    table, report = app.client().predict(api_name="/models")
    assert str(tmp_path) not in json.dumps([table, report])
    table, report = app.client(headers=operator_headers()).predict(api_name="/models")
    assert str(folder) in json.dumps(report)


def _raw_call(url: str, api_name: str, data: list, headers: dict | None = None) -> str:
    """Gradio's REST API as curl uses it: POST the data, then read the event's stream; its last event line."""
    base = url.rstrip("/")
    posted = httpx.post(f"{base}/gradio_api/call/{api_name}", json={"data": data}, headers=headers or {}, timeout=60)
    assert posted.status_code == 200, posted.text
    event_id = posted.json()["event_id"]
    with httpx.stream("GET", f"{base}/gradio_api/call/{api_name}/{event_id}", headers=headers or {},
                      timeout=120) as stream:
        lines = [line for line in stream.iter_lines() if line]
    return "\n".join(lines[-2:])


def test_the_raw_call_api_is_held_to_the_same_rules(app, tmp_path):
    answer = _raw_call(app.url, "search_index", [None, "/etc", ""])
    assert "event: error" in answer and FOLDER_REFUSAL in answer and "passwd" not in answer
    manifest = Browser(app.url).upload(_manifest(tmp_path))
    answer = _raw_call(app.url, "evaluate", ["emotion", manifest, None, "x:model=/etc", "local"])
    assert "event: error" in answer and MODEL_REFUSAL in answer
    answer = _raw_call(app.url, "search_index", [None, str(tmp_path), ""], headers=operator_headers())
    assert FOLDER_REFUSAL not in answer  # the operator's token opens server folders through the same API
