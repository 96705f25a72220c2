"""Start-up cost: how long until `python app.py` answers HTTP, and how long `python -m mmdemo models --json` takes.

    python -m bench.startup [--runs 3]

No model is loaded in either (models load lazily on first use), so these are import + UI build times.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def time_app_start(timeout: float = 120.0) -> float:
    port = _free_port()
    env = dict(os.environ, GRADIO_SERVER_PORT=str(port), GRADIO_ANALYTICS_ENABLED="False")
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - started < timeout:
            if proc.poll() is not None:
                raise RuntimeError(f"app.py exited with code {proc.returncode}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as reply:
                    if reply.status == 200:
                        return time.perf_counter() - started
            except OSError:
                time.sleep(0.05)  # polling interval while the server boots
        raise TimeoutError("app.py did not answer in time")
    finally:
        proc.terminate()
        proc.wait(10)


def time_cli_models() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "mmdemo", "models", "--json"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    app = [time_app_start() for _ in range(args.runs)]
    cli = [time_cli_models() for _ in range(args.runs)]
    print(f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}; "
          f"median of {args.runs} runs\n")
    print("| what | median (s) | min (s) |\n|---|---|---|")
    print(f"| `python app.py` until the page answers | {statistics.median(app):.2f} | {min(app):.2f} |")
    print(f"| `python -m mmdemo models --json` | {statistics.median(cli):.2f} | {min(cli):.2f} |")


if __name__ == "__main__":
    main()
