"""Slots: how many requests may use a group of backends at once, in this process. A tab's Gradio event queues on one
``concurrency_id``; a request whose work depends on its inputs (the Emotion tab: text alone, or a recording, or a
video) takes here the slots of the readers it actually uses, so a text reading never waits behind a minutes-long
voice or video reading.

The wait is asynchronous: a request waiting for its slot holds no worker thread and no place in the event's own
queue, so those waiting for a busy reader never block those whose reader is free."""

from __future__ import annotations

import asyncio
import contextlib

_slots: dict[tuple[int, str], asyncio.Semaphore] = {}


def _slot(name: str, limit: int) -> asyncio.Semaphore:
    # a semaphore belongs to one event loop (a process may serve several apps, each in its own loop)
    key = (id(asyncio.get_running_loop()), name)
    if key not in _slots:
        _slots[key] = asyncio.Semaphore(limit)
    return _slots[key]


@contextlib.asynccontextmanager
async def hold(*names: str, limit: int = 1, waiting=None):
    """Hold the named slots for the block (taken in name order, so two requests never wait on each other).
    ``waiting(name)`` is called when a slot is busy, before waiting for it (a progress line)."""
    taken: list[asyncio.Semaphore] = []
    try:
        for name in sorted(set(names)):
            slot = _slot(name, limit)
            if slot.locked() and waiting is not None:
                waiting(name)
            await slot.acquire()
            taken.append(slot)
        yield
    finally:
        for slot in reversed(taken):
            slot.release()
