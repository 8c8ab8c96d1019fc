"""The store's repository hands out aggregates from its cache through `copy_aggregate`: each `get` is a
copy of its own, so a command that changes one (and fails, or is not saved) leaves the cache as it was."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bondflow.domain.escrow import EscrowAccount
from bondflow.runtime.eventstore import CheaplyCopyingRepository
from bondflow.wiring.container import Container
from tests.support.investors import new_email

pytestmark = pytest.mark.integration

WHO = {"actor_id": "system:test", "request_id": "r"}


def test_every_get_from_the_cache_is_a_copy_of_its_own(container: Container) -> None:
    store = container.store
    assert isinstance(store.repository, CheaplyCopyingRepository)
    assert store.repository.cache is not None  # AGGREGATE_CACHE_MAXSIZE is set: the cache is on
    account = EscrowAccount.open(new_email(), **WHO)
    account.credit("ref-1", Decimal("100.00"), "deposit", **WHO)
    store.save(account)
    first = store.repository.get(account.id)
    first.reserve("o-1", Decimal("60.00"), **WHO)  # changed and never saved
    second = store.repository.get(account.id)
    assert second is not first
    assert second.available == Decimal("100.00")
    assert second.reservations == {}
    second.reserve("o-2", Decimal("30.00"), **WHO)
    store.save(second)
    third = store.repository.get(account.id)
    assert third.reservations == {"o-2": Decimal("30.00")}
    assert third.version == second.version
    assert store.repository.get(account.id, version=2).reservations == {}
