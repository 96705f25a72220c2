"""mmdemo/config.py declares every MMDEMO_* variable once: docs/configuration.md is generated from it, the code reads
no other, each is read at call time, and a bad value is one sentence naming the variable. A variable added, renamed
or dropped in one place only fails here."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mmdemo import backends, config
from mmdemo.errors import BadInput

ROOT = Path(__file__).resolve().parent.parent
NAME = re.compile(r"MMDEMO_[A-Z0-9_]*[A-Z0-9]|MMDEMO_<BACKEND>_MODEL")
SOURCES = [ROOT / "app.py", *(ROOT / "mmdemo").rglob("*.py"), *(ROOT / "demos").glob("*.py")]
CONFIG = ROOT / "mmdemo" / "config.py"

# a value each checking kind refuses, and values of the right form for the kinds that check nothing
BAD = {"number": ["soon", "0", "-5", "nan", "inf"], "whole number": ["1.5", "lots", "-1"], "choice": ["int3"],
       "switch": ["maybe"], "pattern": ["lots"]}
ACCEPT_ANY = {"text", "folder", "folders", "names"}


def _declared() -> set[str]:
    per_backend = {backends.REGISTRY.spec(b).env_var for b in backends.REGISTRY.names}
    return {v.name for v in config.VARIABLES} | per_backend


def _named_by(paths) -> dict[str, set[Path]]:
    where: dict[str, set[Path]] = {}
    for path in paths:
        for name in NAME.findall(path.read_text(encoding="utf-8")):
            where.setdefault(name, set()).add(path)
    return where


def test_the_docs_tables_are_the_declarations():
    text = config.DOC.read_text(encoding="utf-8")
    assert text == config.with_tables(text), "docs/configuration.md is stale: run python -m mmdemo.config --write"
    documented = set(NAME.findall(text))
    assert not sorted(_declared() - documented), "declared but not in docs/configuration.md"
    assert not sorted(documented - _declared()), "in docs/configuration.md but not declared in mmdemo/config.py"


def test_every_variable_the_code_names_is_declared_and_every_declared_one_is_used():
    named = _named_by(p for p in SOURCES if p != CONFIG)
    undeclared = sorted(set(named) - _declared())
    assert not undeclared, f"named in the code but not declared in mmdemo/config.py: {undeclared}"
    # each declaration is used where it matters (a per-backend variable through the registry's model_variable)
    unused = sorted(v.name for v in config.VARIABLES if v.name != config.MODEL_PATTERN and v.name not in named)
    assert not unused, f"declared in mmdemo/config.py but read nowhere: {unused}"


def _reads(tree: ast.AST):
    """(line, key node) of every os.environ.get / os.getenv / os.environ[...] read and config.switch call."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
            func = ast.unparse(node.func)
            if func in ("os.environ.get", "os.getenv", "environ.get", "config.switch"):
                yield node.lineno, node.args[0]
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) \
                and ast.unparse(node.value) in ("os.environ", "environ"):
            yield node.lineno, node.slice


def test_only_mmdemo_config_reads_mmdemo_variables():
    """Outside config.py an environment read names a literal that is not mmdemo's (HF_TOKEN, GRADIO_TEMP_DIR):
    a variable read through a constant or a built name could bypass its declaration."""
    bad = []
    for path in SOURCES:
        if path == CONFIG:
            continue
        for line, key in _reads(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(key, ast.Constant) and isinstance(key.value, str)) or key.value.startswith("MMDEMO_"):
                bad.append(f"{path.relative_to(ROOT)}:{line}: {ast.unparse(key)}")
    assert not bad, f"read the environment without mmdemo.config: {bad}"


def test_the_finder_sees_reads():  # the scan above fails on what it is meant to catch
    sample = 'import os\na = os.environ.get("MMDEMO_X", "")\nb = os.environ[VAR]\nc = os.getenv(name)\n'
    assert [ast.unparse(k) for _, k in _reads(ast.parse(sample))] == ["'MMDEMO_X'", "VAR", "name"]


@pytest.mark.parametrize("variable", [v for v in config.VARIABLES if v.kind.name not in ACCEPT_ANY],
                         ids=lambda v: v.name)
def test_a_bad_value_is_one_sentence_naming_the_variable(variable, monkeypatch):
    for raw in BAD[variable.kind.name]:
        monkeypatch.setenv(variable.name, raw)
        with pytest.raises(BadInput) as info:
            variable.get()
        message = str(info.value)
        assert message == f"{variable.name} must be {variable.kind.wants}, not {raw!r}.", message
        assert "\n" not in message


def test_every_kind_is_checked_here():
    kinds = {v.kind.name for v in config.VARIABLES}
    assert kinds <= set(BAD) | ACCEPT_ANY, f"a kind without bad values in this test: {kinds - set(BAD) - ACCEPT_ANY}"


def test_unset_or_empty_is_the_default(monkeypatch):
    for variable in config.VARIABLES:
        for value in (None, "", "   "):
            if value is None:
                monkeypatch.delenv(variable.name, raising=False)
            else:
                monkeypatch.setenv(variable.name, value)
            expected = variable.default() if callable(variable.default) else variable.default
            assert variable.get() == expected, variable.name


@pytest.mark.parametrize(("name", "first", "then", "read"), [
    ("MMDEMO_MAX_AUDIO_MINUTES", ("2", 2.0), ("0.5", 0.5), lambda: config.get("MMDEMO_MAX_AUDIO_MINUTES")),
    ("MMDEMO_MAX_TEXT_CHARS", ("10", 10), ("20", 20), lambda: config.get("MMDEMO_MAX_TEXT_CHARS")),
    ("MMDEMO_DEVICE", ("CPU", "cpu"), ("cuda:1", "cuda:1"), lambda: config.get("MMDEMO_DEVICE")),
    ("MMDEMO_WHISPER_COMPUTE", ("int8", "int8"), ("float32", "float32"),
     lambda: config.get("MMDEMO_WHISPER_COMPUTE")),
    ("MMDEMO_ATTENTION_SLICING", ("yes", True), ("off", False), lambda: config.get("MMDEMO_ATTENTION_SLICING")),
    ("MMDEMO_MAX_UPLOAD", ("20MB", "20mb"), ("1 gb", "1 gb"), lambda: config.get("MMDEMO_MAX_UPLOAD")),
    ("MMDEMO_ALLOWED_HOSTS", ("A.example, *.b.org", ("a.example", "*.b.org")), ("", ()),
     lambda: config.get("MMDEMO_ALLOWED_HOSTS")),
    ("MMDEMO_CACHE_DIR", ("/tmp/one", Path("/tmp/one")), ("/tmp/two", Path("/tmp/two")),
     lambda: config.get("MMDEMO_SEARCH_INDEX").parent),  # the search index follows the one cache root
    ("MMDEMO_CHAT_MODEL", ("some/model", "some/model"), ("", None), lambda: config.model_variable("chat").get()),
])
def test_a_later_change_is_seen(name, first, then, read, monkeypatch):
    monkeypatch.delenv("MMDEMO_SEARCH_INDEX", raising=False)
    for raw, value in (first, then):
        monkeypatch.setenv(name, raw)
        assert read() == value


def test_the_limits_are_read_when_used_not_at_import(monkeypatch, tmp_path):
    """Each limit a bare int() once read at import: changed after import, the next check uses the new value."""
    from PIL import Image

    from mmdemo.media import image, text
    from mmdemo.pipelines import emotion, text_to_image

    monkeypatch.setenv("MMDEMO_MAX_TEXT_CHARS", "5")
    with pytest.raises(BadInput, match=r"8 characters long, over the limit of 5 \(MMDEMO_MAX_TEXT_CHARS\)"):
        text.check_text("too long")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)  # put back after the test
    monkeypatch.setenv("MMDEMO_MAX_IMAGE_PIXELS", "100")
    Image.new("RGB", (20, 20)).save(tmp_path / "a.png")
    with pytest.raises(BadInput, match=r"a.png: the image is too large to decode safely \(limit 100 pixels\)"):
        image.load_image(tmp_path / "a.png")
    assert Image.MAX_IMAGE_PIXELS == 100  # Pillow's own guard follows
    monkeypatch.setenv("MMDEMO_MAX_EMOTION_TEXTS", "2")
    with pytest.raises(BadInput, match="3 texts is over the limit of 2"):
        emotion.analyze_many(["a", "b", "c"])
    monkeypatch.setenv("MMDEMO_MAX_IMAGE_SIDE", "256")
    assert text_to_image.max_side() == 256
    with pytest.raises(BadInput, match="width must be a whole number from 64 to 256"):
        text_to_image.generate("a cat", width=512)
    monkeypatch.setenv("MMDEMO_MAX_IMAGE_SIDE", "big")
    with pytest.raises(BadInput, match="MMDEMO_MAX_IMAGE_SIDE must be a positive whole number of pixels"):
        text_to_image.max_side()


def test_an_undeclared_name_is_a_bug_not_a_user_error():
    with pytest.raises(KeyError, match="MMDEMO_NOPE is not declared"):
        config.get("MMDEMO_NOPE")


def test_reading_a_variable_loads_no_model_library():
    """The CLI imports mmdemo.config before any model library: it must stay light."""
    code = ("import sys, mmdemo.config as c; c.get('MMDEMO_DEVICE'); "
            "print(sorted(m for m in ('torch', 'numpy', 'PIL', 'gradio', 'transformers', 'mmdemo.registry') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"


def test_the_markdown_command_prints_the_tables():
    out = subprocess.run([sys.executable, "-m", "mmdemo.config", "--markdown"], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    assert out.stdout == config.markdown()
    bad = subprocess.run([sys.executable, "-m", "mmdemo.config", "--nonsense"], capture_output=True, text=True,
                         cwd=ROOT)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "usage:" in bad.stderr
