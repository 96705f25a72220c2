"""Soak: one `python app.py` process serves a mix of requests (speech, captioning, video summary, emotion,
text-to-image) from several clients at once, under a memory budget that forces models out and back in, with a
short MMDEMO_OUTPUT_TTL. Every answer is checked; the table gives requests per minute, p50/p95 latency per
endpoint, resident memory and temp usage over time, and each backend's load count.

    python -m bench.soak --minutes 10                 # the long run (README numbers)
    python -m bench.soak --requests 48 --clients 4    # what tests/test_soak.py runs (mmdemo.testing.soak)

Inputs are generated or shipped in assets/ (a two-shot video is written with mmdemo.testing.videos). /generate needs a
diffusion model: MMDEMO_DIFFUSION_MODEL (a tiny random one measures the server, not the model); without one the
mix leaves it out and says so.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from bench.common import load_average, machine_line
from mmdemo.testing.soak import KINDS, Server, make_inputs, soak, table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=None, help="run this long (default: --requests)")
    parser.add_argument("--requests", type=int, default=48)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--max-memory-gb", default="0.17",
                        help="MMDEMO_MAX_MEMORY_GB for the server (0.17: the four models used do not all fit)")
    parser.add_argument("--ttl", default="60", help="MMDEMO_OUTPUT_TTL for the server, seconds")
    args = parser.parse_args(argv)
    load_start = load_average()
    kinds = KINDS if os.environ.get("MMDEMO_DIFFUSION_MODEL") else tuple(k for k in KINDS if k != "generate")
    if "generate" not in kinds:
        print("MMDEMO_DIFFUSION_MODEL is not set: /generate is left out of the mix.", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="mmdemo-soak-") as tmp:
        work = Path(tmp)
        inputs = make_inputs(work / "inputs")
        env = {"MMDEMO_OUTPUT_DIR": str(work / "root"), "MMDEMO_OUTPUT_TTL": args.ttl,
               "MMDEMO_MAX_MEMORY_GB": args.max_memory_gb}
        with Server(env, work / "server.log") as server:
            result = soak(server, inputs, work / "root", clients=args.clients,
                          requests=None if args.minutes else args.requests,
                          seconds=args.minutes * 60 if args.minutes else None, kinds=kinds,
                          sample_every=max(1.0, (args.minutes or 1) * 60 / 60))
            log = server.log()
    print(table(result, args.clients, args.max_memory_gb, args.ttl, machine_line(load_start)))
    print(f"\nTracebacks in the server log: {log.count('Traceback')}")
    for block in log.split("Traceback")[1:3]:  # the first two, enough to tell what went wrong
        print("Traceback" + block[-1500:])


if __name__ == "__main__":
    main()
