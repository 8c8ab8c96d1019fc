"""Kafka through `kafka-python`: an idempotent producer and topic creation for the regulator relay."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterable
from typing import Any

with warnings.catch_warnings():  # kafka-python 3.0 uses importlib.resources APIs deprecated on 3.11
    warnings.filterwarnings(
        "ignore", message=r"(read_text|open_text) is deprecated", category=DeprecationWarning
    )
    import kafka
    import kafka.admin
    import kafka.errors


def idempotent_producer(bootstrap_servers: str) -> Any:
    """acks=all, idempotence on, at most 5 in flight: retries never duplicate or reorder within a partition."""
    return kafka.KafkaProducer(
        bootstrap_servers=bootstrap_servers.split(","),
        enable_idempotence=True,
        acks="all",
        max_in_flight_requests_per_connection=5,
        retries=2**31 - 1,
        linger_ms=5,
        batch_size=256 * 1024,
        compression_type=None,
        client_id="bondflow-relay",
    )


def ensure_topics(bootstrap_servers: str, topics: Iterable[str], partitions: int, replication: int) -> None:
    admin = kafka.KafkaAdminClient(bootstrap_servers=bootstrap_servers.split(","), client_id="bondflow-admin")
    try:
        existing = set(admin.list_topics())
        wanted = [
            kafka.admin.NewTopic(name=t, num_partitions=partitions, replication_factor=replication)
            for t in sorted(set(topics) - existing)
        ]
        if wanted:
            with contextlib.suppress(kafka.errors.TopicAlreadyExistsError):  # another copy created it first
                admin.create_topics(wanted)
    finally:
        admin.close()
