"""Every MMDEMO_* variable the code reads is in docs/configuration.md, and every one documented there is read
somewhere: a variable added, renamed or dropped in one place only fails here."""

from __future__ import annotations

import re
from pathlib import Path

from mmdemo import backends

ROOT = Path(__file__).resolve().parent.parent
NAME = re.compile(r"MMDEMO_[A-Z0-9_]*[A-Z0-9]")


def _read_by_code() -> set[str]:
    sources = [ROOT / "app.py", *(ROOT / "mmdemo").rglob("*.py"), *(ROOT / "demos").glob("*.py")]
    names = {name for path in sources for name in NAME.findall(path.read_text(encoding="utf-8"))}
    # each backend's MMDEMO_<BACKEND>_MODEL is built from its name; the docs cover them with one row
    return (names | {backends.REGISTRY.spec(b).env_var for b in backends.REGISTRY.names}) - {"MMDEMO_"}


def test_every_variable_the_code_reads_is_documented_and_back():
    doc = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    documented = set(NAME.findall(doc))
    per_backend = {backends.REGISTRY.spec(b).env_var for b in backends.REGISTRY.names}
    assert "MMDEMO_<BACKEND>_MODEL" in doc  # the row that stands for every backend's variable
    code = _read_by_code()
    missing = sorted(code - documented - per_backend)
    unread = sorted(documented - code)
    assert not missing, f"read by the code but not in docs/configuration.md: {missing}"
    assert not unread, f"in docs/configuration.md but read nowhere: {unread}"
