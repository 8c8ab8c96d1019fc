"""`copy_aggregate`, which the store's repository uses instead of `copy.deepcopy` to hand out aggregates
from its cache: the copy equals the original, shares nothing that can change, keeps aliasing, and a
command applied to the copy leaves the cached original as it was."""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from bondflow.domain.escrow import EscrowAccount, PaymentMethod
from bondflow.domain.portfolio import Portfolio
from bondflow.domain.settlement import Settlement
from bondflow.domain.settlement_money import terms_of
from bondflow.runtime.aggregate_copy import ATOMIC, copy_aggregate

WHO = {"actor_id": "system:settlement", "request_id": "r"}
NOW = datetime(2026, 11, 25, 5, 0, tzinfo=UTC)
ISIN = "INE123A07043"


def settlement() -> Settlement:
    s = Settlement.start(
        trade_id=str(uuid.uuid4()),
        order_id=str(uuid.uuid4()),
        user_id="u-1",
        isin=ISIN,
        side="BUY",
        dealer="dealer-alpha",
        qty=Decimal("2.5"),
        terms=terms_of("BUY", Decimal("2687.79"), Decimal("1.34")),
        **WHO,
    )
    s.request_hold(expires_at=NOW, deadline_at=NOW, **WHO)
    s.hold_placed(hold_id="h-1", **WHO)
    s.collect_events()
    return s


def portfolio() -> Portfolio:
    p = Portfolio.open("u-1")
    for n in range(3):
        p.commit_buy(
            order_id=f"o-{n}",
            isin=ISIN,
            qty=Decimal("2"),
            issuer="Issuer",
            rating_bucket="AAA",
            duration_bucket="1-3y",
            face_value=Decimal("1000"),
        )
    p.settle_buy(order_id="o-0", trade_id="t-0", isin=ISIN, qty=Decimal("2"))
    p.collect_events()
    return p


def escrow() -> EscrowAccount:
    a = EscrowAccount.open("u-1", **WHO)
    a.initiate_deposit("p-1", Decimal("5000.00"), PaymentMethod.UPI, request_fingerprint="f", **WHO)
    a.credit("ref-1", Decimal("5000.00"), "deposit", **WHO)
    a.reserve("o-1", Decimal("2500.00"), **WHO)
    a.debit("o-1", Decimal("2000.00"), "t-1", **WHO)
    a.collect_events()
    return a


def mutable_ids(value: Any, seen: set[int] | None = None) -> set[int]:
    """The ids of every object reachable from `value` that could be changed in place."""
    seen = set() if seen is None else seen
    if type(value) in ATOMIC or isinstance(value, Enum) or id(value) in seen:
        return seen
    if isinstance(value, tuple | frozenset):
        for item in value:
            mutable_ids(item, seen)
        return seen
    seen.add(id(value))
    items: Any = value.items() if isinstance(value, dict) else None
    if items is not None:
        for key, item in items:
            mutable_ids(key, seen)
            mutable_ids(item, seen)
    elif isinstance(value, list | set):
        for item in value:
            mutable_ids(item, seen)
    elif hasattr(value, "__dict__"):
        mutable_ids(vars(value), seen)
    return seen


def test_a_copy_equals_its_original_and_shares_nothing_that_can_change() -> None:
    for original in (settlement(), portfolio(), escrow()):
        copied = copy_aggregate(original)
        assert type(copied) is type(original)
        assert vars(copied) == vars(original)
        assert copied is not original
        assert not mutable_ids(copied) & mutable_ids(original), type(original).__name__


def test_a_command_on_the_copy_leaves_the_original_as_it_was() -> None:
    account = escrow()
    before = copy.deepcopy(account)
    copied = copy_aggregate(account)
    copied.reserve("o-2", Decimal("1000.00"), **WHO)
    copied.debit("o-2", Decimal("1000.00"), "t-2", **WHO)
    copied.credit("ref-2", Decimal("7.00"), "coupon", **WHO)
    assert copied.available != account.available
    assert vars(account) == vars(before)
    held = portfolio()
    snapshot = copy.deepcopy(held)
    other = copy_aggregate(held)
    other.settle_buy(order_id="o-1", trade_id="t-1", isin=ISIN, qty=Decimal("2"))
    assert other.positions[ISIN].held != held.positions[ISIN].held
    assert vars(held) == vars(snapshot)
    assert held.positions[ISIN].pending_by_order == snapshot.positions[ISIN].pending_by_order


@dataclass
class Box:
    items: list[int] = field(default_factory=list)


class Hooked:
    """Has its own copy hook, which `copy_aggregate` must honour (it goes through deepcopy)."""

    def __init__(self) -> None:
        self.copies = 0

    def __deepcopy__(self, memo: dict[int, Any]) -> Hooked:
        made = Hooked()
        made.copies = self.copies + 1
        return made


def test_aliasing_survives_and_objects_with_copy_hooks_use_them() -> None:
    a = portfolio()
    shared = Box([1, 2])
    a.__dict__["first"] = shared
    a.__dict__["second"] = shared
    a.__dict__["hooked"] = Hooked()
    copied = copy_aggregate(a)
    assert copied.__dict__["first"] is copied.__dict__["second"]
    assert copied.__dict__["first"] is not shared
    assert copied.__dict__["first"].items == [1, 2]
    assert copied.__dict__["hooked"].copies == 1
