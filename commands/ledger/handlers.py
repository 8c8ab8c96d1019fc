"""`bondflow reconcile --date D`: post what the ledger has not posted yet, match the escrow bank's
statement of the day with the ledger, record the result (once) and print it; exit 1 on a break."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from bondflow.settings import Settings


def reconcile(
    value_date: Annotated[
        str | None, typer.Option("--date", help="value date YYYY-MM-DD (default: today in India)")
    ] = None,
    statement: Annotated[
        Path | None, typer.Option("--statement", help="also write the bank's statement CSV here")
    ] = None,
) -> None:
    """Reconcile the escrow bank account's statement of a day with the ledger's bank:escrow entries."""
    import orjson

    from bondflow.runtime.catch_up import catch_up
    from bondflow.runtime.clock import business_date, record_events_with
    from bondflow.wiring.bootstrap import clock_from, open_store
    from bondflow.wiring.ledger import build_ledger
    from projections.ledger.projector import LedgerProjector

    settings = Settings()
    clock = clock_from(settings)
    record_events_with(clock)
    try:
        day = date.fromisoformat(value_date) if value_date else business_date(clock)
    except ValueError:
        raise typer.BadParameter("--date must be YYYY-MM-DD") from None
    db, store = open_store(settings)
    try:
        ledger = build_ledger(db, store, clock)
        for follower in (ledger.poster, LedgerProjector(db)):
            if not catch_up(follower, store, db):
                typer.echo(f"{follower.name} did not reach the head of the log; try again", err=True)
                raise typer.Exit(2)
        if statement is not None:
            statement.write_text(ledger.bank.statement_csv(day))
        report = ledger.reconciler.reconcile(day, actor_id="cli:reconcile", request_id=f"reconcile:{day}")
    finally:
        store.close()
        db.close()
    typer.echo(orjson.dumps(report.as_dict(), option=orjson.OPT_INDENT_2, default=str).decode())
    if not report.as_dict()["reconciled"]:
        raise typer.Exit(1)
