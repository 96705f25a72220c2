"""Helpers shared by the benchmark modules: the development data folder, the machine line, load average, peak
memory."""

from __future__ import annotations

import os
import platform
import resource
import sys
from pathlib import Path

# The project's development data (README there): ../shared/data beside the checkout; each benchmark's --data
# names another. The app itself never reads it.
DEFAULT_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def load_average() -> float:
    """The 1-minute load average (NaN where the OS has none): the machine is shared, so tables say how busy it was."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def machine_line(load_start: float | None = None) -> str:
    """Architecture, cores, Python, torch and its thread count, and the load average (at start and now)."""
    import torch

    load_now = load_average()
    load = f"load average {load_start:.2f} at start, {load_now:.2f} at the end" if load_start is not None \
        else f"load average {load_now:.2f}"
    return (f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}, "
            f"torch {torch.__version__} with {torch.get_num_threads()} threads; {load} (1 min, shared machine)")

