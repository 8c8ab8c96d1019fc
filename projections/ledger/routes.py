"""Operators' view of money: the ledger (accounts, balances, journal entries) and the day's reconciliation
of the escrow bank's statement with it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from bondflow.api.deps import ContainerDep, IsoDate, RequestId, require_scope
from bondflow.api.envelope import EnvelopeResponse, ok
from bondflow.domain.ledger import ACCOUNT_PATTERN
from bondflow.runtime.clock import business_date
from bondflow.security.principal import Principal
from projections.base.waiting import caught_up
from projections.ledger import projector as ledger_view

router = APIRouter(prefix="/v1/ops", tags=["ledger"])

Operator = Annotated[Principal, Depends(require_scope("ops:settlements"))]
AccountName = Annotated[
    str | None,
    Query(
        max_length=200,
        pattern=ACCOUNT_PATTERN.pattern,
        description="only this account (for example `bank:escrow`, `investor:<id>:available`)",
    ),
]


@router.get("/ledger", dependencies=[caught_up("ledger_view")])
def get_ledger(
    _operator: Operator,
    container: ContainerDep,
    request_id: RequestId,
    account: AccountName = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> EnvelopeResponse:
    """Accounts with their debit and credit totals and balances, the ledger's totals, and journal entries
    newest first (only those touching `account` when given), a page at a time."""
    page, next_cursor = ledger_view.entries(container.db, account=account, limit=limit, cursor=cursor)
    data = {
        "accounts": ledger_view.accounts(container.db, account),
        "totals": ledger_view.totals(container.db),
        "entries": page,
    }
    return ok(data, request_id, next_cursor=next_cursor)


@router.get("/reconciliation", dependencies=[caught_up("ledger_view")])
def get_reconciliation(
    operator: Operator,
    container: ContainerDep,
    request_id: RequestId,
    value_date: Annotated[
        IsoDate | None, Query(alias="date", description="value date (default: today)")
    ] = None,
) -> EnvelopeResponse:
    """Match the provider's statement of the day with the ledger's `bank:escrow` lines; breaks listed.
    Idempotent: a run that finds what the last one found records nothing."""
    day = value_date or business_date(container.clock)
    report = container.ledger.reconciler.reconcile(day, actor_id=operator.subject, request_id=request_id)
    return ok(report.as_dict(), request_id)
