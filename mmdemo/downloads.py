"""First use of a Hub model: the files a backend needs, downloaded into the Hugging Face cache with progress
(bytes and the file in flight), each checked against the Hub's checksum, and the snapshot marked complete only at
the end, so a killed process never leaves a half-downloaded model that a later start would load.

The cache marks a snapshot usable by its ``refs/<revision>`` file. Files are fetched by commit hash (which writes no
ref) and the ref is written last, atomically: until then ``hub.cached_snapshot`` does not see the model, and the
next start fetches again, reusing every file already complete (huggingface_hub resumes a file whose connection
dropped with an HTTP Range request).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import posixpath
import re
import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Callable, Iterator

from mmdemo import hub
from mmdemo.errors import BackendUnavailable

log = logging.getLogger("mmdemo.downloads")

# Files no backend of this app loads: other frameworks' weights, exported graphs, half-precision variants, and
# single-file checkpoints that duplicate a diffusers pipeline's folders (sd-turbo's is 5 GB).
SKIPPED = ("*.h5", "*.msgpack", "*.onnx", "*.onnx_data", "*.ot", "*.tflite", "*.mlmodel", "*.ckpt", "*.gguf",
           "onnx/*", "openvino/*", "coreml/*", "*.fp16.*", ".gitattributes")
PICKLES = ("*.bin", "*.pt", "*.pth")  # skipped where the same folder has safetensors: never unpickled, never fetched
REPO_ID = re.compile(r"[\w.-]+(/[\w.-]+)?")


@dataclass(frozen=True)
class DownloadProgress:
    """Where a download stands: the file in flight and the bytes of all files."""

    repo_id: str
    filename: str
    file_index: int  # 1-based
    file_count: int
    done_bytes: int
    total_bytes: int

    @property
    def fraction(self) -> float:
        return self.done_bytes / self.total_bytes if self.total_bytes else 0.0

    def describe(self) -> str:
        return (f"downloading {self.repo_id} (first use): {_mb(self.done_bytes)} of {_mb(self.total_bytes)}, "
                f"file {self.file_index}/{self.file_count} {self.filename}")


_listener: ContextVar[Callable[[DownloadProgress], None] | None] = ContextVar("mmdemo_download_progress",
                                                                               default=None)


@contextlib.contextmanager
def progress_to(callback: Callable[[DownloadProgress], None]) -> Iterator[None]:
    """Report the progress of downloads started in this context (this thread) to ``callback``."""
    token = _listener.set(callback)
    try:
        yield
    finally:
        _listener.reset(token)


def _mb(n: int) -> str:
    return f"{n / 2**20:.1f} MB"


def is_repo_id(value: str) -> bool:
    """"org/name" or "name" ("ViT-B-32:openai", an open_clip built-in, is not one)."""
    return bool(REPO_ID.fullmatch(value))


def choose_files(sizes: dict[str, int], patterns: tuple[str, ...] | None = None) -> list[str]:
    """The repo files a backend loads: ``patterns`` (when the backend names them) minus SKIPPED, pickles next to
    safetensors, and root checkpoints of a diffusers pipeline."""
    names = [f for f in sizes if not any(fnmatch(f, p) for p in SKIPPED)]
    if patterns:
        names = [f for f in names if any(fnmatch(f, p) for p in patterns)]
    with_safetensors = {posixpath.dirname(f) for f in names if f.endswith(".safetensors")}
    names = [f for f in names if not (posixpath.dirname(f) in with_safetensors
                                      and any(fnmatch(posixpath.basename(f), p) for p in PICKLES))]
    if "model_index.json" in names:
        names = [f for f in names if "/" in f or not f.endswith(".safetensors")]
    return sorted(names)


def fetch(repo_id: str, patterns: tuple[str, ...] | None = None, revision: str = "main") -> Path:
    """The local snapshot folder of ``repo_id``, downloading what is missing. BackendUnavailable, in one sentence,
    when the Hub refuses (gated: set HF_TOKEN), a file arrives corrupt (named), or the transfer fails."""
    from huggingface_hub import HfApi, hf_hub_download

    endpoint, cache = hub.endpoint_url(), hub.cache_dir()
    try:
        info = HfApi(endpoint=endpoint).model_info(repo_id, revision=revision, files_metadata=True)
    except Exception as exc:
        raise BackendUnavailable(_explain(repo_id, exc)) from None
    siblings = {s.rfilename: s for s in info.siblings or []}
    names = choose_files({name: s.size or 0 for name, s in siblings.items()}, patterns)
    if not names:
        raise BackendUnavailable(f"{repo_id} on the Hub holds no model files this app can load.")
    total = sum(siblings[n].size or 0 for n in names)
    done = 0
    listener = _listener.get()
    for index, name in enumerate(names, 1):
        state = DownloadProgress(repo_id, name, index, len(names), done, total)
        log.info("%s", state.describe())
        try:
            path = hf_hub_download(repo_id, name, revision=info.sha, cache_dir=cache, endpoint=endpoint,
                                   tqdm_class=_bar(state, listener))
        except Exception as exc:
            raise BackendUnavailable(_explain(repo_id, exc, name)) from None
        _verify(repo_id, name, Path(path), siblings[name])
        done += siblings[name].size or Path(path).stat().st_size
        if listener is not None:
            listener(DownloadProgress(repo_id, name, index, len(names), done, total))
    storage = Path(cache) / f"models--{repo_id.replace('/', '--')}"
    _mark_complete(storage, revision, info.sha)
    return storage / "snapshots" / info.sha


def _bar(state: DownloadProgress, listener):
    """A tqdm stand-in for hf_hub_download: turns its byte updates into DownloadProgress for ``listener``."""

    class Bar:
        def __init__(self, *args, initial: int = 0, **kwargs):
            self.n = initial

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def update(self, n=1) -> None:
            self.n += int(n or 0)
            if listener is not None:
                listener(DownloadProgress(state.repo_id, state.filename, state.file_index, state.file_count,
                                          state.done_bytes + self.n, state.total_bytes))

        def update_transfer(self, n=1) -> None:
            pass

        def set_postfix_str(self, *args, **kwargs) -> None:
            pass

        def close(self) -> None:
            pass

    return Bar


def _verify(repo_id: str, name: str, path: Path, sibling) -> None:
    """The file's SHA-256 (LFS files) or git blob id (small files) must match what the Hub lists; a corrupt file is
    deleted (blob and link) so the next load fetches it again."""
    if sibling.lfs is not None:
        expected, digest = sibling.lfs.sha256, hashlib.sha256()
    elif sibling.blob_id:
        expected, digest = sibling.blob_id, hashlib.sha1()
        digest.update(b"blob %d\0" % path.stat().st_size)
    else:
        return
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() == expected:
        return
    blob = path.resolve()
    path.unlink(missing_ok=True)
    blob.unlink(missing_ok=True)
    raise BackendUnavailable(f"The download of {name} from {repo_id} is corrupt (its checksum does not match the "
                             "Hub's); the file was deleted, so the next use downloads it again.")


def _mark_complete(storage_folder: Path, revision: str, commit: str) -> None:
    ref = storage_folder / "refs" / revision
    ref.parent.mkdir(parents=True, exist_ok=True)
    tmp = ref.with_name(f".{ref.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_text(commit)
    os.replace(tmp, ref)


def _explain(repo_id: str, exc: Exception, name: str | None = None) -> str:
    """One sentence for why a Hub request failed."""
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError

    status = getattr(getattr(exc, "response", None), "status_code", None)
    what = f"{name} of {repo_id}" if name else repo_id
    if isinstance(exc, GatedRepoError) or status in (401, 403):
        if os.environ.get("HF_TOKEN", "").strip():
            return (f"The Hugging Face Hub refused {what} (HTTP {status}) although HF_TOKEN is set: accept the "
                    "model's terms on its Hub page with that account, or set HF_TOKEN to a token that has access.")
        return (f"The Hugging Face Hub refused {what} (HTTP {status}): the model is gated or private; set HF_TOKEN "
                "to an access token of an account that may use it.")
    if isinstance(exc, RepositoryNotFoundError) or status == 404:
        return f"{repo_id} is not a model on the Hugging Face Hub ({hub.endpoint_url()})."
    if isinstance(exc, HfHubHTTPError):
        return f"The Hugging Face Hub failed for {what} (HTTP {status}); try again later."
    if isinstance(exc, OSError) and "Consistency check failed" in str(exc):
        return f"The download of {what} was cut short; the files finished so far are kept, try again."
    return (f"The download of {what} failed ({type(exc).__name__}: {exc}); the files finished so far are kept in "
            "the cache and the next use continues from there.")
