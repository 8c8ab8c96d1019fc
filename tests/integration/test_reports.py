"""Audit pack extracts: CSV and Parquet with exact decimals and the covering checkpoint in the headers."""

from __future__ import annotations

import csv
import io
import uuid
from decimal import Decimal

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from bondflow.runtime.followers import wait_for_position
from bondflow.security.principal import Role
from bondflow.wiring.container import Container
from tests.conftest import bearer

pytestmark = pytest.mark.integration


def test_trades_extract_in_csv_and_parquet_with_the_stream_head(
    client: TestClient, container: Container
) -> None:
    container.start_followers(["execution"])
    alice = bearer(container, sub="alice", funds=Decimal(1_000_000))
    client.post(
        "/v1/orders",
        json={"isin": "INE123A07043", "side": "BUY", "qty": "3", "limit_clean_price": "102"},
        headers={**alice, "Idempotency-Key": uuid.uuid4().hex},
    )
    head = container.store.head_position()
    for name in container.running:
        assert wait_for_position(container.followers[name].follower.position, head, timeout=30)
    regulator = bearer(container, Role.REGULATOR)
    params = {"from": "2026-11-01", "to": "2026-11-30"}
    extract = client.get("/v1/reports/trades", params=params, headers=regulator)
    assert extract.status_code == 200, extract.text
    assert extract.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(extract.text)))
    assert sum(Decimal(r["qty"]) for r in rows) == Decimal(3)
    assert int(extract.headers["X-BF-Stream-Head-Seq"]) > 0
    parquet = client.get("/v1/reports/trades", params={**params, "format": "parquet"}, headers=regulator)
    table = pq.read_table(io.BytesIO(parquet.content))
    assert table.num_rows == len(rows)
    assert sum(table.column("qty").to_pylist()) == Decimal(3)  # decimals, not floats
    assert client.get("/v1/reports/positions", params=params, headers=regulator).status_code == 200
    assert client.get("/v1/reports/trades", params=params, headers=alice).status_code == 403
    assert client.get("/v1/reports/nothing", params=params, headers=regulator).status_code == 400
    assert (
        client.get(
            "/v1/reports/trades", params={"from": "2026-12-01", "to": "2026-11-01"}, headers=regulator
        ).status_code
        == 400
    )
