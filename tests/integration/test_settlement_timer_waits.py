"""The deadline timer under its runner does not look every 20 ms: idle, it looks for passed deadlines a few
times a second; a poll that a worker of this process schedules wakes it at once; otherwise it waits until
the next poll falls due."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from bondflow.saga import polls
from bondflow.saga import timer as timer_module
from bondflow.saga.timer import DeadlineTimer, TimerRunner
from bondflow.wiring.container import Container

pytestmark = pytest.mark.integration


class ProbeTimer(DeadlineTimer):
    name = "probe_timer"  # its own leader lock: the container's settlement timer runs beside it

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.looks = 0

    def _tick(self, conn: Any, *, deadlines: bool = True) -> int:
        self.looks += 1
        return super()._tick(conn, deadlines=deadlines)


class Probe:
    poll_after = timedelta(0)

    def __init__(self) -> None:
        self.asked = threading.Event()
        self.keys: list[str] = []

    def poll(self, sid: UUID, step: str, key: str) -> bool:
        self.keys.append(key)
        self.asked.set()
        return True


def test_an_idle_timer_rests_and_a_poll_scheduled_here_wakes_it(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(timer_module, "IDLE_SECONDS", 30.0)  # idle, it would now rest half a minute
    saga_timer = container.settlement.timer
    container.followers[
        saga_timer.name
    ].stop()  # it would retire the probe's poll (a step it has no poller for)
    probe = Probe()
    timer = ProbeTimer(
        container.db,
        container.store,
        container.clock,
        saga_timer.commands,
        saga_timer.deadlines,
        {"probe": probe},
    )
    runner = TimerRunner(timer, container.store, container.db)
    runner.start()
    try:
        assert runner.is_leader.wait(10)
        looks = timer.looks
        stop = threading.Event()
        stop.wait(1.0)
        assert timer.looks - looks <= 2, timer.looks - looks  # at 20 ms a look, that was 50
        key = uuid.uuid4().hex
        polls.schedule(container.db, uuid.uuid4(), "probe", key, container.clock.now())
        assert probe.asked.wait(10), "the scheduled poll was not asked: the timer slept through it"
        assert probe.keys == [key]
    finally:
        runner.stop()
    with container.db.cursor() as cur:  # answered: the poll is done and gone
        assert cur.execute("SELECT count(*) FROM settlement_polls WHERE key = %s", (key,)).fetchone() == (0,)
