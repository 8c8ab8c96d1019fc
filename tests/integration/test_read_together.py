"""`EventStore.reading_together`: a command's aggregates read in one statement give exactly what reading
them one by one gives, a stale cached copy included, and each is taken from the shared read only once."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from eventsourcing.application import AggregateNotFoundError

from bondflow.domain.escrow import EscrowAccount, PaymentMethod, escrow_id
from bondflow.runtime import read_together
from bondflow.wiring.bootstrap import open_store
from bondflow.wiring.container import Container

pytestmark = pytest.mark.integration


def account_with_deposits(store: Any, user_id: str, deposits: int) -> EscrowAccount:
    account = EscrowAccount.open(user_id, actor_id="test", request_id="open")
    for n in range(deposits):
        account.initiate_deposit(
            f"p-{user_id}-{n}",
            Decimal(1000 + n),
            PaymentMethod.UPI,
            request_fingerprint="f",
            actor_id="t",
            request_id=f"r{n}",
        )
    store.save(account)
    return account


def state(aggregate: Any) -> tuple[int, Decimal, list[str]]:
    return aggregate.version, aggregate.available, sorted(aggregate.payments)


def counting(monkeypatch: pytest.MonkeyPatch, store: Any) -> dict[str, int]:
    calls = {"shared": 0, "own": 0}
    shared, own = read_together._read_all, store.recorder.select_events

    def count_shared(*a: Any, **k: Any) -> Any:
        calls["shared"] += 1
        return shared(*a, **k)

    def count_own(*a: Any, **k: Any) -> Any:
        calls["own"] += 1
        return own(*a, **k)

    monkeypatch.setattr(read_together, "_read_all", count_shared)
    monkeypatch.setattr(store.recorder, "select_events", count_own)
    return calls


def test_aggregates_read_together_equal_those_read_one_by_one(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = container.store
    stale, uncached = escrow_id("rt-stale"), escrow_id("rt-uncached")
    account_with_deposits(store, "rt-stale", 2)
    store.repository.get(stale)  # cached here at version 3
    _, other = open_store(container.settings)  # another process records two more events
    try:
        moved = other.repository.get(stale)
        for n in (7, 8):
            moved.initiate_deposit(
                f"p-late-{n}",
                Decimal(5),
                PaymentMethod.NEFT,
                request_fingerprint="f",
                actor_id="t",
                request_id=f"late{n}",
            )
        other.save(moved)
        account_with_deposits(other, "rt-uncached", 1)
        expected = {i: state(other.repository.get(i)) for i in (stale, uncached)}
    finally:
        other.close()
    missing = escrow_id("rt-nobody")

    calls = counting(monkeypatch, store)
    with store.reading_together(stale, uncached, missing):
        assert state(store.repository.get(stale)) == expected[stale]  # brought up from the stale copy
        assert state(store.repository.get(uncached)) == expected[uncached]  # built from all its events
        with pytest.raises(AggregateNotFoundError):
            store.repository.get(missing)
        assert calls == {"shared": 1, "own": 0}  # three aggregates, one statement
        assert state(store.repository.get(stale)) == expected[stale]  # a second get reads as before
        assert calls == {"shared": 1, "own": 1}
    assert state(store.repository.get(uncached)) == expected[uncached]  # cached, and read as before
    assert calls == {"shared": 1, "own": 2}


def test_a_copy_taken_from_the_shared_read_does_not_touch_the_cache(container: Container) -> None:
    store = container.store
    account_with_deposits(store, "rt-copy", 1)
    aggregate_id = escrow_id("rt-copy")
    with store.reading_together(aggregate_id):
        taken = store.repository.get(aggregate_id)
        taken.initiate_deposit(
            "p-never-saved",
            Decimal(1),
            PaymentMethod.UPI,
            request_fingerprint="f",
            actor_id="t",
            request_id="x",
        )
    assert "p-never-saved" not in store.repository.get(aggregate_id).payments
