"""Kafka through `kafka-python`: an idempotent producer and topic creation for the regulator relay."""

from __future__ import annotations

import contextlib
import functools
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
    import kafka.partitioner
    from kafka.partitioner.default import murmur2

REMEMBERED_KEYS = 65_536


@functools.lru_cache(maxsize=REMEMBERED_KEYS)
def key_hash(key: bytes) -> int:
    """The Java client's hash of a record key: murmur2, made positive."""
    return int(murmur2(key)) & 0x7FFFFFFF


class KeyHashPartitioner(kafka.partitioner.Partitioner):  # type: ignore[misc]  # kafka-python is untyped
    """The Java client's (and kafka-python's) default placement of keyed records, `murmur2(key)` made
    positive, modulo the partition count, so every client puts an aggregate's records on one partition.

    The pure-Python murmur2 costs more than the rest of a send, and an aggregate's events come in runs, so
    each key's hash is remembered (an LRU of `REMEMBERED_KEYS`). Records without a key go where kafka-python
    puts them."""

    def __init__(self) -> None:
        self._unkeyed = kafka.partitioner.DefaultPartitioner()

    def partition(
        self, topic: str, key: Any, serialized_key: Any, value: Any, serialized_value: Any, cluster: Any
    ) -> int:
        partitions = cluster.partitions_for_topic(topic)
        if serialized_key is None or not partitions:
            return int(self._unkeyed.partition(topic, key, serialized_key, value, serialized_value, cluster))
        ordered = sorted(partitions)
        return int(ordered[key_hash(bytes(serialized_key)) % len(ordered)])


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
        partitioner=KeyHashPartitioner(),
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
