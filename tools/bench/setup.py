"""Before the command path is measured: one listed bond and a pool of funded, KYC-verified investors."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from bondflow.domain.escrow import PaymentMethod
from bondflow.runtime.clock import SystemClock, business_date
from bondflow.security.keys import SigningKey
from bondflow.security.principal import Role
from bondflow.security.tokens import TokenService
from bondflow.settings import Settings
from bondflow.wiring.seed import DEMO_BONDS, HOLIDAYS, SEED_ACTOR

BOND = DEMO_BONDS[0]  # INE123A07043, face ₹1,000, AA+, 2031
ORDER = {"isin": BOND["isin"], "side": "BUY", "qty": "1", "limit_clean_price": BOND["reference_clean_price"]}
DEPOSIT = "5000000.00"  # RTGS; ~₹1,013 per order leaves room for thousands of orders per investor
VERIFIED = {"residency": "IN", "investor_category": "retail", "kyc_status": "verified", "kyc_tier": "full"}


def fund_directly(container: Any, user_id: str, amount: Decimal) -> None:
    """Credit an investor's escrow in-process (a confirmed RTGS deposit), for benches that place orders
    through the command handlers rather than over HTTP."""
    account = container.payments.escrow.load(user_id)
    account.initiate_deposit(
        "fund", amount, PaymentMethod.RTGS, request_fingerprint="b", actor_id="bench", request_id="bench"
    )
    account.confirm_payment(
        "fund", "REF", account.payment("fund").amount, "evt", actor_id="bench", request_id="bench"
    )
    container.store.save(account)


def mint_tokens(data_dir: Path, investors: int) -> tuple[str, list[str]]:
    """An admin token and `investors` investor tokens, signed with the server's own key."""
    service = TokenService(SigningKey.load_or_create(data_dir), SystemClock(), timedelta(hours=1))
    run = uuid.uuid4().hex[:8]
    admin = service.mint(f"bench-admin-{run}", Role.ADMIN, None)
    return admin, [service.mint(f"bench-{run}-{i}", Role.INVESTOR, VERIFIED) for i in range(investors)]


def prepare(base: str, admin: str, investors: list[str], *, within: float = 60.0) -> None:
    """List the bond, then deposit into every investor's escrow and wait for the sandbox to confirm."""
    with httpx.Client(base_url=base, timeout=10) as http:
        listed = http.post("/v1/instruments", json=BOND, headers=_auth(admin, "list-bond"))
        if listed.status_code not in {202, 409}:
            raise RuntimeError(f"listing {BOND['isin']} failed: {listed.status_code} {listed.text[:300]}")
        for token in investors:
            body = {"amount": DEPOSIT, "method": "RTGS"}
            started = http.post("/v1/payments/deposits", json=body, headers=_auth(token, "fund"))
            if started.status_code != 202:
                raise RuntimeError(f"deposit failed: {started.status_code} {started.text[:300]}")
        deadline = time.monotonic() + within
        for token in investors:
            while _available(http, token) < Decimal(DEPOSIT):
                if time.monotonic() > deadline:
                    raise RuntimeError("the sandbox did not confirm the bench's deposits in time")
                time.sleep(0.1)


def market_note() -> str | None:
    """Why every order would be refused today (weekend), or None. Demo holidays are not seeded."""
    today = business_date(SystemClock())
    if today.weekday() >= 5:
        return f"{today} is a weekend in India: every order is refused (the refusal path is measured)"
    holiday = dict(HOLIDAYS).get(today.isoformat())
    return f"{today} is {holiday}; the bench does not seed holidays, so orders trade" if holiday else None


def _available(http: httpx.Client, token: str) -> Decimal:
    answer = http.get("/v1/escrow/balance", headers={"Authorization": f"Bearer {token}"})
    data: dict[str, Any] = answer.json().get("data") or {}
    return Decimal(str(data.get("available", "0"))) if answer.status_code == 200 else Decimal(0)


def _auth(token: str, key_prefix: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Idempotency-Key": f"{key_prefix}-{uuid.uuid4().hex}"}


def in_process_settings(url: str, workdir: Path, **overrides: Any) -> Settings:
    """Settings for a bench that builds the container in its own process on `url`: no demo data, chDB and
    the data directory under `workdir`."""
    return Settings(
        database_url=url,
        clickhouse_dsn=f"chdb://{workdir / 'ch'}",
        data_dir=workdir / "var",
        seed_demo_data=False,
        **overrides,
    )


def list_bench_bond(container: Any) -> None:
    """List the bench's bond (`BOND`) through the instruments commands, as the seed actor."""
    from commands.instruments.handlers import ListInstrument
    from commands.kernel.context import CommandContext

    container.instruments.list_instrument(
        ListInstrument.from_body(dict(BOND)), CommandContext(SEED_ACTOR, "bench")
    )
