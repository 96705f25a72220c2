"""Video summarization speed: a 60 s 1280x720 video with narration, summarized with warm models, time per stage;
and the cut detectors compared on generated videos with known transitions (hard cuts, fades, dissolves, title
cards, motion inside shots) and, when the development data folder (``--data``, default ../shared/data beside the
checkout) has video/, on real films (found, missed, extra, seconds), next to PySceneDetect's own
``detect(file, ContentDetector())`` on every frame.

    python -m bench.video [--seconds 60] [--runs 2] [--skip-detectors] [--detector-videos 5]
                          [--skip-stages] [--detectors combined,scenedetect] [--first-seed 40] [--data DIR]

The video is built by ``mmdemo/testing/videos.py``: scenes drawn by ``random_scenes`` (photos from scikit-image panned
slowly or fast, coloured scenes with moving shapes, hue-only changes, A-B-A returns) with espeak-ng narration.
Models are the offline packs (EfficientNet-Lite0 keyframes and tags, MiniLM, whisper-base); the first run loads
them and is reported separately, then ``--runs`` warm runs are timed. A cut counts as found within 0.5 s,
a gradual transition anywhere inside its span.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import DEFAULT_DATA  # noqa: E402 (after the path: python bench/video.py works too)

TOLERANCE = 0.5
LINES = ["The mission begins on a clear morning at the launch site.",
         "An astronaut checks her suit before the flight.",
         "The rocket stands ready on the pad, fuel lines connected.",
         "Coffee keeps the ground crew awake through the night.",
         "A cat watches the countdown from the window.",
         "Engines ignite and the rocket climbs into the sky.",
         "Far away, galaxies glow in the deep field image.",
         "The crew reports that all systems are working well."]


def build_video(path: Path, seconds: float, size=(1280, 720), seed: int = 3):
    import numpy as np

    from mmdemo.testing.videos import Narration, make_video, photos, random_scenes

    rng = np.random.default_rng(seed)
    scenes, total = [], 0.0
    for scene in random_scenes(rng, 60, photos(), 1.5, 6.0):
        if total + scene.seconds > seconds:
            break
        scenes.append(scene)
        total += scene.seconds
    gap = total / len(LINES)
    narration = [Narration(round(i * gap + 0.3, 2), line) for i, line in enumerate(LINES)]
    return make_video(path, scenes, size=size, fps=25, narration=narration, seed=seed)


def score(found: list[float], truth: list[float]) -> tuple[int, int, int]:
    hits = sum(any(abs(c - f) <= TOLERANCE for f in found) for c in truth)
    extra = sum(not any(abs(c - f) <= TOLERANCE for c in truth) for f in found)
    return hits, len(truth) - hits, extra


def stage_table(path: Path, runs: int, truth: list[float]) -> list[str]:
    from mmdemo.pipelines.video_summary import summarize_video, write_report

    out = Path(tempfile.mkdtemp(prefix="bench-video-"))
    started = time.perf_counter()
    cold = summarize_video(path)
    write_report(cold, out / "cold")
    cold_total = time.perf_counter() - started
    rows = []
    for run in range(runs):
        started = time.perf_counter()
        result = summarize_video(path)
        write_report(result, out / f"warm{run}")
        rows.append((dict(result.timings), time.perf_counter() - started, result))
    stages = list(rows[0][0])
    lines = ["| stage | " + " | ".join(f"warm run {i + 1} (s)" for i in range(runs)) + " | cold run (s) |",
             "|---|" + "---|" * (runs + 1)]
    for stage in stages:
        lines.append(f"| {stage} | " + " | ".join(f"{r[0][stage]:.2f}" for r in rows)
                     + f" | {cold.timings.get(stage, 0):.2f} |")
    lines.append("| **total (wall)** | " + " | ".join(f"**{r[1]:.2f}**" for r in rows) + f" | {cold_total:.2f} |")
    last = rows[-1][2]
    info = last.info
    lines += ["", f"{info.duration:.1f} s, {info.width}x{info.height} {info.codec} {info.fps:g} fps; "
              f"{len(last.shots)} shots ({sum(s.duplicate_of is not None for s in last.shots)} duplicates), "
              f"{len(getattr(last.transcript, 'segments', []) or [])} transcript segments; "
              f"summary: {last.summary.method}; median warm total {statistics.median(r[1] for r in rows):.2f} s"]
    hits, missed, extra = score([s.start for s in last.shots[1:]], truth)
    lines.append(f"cuts on this video: {hits}/{len(truth)} found within {TOLERANCE} s, {missed} missed, {extra} extra")
    return lines


REAL_CUTS = {"bikes.mp4": [1.20, 3.04, 5.48, 7.48, 9.68], "Megamind.avi": [4.13, 6.47, 8.38],
             "bigbuckbunny.mp4": []}
CONFIGS = [("combined", 0.04), ("content", 0.04), ("adaptive", 0.04), ("adaptive", 0.1), ("content", 0.1)]


def _scenedetect_every_frame(path: Path) -> list[float]:
    from scenedetect import ContentDetector, detect

    return [start.seconds for start, _ in detect(str(path), ContentDetector(), backend="pyav")[1:]]


def _rows(videos, detectors: set[str] | None = None) -> list[str]:
    """videos: (path, transitions); one row per detector (all, or those named in ``detectors``; "scenedetect"
    for the plain library): found / missed / extra, seconds."""
    from mmdemo.pipelines.video_summary.shots import detect_shots
    from mmdemo.testing.videos import score

    total = sum(len(t) for _, t in videos)
    rows = []
    runs = [(f"{d} ({1 / e:g}/s)", lambda p, d=d, e=e: detect_shots(p, detector=d, every_seconds=e,
                                                                      dedupe=False).cuts) for d, e in CONFIGS
            if detectors is None or d in detectors]
    if detectors is None or "scenedetect" in detectors:
        runs.append(("scenedetect.detect(ContentDetector()), every frame", _scenedetect_every_frame))
    for label, run in runs:
        found = missed = extra = 0
        started = time.perf_counter()
        for path, transitions in videos:
            m, e = score(run(path), transitions, TOLERANCE)
            found, missed, extra = found + len(transitions) - len(m), missed + len(m), extra + len(e)
        rows.append(f"| {label} | {found}/{total} | {missed} | {extra} | {time.perf_counter() - started:.1f} |")
    return rows


def detector_table(count: int, first_seed: int = 0, detectors: set[str] | None = None,
                   data: Path = DEFAULT_DATA) -> list[str]:
    import numpy as np

    from mmdemo.testing.videos import Transition, make_video, photos, random_scenes, random_transitions

    pictures = photos()
    folder = Path(tempfile.mkdtemp(prefix="bench-cuts-"))
    extensions = [".mp4", ".mkv", ".webm", ".avi", ".mov"]
    made = [make_video(folder / f"tr{i}{extensions[i % 5]}",
                       random_transitions(np.random.default_rng(i), 8, pictures), seed=i)
            for i in range(first_seed, first_seed + count)]
    made += [make_video(folder / f"cuts{i}.mp4", random_scenes(np.random.default_rng(100 + i), 8, pictures),
                        seed=100 + i) for i in range(first_seed, first_seed + max(1, count // 2))]
    kinds = {}
    for m in made:
        for t in m.transitions:
            kinds[t.kind] = kinds.get(t.kind, 0) + 1
    header = ["| detector (sampling) | found | missed | extra | seconds (incl. keyframes) |", "|---|---|---|---|---|"]
    lines = [f"{len(made)} generated videos (320x180, 25 fps, {sum(m.duration for m in made):.0f} s; "
             f"{', '.join(f'{n} {k}' for k, n in kinds.items())}; pans, sweeps, shake, crowds inside shots): "
             f"a hard cut found within {TOLERANCE} s, a gradual one inside its span:", "", *header,
             *_rows([(m.path, m.transitions) for m in made], detectors), ""]
    real = data / "video"  # measured only when present
    if real.is_dir():
        films = [(real / name, [Transition("cut", c, c) for c in cuts]) for name, cuts in REAL_CUTS.items()
                 if (real / name).is_file()]
        lines += [f"real films ({', '.join(p.name for p, _ in films)}; "
                  f"{sum(len(t) for _, t in films)} hard cuts):", "", *header, *_rows(films, detectors)]
    else:
        lines.append(f"real films: skipped ({real} not found)")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--skip-detectors", action="store_true")
    parser.add_argument("--detector-videos", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=0, help="seed of the first generated detector video")
    parser.add_argument("--detectors", default="", help="comma-separated rows of the detector table (combined, "
                        "content, adaptive, embedding, scenedetect); default all")
    parser.add_argument("--skip-stages", action="store_true", help="only the detector table")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="the development data folder, with video/ (default: ../shared/data beside the checkout)")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    print(f"# bench.video on {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads)\n")
    if not args.skip_stages:
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            made = build_video(Path(tmp) / "bench.mp4", args.seconds)
            print(f"built {made.path.name}: {made.duration:.1f} s, {len(made.cuts) + 1} scenes, "
                  f"{len(made.narration)} narrated lines in {time.perf_counter() - started:.0f} s\n")
            print("\n".join(stage_table(made.path, args.runs, made.cuts)) + "\n")
    if not args.skip_detectors:
        names = {d.strip() for d in args.detectors.split(",") if d.strip()} or None
        print("\n".join(detector_table(args.detector_videos, args.first_seed, names, args.data)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
