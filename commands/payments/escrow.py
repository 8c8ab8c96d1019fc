"""The escrow service the order path uses: load an investor's `EscrowAccount`, change it, save it together
with the order in one transaction.

    account = escrow.load(user_id)                    # a fresh, empty account if none exists yet
    account.reserve(str(order.id), amount, actor_id=ctx.actor_id, request_id=ctx.request_id)
    store.save(order, account)                        # both or neither

A fresh account carries its pending `Opened` event, so it is created lazily by whatever first saves it
(a deposit, a reservation). Two requests that both open or change the same account collide on its
version: the loser's save raises `IntegrityError`; reload and decide again. Methods raise domain errors
(`InsufficientFunds` BF-ORD-007 with `details {available, required}`) and record nothing when they refuse.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from bondflow.domain.escrow import EscrowAccount, escrow_id
from bondflow.runtime.eventstore import EventStore
from commands.kernel.serial import KeyedLocks

OPENER = "system:escrow"


class EscrowService:
    def __init__(self, store: EventStore) -> None:
        self.store = store
        self._writers = KeyedLocks()

    @contextmanager
    def writing(self, user_id: str) -> Iterator[None]:
        """Hold while loading, deciding and saving a change to `user_id`'s account: this process's
        threads then take turns on it (commands.kernel.serial), and only other processes can collide."""
        with self._writers.hold(user_id):
            yield

    def load(
        self, user_id: str, *, actor_id: str = OPENER, request_id: str = "escrow:first-use"
    ) -> EscrowAccount:
        """The investor's account; a new one (with its `Opened` event pending, recorded by `actor_id` and
        `request_id`) when none has been saved yet."""
        try:
            account: object = self.store.repository.get(escrow_id(user_id))
        except AggregateNotFoundError:
            return EscrowAccount.open(user_id, actor_id=actor_id, request_id=request_id)
        if not isinstance(account, EscrowAccount):  # pragma: no cover - ids are namespaced by kind
            raise TypeError(f"{escrow_id(user_id)} is not an EscrowAccount")
        return account

    def find(self, account_id: UUID) -> EscrowAccount | None:
        """An account by its id (a payment id names it), or None."""
        try:
            account: object = self.store.repository.get(account_id)
        except AggregateNotFoundError:
            return None
        return account if isinstance(account, EscrowAccount) else None

    def available(self, user_id: str) -> Decimal:
        return self.load(user_id).available
