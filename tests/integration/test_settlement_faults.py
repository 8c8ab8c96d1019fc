"""The DvP saga under faults, in one process: many trades while payments and the chain randomly fail or time
out, the settlement followers are stopped and restarted mid-flight (`test_settlement_killed_workers` runs
them as processes and SIGKILLs them), and every event is then delivered again; afterwards every
DOMAIN.md invariant holds (cash and token conservation, each leg at most once, no settlement non-terminal,
holdings equal the chain's balances) and the redelivery recorded nothing."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bondflow.domain.ledger import (
    BANK_ESCROW,
    CLEARING,
    PLATFORM_FEES,
    STAMP_DUTY,
    investor_available,
    investor_reserved,
)
from bondflow.domain.portfolio import Portfolio, portfolio_id
from bondflow.domain.settlement import investor_wallet, settlement_id
from bondflow.security.principal import Role
from bondflow.settings import Settings
from bondflow.wiring.container import Container
from projections.ledger import projector as ledger_view
from projections.settlements import projector as settlements_view
from tests.conftest import bearer, ledger_posted
from tests.integration.test_settlement import caught_up, eventually

pytestmark = pytest.mark.integration

ISIN = "INE123A07043"
FUNDS = Decimal(1_000_000)
INVESTORS = [f"chaos-{i}" for i in range(4)]


@pytest.fixture(params=[0, 1, 5], ids=lambda seed: f"seed{seed}")
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """Each run draws its random faults from its own seed."""
    return settings.model_copy(
        update={"payments_sandbox_seed": request.param, "chain_sandbox_seed": request.param}
    )


def restart(container: Container, name: str) -> None:
    """Kill a follower mid-flight and start a fresh copy from its recorded position."""
    old = container.followers[name]
    old.stop()
    fresh = type(old)(old.follower, container.store, container.db)  # a TimerRunner stays one
    container.followers[name] = fresh
    fresh.start()


def place(client: TestClient, headers: dict[str, str], side: str, qty: str, key: str | None = None) -> Any:
    """Place an order; a chosen Idempotency-Key makes its ids, and so the sandboxes' fault draws, repeatable."""
    body = {
        "isin": ISIN,
        "side": side,
        "qty": qty,
        "limit_clean_price": "102.00" if side == "BUY" else "96.50",
    }
    idempotency_key = key or uuid.uuid4().hex
    return client.post("/v1/orders", json=body, headers={**headers, "Idempotency-Key": idempotency_key})


def all_terminal(container: Container, expected: int, *, or_broken: bool = False) -> bool:
    counts = settlements_view.counts(container.db)
    allowed = {"COMPLETED", "FAILED", "BROKEN"} if or_broken else {"COMPLETED", "FAILED"}
    return sum(counts.values()) == expected and set(counts) <= allowed


def resolve_breaks(client: TestClient, container: Container) -> int:
    """An operator retries every break (a SELL whose dealer payment failed) once the faults are off."""
    ops = bearer(container, Role.OPS, sub="ops-chaos")
    broken = client.get("/v1/ops/settlements", params={"state": "BROKEN", "limit": 100}, headers=ops).json()
    for row in broken["data"]:
        assert (
            client.post(f"/v1/ops/settlements/{row['settlement_id']}/retry", headers=ops).status_code == 202
        )
    return len(broken["data"])


def log_events(container: Container) -> list[Any]:
    notifications = container.store.recorder.select_notifications(start=1, limit=1_000_000)
    return [container.store.mapper.to_domain_event(n) for n in notifications]


def test_many_trades_under_random_faults_and_a_restart_keep_every_invariant(
    client: TestClient, container: Container
) -> None:
    container.start_followers(["execution"])
    investors = {sub: bearer(container, sub=sub, funds=FUNDS) for sub in INVESTORS}
    caught_up(container, "payment_effects")
    admin = bearer(container, Role.ADMIN)
    for fault in (
        {"target": "payments", "mode": "fail_rate", "value": "0.4"},
        {"target": "chain", "mode": "fail_rate", "value": "0.4"},
        {"target": "chain", "mode": "hold_fail_rate", "value": "0.2"},
        {"target": "payments", "mode": "timeout_next"},
        {"target": "chain", "mode": "timeout_next"},
    ):
        assert client.post("/v1/sandbox/faults", json=fault, headers=admin).status_code == 202
    orders = []
    for round_ in range(3):
        for sub, headers in investors.items():
            placed = place(client, headers, "BUY", str(3 + round_))
            assert placed.status_code == 202, placed.text
            orders.append((sub, placed.json()["data"]["order_id"]))
        if round_ == 1:
            for name in ("settlement_saga", "settlement_payments", "settlement_chain", "settlement_timer"):
                restart(container, name)
    trades = eventually(lambda: _executed(client, investors, orders), timeout=30)
    # a refused payout after delivery is a break (an obligation), never a failure
    eventually(lambda: all_terminal(container, len(trades), or_broken=True), timeout=60)

    # a SELL of one unit by every investor who holds some, with the faults still on
    sells = []
    for sub, headers in investors.items():
        portfolio: Portfolio = container.store.repository.get(portfolio_id(sub))
        if portfolio.free_units(ISIN) >= 1:
            placed = place(client, headers, "SELL", "1")
            assert placed.status_code == 202, placed.text
            sells.append((sub, placed.json()["data"]["order_id"]))
    trades = eventually(lambda: _executed(client, investors, orders + sells), timeout=30)
    eventually(lambda: all_terminal(container, len(trades), or_broken=True), timeout=60)
    client.delete("/v1/sandbox/faults", headers=admin)
    resolve_breaks(client, container)
    eventually(lambda: all_terminal(container, len(trades)), timeout=60)

    settle_everything(container)
    before = container.store.head_position()
    redeliver_everything(container)
    assert container.store.head_position() == before, "a redelivered event recorded something"
    check_invariants(container, client, investors, trades)


def _executed(
    client: TestClient, investors: dict[str, dict[str, str]], orders: list[tuple[str, str]]
) -> list[dict[str, Any]] | None:
    trades: list[dict[str, Any]] = []
    for sub, order_id in orders:
        order = client.get(f"/v1/orders/{order_id}", headers=investors[sub]).json()["data"]
        if not order or order["status"] in ("NEW",) or Decimal(order["remaining_qty"]) > 0:
            return None
        for fill in order["fills"]:
            trades.append({"user_id": sub, "order_id": order_id, **fill})
    return trades


def settle_everything(container: Container) -> None:
    eventually(
        lambda: all(
            container.followers[n].follower.position() >= container.store.head_position()
            for n in container.running
        )
    )


def redeliver_everything(container: Container) -> None:
    """Every event delivered again to the saga and to both effect workers, and every payment and chain
    confirmation reported again, as a provider or a chain node would (duplicate confirmations)."""
    settling = container.settlement
    for event in log_events(container):
        topic = f"{type(event).__module__}:{type(event).__qualname__}"
        for follower in (settling.saga, settling.payments_worker, settling.chain_worker):
            if topic in follower.topics:
                follower.handle(event)
        name = type(event).__qualname__
        commands = settling.commands
        if name == "Settlement.PaymentConfirmed":
            assert not commands.confirm_payment(event.originator_id, event.reference, "dup")
        elif name == "Settlement.TokenTransferred":
            assert not commands.token_transferred(event.originator_id, event.tx_hash, "dup")
        elif name in ("Settlement.DealerPaid", "Settlement.DealerRefunded"):
            confirm = "confirm_payout" if name == "Settlement.DealerPaid" else "confirm_refund"
            assert not commands.report(event.originator_id, confirm, "dup", reference=event.reference)
        elif name == "Settlement.HoldPlaced":
            assert not commands.report(event.originator_id, "hold_placed", "dup", hold_id=event.hold_id)


def check_invariants(
    container: Container,
    client: TestClient,
    investors: dict[str, dict[str, str]],
    trades: list[dict[str, Any]],
    *,
    deposits: dict[str, Decimal] | None = None,
) -> None:
    """`deposits`: what each investor paid in (confirmed) on top of `FUNDS` during the run."""
    settlements = [container.settlement.commands.get(settlement_id(t["trade_id"])) for t in trades]
    assert all(s.terminal for s in settlements), "a settlement was left non-terminal"
    states = {s.state.value for s in settlements}
    assert "COMPLETED" in states and "FAILED" in states, states  # the faults really bit, and not always
    chain = container.settlement.chain
    for sub, headers in investors.items():
        mine = [s for s in settlements if s.user_id == sub and s.state.value == "COMPLETED"]
        bought = sum((s.consideration for s in mine if s.is_buy), Decimal(0))
        sold = sum((s.consideration for s in mine if not s.is_buy), Decimal(0))
        data = client.get("/v1/escrow/balance", headers=headers).json()["data"]
        assert Decimal(data["reserved"]) == 0
        paid_in = FUNDS + (deposits or {}).get(sub, Decimal(0))
        assert Decimal(data["available"]) == paid_in - bought + sold, sub  # cash conservation
        units = sum((s.qty if s.is_buy else -s.qty for s in mine), Decimal(0))
        portfolio: Portfolio = container.store.repository.get(portfolio_id(sub))
        assert portfolio.positions[ISIN].held == units
        assert chain.balance(investor_wallet(sub), ISIN) == units  # holdings equal the chain
        shown = client.get(
            "/v1/portfolio/holdings",
            params={"min_position": container.store.head_position()},
            headers=headers,
        ).json()["data"]["holdings"]
        assert sum((Decimal(h["qty"]) for h in shown if h["isin"] == ISIN), Decimal(0)) == units  # read model
        assert portfolio.positions[ISIN].pending_buy == 0 and portfolio.positions[ISIN].reserved_sell == 0
    balances = chain.balances()
    assert sum(v for (_w, isin), v in balances.items() if isin == ISIN) == chain.minted(ISIN)  # tokens
    check_dealers(container, settlements)
    with container.db.cursor() as cur:
        final = cur.execute(
            "SELECT count(*) FROM chain_transfers WHERE kind IN ('TRANSFER', 'HOLD') AND status = 'FINAL'"
        ).fetchone()
        live = cur.execute("SELECT count(*) FROM chain_holds WHERE status IN ('HELD', 'PENDING')").fetchone()
    assert final is not None and final[0] == sum(1 for s in settlements if s.tokens_moved)  # token legs
    assert live == (0,), "a hold outlived its settlement"
    check_ledger(container, client, investors, settlements)


def check_ledger(
    container: Container,
    client: TestClient,
    investors: dict[str, dict[str, str]],
    settlements: list[Any],
) -> None:
    """DOMAIN.md's ledger invariants once everything is terminal: every journal entry balances (all lines
    are INR), each investor's ledger accounts equal the escrow read model, `bank:escrow` equals the escrow
    bank's own book (the sandbox providers book what they move), the platform fee and stamp duty
    accounts hold exactly the costs of the settled trades, and nothing is left in clearing or owed to a
    dealer. Per ISIN the chain's free balances plus what holds lock equal what was minted."""
    ledger_posted(container)
    caught_up(container, "ledger_view")
    posted = [e for e in log_events(container) if type(e).__qualname__ == "JournalEntry.Posted"]
    assert posted, "the ledger poster posted nothing"
    for entry in posted:
        debit = sum((Decimal(line["debit"]) for line in entry.lines), Decimal(0))
        credit = sum((Decimal(line["credit"]) for line in entry.lines), Decimal(0))
        assert debit == credit > 0, (entry.kind, entry.reference, entry.lines)
    with container.db.cursor() as cur:
        unbalanced = cur.execute(
            "SELECT entry_id FROM ledger_lines GROUP BY entry_id HAVING sum(debit) <> sum(credit)"
        ).fetchall()
        entries = cur.execute("SELECT count(*) FROM ledger_entries").fetchone()
    assert unbalanced == [] and entries == (len(posted),), "the ledger read model disagrees with the log"
    assert ledger_view.totals(container.db)["balanced"]
    accounts = {a["account"]: a["balance"] for a in ledger_view.accounts(container.db)}
    zero = Decimal(0)
    for sub, headers in investors.items():
        escrow = client.get("/v1/escrow/balance", headers=headers).json()["data"]
        assert accounts.get(investor_available(sub), zero) == Decimal(escrow["available"]), sub
        assert accounts.get(investor_reserved(sub), zero) == Decimal(escrow["reserved"]), sub
    bank = container.ledger.bank.balance()  # `bearer`'s funding too: the provider was asked before the faults
    assert accounts[BANK_ESCROW] == bank, f"bank:escrow {accounts[BANK_ESCROW]} != the bank's book {bank}"
    completed = [s for s in settlements if s.state.value == "COMPLETED"]
    assert accounts.get(PLATFORM_FEES, zero) == sum((s.fee for s in completed), zero)
    assert accounts.get(STAMP_DUTY, zero) == sum((s.stamp_duty for s in completed if s.is_buy), zero)
    assert accounts.get(CLEARING, zero) == zero, "cash left in clearing"
    assert all(v == zero for name, v in accounts.items() if name.startswith("dealer:")), "a dealer is owed"
    assert sum(v for name, v in accounts.items() if name != BANK_ESCROW) == accounts[BANK_ESCROW]
    chain = container.settlement.chain
    wallets = {w for (w, isin) in chain.balances() if isin == ISIN}
    with container.db.transaction() as cur:
        free = sum((chain.free_balance_in(cur, w, ISIN) for w in wallets), Decimal(0))
    held = sum((chain.held(w, ISIN) for w in wallets), Decimal(0))
    assert free + held == chain.minted(ISIN), "tokens on the chain and in holds != minted"


def check_dealers(container: Container, settlements: list[Any]) -> None:
    """Every dealer received exactly what it is owed, once, and no cash left the escrow bank account for a
    trade whose tokens did not arrive: per settlement, the dealer-payments sandbox moved exactly
    BUY completed: the gross paid to the dealer; BUY failed: nothing; SELL completed: the gross collected;
    SELL failed: nothing, or the gross collected and the same gross refunded."""
    moved: dict[str, list[tuple[str, str, Decimal]]] = {}
    for _key, sid, direction, dealer, amount in container.settlement.payouts.transfers():
        moved.setdefault(sid, []).append((direction, dealer, amount))
    known = {str(s.id) for s in settlements}
    assert set(moved) <= known, "the sandbox moved cash for no settlement"
    for s in settlements:
        got = sorted(moved.get(str(s.id), []))
        if s.is_buy:
            expected = [("PAY_DEALER", s.dealer, s.gross)] if s.state.value == "COMPLETED" else []
            assert s.tokens_moved or not got, f"cash left for {s.id} whose tokens did not arrive"
        elif s.state.value == "COMPLETED":
            expected = [("COLLECT_FROM_DEALER", s.dealer, s.gross)]
        else:
            collected = [("COLLECT_FROM_DEALER", s.dealer, s.gross), ("REFUND_DEALER", s.dealer, s.gross)]
            expected = collected if got else []
        assert got == expected, (s.id, s.side, s.state, got)


def test_reprocessing_every_event_of_settled_trades_records_nothing_and_moves_nothing(
    client: TestClient, container: Container
) -> None:
    container.start_followers(["execution"])
    alice = bearer(container, sub="alice", funds=FUNDS)
    placed = place(client, alice, "BUY", "4")
    order_id = placed.json()["data"]["order_id"]
    trades = eventually(lambda: _executed(client, {"alice": alice}, [("alice", order_id)]))
    eventually(lambda: all_terminal(container, len(trades)))
    settle_everything(container)
    before = (
        container.store.head_position(),
        container.settlement.chain.balances(),
        dict(container.settlement.payouts.moved),
    )
    redeliver_everything(container)
    redeliver_everything(container)
    after = (
        container.store.head_position(),
        container.settlement.chain.balances(),
        dict(container.settlement.payouts.moved),
    )
    assert after == before
