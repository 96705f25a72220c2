"""Times as people read them in a video or a transcript: one format for every tab and report."""

from __future__ import annotations


def clock(seconds: float) -> str:
    """m:ss.s (h:mm:ss.s past an hour)."""
    tenths = round(max(seconds, 0.0) * 10)  # rounded first: 59.96 s is 1:00.0, never 0:60.0
    minutes, tenths = divmod(tenths, 600)
    hours, minutes = divmod(minutes, 60)
    secs = tenths / 10
    return f"{hours}:{minutes:02d}:{secs:04.1f}" if hours else f"{minutes}:{secs:04.1f}"
