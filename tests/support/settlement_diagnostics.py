"""What a chaos run that did not finish left behind: every settlement not terminal with its recorded
state, deadline and history, and what the providers' and workers' own tables hold for it (scheduled polls,
the hold on the sandbox chain, the dealer-payment requests). Put in the failure message of a chaos test."""

from __future__ import annotations

from typing import Any

from bondflow.wiring.container import Container


def unsettled_report(container: Container, limit: int = 12) -> str:
    """A readable dump of up to `limit` non-terminal settlements (empty when every one is terminal)."""
    with container.db.cursor() as cur:
        rows = cur.execute(
            "SELECT settlement_id, side, state, deadline_step, deadline_at, history FROM settlements_view"
            " WHERE state NOT IN ('COMPLETED', 'FAILED') ORDER BY created_at LIMIT %s",
            (limit,),
        ).fetchall()
        lines = [f"{len(rows)} settlement(s) not terminal in settlements_view (first {limit})"]
        for sid, side, state, step, deadline_at, history in rows:
            lines.extend(_one(container, cur, sid, side, state, step, deadline_at, history))
    return "\n".join(lines)


def _one(
    container: Container, cur: Any, sid: Any, side: str, state: str, step: Any, at: Any, history: Any
) -> list[str]:
    settlement = container.settlement.commands.get(sid)
    events = [f"{h['at'][11:23]} {h['event']}" + (f"({h['step']})" if "step" in h else "") for h in history]
    polls = cur.execute(
        "SELECT step, key, due_at, tries FROM settlement_polls WHERE settlement_id = %s", (sid,)
    ).fetchall()
    hold = cur.execute(
        "SELECT hold_id, status, reason, final_after, expires_at FROM chain_holds WHERE hold_id = %s",
        (settlement.hold_id or "",),
    ).fetchall()
    payouts = cur.execute(
        "SELECT idempotency_key, direction, status, outcome, due_at FROM sandbox_payouts"
        " WHERE instruction_id = %s",
        (str(sid),),
    ).fetchall()
    return [
        f"- {sid} {side} view={state} aggregate={settlement.state.value} attempt={settlement.attempt}"
        f" deadline(view)={step}@{at} deadline(aggregate)={settlement.deadline_step}@{settlement.deadline_at}"
        f" broken_step={settlement.broken_step} expired={sorted(settlement.expired)}",
        f"    events: {', '.join(events)}",
        f"    polls: {polls}",
        f"    hold: {hold}",
        f"    payouts: {payouts}",
    ]
