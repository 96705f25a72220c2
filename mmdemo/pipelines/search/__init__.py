"""Cross-modal search: index images, videos (one keyframe per shot, with its times) and speech (transcript
segments, with their times); query by a sentence or by an example image.

    report = build_index(["photos/", "talk.mp3"], "my-index", progress=lambda fraction, message: ...)
    report.to_dict()    # {"space", "added", "unchanged", "skipped": [{"path", "reason"}], "counts", ...}
    found = query("a cat on a sofa", "my-index", top=10)
    found.to_dict()     # {"space", "results": [{"path", "kind", "score", "start", "end", "text"}]}

The spaces are in ``embed`` (CLIP with weights, the labelled ImageNet-to-MiniLM space offline; transcript segments
are MiniLM either way), the storage in ``index`` (usearch + SQLite). Ranking across the two tables of a text
query: offline both tables are MiniLM cosines with the same query vector, so they are ranked together by cosine.
With CLIP the visual cosines are CLIP's (a narrow band, about 0.2 to 0.35) and the speech ones MiniLM's (0.75 for
a close paraphrase): not comparable, so the two lists are interleaved by rank (best picture, best speech, second picture...) and
each result keeps its own cosine and says which table (``match``) it came from. An image query searches the
visual table only.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from mmdemo import applications
from mmdemo.errors import BackendUnavailable, BadInput
from mmdemo.media.audio import load_audio
from mmdemo.media.image import load_image
from mmdemo.media.text import check_text
from mmdemo.media.video import EXTENSIONS as VIDEO_EXTENSIONS
from mmdemo.pipelines.search import embed
from mmdemo.pipelines.search.index import UPLOADS, Item, SearchIndex, read_meta
from mmdemo.pipelines.search.options import MAX_TOP, SearchOptions as Options  # noqa: F401

# what it uses and where its tab queues: its record in mmdemo.applications
BACKENDS, SLOT = applications.of_pipeline(__name__).backends, applications.of_pipeline(__name__).slot

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")
AUDIO_EXTENSIONS = (".wav", ".mp3", ".flac", ".ogg", ".opus", ".m4a", ".aac")
IMAGE_BATCH = 16  # images embedded together (the models' batch, not the index's)
SAVE_EVERY_SECONDS = 60.0  # a long run saves its progress this often (an interrupted run keeps what was saved)
MAX_QUERY_CHARS = 1000


def kind_of(path: Path) -> str | None:
    suffix = path.suffix.lower()
    if suffix in IMAGE_EXTENSIONS:
        return "image"
    if suffix in VIDEO_EXTENSIONS:
        return "video"
    if suffix in AUDIO_EXTENSIONS:
        return "audio"
    return None


# -- indexing ------------------------------------------------------------------------------------------------------
@dataclass
class IndexReport:
    index: str
    space: embed.Space
    added: list[dict] = field(default_factory=list)  # {"path", "kind", "items", "notes"}
    unchanged: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {"index": self.index, "space": self.space.name, "method": self.space.method,
                "added": list(self.added), "unchanged": list(self.unchanged),
                "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
                "counts": dict(self.counts), "seconds": round(self.seconds, 2)}


def collect(paths, exclude: Path | None = None, within: Callable[[Path], bool] | None = None
            ) -> tuple[list[tuple[Path, str]], list[tuple[str, str]]]:
    """(files to index with their kind, skipped (path, reason)): folders are walked recursively in name order,
    hidden files and the index folder itself left out. ``within(resolved path)``: where a visitor may read (a
    link leading elsewhere is not followed, a folder of the app's own is not entered)."""
    found: list[tuple[Path, str]] = []
    skipped: list[tuple[str, str]] = []
    exclude = exclude.resolve() if exclude is not None else None
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith(".")
                                 and (exclude is None or Path(root, d).resolve() != exclude)
                                 and (within is None or within(Path(root, d).resolve())))
                for name in sorted(files):
                    if not name.startswith("."):
                        _add(Path(root, name), found, skipped, within)
        elif path.exists():
            _add(path, found, skipped, within)
        else:
            skipped.append((str(path), "not found"))
    return found, skipped


def _add(path: Path, found: list, skipped: list, within: Callable[[Path], bool] | None = None) -> None:
    kind = kind_of(path)
    if within is not None and not within(path.resolve()):
        skipped.append((str(path), "a link to a place outside the folders opened to visitors: not followed"))
    elif kind is None:
        skipped.append((str(path), f"not an image, video or audio file type ({path.suffix or 'no extension'})"))
    elif not os.access(path, os.R_OK):
        skipped.append((str(path), "not readable (permission denied)"))
    else:
        found.append((path.resolve(), kind))


def keep_copies(paths, index_dir: "str | os.PathLike") -> list[Path]:
    """Copies of uploaded files inside the index folder (``files/``), so results outlive the upload's temporary
    file; in a folder named by content hash (the file keeps its name), so uploading it again reuses its copy."""
    import shutil

    folder = Path(index_dir).expanduser() / UPLOADS
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for raw in paths:
        path = Path(raw)
        if not path.is_file():
            raise BadInput(f"{path.name}: the upload is missing; upload it again.")
        target = folder / content_hash(path)[:16] / path.name
        if not target.exists():
            target.parent.mkdir(exist_ok=True)
            shutil.copyfile(path, target)
        out.append(target)
    return out


def content_hash(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


_write_locks: dict[str, threading.Lock] = {}
_write_locks_guard = threading.Lock()


def _write_lock(folder: Path) -> threading.Lock:
    with _write_locks_guard:
        return _write_locks.setdefault(str(folder.resolve()), threading.Lock())


def build_index(paths, index_dir: "str | os.PathLike", *, space: str = "auto",
                progress: Callable[[float, str], None] | None = None,
                within: Callable[[Path], bool] | None = None) -> IndexReport:
    """Index ``paths`` (files or folders, recursive) into ``index_dir``, creating it when new. Files whose content
    hash is already indexed are skipped; a changed file replaces its old entries; unreadable files are listed
    in ``skipped`` with their reason."""
    report_progress = progress or (lambda fraction, message: None)
    started = time.perf_counter()
    paths = [p for p in (paths or []) if str(p).strip()]
    if not paths:
        raise BadInput("Give at least one file or folder to index.")
    folder = Path(index_dir).expanduser()
    if not str(index_dir).strip():
        raise BadInput("Give an index folder.")
    files, skipped = collect(paths, exclude=folder, within=within)
    meta = read_meta(folder)  # BadInput for a folder of another version, before any model loads
    space = Options(space=space).space
    if meta is not None and space == "auto":
        space = meta["space"]["name"]  # an existing index keeps its space; create_or_open refuses a mix
    chosen = embed.current_space(space)
    with _write_lock(folder):
        dims = meta["dims"] if meta is not None else {"visual": embed.visual_dim(chosen), "speech": embed.text_dim()}
        index = SearchIndex.create_or_open(folder, chosen.identity, dims)
        report = IndexReport(str(folder), chosen, skipped=skipped)
        try:
            _index_files(index, chosen, files, report, report_progress)
            index.save()
            report.counts = index.counts()
        finally:
            index.close()
    report.seconds = time.perf_counter() - started
    report_progress(1.0, f"{len(report.added)} added, {len(report.unchanged)} unchanged, "
                         f"{len(report.skipped)} skipped")
    return report


def _index_files(index: SearchIndex, space: embed.Space, files, report: IndexReport, progress) -> None:
    last_save = time.monotonic()
    pending_images: list[tuple[Path, str, int, object]] = []  # (path, hash, size, PIL image)

    def flush_images() -> None:
        if not pending_images:
            return
        vectors = embed.images(space, [image for *_, image in pending_images])
        for (path, digest, size, _), vector in zip(pending_images, vectors):
            _store(index, report, path, digest, size, "image", {"visual": ([Item(str(path), "image")], vector[None])}, [])
        pending_images.clear()

    for number, (path, kind) in enumerate(files):
        progress(number / max(1, len(files)), f"indexing {number + 1} / {len(files)}: {path.name}")
        try:
            size = path.stat().st_size
            digest = content_hash(path)
        except OSError as exc:
            report.skipped.append((str(path), f"cannot be read ({exc.strerror or exc})"))
            continue
        if index.file_hash(str(path)) == digest:
            report.unchanged.append(str(path))
            continue
        try:
            if kind == "image":
                pending_images.append((path, digest, size, load_image(path)))
                if len(pending_images) >= IMAGE_BATCH:
                    flush_images()
                continue
            notes: list[str] = []
            entries = _video(index, space, path, digest, notes) if kind == "video" else _audio(path, notes)
            _store(index, report, path, digest, size, kind, entries, notes)
        except BadInput as exc:
            report.skipped.append((str(path), str(exc)))
        if time.monotonic() - last_save > SAVE_EVERY_SECONDS:
            flush_images()
            index.save()
            last_save = time.monotonic()
    flush_images()


def _store(index, report, path: Path, digest: str, size: int, kind: str, entries, notes: list[str]) -> None:
    index.remove_file(str(path))  # a changed file: its old items go
    count = index.add_file(str(path), digest, size, kind, entries, notes)
    report.added.append({"path": str(path), "kind": kind, "items": count, "notes": notes})


def _video(index: SearchIndex, space: embed.Space, path: Path, digest: str, notes: list[str]) -> dict:
    """A video: one visual item per shot (its keyframe, start and end), plus its speech segments."""
    from mmdemo.pipelines.video_summary.shots import detect_shots

    found = detect_shots(path)
    notes += found.notes
    items = []
    for shot in found.shots:
        thumb = index.keyframe_path(digest, shot.index)
        thumb.write_bytes(shot.keyframe_jpeg)
        items.append(Item(str(path), "video", round(shot.start, 3), round(shot.end, 3),
                          thumb=str(thumb.relative_to(index.folder))))
    entries = {"visual": (items, embed.images(space, [shot.keyframe() for shot in found.shots]))}
    if found.info.has_audio:
        try:
            entries["speech"] = _speech(path, "video", notes)
        except BadInput as exc:  # a damaged audio track: the pictures are still indexed
            notes.append(f"The audio track was not indexed: {exc}")
        except BackendUnavailable as exc:
            notes.append(f"The audio track was not transcribed: {exc}")
    return entries


def _audio(path: Path, notes: list[str]) -> dict:
    try:
        return {"speech": _speech(path, "audio", notes)}
    except BackendUnavailable as exc:  # nothing of an audio file can be indexed without speech recognition
        raise BadInput(str(exc)) from None


def _speech(path: Path, kind: str, notes: list[str]) -> tuple[list[Item], np.ndarray]:
    from mmdemo.pipelines.speech import MIN_SECONDS, transcribe
    from mmdemo.media.audio import SAMPLE_RATE

    samples = load_audio(path, notes=notes)
    if len(samples) < MIN_SECONDS * SAMPLE_RATE:
        notes.append("The audio is too short to hold speech.")
        return [], np.zeros((0, embed.text_dim()), dtype=np.float32)
    segments = [s for s in transcribe(samples).segments if s.text.strip()]
    if not segments:
        notes.append("No speech was found in the audio.")
    items = [Item(str(path), kind, round(s.start, 3), round(s.end, 3), s.text.strip()) for s in segments]
    return items, embed.sentences([item.text for item in items])


# -- querying ------------------------------------------------------------------------------------------------------
@dataclass
class SearchResult:
    query: str
    query_kind: str  # "text" | "image"
    space: embed.Space
    hits: list  # index.Hit, best first
    index: str

    def to_dict(self) -> dict:
        return {"space": self.space.name, "method": self.space.method, "query": self.query,
                "query_kind": self.query_kind, "results": [hit_dict(h, self.index) for h in self.hits]}


def hit_dict(hit, index_dir: str) -> dict:
    item = hit.item
    out = {"path": item.path, "kind": item.kind, "score": round(hit.score, 4), "match": hit.table}
    if item.start is not None:
        out["start"], out["end"] = round(item.start, 3), round(item.end, 3)
    if item.text:
        out["text"] = item.text
    if item.thumb:
        out["thumbnail"] = str(Path(index_dir) / item.thumb)
    return out


def looks_like_image_path(query: str) -> bool:
    """A command-line query naming an image file (one token ending in an image extension) is a query by example.
    Only the CLI asks this: for everyone else a string is a sentence, never a file name."""
    text = query.strip()
    return bool(text) and len(text.split()) == 1 and Path(text).suffix.lower() in IMAGE_EXTENSIONS


def query(what, index_dir: "str | os.PathLike", top: int = 10) -> SearchResult:
    """The ``top`` best matches of ``what``: a sentence (a ``str``, always read as text), or an example image (a
    PIL image, or a ``Path`` to an image file)."""
    top = Options(top=top).top
    with opened_index(index_dir) as index:
        space = embed.Space(**index.meta["space"])
        embed.check_available(space)
        if not isinstance(what, str):
            name = Path(what).name if isinstance(what, os.PathLike) else "the query image"
            image = load_image(what, name=name)
            vector = embed.images(space, [image])[0]
            return SearchResult(name, "image", space, index.search("visual", vector, top), str(index.folder))
        text = " ".join(check_text(what, "the query", MAX_QUERY_CHARS).split())
        if not text:
            raise BadInput("The query is empty: type a sentence or give an example image.")
        visual = index.search("visual", embed.text_for_visual(space, [text])[0], top)
        speech = index.search("speech", embed.sentences([text])[0], top)
        for hit in speech:  # what a video showed while it was said: the keyframe of that shot
            if hit.item.kind == "video":
                hit.item.thumb = index.keyframe_at(hit.item.path, hit.item.start)
        return SearchResult(text, "text", space, merge(visual, speech, space.same_space_tables)[:top],
                            str(index.folder))


def merge(visual: list, speech: list, comparable: bool) -> list:
    """One ranking of two tables' hits: by cosine when both are in one space, else interleaved by rank."""
    if comparable:
        return sorted(visual + speech, key=lambda h: -h.score)
    ranked = [(rank, -h.score, n, h) for n, hits in enumerate((visual, speech)) for rank, h in enumerate(hits)]
    return [h for *_, h in sorted(ranked, key=lambda r: r[:3])]


# -- open indexes: memory-mapped between queries, at most MAX_OPEN at once -------------------------------------
MAX_OPEN = 16  # each open index holds an SQLite handle and two memory maps; a server with many clients has many


@dataclass
class _Opened:
    stamp: tuple
    index: SearchIndex
    users: int = 0
    retired: bool = False  # evicted or replaced: closed when its last query ends


_open_cache: "OrderedDict[str, _Opened]" = OrderedDict()
_open_lock = threading.Lock()


@contextlib.contextmanager
def opened_index(index_dir: "str | os.PathLike"):
    """A read-only (memory-mapped) index, kept open between queries until its files change; the least recently
    used is closed past MAX_OPEN (after the queries using it end)."""
    folder = Path(index_dir).expanduser()
    if not str(index_dir).strip():
        raise BadInput("Give an index folder.")
    stamp = tuple(_mtime(folder / name) for name in ("meta.json", "items.sqlite", "visual.usearch", "speech.usearch"))
    key = str(folder.resolve()) if folder.exists() else str(folder)
    with _open_lock:
        entry = _open_cache.get(key)
        if entry is None or entry.stamp != stamp:
            if entry is not None:
                _retire(_open_cache.pop(key))
            entry = _Opened(stamp, SearchIndex.open(folder))
            _open_cache[key] = entry
            while len(_open_cache) > MAX_OPEN:
                _retire(_open_cache.popitem(last=False)[1])
        _open_cache.move_to_end(key)
        entry.users += 1
    try:
        yield entry.index
    finally:
        with _open_lock:
            entry.users -= 1
            if entry.retired and entry.users == 0:
                entry.index.close()


def _retire(entry: _Opened) -> None:
    entry.retired = True
    if entry.users == 0:
        entry.index.close()


def open_count() -> int:
    with _open_lock:
        return len(_open_cache)


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0
