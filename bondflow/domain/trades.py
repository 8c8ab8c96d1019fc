"""The Trade aggregate: one dealer fill of an order, as executed on the RFQ venue.

Event class paths (`bondflow.domain.trades:Trade.TradeExecuted`, …) are stored data: never move them.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from bondflow.domain.ids import derived_id


def trade_id_for(order_id: UUID, quote_id: str) -> UUID:
    """One trade per (order, dealer quote): re-executing the same fill after a crash lands on the same id."""
    return derived_id("trade", str(order_id), quote_id)


class Trade(Aggregate):
    class TradeExecuted(Aggregate.Created):
        order_id: str
        user_id: str
        isin: str
        side: str
        dealer: str
        quote_id: str
        qty: Decimal
        clean_price: Decimal
        accrued_per_100: Decimal
        face_value: Decimal
        consideration: Decimal
        fees: Decimal
        reference_clean_price: Decimal
        trade_date: date
        settlement_date: date
        actor_id: str
        request_id: str

    @event(TradeExecuted)
    def __init__(
        self,
        *,
        id: UUID,
        order_id: str,
        user_id: str,
        isin: str,
        side: str,
        dealer: str,
        quote_id: str,
        qty: Decimal,
        clean_price: Decimal,
        accrued_per_100: Decimal,
        face_value: Decimal,
        consideration: Decimal,
        fees: Decimal,
        reference_clean_price: Decimal,
        trade_date: date,
        settlement_date: date,
        actor_id: str,
        request_id: str,
    ) -> None:
        self.order_id = order_id
        self.user_id = user_id
        self.isin = isin
        self.side = side
        self.dealer = dealer
        self.quote_id = quote_id
        self.qty = qty
        self.clean_price = clean_price
        self.accrued_per_100 = accrued_per_100
        self.face_value = face_value
        self.consideration = consideration
        self.fees = fees
        self.reference_clean_price = reference_clean_price
        self.trade_date = trade_date
        self.settlement_date = settlement_date
        self.settled = False

    def settle(
        self, *, settlement_id: str, payment_reference: str, tx_hash: str, actor_id: str, request_id: str
    ) -> bool:
        """Both DvP legs are final (the settlement saga); idempotent."""
        if self.settled:
            return False
        self._settled(
            settlement_id=settlement_id,
            payment_reference=payment_reference,
            tx_hash=tx_hash,
            user_id=self.user_id,
            isin=self.isin,
            side=self.side,
            qty=self.qty,
            clean_price=self.clean_price,
            actor_id=actor_id,
            request_id=request_id,
        )
        return True

    class TradeSettled(Aggregate.Event):
        settlement_id: str
        payment_reference: str
        tx_hash: str
        user_id: str
        isin: str
        side: str
        qty: Decimal
        clean_price: Decimal
        actor_id: str
        request_id: str

    @event(TradeSettled)
    def _settled(
        self,
        *,
        settlement_id: str,
        payment_reference: str,
        tx_hash: str,
        user_id: str,
        isin: str,
        side: str,
        qty: Decimal,
        clean_price: Decimal,
        actor_id: str,
        request_id: str,
    ) -> None:
        """Carries the trade's facts too, so a holdings read model can follow settled trades alone."""
        self.settled = True

    @property
    def price_improvement(self) -> Decimal:
        """Per 100 face, in the investor's favour: positive when the fill beat the reference price."""
        delta = self.reference_clean_price - self.clean_price
        return delta if self.side == "BUY" else -delta
