"""The killed-worker chaos run (`make chaos`, minutes) rests on three things of its harness that each once
made it fail on every or on most runs; these fast checks keep them true in the default suite:

- the test process and the worker processes read one clock (an operator's retry in the test process set
  deadlines on a frozen test clock, already past on the workers' clock, so retried breaks broke again);
- the chaos kills only workers at work, which it tells by their leader lock (a copy still importing was
  killed again and again on a loaded machine, and the settlements stopped moving);
- its SELLs' keys reach the refused dealer payment (BF-PAY-006): the fault draws are deterministic, and
  the keys it used drew no refusal at all.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from bondflow.adapters.sandbox_faults import draw
from bondflow.domain.ids import derived_id
from bondflow.domain.settlement import PAYMENT_STEP, settlement_id
from bondflow.domain.trades import trade_id_for
from bondflow.settings import Settings
from bondflow.wiring.bootstrap import clock_from
from bondflow.wiring.container import Container
from bondflow.wiring.seed import DEMO_BONDS
from bondflow.workers.settlement import idempotency_key
from tests.conftest import TRADING_DAY
from tests.integration.test_settlement import eventually
from tests.integration.test_settlement_faults import ISIN
from tests.integration.test_settlement_killed_workers import (
    FAULTS,
    INVESTORS,
    SELL_ROUNDS,
    SETTLEMENT_WORKERS,
    Workers,
    leaders,
    sell_key,
    shared_clock,
)

pytestmark = pytest.mark.integration


def test_the_workers_read_the_clock_of_the_test_process(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    anchor = datetime.now(UTC) - timedelta(seconds=42)
    in_process = shared_clock(anchor)  # the chaos module's `clock` fixture
    for name, value in Workers(settings, tmp_path, anchor).env.items():
        if name.startswith("BONDFLOW_"):
            monkeypatch.setenv(name, value)
    workers_clock = clock_from(Settings())  # what `bondflow worker` builds from that environment
    assert abs(workers_clock.now() - in_process.now()) < timedelta(seconds=1)
    assert in_process.now() > TRADING_DAY + timedelta(seconds=41)  # real time since the anchor


def test_the_chaos_tells_the_settlement_workers_that_lead(container: Container) -> None:
    every = set(SETTLEMENT_WORKERS)
    eventually(lambda: leaders(container.db) == every)  # the container runs them in process
    container.followers["settlement_saga"].stop()
    eventually(lambda: leaders(container.db) == every - {"settlement_saga"})


def test_the_chaos_sells_include_dealer_payments_the_payments_sandbox_refuses(
    container: Container,
) -> None:
    """Each SELL goes to the dealer with the best bid; its dealer payment's key decides `fail_rate`."""
    venue, seed = container.trading.venue, container.settings.payments_sandbox_seed
    rate = next(float(v or 0) for target, mode, v in FAULTS if (target, mode) == ("payments", "fail_rate"))
    reference = Decimal(str(next(b for b in DEMO_BONDS if b["isin"] == ISIN)["reference_clean_price"]))
    refused = []
    for round_ in range(SELL_ROUNDS):
        for sub in INVESTORS:
            order_id = derived_id("order", sub, sell_key(sub, round_))
            rfq_id = str(derived_id("rfq", str(order_id)))
            quotes = venue.request_quotes(rfq_id, ISIN, "SELL", Decimal(1), reference, list(venue.dealers))
            best = max(quotes, key=lambda q: q.clean_price)
            sid = settlement_id(str(trade_id_for(order_id, best.quote_id)))
            key = idempotency_key(sid, PAYMENT_STEP, 0)
            if draw(seed, "payments", "fail_rate", key) < rate:
                refused.append(sell_key(sub, round_))
    assert len(refused) >= 2, refused  # one may still be decided by a deadline under the kills
