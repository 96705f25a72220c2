"""Each application's settings are declared once (mmdemo.options): the tab's controls, the CLI's flags and help,
the evaluation keys and the record a result carries all follow the declaration."""

from __future__ import annotations

import argparse

import pytest

from mmdemo import applications, options
from mmdemo.cli import build_parser
from mmdemo.errors import BadInput
from mmdemo.pipelines import evaluation

APPS = applications.APPLICATIONS


@pytest.mark.parametrize("app", APPS, ids=[a.key for a in APPS])
def test_every_application_declares_its_settings(app):
    declared = app.options().settings()
    assert declared, f"{app.key} declares no settings"
    for s in declared:
        assert s.type in (bool, int, float, str) and s.help
        assert s.check(None) == s.default == s.check(s.default)  # the default passes its own check
        assert not s.labels or len(s.labels) == len(s.choices)


def _command(app) -> argparse.ArgumentParser:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[app.key]


def _flags(parser) -> dict[str, argparse.Action]:
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):  # search: index and query
            for child in action.choices.values():
                found |= _flags(child)
        found |= {flag: action for flag in action.option_strings}
    return found


@pytest.mark.parametrize("app", APPS, ids=[a.key for a in APPS])
def test_cli_flags_and_their_help_come_from_the_declaration(app):
    flags = _flags(_command(app))
    for s in app.options().settings():
        if s.cli:
            assert s.cli_flag in flags, f"{app.key}: {s.cli_flag} missing"
            assert flags[s.cli_flag].help == s.describe()


def test_cli_help_says_range_and_default():
    beam = applications.get("speech").options().setting("beam_size")
    assert beam.describe().endswith(", 1-10 (default 5)")
    assert "0.04-5 (default 0.04)" in applications.get("video").options().setting("every_seconds").describe()


@pytest.mark.parametrize("app", applications.evaluated(), ids=[a.key for a in applications.evaluated()])
def test_evaluation_keys_are_the_declared_settings(app):
    task = evaluation.TASKS[app.key]
    for s in app.options().settings():
        if s.evaluated:
            assert task.settings[s.name] is not None
            assert task.settings[s.name].default == s.default and task.settings[s.name].help == s.help


def test_one_check_for_every_surface():
    """The same bad beam size gets the same sentence from the pipeline's record, the CLI and an evaluation config."""
    speech = applications.get("speech").options()
    with pytest.raises(BadInput, match=r"^The beam size must be a whole number from 1 to 10, not 11\.$"):
        speech(beam_size=11)
    args = build_parser().parse_args(["speech", "x.wav", "--beam-size", "11"])
    with pytest.raises(BadInput, match=r"^--beam-size must be a whole number from 1 to 10, not '11'\.$"):
        options.from_args(speech, args)
    with pytest.raises(BadInput, match=r"^config a: beam_size must be a whole number from 1 to 10, not '11'\.$"):
        evaluation.parse_config("a:beam_size=11", "speech")


@pytest.mark.parametrize("value, message", [
    ("2.5", "a whole number from 1 to 10, not '2.5'"), (True, "a whole number from 1 to 10, not True"),
    ("five", "a whole number from 1 to 10, not 'five'"), (0, "a whole number from 1 to 10, not 0"),
])
def test_bad_values_are_one_sentence(value, message):
    with pytest.raises(BadInput, match=message):
        applications.get("speech").options()(beam_size=value)


def test_values_are_typed_as_declared():
    speech = applications.get("speech").options()
    record = speech.make({"beam_size": 3.0, "vad": "off", "task": "translate", "language": " de "})
    assert (record.beam_size, record.vad, record.task, record.language) == (3, False, "translate", "de")
    assert record.changed() == {"beam_size": 3, "vad": False, "task": "translate", "language": "de"}
    with pytest.raises(BadInput, match="unknown setting 'beam'; valid settings: task, language"):
        speech.make(beam=3)
    with pytest.raises(BadInput, match="The number of results must be a whole number from 1 to 200"):
        applications.get("search").options()(top=0)


def test_cli_aliases_keep_working():
    """Older flags stay: caption's --sample is --decoding sample."""
    args = build_parser().parse_args(["caption", "a.jpg", "--sample", "--candidates", "4"])
    record = options.from_args(applications.get("caption").options(), args)
    assert (record.decoding, record.candidates) == ("sample", 4)
    args = build_parser().parse_args(["speech", "a.wav", "--no-vad"])
    assert options.from_args(applications.get("speech").options(), args).vad is False


def test_tab_controls_follow_the_declaration():
    from demos.controls import control

    speech = applications.get("speech").options()
    beam = control(speech, "beam_size")
    assert (beam.minimum, beam.maximum, beam.value, beam.label) == (1, 10, 5, "Beam size")
    task = control(speech, "task")
    assert [value for _, value in task.choices] == ["transcribe", "translate"]
    with pytest.raises(ValueError, match="go past the declared ones"):  # a page may narrow bounds, never widen them
        control(speech, "beam_size", maximum=20)


def test_an_unknown_emotion_reader_is_one_sentence():
    """Checked by the declaration before any model loads (it was a ValueError inside the text reader); the record
    a report carries: tests/test_emotion.py."""
    from mmdemo.pipelines import emotion

    with pytest.raises(BadInput, match="The text reader must be one of auto, head, zero-shot, not 'best'"):
        emotion.analyze_many(["I am fine."], text_reader="best")


@pytest.mark.parametrize("app", APPS, ids=[a.key for a in APPS])
def test_docs_pages_show_the_declared_settings(app):
    """docs/<tab>.md holds the table generated from the declaration: `python -m mmdemo.options --write` after a
    setting changes (this fails until then)."""
    page = options.DOCS / f"{app.tab}.md"
    text = page.read_text(encoding="utf-8")
    assert options.BEGIN in text, f"{page.name} has no generated settings table"
    fresh = options.with_table(text, app.options(), app.key)
    assert fresh == text, f"{page.name}: run python -m mmdemo.options --write"


def test_a_command_line_imports_only_its_own_application():
    """The parser of one command imports that application's declaration only: `models` or `--help` load no
    pipeline, numpy or Pillow (a fresh interpreter, so nothing is imported already)."""
    import json
    import subprocess
    import sys

    probe = ("import json, sys; from mmdemo.cli import build_parser; build_parser({argv}); "
             "print(json.dumps(sorted(sys.modules)))")
    pipelines = {f"mmdemo.pipelines.{app.pipeline}" for app in APPS}
    for argv, wanted in ((["models"], set()), (["--help"], set()), (["chat", "a.jpg", "q"], {"mmdemo.pipelines.chat"})):
        out = subprocess.run([sys.executable, "-c", probe.format(argv=argv)], capture_output=True, text=True,
                             check=True).stdout
        loaded = set(json.loads(out))
        assert loaded & pipelines == wanted, argv
        if not wanted:
            assert not loaded & {"numpy", "PIL"}, argv
