"""Slots: how many requests may use a group of backends at once, in this process. A tab's Gradio event queues on one
``concurrency_id``; a request whose work depends on its inputs (the Emotion tab: text alone, or a recording, or a
video) takes here the slots of the readers it actually uses, so a text reading never waits behind a minutes-long
voice or video reading.

The wait is asynchronous: a request waiting for its slot holds no worker thread and no place in the event's own
queue, so those waiting for a busy reader never block those whose reader is free."""

from __future__ import annotations

import asyncio
import contextlib
import weakref

# a semaphore belongs to one event loop (a process may serve several apps, each in its own loop); keyed by the loop
# itself, weakly: a closed loop's slots go with it, and a new loop never inherits them through a reused id()
_slots: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Semaphore]]" = \
    weakref.WeakKeyDictionary()


def _slot(name: str, limit: int) -> asyncio.Semaphore:
    loop_slots = _slots.setdefault(asyncio.get_running_loop(), {})
    if name not in loop_slots:
        loop_slots[name] = asyncio.Semaphore(limit)
    return loop_slots[name]


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
