"""A dealer-payments webhook confirms the step whose request it answers, and no other: the dealer's payment
into clearing for a SELL, delivered once more (providers repeat webhooks) after the token leg failed and
the dealer's refund was instructed, was taken for the refund's confirmation. The settlement then said the
dealer was refunded (with the wrong reference: a reconciliation break) while the refund was still pending
at the provider, or would be refused. Found by `make chaos` (every webhook delivered twice)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from bondflow.domain.settlement import PAYMENT_STEP, REFUND_STEP, Settlement, SettlementState
from bondflow.domain.settlement_money import terms_of
from bondflow.wiring.container import Container
from bondflow.workers.settlement import idempotency_key

pytestmark = pytest.mark.integration

LATER = datetime(2030, 1, 1, tzinfo=UTC)


def refund_instructed(container: Container) -> Settlement:
    """A SELL whose dealer paid in, whose token leg then failed, and whose refund is instructed."""
    s = Settlement.start(
        trade_id="00000000-0000-4000-8000-00000000beef",
        order_id="00000000-0000-4000-8000-00000000cafe",
        user_id="seller",
        isin="INE123A07043",
        side="SELL",
        dealer="dealer-alpha",
        qty=Decimal(1),
        terms=terms_of("SELL", Decimal("1015.00"), Decimal("0.50")),
        actor_id="test",
        request_id="test",
    )
    step = {"actor_id": "test", "request_id": "test"}
    assert s.request_hold(expires_at=LATER, deadline_at=LATER, **step)
    assert s.hold_placed(hold_id="hold-1", **step)
    assert s.instruct_payment(deadline_at=LATER, **step)
    assert s.confirm_payment(reference="SBXSET-COLLECTED", **step)
    assert s.request_token_transfer(deadline_at=LATER, **step)
    assert s.fail_token_transfer(code="BF-SET-006", reason="rejected", tx_hash=None, **step)
    assert s.instruct_refund(deadline_at=LATER + timedelta(days=1), **step)
    container.store.save(s)
    return s


def test_a_repeated_webhook_of_the_dealers_payment_in_does_not_confirm_the_refund(
    container: Container,
) -> None:
    container.stop_followers()  # nothing but the webhooks acts on the settlement
    s = refund_instructed(container)
    worker = container.settlement.payments_worker
    collected = idempotency_key(s.id, PAYMENT_STEP, 0)
    assert not worker.on_webhook(s.id, collected, "CONFIRMED", "SBXSET-COLLECTED")
    assert not worker.on_webhook(s.id, collected, "FAILED", "SBXSET-COLLECTED")
    assert container.settlement.commands.get(s.id).state is SettlementState.REFUND_INSTRUCTED

    refunded = idempotency_key(s.id, REFUND_STEP, 0)
    assert worker.on_webhook(s.id, refunded, "CONFIRMED", "SBXSET-REFUNDED")
    after = container.settlement.commands.get(s.id)
    assert after.state is SettlementState.DEALER_REFUNDED
    last = list(container.store.repository.event_store.get(s.id))[-1]
    assert type(last).__qualname__ == "Settlement.DealerRefunded" and last.reference == "SBXSET-REFUNDED"
