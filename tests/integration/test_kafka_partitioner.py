"""The relay's producer places each keyed record where the Java producer would (the Kafka client's
`BuiltInPartitioner.partitionForKey`, run from the broker's own kafka-clients jar) and where kafka-python's
DefaultPartitioner would, so every client agrees on an aggregate's partition, and the remembered hashes
never change an answer."""

from __future__ import annotations

import os
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Any

import pytest
from kafka.partitioner import DefaultPartitioner

from bondflow.adapters.kafka import KeyHashPartitioner, key_hash
from tests.support.kafka_broker import ensure_jars, find_java

pytestmark = [pytest.mark.integration, pytest.mark.kafka]

PARTITION_COUNTS = (1, 3, 7, 12)

JAVA = """
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import org.apache.kafka.clients.producer.internals.BuiltInPartitioner;

public class PartitionForKey {
    public static void main(String[] args) throws Exception {
        StringBuilder out = new StringBuilder();
        for (String line : Files.readAllLines(Path.of(args[0]), StandardCharsets.UTF_8)) {
            byte[] key = java.util.HexFormat.of().parseHex(line);
            StringBuilder row = new StringBuilder();
            for (int i = 1; i < args.length; i++) {
                if (i > 1) row.append(' ');
                row.append(BuiltInPartitioner.partitionForKey(key, Integer.parseInt(args[i])));
            }
            out.append(row).append('\\n');
        }
        Files.writeString(Path.of(args[0] + ".out"), out.toString());
    }
}
"""


class Cluster:
    """The slice of kafka-python's ClusterMetadata a partitioner reads."""

    def __init__(self, partitions: int) -> None:
        self.partitions = set(range(partitions))

    def topics(self) -> set[str]:
        return {"t"}

    def partitions_for_topic(self, topic: str) -> set[int]:
        return self.partitions

    def available_partitions_for_topic(self, topic: str) -> set[int]:
        return self.partitions


def keys() -> list[bytes]:
    aggregate_ids = [str(uuid.uuid4()).encode() for _ in range(300)]
    odd = [b"", b"a", b"\x00", b"\xff" * 3, os.urandom(1), os.urandom(5), os.urandom(64), "ü-₹".encode()]
    return aggregate_ids + odd


def java_partitions(given: list[bytes]) -> list[list[int]]:
    lib = ensure_jars()
    with tempfile.TemporaryDirectory(prefix="bf-partitioner-") as work:
        source, listed = Path(work) / "PartitionForKey.java", Path(work) / "keys.txt"
        source.write_text(JAVA)
        listed.write_text("".join(k.hex() + "\n" for k in given))
        proc = subprocess.run(
            [find_java(), "-cp", f"{lib}/*", str(source), str(listed), *map(str, PARTITION_COUNTS)],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert proc.returncode == 0, f"the Java partitioner did not run:\n{proc.stderr[-3000:]}"
        answered = Path(f"{listed}.out").read_text().splitlines()
    return [[int(p) for p in line.split()] for line in answered]


def place(partitioner: Any, key: bytes, partitions: int) -> int:
    return int(partitioner.partition("t", key, key, b"v", b"v", Cluster(partitions)))


def test_keyed_records_go_where_the_java_producer_and_kafka_python_put_them() -> None:
    given = keys()
    ours, theirs = KeyHashPartitioner(), DefaultPartitioner()
    expected = java_partitions(given)
    assert len(expected) == len(given)
    for _ in range(2):  # the second pass answers from the remembered hashes
        for key, java in zip(given, expected, strict=True):
            assert [place(ours, key, n) for n in PARTITION_COUNTS] == java, key
            assert [place(theirs, key, n) for n in PARTITION_COUNTS] == java, key
    assert key_hash.cache_info().hits >= len(set(given))
    assert len({p for p, *_ in expected}) == 1  # one partition: everything on 0
    assert len({row[1] for row in expected}) == 3  # and the keys do spread over three


def test_a_record_without_a_key_still_gets_a_partition() -> None:
    placed = {
        int(KeyHashPartitioner().partition("t", None, None, b"v", b"v", Cluster(3))) for _ in range(200)
    }
    assert placed <= {0, 1, 2}
    assert len(placed) > 1
