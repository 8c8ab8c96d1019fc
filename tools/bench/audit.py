"""`python -m tools.bench.audit`: regulator relay throughput (events/s to a real Kafka broker) and full
read-model rebuild speed (events/s) on a store of at least 100,000 events, each beside its raw baseline
measured in the same run: kafka-python producing the same bytes, and reading the log without projecting."""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from bondflow.adapters.clickhouse import ClickHouse
from bondflow.adapters.postgres import Database, eventsourcing_env
from bondflow.avro.contracts import current_contracts
from bondflow.avro.encoding import encode
from bondflow.avro.publication import published_record
from bondflow.domain.orders import Order
from bondflow.runtime.eventstore import EventStore
from bondflow.runtime.followers import Follower, Positioned
from bondflow.security.keys import SigningKey
from bondflow.wiring.bootstrap import clickhouse_read_models, postgres_read_models, replay_elsewhere
from bondflow.wiring.replay import feed, replay_database
from projections.regulator.kafka_relay import CONTENT_TYPE, KafkaRelay
from tools.bench.database import fresh_database, postgres_server

BATCH = 2000


def fill_store(store: EventStore, events: int) -> float:
    """Append placed+accepted orders (two events each) in big transactions; returns seconds taken."""
    started = time.perf_counter()
    now = datetime(2026, 11, 25, 5, tzinfo=UTC)
    for start in range(0, events // 2, 250):
        orders = []
        for i in range(start, min(events // 2, start + 250)):
            order = Order(
                id=uuid.uuid4(),
                user_id=f"u{i % 97}",
                isin="INE123A07043",
                side="BUY",
                qty=Decimal("1.5"),
                limit_clean_price=Decimal("101.25"),
                placed_at=now,
                request_fingerprint="f",
                actor_id="bench",
                request_id=f"r{i}",
            )
            order.accept(
                price_cap=Decimal("101.25"), reserved=Decimal("1520.00"), actor_id="bench", request_id=f"r{i}"
            )
            orders.append(order)
        store.save(*orders)
    return time.perf_counter() - started


def read_log(store: EventStore, upto: int) -> float:
    """Baseline: read and decode every event, projecting nothing."""
    started = time.perf_counter()
    start = 1
    while start <= upto:
        notifications = store.recorder.select_notifications(start=start, limit=BATCH, stop=upto)
        if not notifications:
            break
        for n in notifications:
            store.mapper.to_domain_event(n)
        start = notifications[-1].id + 1
    return time.perf_counter() - started


def rebuild(
    store: EventStore,
    db: Database,
    key_dir: Path,
    upto: int,
    with_clickhouse: bool,
    *,
    processes: bool = True,
) -> float:
    """Every read model from the log, as `bondflow replay` does it (the regulator stream in a process of its
    own unless `processes` is off); returns seconds taken."""
    key = SigningKey.load_or_create(key_dir)
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    replica = replay_database(db, schema)
    followers: list[Follower] = list(postgres_read_models(replica, key))
    if with_clickhouse:
        ch = ClickHouse(f"chdb://{tempfile.mkdtemp(prefix='bench-ch-')}", f"bench_{uuid.uuid4().hex[:8]}")
        followers += clickhouse_read_models(ch)
    for follower in followers:
        follower.setup()
    started = time.perf_counter()
    feed(store, followers, upto, elsewhere=replay_elsewhere(key_dir) if processes else [], replica=replica)
    elapsed = time.perf_counter() - started
    replica.close()
    return elapsed


def relay(
    store: EventStore, db: Database, key: SigningKey, bootstrap: str, upto: int, rounds: int = 2
) -> tuple[float, float, float]:
    """(relay seconds, raw producer seconds for the same values, raw producer seconds for the same records
    with their headers) for the whole log, each the best of `rounds`. The chain is built first and the
    broker warmed by one untimed pass of the same bytes (a cold JVM is slower for whatever runs first);
    then each round times the relay and both raw producers, in that order."""
    from projections.regulator.stream import RegulatorStreamProjector

    chain = RegulatorStreamProjector(db, key.sign, frames=True)
    chain.setup()
    feed(store, [chain], upto)
    batches: list[list[Positioned]] = []
    frames: list[tuple[str, bytes, bytes]] = []
    contracts = current_contracts()
    start = 1
    while start <= upto:
        notifications = store.recorder.select_notifications(start=start, limit=BATCH, stop=upto)
        if not notifications:
            break
        batch = [Positioned(store.mapper.to_domain_event(n), n.id) for n in notifications]
        batches.append(batch)
        for item in batch:
            record = published_record(item.event)
            frames.append(
                (
                    record["topic"],
                    str(record["aggregate_id"]).encode(),
                    encode(record, contracts[record["topic"]]),
                )
            )
        start = notifications[-1].id + 1
    with db.cursor() as cur:  # the relay's records exactly: key, value and headers, read back untimed
        records = [
            (
                topic,
                str(aggregate_id).encode(),
                bytes(avro),
                [
                    ("event_id", str(event_id).encode()),
                    ("seq", str(seq).encode()),
                    ("hash", bytes(hashed).hex().encode()),
                    ("content-type", CONTENT_TYPE),
                    ("traceparent", f"00-{str(event_id).replace('-', '')}-{seq:016x}-01".encode()),
                ],
            )
            for topic, aggregate_id, avro, event_id, seq, hashed in cur.execute(
                "SELECT topic, aggregate_id, avro, event_id, seq, hash FROM regulator_stream ORDER BY seq"
            )
        ]
    setup = KafkaRelay(db, bootstrap)
    setup.setup()
    producer: Any = setup.producer  # the same producer configuration as the relay's

    def raw(with_headers: bool) -> float:
        started = time.perf_counter()
        if with_headers:
            for topic, key_bytes, value, headers in records:
                producer.send(topic, key=key_bytes, value=value, headers=headers)
        else:
            for topic, key_bytes, value in frames:
                producer.send(topic, key=key_bytes, value=value)
        producer.flush(timeout=120)
        return time.perf_counter() - started

    def relayed() -> float:
        kafka_relay = KafkaRelay(db, bootstrap)
        started = time.perf_counter()
        for batch in batches:
            kafka_relay.process(batch, batch[-1].position)
        kafka_relay.drain()  # every record acknowledged and its position recorded
        elapsed = time.perf_counter() - started
        kafka_relay.close()
        return elapsed

    raw(with_headers=False)  # warm-up, untimed
    timings = [(relayed(), raw(with_headers=False), raw(with_headers=True)) for _ in range(rounds)]
    producer.close(timeout=10)
    relay_seconds, raw_seconds, raw_records_seconds = (min(column) for column in zip(*timings, strict=True))
    return relay_seconds, raw_seconds, raw_records_seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.bench.audit", description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--skip-kafka", action="store_true")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="bf-bench-audit-"))
    with postgres_server(workdir) as admin_url, fresh_database(admin_url) as url:
        store = EventStore(env=eventsourcing_env(url, lock_timeout=10, pool_size=4))
        db = Database(url, pool_size=4)
        db.open()
        key = SigningKey.load_or_create(workdir)
        write_seconds = fill_store(store, args.events)
        upto = store.head_position()
        print(
            f"store: {upto:,} events written in {write_seconds:.1f}s ({upto / write_seconds:,.0f} events/s)"
        )
        raw_before = read_log(store, upto)
        threads_only = rebuild(store, db, workdir, upto, with_clickhouse=False, processes=False)
        pg_rebuild = rebuild(store, db, workdir, upto, with_clickhouse=False)
        full_rebuild = rebuild(store, db, workdir, upto, with_clickhouse=True)
        # the baseline is read before and after the rebuilds and the faster taken: this VM's speed drifts
        # by tens of percent within minutes, and the faster baseline is the stricter one for every ratio
        raw_after = read_log(store, upto)
        raw_read = min(raw_before, raw_after)
        print(
            f"read the log (baseline)        {upto / raw_read:>12,.0f} events/s"
            f"   (before the rebuilds {upto / raw_before:,.0f}, after {upto / raw_after:,.0f})"
        )
        print(
            f"rebuild PostgreSQL, 1 process  {upto / threads_only:>12,.0f} events/s   ratio {raw_read / threads_only:.3f}"
        )
        print(
            f"rebuild PostgreSQL read models {upto / pg_rebuild:>12,.0f} events/s   ratio {raw_read / pg_rebuild:.3f}"
        )
        print(
            f"rebuild PostgreSQL + ClickHouse{upto / full_rebuild:>12,.0f} events/s   ratio {raw_read / full_rebuild:.3f}"
        )
        if not args.skip_kafka:
            from tests.support.kafka_broker import KafkaBroker

            with KafkaBroker() as broker:
                relay_seconds, raw_seconds, raw_records_seconds = relay(
                    store, db, key, broker.bootstrap_servers, upto
                )
            print(f"kafka-python, same bytes (baseline) {upto / raw_seconds:>8,.0f} events/s")
            print(f"kafka-python, same records+headers  {upto / raw_records_seconds:>8,.0f} events/s")
            print(
                f"regulator relay to Kafka       {upto / relay_seconds:>12,.0f} events/s   ratio {raw_seconds / relay_seconds:.3f}"
                f" (to the same records with headers: {raw_records_seconds / relay_seconds:.3f})"
            )
        store.close()
        db.close()


if __name__ == "__main__":
    main()
