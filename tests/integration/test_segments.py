"""Segments: a follower run as 4 segments over 2 processes, one of them SIGKILLed mid-batch and its
segments resumed in the other, builds exactly the read model a fresh replay builds (same checksum), and an
effect follower in segments handles every event once per segment owner."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bondflow.runtime.effect_follower import EffectFollower, topic_of
from bondflow.runtime.followers import wait_for_position
from bondflow.runtime.log_reader import Segment
from bondflow.runtime.segments import SegmentedRunner
from bondflow.settings import Settings
from bondflow.wiring.bootstrap import bootstrap
from bondflow.wiring.container import Container
from bondflow.wiring.replay import drop_schema, run_replay
from projections.orders.projector import ACCEPTED, OrdersProjector
from tests.integration.test_followers import orders_view_counts, write_orders

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def idle_container(settings: Settings) -> Iterator[Container]:
    built = bootstrap(settings)
    yield built
    built.close()


def segment_worker(settings: Settings, tmp_path: Path, *segments: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "BONDFLOW_DATABASE_URL": str(settings.database_url),
        "BONDFLOW_DATA_DIR": str(tmp_path / f"worker-{uuid.uuid4().hex[:6]}"),
        "BONDFLOW_CLICKHOUSE_DSN": f"chdb://{tmp_path / f'ch-{uuid.uuid4().hex[:6]}'}",
        "BONDFLOW_FOLLOWER_BATCH_SIZE": "25",
        "BONDFLOW_LOG_LEVEL": "WARNING",
    }
    chosen = [arg for i in segments for arg in ("--segment", str(i))]
    with open(tmp_path / "worker.log", "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "bondflow.cli", "worker", "orders_view", "--segments", "4", *chosen],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )


def segment_positions(container: Container) -> dict[str, int]:
    with container.db.cursor() as cur:
        rows = cur.execute(
            "SELECT name, position FROM projection_positions WHERE name LIKE 'orders_view#%'"
        ).fetchall()
    return {str(n): int(p) for n, p in rows}


def test_segments_killed_and_resumed_elsewhere_build_what_a_replay_builds(
    idle_container: Container, settings: Settings, tmp_path: Path
) -> None:
    orders = 2000
    head = write_orders(idle_container, orders, cancel_every=7)
    store, db = idle_container.store, idle_container.db
    here = SegmentedRunner(OrdersProjector(db), store, db, count=4, only=[2, 3], batch_size=25)
    there = segment_worker(settings, tmp_path, 0, 1)
    try:
        here.start()
        assert wait_for_position(lambda: min(segment_positions(idle_container).values() or [0]), 1, 60)
        there.send_signal(signal.SIGKILL)  # mid-batch: its segments stop wherever they were
        there.wait(10)
    finally:
        if there.poll() is None:
            there.kill()
    killed = segment_positions(idle_container)
    assert 0 < min(killed["orders_view#0/4"], killed["orders_view#1/4"]) < head, killed
    resumed = SegmentedRunner(OrdersProjector(db), store, db, count=4, only=[0, 1], batch_size=25)
    resumed.start()
    try:
        assert wait_for_position(resumed.position, head, timeout=60), segment_positions(idle_container)
    finally:
        resumed.stop()
        here.stop()
    assert orders_view_counts(idle_container) == (orders, orders)
    report = run_replay(store, db, lambda d: [OrdersProjector(d)], None, lambda c: [])
    try:
        replayed, live = report.checksums["postgres:orders_view"]
        assert replayed == live, "the segments built a different orders_view than a replay"
    finally:
        drop_schema(db, report.pg_schema)


class CountingWorker(EffectFollower):
    """An effect follower whose effect is a row per accepted order (a duplicate would break the key)."""

    name = "segment_probe"
    topics = frozenset({topic_of(ACCEPTED)})

    def setup(self) -> None:
        super().setup()
        with self.db.transaction() as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS segment_probe (order_id uuid PRIMARY KEY, segment text)")

    def handle(self, event: Any) -> None:
        with self.db.transaction() as cur:
            cur.execute(
                "INSERT INTO segment_probe (order_id, segment) VALUES (%s, %s)",
                (event.originator_id, self.name),
            )


def test_an_effect_follower_in_segments_handles_each_event_once_by_its_owner(
    idle_container: Container,
) -> None:
    head = write_orders(idle_container, 400)
    store, db = idle_container.store, idle_container.db
    runner = SegmentedRunner(CountingWorker(db), store, db, count=3, batch_size=50)
    runner.start()
    try:
        assert wait_for_position(runner.position, head, timeout=60)
        assert runner.is_leader.is_set()
    finally:
        runner.stop()
    with db.cursor() as cur:
        rows = cur.execute("SELECT order_id, segment FROM segment_probe").fetchall()
    assert len(rows) == 400
    for order_id, segment in rows:
        index = int(segment.split("#")[1].split("/")[0])
        assert Segment(index, 3).owns(order_id), (order_id, segment)
