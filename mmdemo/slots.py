"""Slots: how many requests may use a group of backends at once, in this process. A tab's Gradio event queues on one
``concurrency_id``; a request whose work depends on its inputs (the Emotion tab: text alone, or a recording, or a
video) takes here the slots of the backends it actually uses, so a text reading never waits behind a minutes-long
voice or video reading."""

from __future__ import annotations

import contextlib
import threading

_slots: dict[str, threading.BoundedSemaphore] = {}
_guard = threading.Lock()


def _slot(name: str, limit: int) -> threading.BoundedSemaphore:
    with _guard:
        return _slots.setdefault(name, threading.BoundedSemaphore(limit))


@contextlib.contextmanager
def hold(*names: str, limit: int = 1, waiting=None):
    """Hold the named slots for the block (taken in name order, so two requests never wait on each other).
    ``waiting(name)`` is called when a slot is busy, before waiting for it (a progress line)."""
    taken: list[threading.BoundedSemaphore] = []
    try:
        for name in sorted(set(names)):
            slot = _slot(name, limit)
            if not slot.acquire(blocking=False):
                if waiting is not None:
                    waiting(name)
                slot.acquire()
            taken.append(slot)
        yield
    finally:
        for slot in reversed(taken):
            slot.release()
