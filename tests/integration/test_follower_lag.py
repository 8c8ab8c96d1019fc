"""Follower lag (`bondflow/runtime/lag.py`, `/metrics`): the events of a follower's own topics after its
position, not every event after it; a follower very far behind is reported by the distance."""

from __future__ import annotations

import pytest

from bondflow.domain.orders import Order
from bondflow.runtime import lag
from bondflow.runtime.effect_follower import topic_of
from bondflow.wiring.container import Container
from tests.integration.test_followers import write_orders

pytestmark = pytest.mark.integration

PLACED = topic_of(Order.OrderPlaced)


def test_a_follower_is_behind_by_the_events_of_its_topics_only(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = container.store.head_position()
    head = write_orders(container, 40)  # 40 placed + 40 accepted
    assert head - start == 80
    lags = lag.pending_events(
        container.store,
        {
            "placed_only": (start, frozenset({PLACED})),
            "both": (start, frozenset({PLACED, topic_of(Order.OrderAccepted)})),
            "other_topics": (start, frozenset({"tests.elsewhere:Nothing.Happened"})),
            "no_topics": (start, frozenset()),
            "caught_up": (head, frozenset({PLACED})),
            "halfway": (start + 40, frozenset({PLACED})),
        },
        head,
    )
    assert lags == {
        "placed_only": 40,
        "both": 80,
        "other_topics": 0,
        "no_topics": 0,
        "caught_up": 0,
        "halfway": 20,
    }
    monkeypatch.setattr(lag, "COUNT_UP_TO", 10)  # farther than this: the distance, uncounted
    assert lag.pending_events(container.store, {"far": (start, frozenset({PLACED}))}, head) == {"far": 80}


def test_metrics_report_no_lag_for_a_follower_with_nothing_to_do(container: Container) -> None:
    write_orders(container, 5)
    lags = lag.pending_events(
        container.store,
        {name: (0, runner.follower.topics) for name, runner in container.followers.items()},
        container.store.head_position(),
    )
    assert all(lags[name] == 0 for name, runner in container.followers.items() if not runner.follower.topics)
    assert set(lags) == set(container.followers)
