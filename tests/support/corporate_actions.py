"""Helpers for the corporate-action tests: list a bond with a valid ISIN, make investors with the tax facts
TDS depends on (residency, a verified PAN), and settle trades as the DvP saga would leave them (tokens
final on the sandbox chain, then `TradeSettled` in the log)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from bondflow.adapters.chain_port import FINAL
from bondflow.domain.kyc import KycCase, case_id_for
from bondflow.domain.settlement import investor_wallet
from bondflow.domain.trades import Trade
from bondflow.domain.users import User
from bondflow.domain.values import isin_check_digit_ok
from bondflow.runtime.clock import ManualClock, business_date
from bondflow.wiring.container import Container
from bondflow.wiring.seed import SEED_ACTOR
from commands.instruments.handlers import ListInstrument
from commands.kernel.context import CommandContext

CTX = CommandContext(SEED_ACTOR, "test-corporate-actions")
DEALER = "D1"


def valid_isin(stem: str) -> str:
    """`stem` (11 characters) with the ISO 6166 check digit appended."""
    return next(stem + d for d in "0123456789" if isin_check_digit_ok(stem + d))


def list_bond(container: Container, **fields: Any) -> str:
    body = {
        "issuer": "Acme Finance",
        "name": fields.get("name", "Acme NCD"),
        "face_value": "1000",
        "rating": "AAA",
        "reference_clean_price": "100",
        "record_date_days": 15,
        **fields,
    }
    container.instruments.list_instrument(ListInstrument.from_body(body), CTX)
    return str(body["isin"])


def investor(
    container: Container, *, residency: str = "IN", pan: bool = True, category: str = "retail"
) -> str:
    """A registered investor (sealed fields are placeholders) whose KYC, and so PAN, is verified if `pan`."""
    now = datetime(2026, 11, 1, tzinfo=UTC)
    user = User(
        id=uuid.uuid4(),
        email_hash=uuid.uuid4().hex,
        email_sealed="sealed",
        phone_sealed=None,
        password_hash_sealed="sealed",
        residency=residency,
        investor_category=category,
        registered_at=now,
        actor_id="test",
        request_id="test-user",
    )
    aggregates: list[Any] = [user]
    if pan:
        case = KycCase(
            id=case_id_for(user.id),
            user_id=str(user.id),
            pan_hash=uuid.uuid4().hex,
            with_aadhaar=False,
            consent_id="consent",
            started_at=now,
            actor_id=str(user.id),
            request_id="test-kyc",
        )
        case.approve_manually(tier="basic", reason="test", decided_at=now, actor_id="admin", request_id="t")
        aggregates.append(case)
    container.store.save(*aggregates)
    return str(user.id)


def settle_trade(
    container: Container, clock: ManualClock, user: str, isin: str, side: str, qty: Decimal
) -> None:
    """Tokens dealer ↔ investor final on the chain, then the trade settled in the log."""
    chain = container.settlement.chain
    key = f"test-trade:{uuid.uuid4()}"
    dealer, wallet = f"dealer:{DEALER}", investor_wallet(user)
    source, target = (dealer, wallet) if side == "BUY" else (wallet, dealer)
    chain.submit(isin, source, target, qty, key)
    clock.advance(timedelta(seconds=1))
    status = chain.status(key)
    assert status is not None and status.status == FINAL, status
    today = business_date(clock)
    trade = Trade(
        id=uuid.uuid4(),
        order_id=str(uuid.uuid4()),
        user_id=user,
        isin=isin,
        side=side,
        dealer=DEALER,
        quote_id="q",
        qty=qty,
        clean_price=Decimal(100),
        accrued_per_100=Decimal(0),
        face_value=Decimal(1000),
        consideration=qty * Decimal(1000),
        fees=Decimal(0),
        reference_clean_price=Decimal(100),
        trade_date=today,
        settlement_date=today,
        actor_id="test",
        request_id="test-trade",
    )
    trade.settle(
        settlement_id="s", payment_reference="p", tx_hash=status.tx_hash, actor_id="t", request_id="t"
    )
    container.store.save(trade)
