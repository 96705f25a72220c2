"""Safe by default: the app binds 127.0.0.1 without a share link unless asked; no model code runs from the
Hub (no trust_remote_code) and no pickle is unpickled unguarded (torch.load only with weights_only=True); no example
runs at start-up; the Spaces GPU decorator is a no-op off Spaces. (Server paths outside the upload area are refused:
tests/test_bad_input.py, which talks to a running server.)"""

from __future__ import annotations

import ast
import os
import importlib.machinery
import sys
import types
from pathlib import Path

import gradio as gr
import pytest

import app as studio
from demos import common

pytestmark = pytest.mark.app  # starts the whole app: deselect with -m "not app" for the quick tier

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted([ROOT / "app.py", *(ROOT / "mmdemo").rglob("*.py"), *(ROOT / "demos").glob("*.py"),
                  *(ROOT / "bench").glob("*.py"), *(ROOT / "tests").rglob("*.py")])


@pytest.fixture
def clean_env(monkeypatch):
    for name in ("GRADIO_SERVER_NAME", "GRADIO_SHARE", "MMDEMO_MAX_UPLOAD", "SPACE_ID"):
        monkeypatch.delenv(name, raising=False)


def test_default_launch_is_local_and_private(clean_env, monkeypatch):
    launched: list[dict] = []
    def launch(self, **kw):
        launched.append(kw)
        self.local_url = "http://127.0.0.1:7860/"

    monkeypatch.setattr(gr.Blocks, "launch", launch)
    monkeypatch.setattr(gr.Blocks, "block_thread", lambda self: None)
    from mmdemo import access

    monkeypatch.setattr(access, "_direct_calls_trusted", True)  # main() turns it off; restored after the test
    previous = os.umask(0o022)
    try:
        studio.main([])  # the real entry point, with launch() recorded instead of run
    finally:
        os.umask(previous)
    (options,) = launched
    assert options["server_name"] == "127.0.0.1" and options["share"] is False
    assert options["max_file_size"] == "1gb" and options["prevent_thread_lock"] is True


def test_wider_exposure_only_when_asked(clean_env, monkeypatch):
    assert studio.launch_options(["--share"])["share"] is True
    assert studio.launch_options(["--host", "0.0.0.0"])["server_name"] == "0.0.0.0"
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")  # how Spaces and Docker ask for it
    assert studio.launch_options([])["server_name"] == "0.0.0.0"
    monkeypatch.setenv("MMDEMO_MAX_UPLOAD", "20mb")
    assert studio.launch_options([])["max_file_size"] == "20mb"


def test_unreadable_upload_limit_is_one_line_at_start_up(clean_env, monkeypatch, capsys):
    monkeypatch.setenv("MMDEMO_MAX_UPLOAD", "lots")
    with pytest.raises(SystemExit) as stopped:
        studio.launch_options([])
    err = capsys.readouterr().err.strip().splitlines()
    assert stopped.value.code == 2 and "MMDEMO_MAX_UPLOAD must be a size such as 200mb" in err[-1]


def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node, ast.unparse(node.func), {k.arg: k.value for k in node.keywords if k.arg}


def _is_true(node) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def test_no_remote_code_and_no_unguarded_unpickling():
    offences = []
    for path in SOURCES:
        for call, name, keywords in _calls(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            where = f"{path.relative_to(ROOT)}:{call.lineno}"
            if "trust_remote_code" in keywords and not (isinstance(keywords["trust_remote_code"], ast.Constant)
                                                        and keywords["trust_remote_code"].value is False):
                offences.append(f"{where} passes trust_remote_code")
            if name.endswith("torch.load") and not _is_true(keywords.get("weights_only")):
                offences.append(f"{where} calls torch.load without weights_only=True")
            if name in ("pickle.load", "pickle.loads"):
                offences.append(f"{where} unpickles")
    assert not offences, "\n".join(offences)
    assert len(SOURCES) > 50  # the walk really covered the code base


def test_no_example_runs_at_start_up():
    examples = []
    for path in sorted((ROOT / "demos").glob("*.py")):
        for call, name, keywords in _calls(ast.parse(path.read_text(encoding="utf-8"))):
            if name in ("gr.Examples", "gradio.Examples"):
                examples.append(path.name)
                assert "cache_examples" in keywords and keywords["cache_examples"].value is False, \
                    f"{path.name}:{call.lineno}: gr.Examples needs cache_examples=False"
    assert {"captioning.py", "speech.py", "emotion.py"} <= set(examples)


def _handler(x):
    return x * 2


def test_gpu_decorator_is_a_no_op_off_spaces(clean_env, monkeypatch):
    assert common.gpu(_handler) is _handler and common.gpu(duration=60)(_handler) is _handler
    monkeypatch.setenv("SPACE_ID", "someone/mmdemo")  # on a Space whose image lacks the spaces package
    monkeypatch.setattr(common.importlib.util, "find_spec", lambda name: None)
    assert common.gpu(_handler) is _handler


def test_gpu_decorator_uses_spaces_gpu_on_a_space(clean_env, monkeypatch):
    applied: list = []

    def fake_gpu(fn=None, duration=None):  # spaces.GPU accepts both @GPU and @GPU(duration=...)
        if fn is None:
            return lambda f: fake_gpu(f, duration)
        applied.append(duration)
        return lambda *a, **k: fn(*a, **k)

    spaces = types.ModuleType("spaces")
    spaces.__spec__ = importlib.machinery.ModuleSpec("spaces", None)
    spaces.GPU = fake_gpu
    monkeypatch.setitem(sys.modules, "spaces", spaces)
    assert common.gpu(_handler) is _handler  # not on a Space: untouched even with the package present
    monkeypatch.setenv("SPACE_ID", "someone/mmdemo")
    wrapped, timed = common.gpu(_handler), common.gpu(duration=120)(_handler)
    assert wrapped is not _handler and wrapped(21) == 42 and timed(1) == 2
    assert applied == [None, 120]

