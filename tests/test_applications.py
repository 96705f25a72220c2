"""Each application is one record (mmdemo.applications), and everything that lists applications is derived from
it: the tabs, the CLI commands and their older names, the evaluation tasks, the flag panels, the Models tab's
"used by", each pipeline's BACKENDS and SLOT, and each tab's endpoint and queue."""

from __future__ import annotations

import importlib

import pytest

from mmdemo import applications, backends
from mmdemo.applications import APPLICATIONS


def test_names_are_unique_and_resolve_to_their_record():
    names = [name for app in APPLICATIONS for name in app.names]
    assert len(names) == len(set(names))
    for app in APPLICATIONS:
        for name in app.names:
            assert applications.get(name.upper() + " ") is app
    with pytest.raises(KeyError):
        applications.get("nonsense")


def test_each_record_names_real_modules_and_backends():
    known = set(backends.REGISTRY.names)
    for app in APPLICATIONS:
        pipeline = importlib.import_module(f"mmdemo.pipelines.{app.pipeline}")
        assert (pipeline.BACKENDS, pipeline.SLOT) == (app.backends, app.slot)
        assert set(app.backends) <= known and app.slot in app.backends
        assert hasattr(importlib.import_module(f"demos.{app.tab}"), "build")
        assert hasattr(importlib.import_module(f"mmdemo.cli.{app.cli}"), "run")


def test_the_cli_takes_each_key_and_its_older_names():
    from mmdemo.cli import build_parser

    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    for app in APPLICATIONS:
        assert all(name in commands for name in app.names)
        assert commands[app.key] is commands[app.names[-1]]  # an alias is the same command


def test_evaluation_tasks_are_the_evaluated_applications():
    from mmdemo.pipelines.evaluation import TASKS, get_task

    assert list(TASKS) == [app.key for app in applications.evaluated()]
    assert get_task("transcribe") is TASKS["speech"] and get_task("generate") is TASKS["text-to-image"]


@pytest.mark.app
def test_tabs_endpoints_and_queues_follow_the_records():
    import app as studio

    assert [title for title, _ in studio.TABS][:len(APPLICATIONS)] == [app.title for app in APPLICATIONS]
    blocks = studio.build_app()
    by_api = {fn.api_name: fn for fn in blocks.fns.values() if fn.api_name}
    for app in APPLICATIONS:
        event = by_api[app.endpoint]
        # the Emotion tab's event takes its readers' slots inside (mmdemo.slots); every other queues on its slot
        assert event.concurrency_id == ("emotion" if app.key == "emotion" else app.slot), app.key


def test_models_used_by_is_derived_from_the_records():
    users = applications.used_by()
    assert users["vad"] == ["Speech", "Video summarization", "Emotion analysis", "Search"]
    assert all(app.title in users[b] for app in APPLICATIONS for b in app.backends)
