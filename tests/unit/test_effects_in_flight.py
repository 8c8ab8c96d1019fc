"""Effects in flight: work for different aggregates runs at once (bounded), one aggregate's in log order,
and the recorded watermark never passes an event that is not done, even one that fails and is retried."""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any

from bondflow.runtime import effects_in_flight
from bondflow.runtime.effects_in_flight import InFlight


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.recorded: list[int] = []
        self.done: set[int] = set()

    def record(self, position: int) -> None:
        with self.lock:
            # the watermark is recorded only once everything at or below it is done
            assert all(p in self.done for p in range(1, position + 1)), position
            self.recorded.append(position)


def test_aggregates_run_concurrently_in_order_each_and_the_watermark_waits_for_the_slowest() -> None:
    recorder = Recorder()
    release = threading.Event()
    running, most = 0, 0
    seen: dict[str, list[int]] = defaultdict(list)
    guard = threading.Lock()

    def handle(event: Any) -> None:
        nonlocal running, most
        key, position = event
        with guard:
            running += 1
            most = max(most, running)
        if position == 1:
            release.wait(5)  # the first event is slow: everything else overtakes it
        with guard:
            running -= 1
            seen[key].append(position)
        with recorder.lock:
            recorder.done.add(position)

    flight = InFlight("test", handle, recorder.record, limit=4)
    events = [("a", 1), ("b", 2), ("a", 3), ("c", 4), ("b", 5), ("d", 6)]
    for key, position in events:
        flight.submit(key, position, (key, position))
    flight.scanned(6)
    for _ in range(200):
        if len(recorder.done) == 4:  # b, c, b, d; a waits behind its slow first event
            break
        threading.Event().wait(0.01)
    assert 1 not in recorder.done and flight.watermark() == 0, "the watermark passed the slow event"
    assert seen["a"] == [], "a's second event ran before its first"
    release.set()
    flight.close(5)
    assert seen == {"a": [1, 3], "b": [2, 5], "c": [4], "d": [6]}
    assert most >= 2, "nothing ran at once"
    assert recorder.recorded[-1] == 6


def test_a_failing_event_is_retried_in_its_lane_and_holds_the_watermark(monkeypatch: Any) -> None:
    monkeypatch.setattr(effects_in_flight, "RETRY_FIRST_SECONDS", 0.01)
    recorder = Recorder()
    failures = {"left": 3}

    def handle(event: Any) -> None:
        if event == 2 and failures["left"] > 0:
            failures["left"] -= 1
            raise RuntimeError("provider down")
        with recorder.lock:
            recorder.done.add(event)

    flight = InFlight("test", handle, recorder.record, limit=2)
    for position in (1, 2, 3):
        flight.submit(position, position, position)
    flight.scanned(3)
    flight.close(5)
    assert failures["left"] == 0
    assert recorder.recorded[-1] == 3
    assert flight.last_error is not None and "provider down" in flight.last_error


def test_the_watermark_is_recorded_a_few_times_a_second_and_the_last_one_is_not_held_back() -> None:
    """Recording after every event was a transaction per event: now at most every RECORD_SECONDS, and a
    watermark held back is recorded by the flusher soon after (without waiting for close)."""
    recorder = Recorder()

    def handle(event: Any) -> None:
        threading.Event().wait(0.001)  # a provider call, short
        with recorder.lock:
            recorder.done.add(event)

    flight = InFlight("test", handle, recorder.record, limit=8)
    for position in range(1, 201):  # one batch per event, as a follower sees them one commit at a time
        flight.submit(position % 8, position, position)
        flight.scanned(position)
    for _ in range(300):
        if recorder.recorded and recorder.recorded[-1] == 200:
            break
        threading.Event().wait(0.01)
    assert recorder.recorded and recorder.recorded[-1] == 200, "the last watermark was never recorded"
    assert len(recorder.recorded) <= 20, len(recorder.recorded)  # 200 events, a handful of records
    assert recorder.recorded == sorted(recorder.recorded)
    flight.close(5)
