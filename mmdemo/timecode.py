"""Times as people read them in a video or a transcript: one format for every tab and report."""

from __future__ import annotations


def clock(seconds: float) -> str:
    """m:ss.s (h:mm:ss.s past an hour)."""
    minutes, secs = divmod(max(seconds, 0.0), 60)
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours}:{minutes:02d}:{secs:04.1f}" if hours else f"{minutes}:{secs:04.1f}"
