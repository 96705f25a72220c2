"""All pipelines in one table: cold load, warm latency, the plain library call they wrap, overhead, peak memory.

    python -m bench [--only NAME[,NAME...]] [--runs 7]
    python -m bench --table rows.jsonl      # the table of rows measured earlier, one JSON line each

Each row runs in a fresh Python process (``bench.pipeline_row``), so one row's models never inflate another's
load time or memory. The rows are the applications' (``mmdemo.applications``); one without a row is named under
the table. Per-tab benchmarks with more detail: ``python -m bench.<tab>``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from bench.common import load_average, machine_line
from bench.pipeline_row import MIN_SAMPLE_S, NO_ROW, ROOT, ROWS

BASELINE = "import numpy, torch; from bench.common import peak_rss_mb; print(peak_rss_mb())"


def run_row(name: str, runs: int) -> dict:
    """The row's JSON, or {"name", "error"} with the last line the child wrote to stderr."""
    proc = subprocess.run([sys.executable, "-m", "bench.pipeline_row", name, "--runs", str(runs)], cwd=ROOT,
                          capture_output=True, text=True)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode == 0 and lines:
        return json.loads(lines[-1])
    errors = [line for line in proc.stderr.strip().splitlines() if line.strip()]
    return {"name": name, "error": errors[-1] if errors else f"exit code {proc.returncode}"}


def table(results: list[dict]) -> list[str]:
    out = ["| pipeline | weights | cold load (s) | warm latency (s) | plain call (s) | wrapper overhead (%) | "
           "CPU-time overhead (%) | peak RSS (MB) | same result |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        if "error" in r:
            out.append(f"| {r['name']} | {ROWS[r['name']].weights} | failed: {r['error']} | | | | | | |")
            continue
        same = ROWS[r["name"]].same_work
        overhead = f"{r['overhead_pct']:+.1f}" if same else "n/a: different work"
        cpu = f"{r['cpu_overhead_pct']:+.1f}" if same else "n/a"
        out.append(f"| {r['name']} | {r['weights']} | {r['cold_s']:.2f} | {r['warm_s']:.3f} | {r['plain_s']:.3f} | "
                   f"{overhead} | {cpu} | {r['peak_rss_mb']:.0f} | {'yes' if r['agree'] else 'NO'} |")
    return out


def describe(names: list[str]) -> None:
    print("What each plain call is:\n")
    for name in names:
        row = ROWS[name]
        print(f"- **{name}**: {row.pipeline} vs {row.plain}.")
    if NO_ROW:
        print(f"\nApplications with no row here: {', '.join(NO_ROW)}.")


def print_saved(parser: argparse.ArgumentParser, lines) -> int:
    """The table of saved rows: one JSON object a line, as ``bench.pipeline_row`` prints them or with "error"."""
    try:
        results = [json.loads(line) for line in lines if line.strip()]
    except json.JSONDecodeError as exc:
        parser.error(f"{lines.name} is not one JSON row a line: {exc}")
    unknown = [r.get("name") for r in results if r.get("name") not in ROWS]
    if unknown:
        parser.error(f"unknown row {unknown[0]!r} in {lines.name}; rows: {', '.join(ROWS)}")
    print("\n".join(table(results)) + "\n")
    describe([r["name"] for r in results])
    return 1 if any("error" in r for r in results) else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help=f"comma-separated rows, from: {', '.join(ROWS)}")
    parser.add_argument("--runs", type=int, default=7, help="warm calls per side (median), after one warm-up")
    parser.add_argument("--table", type=argparse.FileType("r"), default=None,
                        help="print the table of rows measured earlier (python -m bench.pipeline_row's JSON lines)")
    args = parser.parse_args(argv)
    if args.table is not None:
        return print_saved(parser, args.table)
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(ROWS)
    unknown = [n for n in names if n not in ROWS]
    if unknown:
        parser.error(f"unknown row {unknown[0]!r}; rows: {', '.join(ROWS)}")
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    load_start = load_average()
    baseline = float(subprocess.run([sys.executable, "-c", BASELINE], cwd=ROOT, capture_output=True, text=True,
                                    check=True).stdout)
    results = []
    for name in names:
        print(f"bench: {name}...", file=sys.stderr, flush=True)
        results.append(run_row(name, args.runs))
    print(f"{machine_line(load_start)}; at least {args.runs} warm calls per side\n")
    print("\n".join(table(results)))
    print(f"\nCold load: the first call in a fresh process (model load + first inference; `torch` already imported). "
          f"Warm latency and plain call: medians over {args.runs} alternating pairs of calls after one warm-up each "
          f"(calls under {MIN_SAMPLE_S:g} s get more pairs: about {args.runs} x {MIN_SAMPLE_S:g} s per side). "
          "Overhead: the median over pairs of (pipeline call / plain call - 1); the two calls of a pair run back to back, "
          "so the shared machine's changing load hits both alike. CPU-time overhead: the same with the process's CPU "
          "time (all its threads). "
          f"Peak RSS: the whole process after the pipeline's warm-up, before the plain model is loaded; an idle "
          f"Python with numpy and torch imported is {baseline:.0f} MB. Same result: the pipeline's and the plain "
          "call's outputs agree (same text, labels, vectors, pixels or cuts).\n")
    describe(names)
    failed = [r for r in results if "error" in r]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
