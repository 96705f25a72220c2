"""`python -m bench`: the row runner and the table's shape, on the fastest row, and the rows derived from the
application records. Never asserts timings. The benchmarks run as `python -m bench...` in a child process: tests and
bench share the test kit (mmdemo.testing) and never import each other."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from mmdemo.applications import APPLICATIONS
from tests.conftest import requires_pack

ROOT = Path(__file__).resolve().parent.parent
COLUMNS = ["pipeline", "weights", "cold load (s)", "warm latency (s)", "plain call (s)", "wrapper overhead (%)",
           "CPU-time overhead (%)", "peak RSS (MB)", "same result"]


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _bench(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


@requires_pack("fer")
def test_one_row_table():
    proc = _bench("bench", "--only", "emotion-face", "--runs", "1", timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("Machine: ") and "CPU cores" in lines[0] and "load average" in lines[0]
    table = [line for line in lines if line.startswith("|")]
    assert len(table) == 3  # header, separator, one row
    assert _cells(table[0]) == COLUMNS
    row = _cells(table[2])
    assert row[0] == "emotion-face" and row[1].startswith("pack")
    cold, warm, plain, overhead, cpu_overhead, rss = (float(v) for v in row[2:8])
    assert cold > 0 and warm > 0 and plain > 0 and rss > 0
    assert overhead == round(overhead, 1) and cpu_overhead == round(cpu_overhead, 1)  # percentages, one decimal
    assert row[8] == "yes"  # the pipeline and the plain call found the same face with the same label
    assert "- **emotion-face**:" in proc.stdout  # the plain call is spelled out under the table


def test_unknown_row_is_one_clear_line():
    proc = _bench("bench", "--only", "nope")
    assert proc.returncode == 2
    assert "unknown row 'nope'" in proc.stderr and "Traceback" not in proc.stderr


def test_failed_row_keeps_the_table_shape(tmp_path):
    ok = {"name": "search-embedder", "weights": "pack (MiniLM)", "cold_s": 4.0, "warm_s": 0.1, "plain_s": 0.1,
          "overhead_pct": 1.04, "cpu_overhead_pct": -0.5, "peak_rss_mb": 900.0, "agree": False}
    saved = tmp_path / "rows.jsonl"
    saved.write_text("\n".join(json.dumps(r) for r in [
        ok, {"name": "speech", "error": "ModuleNotFoundError: No module named 'faster_whisper'"},
        dict(ok, name="video-shots")]))
    proc = _bench("bench", "--table", str(saved))
    assert proc.returncode == 1, proc.stderr  # a failed row is a failed run
    lines = [line for line in proc.stdout.splitlines() if line.startswith("|")]
    assert [len(_cells(line)) for line in lines] == [len(COLUMNS)] * 5
    assert _cells(lines[2])[5:] == ["+1.0", "-0.5", "900", "NO"]  # disagreeing outputs are flagged, not hidden
    assert _cells(lines[3])[2] == "failed: ModuleNotFoundError: No module named 'faster_whisper'"
    assert _cells(lines[4])[5:7] == ["n/a: different work", "n/a"]  # no overhead claimed for a different job


def test_rows_come_from_the_application_records(tmp_path):
    """Every row belongs to an application record, in the records' order; an application with no row is named."""
    saved = tmp_path / "rows.jsonl"
    saved.write_text(json.dumps({"name": "nope", "error": "x"}))
    refused = _bench("bench", "--table", str(saved))
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    rows = refused.stderr.strip().splitlines()[-1].split("rows: ")[1].split(", ")
    keys = [app.key for app in APPLICATIONS]
    owners = [next(k for k in sorted(keys, key=len, reverse=True) if row == k or row.startswith(f"{k}-"))
              for row in rows]
    assert owners == sorted(owners, key=keys.index)  # grouped and ordered as APPLICATIONS
    saved.write_text(json.dumps({"name": rows[0], "error": "x"}))
    listing = _bench("bench", "--table", str(saved)).stdout
    without = [k for k in keys if k not in owners]
    if without:
        assert f"Applications with no row here: {', '.join(without)}." in listing
    else:
        assert "no row here" not in listing


def test_bench_real_skips_without_data(tmp_path):
    proc = _bench("bench.real", "--data", str(tmp_path / "absent"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().startswith("bench.real: skipped")


def _imported_roots(folder: Path) -> dict[str, set[str]]:
    import ast

    found = {}
    for path in folder.rglob("*.py"):
        roots = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                roots |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                roots.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = roots
    return found


def test_tests_and_bench_share_the_kit_and_never_import_each_other():
    """Both import mmdemo.testing; a test runs a benchmark as `python -m bench...`, never by import."""
    offenders = [f for f, roots in _imported_roots(ROOT / "tests").items() if "bench" in roots]
    offenders += [f for folder in ("bench", "mmdemo") for f, roots in _imported_roots(ROOT / folder).items()
                  if "tests" in roots]
    assert not offenders, offenders
