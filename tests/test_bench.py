"""`python -m bench`: the row runner and the table's shape, on the fastest row. Never asserts timings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import requires_pack

ROOT = Path(__file__).resolve().parent.parent
COLUMNS = ["pipeline", "weights", "cold load (s)", "warm latency (s)", "plain call (s)", "wrapper overhead (%)",
           "CPU-time overhead (%)", "peak RSS (MB)", "same result"]


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


@requires_pack("fer")
def test_one_row_table():
    proc = subprocess.run([sys.executable, "-m", "bench", "--only", "emotion_face", "--runs", "1"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("Machine: ") and "CPU cores" in lines[0] and "load average" in lines[0]
    table = [line for line in lines if line.startswith("|")]
    assert len(table) == 3  # header, separator, one row
    assert _cells(table[0]) == COLUMNS
    row = _cells(table[2])
    assert row[0] == "emotion_face" and row[1].startswith("pack")
    cold, warm, plain, overhead, cpu_overhead, rss = (float(v) for v in row[2:8])
    assert cold > 0 and warm > 0 and plain > 0 and rss > 0
    assert overhead == round(overhead, 1) and cpu_overhead == round(cpu_overhead, 1)  # percentages, one decimal
    assert row[8] == "yes"  # the pipeline and the plain call found the same face with the same label
    assert "- **emotion_face**:" in proc.stdout  # the plain call is spelled out under the table


def test_unknown_row_is_one_clear_line():
    proc = subprocess.run([sys.executable, "-m", "bench", "--only", "nope"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2
    assert "unknown row 'nope'" in proc.stderr and "Traceback" not in proc.stderr


def test_failed_row_keeps_the_table_shape():
    from bench.__main__ import table

    ok = {"name": "embedder", "weights": "pack (MiniLM)", "cold_s": 4.0, "warm_s": 0.1, "plain_s": 0.1,
          "overhead_pct": 1.04, "cpu_overhead_pct": -0.5, "peak_rss_mb": 900.0, "agree": False}
    lines = table([ok, {"name": "speech", "error": "ModuleNotFoundError: No module named 'faster_whisper'"},
                   dict(ok, name="video_shots")])
    assert [len(_cells(line)) for line in lines] == [len(COLUMNS)] * 5
    assert _cells(lines[2])[5:] == ["+1.0", "-0.5", "900", "NO"]  # disagreeing outputs are flagged, not hidden
    assert _cells(lines[3])[2] == "failed: ModuleNotFoundError: No module named 'faster_whisper'"
    assert _cells(lines[4])[5:7] == ["n/a: different work", "n/a"]  # no overhead claimed for a different job


def test_bench_real_skips_without_data_and_matches_cuts_one_to_one(tmp_path, capsys):
    from bench.real import main, match_cuts

    assert main(["--data", str(tmp_path / "absent")]) == 0
    assert capsys.readouterr().out.strip().startswith("bench.real: skipped")
    # each true cut is matched by at most one found cut, nearest first, within the tolerance
    assert match_cuts([1.0, 1.1, 5.0], [1.05, 3.0]) == 1
    assert match_cuts([1.0, 2.9], [1.2, 3.0]) == 2 and match_cuts([], [1.0]) == 0 and match_cuts([0.2], []) == 0
