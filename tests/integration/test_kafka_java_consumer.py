"""A relay run read back from the real broker by Apache Avro's Java BinaryMessageDecoder: after a trade (with
its settlement, escrow and portfolio events), every Kafka record's value is exactly the canonical record its
`hash` header covers, and that hash chains from the previous one."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from bondflow.audit.chain import GENESIS, link
from bondflow.avro.contracts import current_contracts
from bondflow.runtime.clock import ManualClock
from bondflow.runtime.followers import wait_for_position
from bondflow.security.principal import Role
from bondflow.settings import Settings
from bondflow.wiring.bootstrap import bootstrap
from bondflow.wiring.container import Container
from tests.conftest import bearer, list_test_bonds
from tests.integration.test_trading import ISIN, filled, place
from tests.support.avro_java import differences, java_decode
from tests.support.kafka_broker import KafkaBroker

pytestmark = [pytest.mark.integration, pytest.mark.kafka]


@pytest.fixture
def container(settings: Settings, clock: ManualClock, kafka_broker: KafkaBroker) -> Iterator[Container]:
    """The conftest container, with the Kafka relay among its followers."""
    with_kafka = settings.model_copy(update={"kafka_bootstrap_servers": kafka_broker.bootstrap_servers})
    built = bootstrap(with_kafka, clock=clock)
    list_test_bonds(built)
    built.start_followers(list(built.followers))
    yield built
    built.close()
    built.clickhouse.command("DROP DATABASE IF EXISTS {db}")


def chained(container: Container) -> dict[str, tuple[int, bytes, bytes]]:
    with container.db.cursor() as cur:
        rows = cur.execute("SELECT event_id, seq, body, hash FROM regulator_stream ORDER BY seq").fetchall()
    return {str(e): (int(s), bytes(b), bytes(h)) for e, s, b, h in rows}


def consume(broker: KafkaBroker, wanted: dict[str, str], timeout: float = 60) -> dict[str, Any]:
    """The first copy of each wanted event (event id → its chain hash): other tests share the broker's
    topics, and an event with a derived id (a listed test bond) is published by them too, in their own
    chain, so a record counts as ours only if its `hash` header is our chain's."""
    consumer = broker.consumer(
        *sorted(current_contracts()),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=f"java-{uuid.uuid4().hex[:8]}",
        consumer_timeout_ms=1000,
    )
    found: dict[str, Any] = {}
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and set(found) != set(wanted):
            for message in consumer:
                headers = dict(message.headers)
                event_id = headers["event_id"].decode()
                if wanted.get(event_id) == headers["hash"].decode():
                    found.setdefault(event_id, message)
    finally:
        consumer.close()
    return found


def test_java_reads_each_kafka_record_as_the_canonical_record_its_hash_covers(
    client: TestClient, container: Container, kafka_broker: KafkaBroker
) -> None:
    admin = bearer(container, Role.ADMIN)
    moved = client.put(
        f"/v1/instruments/{ISIN}/reference-price", json={"clean_price": "101.2345"}, headers=admin
    )
    assert moved.status_code == 202, moved.text
    alice = bearer(container, sub="alice", funds=Decimal(100_000))
    placed = place(client, alice, qty="3")
    assert placed.status_code == 202, placed.text
    assert filled(client, alice, placed.json()["data"]["order_id"])["status"] == "FILLED"
    relay = container.followers["kafka_relay"].follower
    assert wait_for_position(relay.position, container.store.head_position(), timeout=60)

    stream = chained(container)
    messages = consume(kafka_broker, {e: hashed.hex() for e, (_, _, hashed) in stream.items()})
    assert set(messages) == set(stream), f"{len(set(stream) - set(messages))} events never reached Kafka"
    ordered = sorted(messages.values(), key=lambda m: int(dict(m.headers)["seq"]))
    decoded = java_decode((m.topic, m.value) for m in ordered)
    contracts = current_contracts()
    previous = GENESIS
    for message, java in zip(ordered, decoded, strict=True):
        headers = dict(message.headers)
        seq, body, stored_hash = stream[headers["event_id"].decode()]
        assert int(headers["seq"]) == seq
        assert headers["hash"].decode() == stored_hash.hex() == link(previous, body).hex()
        assert differences(java, orjson.loads(body), contracts[message.topic].raw) == [], message.topic
        previous = stored_hash
    topics = {m.topic for m in ordered}
    assert {"rfq.executed.v1", "order.accepted.v1", "settlement.completed.v1", "payment.status.v1"} <= topics
