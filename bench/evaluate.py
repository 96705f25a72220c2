"""What the local evaluation engine adds to the pipelines it runs (the goal: under 5%), on real data, warm models.

    python -m bench.evaluate [--data ../shared/data] [--texts 100] [--clips 8] [--runs 3]

Workloads: the emotion text task (the offline head) on the first single-label GoEmotions (Ekman) dev rows, and
the speech task (the whisper-base pack) on the development folder's English clips. Each run alternates the plain
loop (the pipeline's public function called item after item, each call timed) with ``evaluation.evaluate`` on the
same manifest; the overhead is the engine's wall time (manifest items in, metrics and report out) over the sum of
the plain loop's per-item times, and over the sum of its own items' times (what the engine adds around them).
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import DEFAULT_DATA, load_average, machine_line


def emotion_manifest(data: Path, count: int, folder: Path) -> Path:
    labels = (data / "emotion" / "ekman_labels.txt").read_text().split()
    rows = []
    with (data / "emotion" / "ekman_dev.tsv").open(encoding="utf-8") as handle:
        for line in handle:
            text, ids, _ = line.rstrip("\n").split("\t")
            if "," not in ids:  # single-label rows: one reference per item
                rows.append([text, labels[int(ids)]])
            if len(rows) == count:
                break
    return _write(folder / "emotion.csv", ["text", "label"], rows)


def speech_manifest(data: Path, count: int, folder: Path) -> Path:
    clips = json.loads((data / "speech" / "manifest.json").read_text())[:count]
    return _write(folder / "speech.csv", ["path", "reference", "language"],
                  [[str(data / "speech" / c["file"]), c["reference"], c["lang"]] for c in clips])


def _write(path: Path, header, rows) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def plain_emotion(item: dict) -> str:
    from mmdemo.pipelines import emotion

    return emotion.analyze(text=item["text"], text_reader="head").label


def plain_speech(item: dict) -> str:
    from mmdemo.pipelines import speech

    return speech.transcribe(item["path"], language=item.get("language"), beam_size=5, batch_size=8).text


WORKLOADS = {"emotion": ("emotion", "head:text_reader=head", plain_emotion),
             "speech": ("speech", "default", plain_speech)}


def measure(name: str, manifest: Path, runs: int) -> dict:
    from mmdemo.pipelines import evaluation

    task, config, plain = WORKLOADS[name]
    items, skipped = evaluation.read_manifest(task, manifest)
    assert not skipped, skipped
    plain(items[0])  # warm: models loaded before anything is timed...
    evaluation.evaluate(task, items[:1], [config])  # ...and the metric libraries imported (once per process)
    plain_sums, engine_walls, engine_sums, same = [], [], [], True
    for run in range(runs):
        for side in ("plain", "engine") if run % 2 == 0 else ("engine", "plain"):  # order alternates: no bias
            if side == "plain":
                outputs, total = [], 0.0
                for item in items:
                    started = time.perf_counter()
                    outputs.append(plain(item))
                    total += time.perf_counter() - started
                plain_sums.append(total)
            else:
                started = time.perf_counter()
                report = evaluation.evaluate(task, items, [config])
                engine_walls.append(time.perf_counter() - started)
                result = report.configs[0]
                engine_sums.append(sum(i["seconds"] for i in result.items))
        same &= [i.get("output") for i in result.items] == outputs
    plain_sum, wall, own = (statistics.median(v) for v in (plain_sums, engine_walls, engine_sums))
    return {"name": name, "items": len(items), "plain": plain_sum, "own": own, "wall": wall,
            "vs_plain": 100 * (wall - plain_sum) / plain_sum, "vs_own": 100 * (wall - own) / own, "same": same,
            "metrics": {k: v for k, v in result.metrics.items() if isinstance(v, (int, float))}}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="development data folder (emotion/, speech/)")
    parser.add_argument("--texts", type=int, default=100, help="GoEmotions rows for the emotion workload")
    parser.add_argument("--clips", type=int, default=8, help="speech clips (at most 8)")
    parser.add_argument("--runs", type=int, default=3, help="alternated runs; medians are reported")
    parser.add_argument("--only", default="emotion,speech", help="emotion, speech or both")
    args = parser.parse_args(argv)
    load_start = load_average()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name in [n.strip() for n in args.only.split(",") if n.strip()]:
            make = emotion_manifest if name == "emotion" else speech_manifest
            manifest = make(args.data, args.texts if name == "emotion" else args.clips, folder)
            rows.append(measure(name, manifest, args.runs))
    print(machine_line(load_start))
    print()
    print("| workload | items | plain loop: sum of per-item times (s) | engine: sum of its items' times (s) "
          "| engine wall (s) | overhead vs plain loop (%) | overhead vs its own items (%) | same outputs | metrics |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        metrics = ", ".join(f"{k} {v:g}" for k, v in r["metrics"].items())
        print(f"| {r['name']} | {r['items']} | {r['plain']:.2f} | {r['own']:.2f} | {r['wall']:.2f} "
              f"| {r['vs_plain']:.1f} | {r['vs_own']:.1f} | {'yes' if r['same'] else 'no'} | {metrics} |")


if __name__ == "__main__":
    main()
