"""Published records: which topic each domain event goes to, and the record it becomes.

A record is the event's envelope (ids, versions, times, actor and request) plus its own fields under
`payload`. `seq` and `hash` are assigned by the relay and travel beside the record (Kafka headers, stream
columns); they are not part of the canonical bytes the hash covers.
"""

from __future__ import annotations

from typing import Any

from bondflow.domain.ids import derived_id_text

ENVELOPE_ATTRIBUTES = frozenset(
    {"originator_id", "originator_version", "timestamp", "originator_topic", "actor_id", "request_id"}
)
# Stored but never published: sealed personal data and the keyed hashes used to look it up.
NEVER_PUBLISHED = frozenset(
    {"email_hash", "email_sealed", "phone_sealed", "password_hash_sealed", "pan_hash", "trace_context"}
)
UNPUBLISHED_ATTRIBUTES = ENVELOPE_ATTRIBUTES | NEVER_PUBLISHED  # what a record's payload leaves out

TOPICS: dict[str, str] = {
    "bondflow.domain.orders:Order.OrderPlaced": "order.placed.v1",
    "bondflow.domain.orders:Order.OrderAccepted": "order.accepted.v1",
    "bondflow.domain.orders:Order.OrderRejected": "order.rejected.v1",
    "bondflow.domain.orders:Order.OrderCancelled": "order.cancelled.v1",
    "bondflow.domain.orders:Order.OrderRouted": "order.routed.v1",
    "bondflow.domain.orders:Order.OrderPartiallyFilled": "order.partially_filled.v1",
    "bondflow.domain.orders:Order.OrderFilled": "order.filled.v1",
    "bondflow.domain.orders:Order.OrderRemainderCancelled": "order.remainder_cancelled.v1",
    "bondflow.domain.trades:Trade.TradeExecuted": "rfq.executed.v1",
    "bondflow.domain.trades:Trade.TradeSettled": "trade.settled.v1",
    "bondflow.domain.orders:Order.SettlementRecorded": "order.settlement_recorded.v1",
    "bondflow.domain.portfolio:Portfolio.BuySettled": "portfolio.buy_settled.v1",
    "bondflow.domain.portfolio:Portfolio.SellSettled": "portfolio.sell_settled.v1",
    "bondflow.domain.settlement:Settlement.Started": "settlement.started.v1",
    "bondflow.domain.settlement:Settlement.PaymentInstructed": "settlement.payment_instructed.v1",
    "bondflow.domain.settlement:Settlement.PaymentConfirmed": "settlement.payment_confirmed.v1",
    "bondflow.domain.settlement:Settlement.PaymentFailed": "settlement.payment_failed.v1",
    "bondflow.domain.settlement:Settlement.TokenTransferRequested": "settlement.token_transfer_requested.v1",
    "bondflow.domain.settlement:Settlement.TokenTransferred": "settlement.token_transferred.v1",
    "bondflow.domain.settlement:Settlement.TokenTransferFailed": "settlement.token_transfer_failed.v1",
    "bondflow.domain.settlement:Settlement.RefundRequested": "settlement.refund_requested.v1",
    "bondflow.domain.settlement:Settlement.Refunded": "settlement.refunded.v1",
    "bondflow.domain.settlement:Settlement.Completed": "settlement.completed.v1",
    "bondflow.domain.settlement:Settlement.Failed": "settlement.failed.v1",
    "bondflow.domain.settlement:Settlement.DeadlineExpired": "settlement.deadline_expired.v1",
    "bondflow.domain.settlement:Settlement.BreakRaised": "settlement.break_raised.v1",
    "bondflow.domain.settlement:Settlement.RetryRequested": "settlement.retry_requested.v1",
    "bondflow.domain.settlement:Settlement.HoldRequested": "settlement.hold_requested.v1",
    "bondflow.domain.settlement:Settlement.HoldPlaced": "settlement.hold_placed.v1",
    "bondflow.domain.settlement:Settlement.HoldFailed": "settlement.hold_failed.v1",
    "bondflow.domain.settlement:Settlement.HoldReleaseRequested": "settlement.hold_release_requested.v1",
    "bondflow.domain.settlement:Settlement.HoldReleased": "settlement.hold_released.v1",
    "bondflow.domain.settlement:Settlement.DealerPayoutInstructed": "settlement.dealer_payout_instructed.v1",
    "bondflow.domain.settlement:Settlement.DealerPaid": "settlement.dealer_paid.v1",
    "bondflow.domain.settlement:Settlement.DealerRefundInstructed": "settlement.dealer_refund_instructed.v1",
    "bondflow.domain.settlement:Settlement.DealerRefunded": "settlement.dealer_refunded.v1",
    "bondflow.domain.settlement:Settlement.ProceedsCredited": "settlement.proceeds_credited.v1",
    "bondflow.domain.settlement:Settlement.CashReturned": "settlement.cash_returned.v1",
    "bondflow.domain.portfolio:Portfolio.Opened": "portfolio.opened.v1",
    "bondflow.domain.portfolio:Portfolio.BuyCommitted": "portfolio.buy_committed.v1",
    "bondflow.domain.portfolio:Portfolio.BuyReleased": "portfolio.buy_released.v1",
    "bondflow.domain.portfolio:Portfolio.UnitsReserved": "portfolio.units_reserved.v1",
    "bondflow.domain.portfolio:Portfolio.UnitsReleased": "portfolio.units_released.v1",
    # Payment events share two topics (the brief's §5); `event_type` in the record tells them apart.
    "bondflow.domain.escrow:EscrowAccount.Opened": "escrow.opened.v1",
    "bondflow.domain.escrow:EscrowAccount.DepositInitiated": "payment.instruction.v1",
    "bondflow.domain.escrow:EscrowAccount.WithdrawalRequested": "payment.instruction.v1",
    "bondflow.domain.escrow:EscrowAccount.PaymentConfirmed": "payment.status.v1",
    "bondflow.domain.escrow:EscrowAccount.PaymentFailed": "payment.status.v1",
    "bondflow.domain.escrow:EscrowAccount.WithdrawalPaid": "payment.status.v1",
    "bondflow.domain.escrow:EscrowAccount.WithdrawalFailed": "payment.status.v1",
    "bondflow.domain.escrow:EscrowAccount.PaymentBreakRaised": "payment.status.v1",
    "bondflow.domain.escrow:EscrowAccount.PaymentAmountCorrected": "payment.status.v1",
    "bondflow.domain.escrow:EscrowAccount.FundsReserved": "escrow.funds_reserved.v1",
    "bondflow.domain.escrow:EscrowAccount.FundsReleased": "escrow.funds_released.v1",
    "bondflow.domain.escrow:EscrowAccount.FundsDebited": "escrow.funds_debited.v1",
    "bondflow.domain.escrow:EscrowAccount.FundsCredited": "escrow.funds_credited.v1",
    "bondflow.domain.users:User.Registered": "user.created.v1",
    "bondflow.domain.users:User.Activated": "user.activated.v1",
    "bondflow.domain.users:User.Suspended": "user.suspended.v1",
    "bondflow.domain.users:User.PersonalDataErased": "user.personal_data_erased.v1",
    "bondflow.domain.users:User.InvestorCategoryEvidenced": "user.investor_category_evidenced.v1",
    "bondflow.domain.kyc:KycCase.Started": "kyc.started.v1",
    "bondflow.domain.kyc:KycCase.Restarted": "kyc.restarted.v1",
    "bondflow.domain.kyc:KycCase.Verified": "kyc.verified.v1",
    "bondflow.domain.kyc:KycCase.Rejected": "kyc.rejected.v1",
    "bondflow.domain.consent:Consent.Granted": "consent.granted.v1",
    "bondflow.domain.consent:Consent.Revoked": "consent.revoked.v1",
    "bondflow.domain.consent:Consent.Regranted": "consent.regranted.v1",
    "bondflow.domain.instruments:Instrument.Listed": "instrument.listed.v1",
    "bondflow.domain.instruments:Instrument.Suspended": "instrument.suspended.v1",
    "bondflow.domain.instruments:Instrument.Resumed": "instrument.resumed.v1",
    "bondflow.domain.instruments:Instrument.ReferencePriceSet": "instrument.reference_price_set.v1",
    "bondflow.domain.market_calendar:MarketCalendar.Opened": "calendar.opened.v1",
    "bondflow.domain.market_calendar:MarketCalendar.HolidayAdded": "calendar.holiday_added.v1",
    "bondflow.domain.ledger:JournalEntry.Posted": "ledger.journal_entry_posted.v1",
    "bondflow.domain.reconciliation:Reconciliation.Started": "reconciliation.started.v1",
    "bondflow.domain.reconciliation:Reconciliation.ReconciliationCompleted": "reconciliation.completed.v1",
    "bondflow.domain.instruments:Instrument.RedemptionScheduleSet": "instrument.redemption_schedule_set.v1",
    "bondflow.domain.corporate_actions:CorporateAction.CouponScheduled": "corporate_action.coupon_scheduled.v1",
    "bondflow.domain.corporate_actions:CorporateAction.RedemptionScheduled": "corporate_action.redemption_scheduled.v1",
    "bondflow.domain.corporate_actions:CorporateAction.HoldersRecorded": "corporate_action.holders_recorded.v1",
    "bondflow.domain.corporate_actions:CorporateAction.CouponPaid": "corporate_action.coupon_paid.v1",
    "bondflow.domain.corporate_actions:CorporateAction.Redeemed": "corporate_action.redeemed.v1",
    "bondflow.domain.corporate_actions:CorporateAction.Completed": "corporate_action.completed.v1",
    "bondflow.domain.tokens:TokenMovement.Minted": "token.minted.v1",
    "bondflow.domain.tokens:TokenMovement.Burned": "token.burned.v1",
    "bondflow.domain.tax_declarations:TaxDeclaration.Filed": "tax.declaration_filed.v1",
}


class UnpublishedEvent(LookupError):
    """An event type with no topic: the relay stops rather than silently leave a hole in the audit stream."""


def event_type_of(event: Any) -> str:
    return f"{type(event).__module__}:{type(event).__qualname__}"


def topic_for(event: Any) -> str:
    try:
        return TOPICS[event_type_of(event)]
    except KeyError:
        raise UnpublishedEvent(f"no regulator topic for {event_type_of(event)}; add it to TOPICS") from None


def event_id(event: Any) -> str:
    """Deterministic: the same stored event always has the same id, across relays and replays."""
    return derived_id_text("event", str(event.originator_id), str(event.originator_version))


def record_of(event: Any) -> dict[str, Any]:
    payload = {k: v for k, v in event.__dict__.items() if k not in UNPUBLISHED_ATTRIBUTES}
    return {
        "event_id": event_id(event),
        "event_type": type(event).__qualname__,
        "topic": topic_for(event),
        "aggregate_id": event.originator_id,
        "aggregate_version": event.originator_version,
        "recorded_at": event.timestamp,
        "actor_id": event.__dict__.get("actor_id"),
        "request_id": event.__dict__.get("request_id"),
        "payload": payload,
    }
