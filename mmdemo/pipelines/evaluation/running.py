"""Running items: one item through its task's pipeline, a config's model choices applied for its duration, a
config's items in this process. The engines (local here, ``ray_engine`` for Ray Data) both run items with these;
neither imports from the package above it."""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Callable

from mmdemo import backends
from mmdemo.errors import BackendUnavailable, BadInput, MMDemoError
from mmdemo.pipelines.evaluation.tasks import Task

log = logging.getLogger("mmdemo.pipelines.evaluation")


def run_item(task: Task, item: dict, settings: dict) -> dict:
    """One item through the task's pipeline: its output fields, ``seconds``, or ``error`` when the item itself is
    at fault (a damaged file found only now). A missing model is not the item's fault: BackendUnavailable stops
    the evaluation."""
    record = {"row": item["row"], "input": task.input_of(item), "reference": task.reference_of(item)}
    started = time.perf_counter()
    try:
        record.update(task.run(item, settings))
    except BackendUnavailable:
        raise
    except MMDemoError as exc:
        record["error"] = str(exc)
    except Exception as exc:  # a bug met on one item: kept with the item, the traceback in the log
        log.exception("evaluation item %s failed", item["row"])
        record["error"] = f"internal error ({type(exc).__name__}: {exc})"
    record["seconds"] = round(time.perf_counter() - started, 4)
    return record


@contextlib.contextmanager
def chosen_sources(task: Task, settings: dict, label: str):
    """The config's model settings applied to the registry for the duration of the block, then the previous
    choices restored. The chosen weights are resolved at once: a wrong folder fails before any item runs."""
    registry = backends.REGISTRY
    changed = {task.sources[key]: value for key, value in settings.items() if key in task.sources and value}
    previous = {name: registry.chosen(name) for name in changed}
    try:
        for name, value in changed.items():
            registry.set_source(name, value)
            try:
                registry.resolve(name)
            except BackendUnavailable as exc:
                key = next(k for k, b in task.sources.items() if b == name)
                raise BadInput(f"{label}: {key}={value}: {exc}") from None
        yield
    finally:
        for name, value in previous.items():
            registry.set_source(name, value)  # unloads the config's model when it differs


def run_local(task: Task, items: list[dict], settings: dict, name: str, tick: Callable[[], None]) -> list[dict]:
    records = []
    with chosen_sources(task, settings, f"config {name}"):
        for item in items:
            records.append(run_item(task, item, settings))
            tick()
    return records
