"""Search: the vector index libraries at 100,000 items, and indexing throughput of the models against the index.

    python -m bench.search [--items 100000] [--dims 384 512] [--queries 200] [--libraries usearch faiss|faiss-flat lancedb]
                           [--skip-libraries] [--skip-throughput] [--data ../shared/data]

Part 1, libraries: ``--items`` random unit vectors per dimension (384: MiniLM, the offline space and transcripts;
512: CLIP ViT-B-32), built with 2 threads; one query at a time (top 10) after a warm-up, p50 and p95 latency;
recall@10 against an exact numpy scan; file size and the time to open the saved file. Libraries that are not
installed are left out (usearch is the one the app uses; faiss-cpu and lancedb can be pip-installed to compare).

Part 2, throughput: the pipeline indexes real files (skimage.data photos; a real video with its speech from
``--data``, the project's development data, when present) in the space this machine has (offline packs here),
into an index already holding ``--items`` random vectors; the time spent inside the index (add, remove, save) is
measured apart from the rest (decoding, shots, models).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import DEFAULT_DATA, load_average, machine_line

THREADS = 2


def unit(rng, n: int, d: int) -> np.ndarray:
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _latencies(search, queries) -> tuple[float, float]:
    search(queries[0])  # warm-up
    times = []
    for q in queries:
        started = time.perf_counter()
        search(q)
        times.append(time.perf_counter() - started)
    times.sort()
    return statistics.median(times) * 1e3, times[int(0.95 * (len(times) - 1))] * 1e3


def _recall(found: list[list[int]], truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t.tolist())) / len(t) for f, t in zip(found, truth)]))


def bench_usearch(data, queries, truth, folder: Path) -> dict:
    from usearch.index import Index

    from mmdemo.pipelines.search.index import DTYPE, EXPANSION_SEARCH

    index = Index(ndim=data.shape[1], metric="cos", dtype=DTYPE, expansion_search=EXPANSION_SEARCH)
    started = time.perf_counter()
    index.add(np.arange(len(data), dtype=np.uint64), data, threads=THREADS)
    build = time.perf_counter() - started
    path = folder / "bench.usearch"
    index.save(str(path))
    started = time.perf_counter()
    viewed = Index(ndim=data.shape[1], metric="cos", dtype=DTYPE)
    viewed.view(str(path))
    viewed.expansion_search = EXPANSION_SEARCH
    opened = time.perf_counter() - started
    p50, p95 = _latencies(lambda q: viewed.search(q, 10), queries)
    recall = _recall([[int(k) for k in viewed.search(q, 10).keys] for q in queries], truth)
    return {"library": f"usearch HNSW{index.connectivity} {DTYPE}, search breadth {EXPANSION_SEARCH} (the app's)",
            "build": build, "p50": p50, "p95": p95, "recall": recall, "mb": path.stat().st_size / 1e6,
            "open": opened, "index": index}


def bench_faiss(data, queries, truth, folder: Path, flat_only: bool = False) -> list[dict]:
    """faiss's exact scan, and its HNSW with the app's graph: usearch's connectivity and build breadth (the app
    keeps usearch's defaults) and the app's search breadth, so the two HNSW rows do the same search."""
    import faiss
    from usearch.index import Index

    from mmdemo.pipelines.search.index import EXPANSION_SEARCH

    app_graph = Index(ndim=data.shape[1], metric="cos")  # usearch's defaults, as the app builds its index

    def hnsw(d):
        index = faiss.IndexHNSWFlat(d, app_graph.connectivity, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = app_graph.expansion_add
        return index

    faiss.omp_set_num_threads(THREADS)
    rows = []
    kinds = (("faiss flat (exact)", lambda d: faiss.IndexIDMap2(faiss.IndexFlatIP(d))),
             (f"faiss HNSW{app_graph.connectivity}, search breadth {EXPANSION_SEARCH} (the app's)", hnsw))
    for name, make in kinds[:1] if flat_only else kinds:
        index = make(data.shape[1])
        started = time.perf_counter()
        if isinstance(index, faiss.IndexIDMap2):
            index.add_with_ids(data, np.arange(len(data), dtype=np.int64))
        else:
            index.add(data)
        build = time.perf_counter() - started
        path = folder / "bench.faiss"
        faiss.write_index(index, str(path))
        started = time.perf_counter()
        index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP)
        opened = time.perf_counter() - started
        params = faiss.SearchParametersHNSW(efSearch=EXPANSION_SEARCH) if isinstance(index, faiss.IndexHNSW) else None
        p50, p95 = _latencies(lambda q: index.search(q[None], 10, params=params), queries)
        recall = _recall([index.search(q[None], 10, params=params)[1][0].tolist() for q in queries], truth)
        rows.append({"library": name, "build": build, "p50": p50, "p95": p95, "recall": recall,
                     "mb": path.stat().st_size / 1e6, "open": opened})
    return rows


def bench_lancedb(data, queries, truth, folder: Path) -> dict:
    import lancedb
    import pyarrow as pa

    db = lancedb.connect(str(folder / "lance"))
    table_data = pa.table({"id": np.arange(len(data)), "vector": pa.FixedSizeListArray.from_arrays(
        pa.array(data.reshape(-1)), data.shape[1])})
    started = time.perf_counter()
    table = db.create_table("bench", table_data, mode="overwrite")
    table.create_index(metric="cosine", index_type="IVF_PQ")
    build = time.perf_counter() - started
    started = time.perf_counter()
    table = lancedb.connect(str(folder / "lance")).open_table("bench")
    opened = time.perf_counter() - started
    p50, p95 = _latencies(lambda q: table.search(q).metric("cosine").limit(10).to_arrow(), queries)
    recall = _recall([table.search(q).metric("cosine").limit(10).to_arrow()["id"].to_pylist() for q in queries],
                     truth)
    size = sum(p.stat().st_size for p in (folder / "lance").rglob("*") if p.is_file())
    return {"library": "lancedb IVF_PQ", "build": build, "p50": p50, "p95": p95, "recall": recall, "mb": size / 1e6,
            "open": opened}


def libraries(args, folder: Path) -> tuple[list[str], dict]:
    rng = np.random.default_rng(0)
    lines = [f"### Vector index at {args.items:,} random unit vectors, {THREADS} threads, top 10, "
             f"{args.queries} queries one at a time", "",
             "| dims | library | build (s) | query p50 (ms) | query p95 (ms) | recall@10 | file (MB) | open (s) |",
             "|---|---|---|---|---|---|---|---|"]
    built = {}
    for d in args.dims:
        data, queries = unit(rng, args.items, d), unit(rng, args.queries, d)
        truth = np.argsort(-(queries @ data.T), axis=1)[:, :10]
        rows = []
        for library in args.libraries:
            try:
                if library == "usearch":
                    rows.append(bench_usearch(data, queries, truth, folder))
                    built[d] = rows[-1].pop("index")
                elif library in ("faiss", "faiss-flat"):
                    rows += bench_faiss(data, queries, truth, folder, flat_only=library == "faiss-flat")
                elif library == "lancedb":
                    rows.append(bench_lancedb(data, queries, truth, folder))
            except ImportError as exc:
                lines.append(f"<!-- {library} not installed: {exc} -->")
        for r in rows:
            lines.append(f"| {d} | {r['library']} | {r['build']:.1f} | {r['p50']:.2f} | {r['p95']:.2f} | "
                         f"{r['recall']:.3f} | {r['mb']:.0f} | {r['open']:.3f} |")
            print(lines[-1], flush=True)
    return lines, built


class _IndexTimer:
    """Time spent inside SearchIndex's writes (add, remove, save), measured around the real methods."""

    def __init__(self):
        from mmdemo.pipelines.search.index import SearchIndex

        self.seconds, self.cls = 0.0, SearchIndex
        self.saved = {name: getattr(SearchIndex, name) for name in ("add_file", "remove_file", "save")}
        for name, method in self.saved.items():
            setattr(SearchIndex, name, self._timed(method))

    def _timed(self, method):
        def wrapper(*a, **k):
            started = time.perf_counter()
            try:
                return method(*a, **k)
            finally:
                self.seconds += time.perf_counter() - started
        return wrapper

    def restore(self) -> None:
        for name, method in self.saved.items():
            setattr(self.cls, name, method)


def throughput(args, folder: Path, built: dict) -> list[str]:
    import skimage.data
    from PIL import Image

    from mmdemo.pipelines import search
    from mmdemo.pipelines.search import embed
    from mmdemo.pipelines.search.index import SearchIndex

    space = embed.current_space()
    photos = folder / "photos"
    photos.mkdir()
    for name in ("astronaut", "chelsea", "coffee", "rocket", "cat", "hubble_deep_field", "immunohistochemistry"):
        Image.fromarray(getattr(skimage.data, name)()).convert("RGB").save(photos / f"{name}.jpg")
    inputs = [("7 photos (skimage.data)", [photos])]
    data = Path(args.data)
    for name, what in (("bikes.mp4", "video, 10 s, 6 shots, no audio"),
                       ("Megamind.avi", "video, 11 s, 4 shots, dialogue")):
        if (data / "video" / name).is_file():
            inputs.append((f"{name} ({what})", [data / "video" / name]))
    index_dir = folder / "index"
    dims = {"visual": embed.visual_dim(space), "speech": embed.text_dim()}
    index = SearchIndex.create_or_open(index_dir, space.identity, dims)
    filled = 0
    for table, d in dims.items():  # start from a full index: adding to 100,000 items is what is measured
        if d in built and table == "visual":
            index.vectors[table] = built[d].copy()
            filled = len(index.vectors[table])
    index.save()
    index.close()
    search.build_index([photos], folder / "warm")  # models loaded before anything is timed
    lines = ["", f"### Indexing throughput, {space.name} space ({space.method}); the index starts with "
                 f"{filled:,} visual items", "",
             "| input | items | total (s) | models, decoding (s) | inside the index (s) | index share |",
             "|---|---|---|---|---|---|"]
    for label, paths in inputs:
        timer = _IndexTimer()
        try:
            started = time.perf_counter()
            report = search.build_index(paths, index_dir)
            total = time.perf_counter() - started
        finally:
            timer.restore()
        items = sum(a["items"] for a in report.added)
        lines.append(f"| {label} | {items} | {total:.2f} | {total - timer.seconds:.2f} | {timer.seconds:.3f} | "
                     f"{timer.seconds / total:.1%} |")
        print(lines[-1], flush=True)
    return lines


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--dims", type=int, nargs="+", default=[384, 512])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--libraries", nargs="+", default=["usearch", "faiss", "lancedb"])
    parser.add_argument("--skip-libraries", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="the development data folder, with video/ (default: ../shared/data beside the checkout)")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    load_start = load_average()
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="mmdemo-bench-search-") as tmp:
        built: dict = {}
        if not args.skip_libraries:
            part, built = libraries(args, Path(tmp))
            lines += part
        if not args.skip_throughput:
            lines += throughput(args, Path(tmp), built)
    print()
    print(machine_line(load_start))
    print()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
