"""Every value is decided at its contract's scale: after a real trade (accrued interest, an order capped at
the band's edge, fills, settlement) every stored event encodes under its Avro schema without rounding."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import orjson
import pytest
from fastapi.testclient import TestClient

from bondflow.audit.canonical import canonical_bytes
from bondflow.audit.chain import GENESIS, link
from bondflow.audit.records import record_of
from bondflow.audit.verify import verify
from bondflow.avro.contracts import current_contracts
from bondflow.avro.encoding import encode
from bondflow.domain.trades import Trade
from bondflow.security.principal import Role
from bondflow.settings import Settings
from bondflow.wiring.bootstrap import bootstrap
from bondflow.wiring.container import Container
from tests.conftest import bearer
from tests.integration.test_regulator_stream import run_relay
from tests.integration.test_trading import ISIN, filled, place, settle_followers

pytestmark = pytest.mark.integration

LEGACY_TRADE = {
    "order_id": str(uuid.uuid4()),
    "user_id": "u-1",
    "isin": "INE123A07043",
    "side": "BUY",
    "dealer": "dealer-alpha",
    "quote_id": "q-1",
    "qty": Decimal("10.000000"),
    "clean_price": Decimal("101.2500"),
    "accrued_per_100": Decimal("2.552888888888888888888888888888889"),
    "face_value": Decimal("1000"),
    "consideration": Decimal("10380.29"),
    "fees": Decimal("5.19"),
    "reference_clean_price": Decimal("101.2500"),
    "trade_date": date(2026, 11, 25),
    "settlement_date": date(2026, 11, 26),
    "actor_id": "worker",
    "request_id": "q-1",
}


def test_a_trade_stores_only_values_its_contracts_carry_exactly(
    client: TestClient, container: Container
) -> None:
    admin = bearer(container, Role.ADMIN)
    # a reference price whose ±5% band edges have 8 places: an order without a limit is capped at the edge
    moved = client.put(
        f"/v1/instruments/{ISIN}/reference-price", json={"clean_price": "101.2345"}, headers=admin
    )
    assert moved.status_code == 202, moved.text
    container.start_followers(["execution"])
    alice = bearer(container, sub="alice", funds=Decimal(100_000))
    capped = place(client, alice, qty="3")
    assert capped.status_code == 202, capped.text
    limited = place(client, alice, qty="2.5", limit_clean_price="104.1")
    assert limited.status_code == 202, limited.text
    for answer in (capped, limited):
        assert filled(client, alice, answer.json()["data"]["order_id"])["status"] == "FILLED"
    settle_followers(container)

    contracts = current_contracts()
    topics: set[str] = set()
    for notification in container.store.recorder.select_notifications(start=1, limit=10_000):
        record = record_of(container.store.mapper.to_domain_event(notification))
        encode(record, contracts[record["topic"]])  # raises DoesNotFitContract rather than round
        topics.add(record["topic"])
        if record["topic"] == "rfq.executed.v1":
            accrued = record["payload"]["accrued_per_100"]
            assert -accrued.as_tuple().exponent <= 20 and accrued > 0
        if record["topic"] == "order.accepted.v1" and record["payload"]["price_cap"] != Decimal("104.1"):
            assert record["payload"]["price_cap"] == Decimal("106.2962")  # 101.2345 × 1.05, rounded down
    assert {"rfq.executed.v1", "order.accepted.v1", "settlement.completed.v1"} <= topics


@pytest.fixture
def idle_container(settings: Settings) -> Iterator[Container]:
    built = bootstrap(settings)
    yield built
    built.close()


def test_a_stored_legacy_value_is_chained_at_contract_scale_and_old_chains_still_verify(
    idle_container: Container,
) -> None:
    legacy = Trade(**{**LEGACY_TRADE, "id": uuid.uuid4()})  # as stored before the domain quantized it
    idle_container.store.save(legacy)
    run_relay(idle_container)
    with idle_container.db.cursor() as cur:
        (body,) = cur.execute("SELECT body FROM regulator_stream WHERE seq = 1").fetchone()
    assert orjson.loads(bytes(body))["payload"]["accrued_per_100"] == "2.55288888888888888889"
    report = verify(idle_container.db, idle_container.store, idle_container.signing_key.verify)
    assert report.ok and report.notes == [], report.problem

    # a stream chained before values were published at contract scale hashed the stored digits
    event = next(iter(idle_container.store.events.get(legacy.id)))
    raw = canonical_bytes(record_of(event))
    with idle_container.db.transaction() as cur:
        cur.execute(
            "UPDATE regulator_stream SET body = %s, hash = %s WHERE seq = 1", (raw, link(GENESIS, raw))
        )
    report = verify(idle_container.db, idle_container.store, idle_container.signing_key.verify)
    assert report.ok, report.problem
    assert report.notes and "more decimal places than their contract" in report.notes[0]
