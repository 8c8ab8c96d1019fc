"""`EventStore.reading_together`: a command's aggregates read in one statement give exactly what reading
them one by one gives, a stale cached copy included, and each is taken from the shared read only once."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from eventsourcing.application import AggregateNotFoundError

from bondflow.domain.escrow import EscrowAccount, PaymentMethod, escrow_id
from bondflow.domain.settlement import Settlement
from bondflow.domain.settlement_money import terms_of
from bondflow.runtime import read_together
from bondflow.saga.follower import SettlementSaga
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


def deposited_elsewhere(
    container: Container, account_id: Any, deposits: int
) -> tuple[int, Decimal, list[str]]:
    """Another process (its own store and cache) records `deposits` more deposits; the state it then reads."""
    _, other = open_store(container.settings)
    try:
        moved = other.repository.get(account_id)
        for n in range(deposits):
            moved.initiate_deposit(
                f"p-else-{account_id}-{n}",
                Decimal(n + 1),
                PaymentMethod.NEFT,
                request_fingerprint="f",
                actor_id="t",
                request_id=f"else{n}",
            )
        other.save(moved)
        return state(other.repository.get(account_id))
    finally:
        other.close()


def test_knowing_the_newest_event_brings_the_cached_copy_up_to_date_without_a_query(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = container.store
    account_id = escrow_id("kn-next")
    account_with_deposits(store, "kn-next", 1)
    store.repository.get(account_id)  # cached here at version 2
    expected = deposited_elsewhere(container, account_id, 1)  # another process records the next event
    newest = list(store.events.get(account_id))[-1]  # the event a follower would be handed
    calls = counting(monkeypatch, store)
    with read_together.knowing(newest):
        assert state(store.repository.get(account_id)) == expected  # the event in hand, applied
        assert calls == {"shared": 0, "own": 0}
        assert state(store.repository.get(account_id)) == expected  # a second get reads as before
        assert calls == {"shared": 0, "own": 1}


def test_knowing_an_event_reads_as_usual_across_a_gap_and_builds_an_uncached_one_from_its_first(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = container.store
    gap_id, fresh_id = escrow_id("kn-gap"), escrow_id("kn-fresh")
    account_with_deposits(store, "kn-gap", 1)
    store.repository.get(gap_id)  # cached at version 2
    expected_gap = deposited_elsewhere(container, gap_id, 2)  # versions 3 and 4: the copy here lacks 3
    newest = list(store.events.get(gap_id))[-1]
    calls = counting(monkeypatch, store)
    with read_together.knowing(newest):
        assert state(store.repository.get(gap_id)) == expected_gap  # read as usual: nothing is skipped
    assert calls == {"shared": 0, "own": 1}

    account_with_deposits(store, "kn-fresh", 0)  # version 1 only: not cached anywhere yet
    first = next(iter(store.events.get(fresh_id)))
    calls.update(own=0)
    with read_together.knowing(first):
        built = store.repository.get(fresh_id)  # built from the creation event in hand
    assert built.version == 1 and calls == {"shared": 0, "own": 0}


def test_the_saga_decides_on_the_settlement_as_of_the_event_in_hand_without_reading_it(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("settlement_saga", "settlement_chain", "settlement_payments", "settlement_timer"):
        container.followers[name].stop()  # this test is the saga, and nothing else acts on the settlement
    store, commands = container.store, container.settlement.commands
    who = {"actor_id": "test", "request_id": "t"}
    settlement = Settlement.start(
        trade_id="trade-kn-1",
        order_id="order-kn-1",
        user_id="alice",
        isin="INE123A07043",
        side="SELL",
        dealer="dealer-alpha",
        qty=Decimal(5),
        terms=terms_of("SELL", Decimal("5375.59"), Decimal("2.69")),
        **who,
    )
    store.save(settlement)
    saga = SettlementSaga(container.db, commands)
    saga.handle(list(store.events.get(settlement.id))[-1])  # Started: the saga asks for the hold
    assert commands.report(settlement.id, "hold_placed", "r", hold_id="hold-kn")  # the chain worker's outcome
    placed = list(store.events.get(settlement.id))[-1]
    assert type(placed).__name__ == "HoldPlaced"

    calls = counting(monkeypatch, store)
    saga.handle(placed)  # a SELL: ask the dealer to pay
    assert calls == {"shared": 0, "own": 0}  # the settlement as of HoldPlaced, from the event in hand
    recorded = [type(e).__name__ for e in store.events.get(settlement.id)]
    assert recorded[-2:] == ["HoldPlaced", "PaymentInstructed"], recorded
