"""A ClickHouse read model does not insert its checkpoint with every batch: the position is exact in memory,
stored at most once a second and when the projector stops, so a busy or idle read model does not add a
ClickHouse part per round. A new leader starts from the stored checkpoint, at most a second behind, and
applying those events again leaves the read model as it was (rows are versioned by position)."""

from __future__ import annotations

from decimal import Decimal

from eventsourcing.utils import get_topic
from fastapi.testclient import TestClient

from bondflow.runtime.followers import Positioned
from bondflow.wiring.container import Container
from projections.analytics.order_flow import OrderFlowProjector, order_flow
from projections.base import clickhouse as base
from tests.conftest import bearer
from tests.integration.test_orders_api import place
from tests.integration.test_replay import caught_up


def stored(projector: OrderFlowProjector) -> list[tuple[object, ...]]:
    return projector.ch.query(
        "SELECT position FROM {db}.checkpoints WHERE name = {name:String} ORDER BY position",
        {"name": projector.name},
    )


def test_batches_move_the_position_without_a_checkpoint_row_each(container: Container) -> None:
    container.stop_followers()
    projector = OrderFlowProjector(container.clickhouse)
    projector.name = "order_flow_checkpoint_test"
    projector.setup()
    projector.checkpoint(10)  # the first batch: stored at once
    assert [int(r[0]) for r in stored(projector)] == [10]
    for upto in range(11, 40):  # batches within the second
        projector.process([], upto)
    assert [int(r[0]) for r in stored(projector)] == [10]
    assert projector.position() == 39  # exact, from memory

    projector._saved_at -= base.CHECKPOINT_SECONDS  # a second later
    projector.process([], 40)
    assert [int(r[0]) for r in stored(projector)] == [10, 40]
    projector.process([], 41)
    projector.close()  # a stopping leader stores where it got to
    assert [int(r[0]) for r in stored(projector)] == [10, 40, 41]
    restarted = OrderFlowProjector(container.clickhouse)
    restarted.name = projector.name
    assert restarted.position() == 41  # what a new leader reads: never ahead of what was applied


def test_a_new_leader_applying_the_last_second_again_changes_nothing(
    client: TestClient, container: Container
) -> None:
    alice = bearer(container, sub="alice", funds=Decimal(100_000))
    for key in ("a", "b", "c"):
        assert place(client, alice, key=key).status_code == 202
    caught_up(container)
    container.stop_followers()  # stores the checkpoint
    before = order_flow(container.clickhouse, isin=None, start=None, end=None)
    assert before and sum(row.orders for row in before) == 3
    again = OrderFlowProjector(container.clickhouse)  # a new leader behind: the whole log again
    notifications = container.store.recorder.select_notifications(start=1, limit=1_000_000)
    events = [Positioned(container.store.mapper.to_domain_event(n), n.id) for n in notifications]
    again.process([e for e in events if get_topic(type(e.event)) in again.topics], events[-1].position)
    assert order_flow(container.clickhouse, isin=None, start=None, end=None) == before
