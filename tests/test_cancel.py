"""Cancellation: a tab's stream closed early (Stop pressed, browser gone) ends its worker at the next step."""

from __future__ import annotations

import threading

import pytest

from demos.common import StopRequested, worker_stream


def test_a_closed_stream_stops_its_worker_at_the_next_step():
    steps_done, ended, closed = [], threading.Event(), threading.Event()
    outcome = {}

    def work(report, emit, stop):
        try:
            for step in range(1000):
                report(step / 1000, f"step {step}")  # raises StopRequested once the stream is closed
                steps_done.append(step)
                emit(step)
                closed.wait(10)  # the first step outlasts the reader's patience, as a long stage does
        except StopRequested:
            outcome["stopped"] = True
            raise
        finally:
            ended.set()

    heard = []
    stream = worker_stream(work, lambda fraction, desc=None: heard.append(desc))
    assert next(stream) == 0
    stream.close()
    closed.set()
    assert ended.wait(10) and outcome == {"stopped": True}
    assert steps_done == [0]  # the rest of the job never ran


def test_the_result_and_the_errors_come_back_in_the_handler():
    def work(report, emit, stop):
        report(0.5, "half")
        emit("partial")
        return "whole"

    stream = worker_stream(work, lambda fraction, desc=None: None)
    assert list(stream) == ["partial"]

    def total():
        return (yield from worker_stream(work, lambda fraction, desc=None: None))

    generator = total()
    assert next(generator) == "partial"
    with pytest.raises(StopIteration) as done:
        next(generator)
    assert done.value.value == "whole"

    def broken(report, emit, stop):
        raise ValueError("bad frame")

    with pytest.raises(ValueError, match="bad frame"):
        list(worker_stream(broken, lambda fraction, desc=None: None))
