"""Reconciliation on real PostgreSQL: the escrow bank's own book (kept by the sandbox providers) against
the ledger. A clean day has no break; a bank line with no ledger entry and a ledger entry with no bank
line both show as breaks; a second run records nothing; `bondflow reconcile` does the same from the shell."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from bondflow.adapters.escrow_bank import CSV_COLUMNS, parse_statement_csv
from bondflow.domain.reconciliation import Reconciliation, reconciliation_id
from bondflow.runtime.clock import business_date
from bondflow.security.principal import Role
from bondflow.settings import Settings
from bondflow.wiring.container import Container
from tests.conftest import bearer, fund
from tests.integration.test_payments_api import deposit, wait_for_status
from tests.integration.test_settlement import caught_up

pytestmark = pytest.mark.integration


@pytest.fixture
def delivering(client: TestClient, container: Container) -> Any:
    """The payments sandbox's webhooks reach the API through the test client."""
    provider = container.payments.provider
    provider.sender.deliver = lambda body, headers: (
        client.post("/v1/payments/webhook", content=body, headers=headers).status_code
    )
    return provider


def posted(container: Container) -> None:
    caught_up(container, "payment_effects")
    caught_up(container, "ledger_poster")
    caught_up(container, "ledger_view")


def reconcile(client: TestClient, ops: dict[str, str], container: Container) -> dict[str, Any]:
    day = business_date(container.clock).isoformat()
    answer = client.get("/v1/ops/reconciliation", params={"date": day}, headers=ops)
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()["data"]
    return data


def completed_runs(container: Container) -> int:
    day: Reconciliation = container.store.repository.get(reconciliation_id(business_date(container.clock)))
    return day.runs


def test_a_clean_day_reconciles_with_no_break_and_its_statement_runs_the_balance(
    client: TestClient, container: Container, delivering: Any
) -> None:
    alice = bearer(container, sub="alice", funds=None)
    ops = bearer(container, Role.OPS, "ops-1")
    for amount in ("1000.25", "2500"):
        payment = deposit(client, alice, amount).json()["data"]["payment_id"]
        assert wait_for_status(client, alice, payment)["status"] == "CONFIRMED"
    key = {"Idempotency-Key": "withdraw-1"}
    withdrawal = client.post("/v1/payments/withdrawals", json={"amount": "500"}, headers={**alice, **key})
    assert wait_for_status(client, alice, withdrawal.json()["data"]["payment_id"])["status"] == "CONFIRMED"
    posted(container)
    result = reconcile(client, ops, container)
    assert result["breaks"] == [] and result["reconciled"] and result["recorded"], result
    assert (result["statement_lines"], result["ledger_lines"], result["matched"]) == (3, 3, 3)
    assert result["closing_balance"] == {"bank": "3000.25", "ledger": "3000.25"}
    csv = container.ledger.bank.statement_csv(business_date(container.clock))
    assert csv.splitlines()[0] == ",".join(CSV_COLUMNS)
    lines = parse_statement_csv(csv)
    assert [line.balance for line in lines] == [Decimal("1000.25"), Decimal("3500.25"), Decimal("3000.25")]
    assert (lines[2].debit, lines[2].credit) == (Decimal("500.00"), Decimal("0.00"))


def test_unmatched_lines_on_either_side_are_breaks_and_a_second_run_records_nothing(
    client: TestClient, container: Container, delivering: Any
) -> None:
    ops = bearer(container, Role.OPS, "ops-1")
    alice = bearer(container, sub="alice", funds=None)
    payment = deposit(client, alice, "700").json()["data"]["payment_id"]
    assert wait_for_status(client, alice, payment)["status"] == "CONFIRMED"
    lost = bearer(container, sub="carol", funds=None)  # the bank has carol's money; its webhook never came
    container.payments.provider.sender.deliver = lambda body, headers: 202
    deposit(client, lost, "300").json()["data"]["payment_id"]
    caught_up(container, "payment_effects")
    # dave's deposit is credited (reference "TESTREF") while the provider refuses it: no money at the bank
    container.payments.provider.faults.set("fail_next")
    fund(container, "dave", Decimal(900))
    posted(container)

    result = reconcile(client, ops, container)
    assert result["matched"] == 1 and not result["reconciled"]
    by_side = {b["side"]: b for b in result["breaks"]}
    assert (result["bank_breaks"], result["ledger_breaks"]) == (1, 1), result["breaks"]
    assert by_side["bank"]["amount"] == "300.00" and by_side["bank"]["direction"] == "in"
    assert by_side["ledger"]["reference"] == "TESTREF" and by_side["ledger"]["amount"] == "900.00"
    assert by_side["ledger"]["entry_id"]
    assert result["closing_balance"] == {"bank": "1000.00", "ledger": "1600.00"}

    head, runs = container.store.head_position(), completed_runs(container)
    again = reconcile(client, ops, container)
    assert not again["recorded"] and again["breaks"] == result["breaks"]
    assert container.store.head_position() == head and completed_runs(container) == runs == 1


def test_bondflow_reconcile_matches_from_the_shell_and_writes_the_statement(
    client: TestClient, container: Container, delivering: Any, settings: Settings, tmp_path: Path
) -> None:
    alice = bearer(container, sub="alice", funds=None)
    payment = deposit(client, alice, "1234.56").json()["data"]["payment_id"]
    assert wait_for_status(client, alice, payment)["status"] == "CONFIRMED"
    posted(container)
    day = business_date(container.clock).isoformat()
    env = {
        **os.environ,
        "BONDFLOW_DATABASE_URL": settings.database_url or "",
        "BONDFLOW_DATA_DIR": str(settings.data_dir),
    }
    out = tmp_path / "statement.csv"
    command = [sys.executable, "-m", "bondflow.cli", "reconcile", "--date", day, "--statement", str(out)]
    ran = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert ran.returncode == 0, ran.stderr
    report = orjson.loads(ran.stdout)
    assert report["reconciled"] and report["matched"] == 1 and report["recorded"]
    assert parse_statement_csv(out.read_text())[0].credit == Decimal("1234.56")
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert again.returncode == 0 and not orjson.loads(again.stdout)["recorded"]
