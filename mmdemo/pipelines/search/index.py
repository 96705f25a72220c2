"""An index folder on disk: usearch vector indexes (HNSW, cosine) plus an SQLite table of what each vector is.

    <folder>/meta.json        {"format": "mmdemo-search", "version": 1, "space": {...}, "dims": {...}}
    <folder>/visual.usearch   images and video keyframes, in the space's visual embedding
    <folder>/speech.usearch   transcript segments, MiniLM
    <folder>/items.sqlite     files (path, content hash, kind) and items (key -> path, kind, start, end, text)
    <folder>/keyframes/       one JPEG per indexed video shot (the gallery's thumbnails)

usearch was chosen by ``python -m bench.search`` (numbers in docs/search.md): at 100,000 vectors its HNSW graph
answered in 9 ms where an exact scan took 27-64 ms on 2 busy cores; it removes vectors (a re-indexed file), saves
to one file and opens it memory-mapped (``view``) for queries, so a CLI query does not read the whole index.
Tables under ``EXACT_BELOW`` vectors are scanned exactly (usearch's own exact search): exact results, still fast.

Writes are atomic per ``save()``: vectors are written to a temporary file and renamed, then the SQLite transaction
commits. A crash in between leaves vectors without metadata; ``open`` drops them, so keys are never reused.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmdemo.errors import BadInput

FORMAT = "mmdemo-search"
VERSION = 1
TABLES = ("visual", "speech")
META = "meta.json"
DB = "items.sqlite"
KEYFRAMES = "keyframes"
UPLOADS = "files"  # the tab's uploads, copied before the index is created
DTYPE = "f32"  # exact cosines: an indexed image queried by itself scores 1.0
# HNSW search breadth: usearch's default 64 found 44% of the true top 10 among random 384-d vectors (the hardest
# case: no structure), 256 found 87% and 512 97% (bench.search); queries stay far under the 50 ms goal
EXPANSION_SEARCH = 256
# Below this many vectors a table is scanned exactly (exact top K, a few ms); above it the HNSW graph answers,
# because an exact scan of 100,000 vectors took 27-62 ms per query on 2 busy cores (bench.search)
EXACT_BELOW = 20_000
OVERFETCH = 4  # removed or orphaned keys are filtered after the search: ask for more, then cut

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, hash TEXT NOT NULL, size INTEGER, kind TEXT NOT NULL,
                                  items INTEGER NOT NULL, notes TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS items (key INTEGER PRIMARY KEY AUTOINCREMENT, tbl TEXT NOT NULL, path TEXT NOT NULL,
                                  kind TEXT NOT NULL, start REAL, end REAL, text TEXT, thumb TEXT);
CREATE INDEX IF NOT EXISTS items_path ON items(path);
"""


@dataclass
class Item:
    path: str
    kind: str  # "image" | "video" | "audio"
    start: float | None = None
    end: float | None = None
    text: str | None = None
    thumb: str | None = None  # a keyframe JPEG inside the index folder, for video shots


@dataclass
class Hit:
    item: Item
    table: str
    score: float  # cosine similarity in the table's space


def read_meta(folder: Path) -> dict | None:
    """The folder's meta.json, None when the folder holds no index; BadInput for anything else."""
    path = folder / META
    if not path.is_file():
        if folder.is_dir() and any(p.name not in (UPLOADS, KEYFRAMES) for p in folder.iterdir()):
            raise BadInput(f"{folder} is not a search index folder (no {META}) and is not empty; "
                           "give an empty or new folder for a new index.")
        return None
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BadInput(f"{folder}/{META} cannot be read ({exc}); build the index again in a new folder.") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise BadInput(f"{folder} is not an mmdemo search index ({META} is not one).")
    if meta.get("version") != VERSION:
        raise BadInput(f"The index in {folder} has format version {meta.get('version')}, this mmdemo reads version "
                       f"{VERSION}: build it again in a new folder.")
    return meta


class SearchIndex:
    """One index folder, opened for reading (``writable=False``: memory-mapped vectors) or writing."""

    def __init__(self, folder: Path, meta: dict, writable: bool):
        from usearch.index import Index

        self.folder, self.meta, self.writable = folder, meta, writable
        self.lock = threading.Lock()
        self.vectors = {}
        for table in TABLES:
            index = Index(ndim=int(meta["dims"][table]), metric="cos", dtype=DTYPE, expansion_search=EXPANSION_SEARCH)
            path = folder / f"{table}.usearch"
            if path.is_file() and path.stat().st_size:
                try:
                    index.load(str(path)) if writable else index.view(str(path))
                except (RuntimeError, ValueError) as exc:
                    raise BadInput(f"{path} is damaged ({exc}); build the index again in a new folder.") from None
                if index.ndim != int(meta["dims"][table]):
                    raise BadInput(f"{path} holds {index.ndim}-dimensional vectors, {META} says "
                                   f"{meta['dims'][table]}: the folder is damaged; build the index again.")
            index.expansion_search = EXPANSION_SEARCH
            self.vectors[table] = index
        self.db = sqlite3.connect(folder / DB, check_same_thread=False)
        self.db.executescript(_SCHEMA)
        if writable:
            self._drop_orphans()

    # -- opening ---------------------------------------------------------------------------------------------
    @classmethod
    def create_or_open(cls, folder: "str | os.PathLike", space: dict, dims: dict[str, int]) -> "SearchIndex":
        """Open ``folder`` for writing, creating the index when it is new; BadInput when it was built in
        another space (one index holds one space)."""
        folder = Path(folder).expanduser()
        meta = read_meta(folder)
        if meta is None:
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise BadInput(f"Cannot create the index folder {folder} ({exc.strerror or exc}).") from None
            meta = {"format": FORMAT, "version": VERSION, "space": space, "dims": dims, "library": _library()}
            _write_atomic(folder / META, json.dumps(meta, indent=1).encode())
        elif meta.get("space") != space:
            raise BadInput(f"The index in {folder} was built in the {describe(meta['space'])} space, this request "
                           f"embeds in the {describe(space)} space: one index holds one space; use another folder.")
        if not os.access(folder, os.W_OK):
            raise BadInput(f"The index folder {folder} is not writable.")
        return cls(folder, meta, writable=True)

    @classmethod
    def open(cls, folder: "str | os.PathLike") -> "SearchIndex":
        folder = Path(folder).expanduser()
        if not folder.is_dir():
            raise BadInput(f"No search index at {folder}: build one with `python -m mmdemo search index PATH... "
                           f"--index {folder}`.")
        meta = read_meta(folder)
        if meta is None:
            raise BadInput(f"{folder} holds no search index yet: index some files into it first.")
        return cls(folder, meta, writable=False)

    # -- files -------------------------------------------------------------------------------------------------
    def file_hash(self, path: str) -> str | None:
        row = self.db.execute("SELECT hash FROM files WHERE path = ?", (path,)).fetchone()
        return row[0] if row else None

    def remove_file(self, path: str) -> int:
        """Forget a file and its vectors (before it is indexed again with new content)."""
        rows = self.db.execute("SELECT key, tbl, thumb FROM items WHERE path = ?", (path,)).fetchall()
        for table in TABLES:
            keys = np.array([k for k, t, _ in rows if t == table], dtype=np.uint64)
            if len(keys):
                self.vectors[table].remove(keys)
        for _, _, thumb in rows:
            if thumb:
                (self.folder / thumb).unlink(missing_ok=True)
        self.db.execute("DELETE FROM items WHERE path = ?", (path,))
        self.db.execute("DELETE FROM files WHERE path = ?", (path,))
        return len(rows)

    def add_file(self, path: str, content_hash: str, size: int, kind: str, entries: dict[str, tuple[list[Item], np.ndarray]],
                 notes: list[str]) -> int:
        """Record a file and its items; ``entries``: table -> (items, (n, d) unit vectors)."""
        count = 0
        for table, (items, vectors) in entries.items():
            if not items:
                continue
            keys = []
            for item in items:
                cursor = self.db.execute(
                    "INSERT INTO items (tbl, path, kind, start, end, text, thumb) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (table, path, item.kind, item.start, item.end, item.text, item.thumb))
                keys.append(cursor.lastrowid)
            self.vectors[table].add(np.array(keys, dtype=np.uint64), np.asarray(vectors, dtype=np.float32))
            count += len(items)
        self.db.execute("INSERT INTO files (path, hash, size, kind, items, notes) VALUES (?, ?, ?, ?, ?, ?)",
                        (path, content_hash, size, kind, count, "\n".join(notes)))
        return count

    def keyframe_path(self, content_hash: str, shot: int) -> Path:
        folder = self.folder / KEYFRAMES
        folder.mkdir(exist_ok=True)
        return folder / f"{content_hash[:16]}-{shot:05d}.jpg"

    def save(self) -> None:
        """Vectors first (atomically replaced), then the metadata transaction."""
        for table, index in self.vectors.items():
            target = self.folder / f"{table}.usearch"
            temp = target.with_suffix(".usearch.tmp")
            index.save(str(temp))
            os.replace(temp, target)
        self.db.commit()

    def _drop_orphans(self) -> None:
        """Vectors whose metadata never committed (a crash between the two writes) go; their keys stay unused."""
        top = max([int(max(index.keys)) for index in self.vectors.values() if len(index)] or [0])
        for table, index in self.vectors.items():
            if len(index) == 0:
                continue
            known = {k for (k,) in self.db.execute("SELECT key FROM items WHERE tbl = ?", (table,))}
            orphans = np.array([k for k in index.keys if int(k) not in known], dtype=np.uint64)
            if len(orphans):
                index.remove(orphans)
        # AUTOINCREMENT never hands out a key below sqlite_sequence: lift it past any key the vectors ever held
        if self.db.execute("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'items'", (top,)).rowcount == 0:
            self.db.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('items', ?)", (top,))

    # -- reading -----------------------------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        out = {table: int(self.db.execute("SELECT count(*) FROM items WHERE tbl = ?", (table,)).fetchone()[0])
               for table in TABLES}
        out["files"] = int(self.db.execute("SELECT count(*) FROM files").fetchone()[0])
        return out

    def search(self, table: str, vector: np.ndarray, count: int) -> list[Hit]:
        """The ``count`` nearest items of one table, best first, with their cosine similarity."""
        index = self.vectors[table]
        if len(index) == 0 or count <= 0:
            return []
        matches = index.search(np.asarray(vector, dtype=np.float32), min(len(index), count * OVERFETCH),
                               exact=len(index) < EXACT_BELOW)
        keys = [int(k) for k in matches.keys]
        if not keys:
            return []
        marks = ",".join("?" * len(keys))
        rows = {row[0]: row[1:] for row in self.db.execute(
            f"SELECT key, path, kind, start, end, text, thumb FROM items WHERE key IN ({marks})", keys)}
        hits = [Hit(Item(*rows[k]), table, 1.0 - float(d)) for k, d in zip(keys, matches.distances) if k in rows]
        return hits[:count]

    def keyframe_at(self, path: str, t: float) -> str | None:
        """The keyframe of the video shot of ``path`` playing at ``t`` seconds (a speech hit's picture)."""
        row = self.db.execute("SELECT thumb FROM items WHERE path = ? AND tbl = 'visual' AND thumb IS NOT NULL "
                              "AND start <= ? ORDER BY start DESC LIMIT 1", (path, t)).fetchone()
        return row[0] if row else None

    def close(self) -> None:
        self.db.close()
        self.vectors.clear()  # the memory maps go with their last reference


def describe(space: dict) -> str:
    return f"{space.get('name')} ({space.get('visual')}; text {space.get('text')})"


def _library() -> str:
    import usearch

    return f"usearch {usearch.__version__}"


def _write_atomic(path: Path, data: bytes) -> None:
    temp = path.with_suffix(path.suffix + ".tmp")
    temp.write_bytes(data)
    os.replace(temp, path)
