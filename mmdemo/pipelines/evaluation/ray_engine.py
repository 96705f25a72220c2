"""The Ray Data engine: one config's items mapped through a pool of actors, each of which applies the config's
model choices in its own process and loads each backend once (the registry keeps it for the actor's lifetime).

Ray is optional (``pip install -r requirements-scale.txt``). With ``RAY_ADDRESS`` set the engine joins that
cluster (mmdemo, its weights and the manifest's files must then exist at the same paths on every node); without it
it starts a local one (``MMDEMO_RAY_CPUS`` caps its CPUs). Actors ask for a GPU each when the cluster has GPUs.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Callable

from mmdemo import config
from mmdemo.errors import BackendUnavailable, BadInput
from mmdemo.pipelines.evaluation.running import chosen_sources, run_item
from mmdemo.pipelines.evaluation.tasks import TASKS, Task


def require_ray():
    try:
        import ray
        import ray.data  # noqa: F401  (the [data] extra)
    except ImportError:
        raise BadInput("--engine ray needs Ray Data: pip install -r requirements-scale.txt.") from None
    return ray


def start():
    """Connect to RAY_ADDRESS's cluster, or start a local one; a running connection is reused."""
    ray = require_ray()
    if not ray.is_initialized():
        if os.environ.get("RAY_ADDRESS", "").strip():
            ray.init(log_to_driver=False)
        else:
            ray.init(num_cpus=config.get("MMDEMO_RAY_CPUS"), include_dashboard=False, log_to_driver=False)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the caller shows items done and time left
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    return ray


def _max_actors() -> int:
    """MMDEMO_RAY_ACTORS caps each config's pool (default: one actor per CPU, or per GPU when there are GPUs)."""
    return config.get("MMDEMO_RAY_ACTORS") or 1 << 30


def driver_sources(task: Task) -> dict[str, str]:
    """The weights this process has chosen for the task's backends (set in the app, or MMDEMO_<NAME>_MODEL), so
    that actors, which may run on other machines with another environment, load the same ones."""
    from mmdemo import backends

    chosen = {}
    for backend in set(task.sources.values()):
        value, via = backends.REGISTRY.configured(backend)
        if via != "default" and value:
            chosen[backend] = value
    return chosen


class Runner:
    """A Ray Data actor: built once per pool member, then called with batches of items."""

    def __init__(self, task_name: str, settings: dict, sources: dict[str, str]):
        from mmdemo import backends

        self.task, self.settings = TASKS[task_name], settings
        for backend, value in sources.items():
            backends.REGISTRY.set_source(backend, value)
        for key, backend in self.task.sources.items():
            if settings.get(key):
                backends.REGISTRY.set_source(backend, settings[key])

    def __call__(self, batch: dict) -> dict:
        results = []
        for item in batch["item"]:
            try:
                record = run_item(self.task, json.loads(item), self.settings)
            except BackendUnavailable as exc:  # the driver raises it again: one message, no remote traceback
                record = {"backend_unavailable": str(exc)}
            results.append(json.dumps(record, ensure_ascii=False))
        return {"index": batch["index"], "result": results}


def run_config(task: Task, items: list[dict], settings: dict, name: str, tick: Callable[[], None]) -> list[dict]:
    ray = start()
    with chosen_sources(task, settings, f"config {name}"):  # a wrong model folder fails here, before Ray works
        pass
    gpus = ray.cluster_resources().get("GPU", 0)
    cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
    pool = max(1, min(len(items), int(gpus) if gpus >= 1 else cpus, _max_actors()))
    dataset = ray.data.from_items([{"index": i, "item": json.dumps(item, ensure_ascii=False)}
                                   for i, item in enumerate(items)])
    mapped = dataset.map_batches(Runner, fn_constructor_args=(task.name, settings, driver_sources(task)),
                                 batch_size=1, concurrency=pool, num_gpus=1 if gpus >= 1 else 0, num_cpus=1)
    results: dict[int, dict] = {}
    for row in mapped.iter_rows():  # results stream back as actors finish them: progress per item
        results[int(row["index"])] = json.loads(row["result"])
        tick()
    missing = [items[i]["row"] for i in range(len(items)) if i not in results]
    if missing:
        raise RuntimeError(f"Ray returned no result for rows {missing}")
    unavailable = next((r["backend_unavailable"] for r in results.values() if "backend_unavailable" in r), None)
    if unavailable:
        raise BackendUnavailable(unavailable)
    return [results[i] for i in range(len(items))]
