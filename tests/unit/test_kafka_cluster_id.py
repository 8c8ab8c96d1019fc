"""The test broker's cluster id never reads as a command-line option."""

from tests.support.kafka_broker import _random_cluster_id


def test_cluster_ids_never_start_with_a_dash() -> None:
    ids = {_random_cluster_id() for _ in range(5000)}
    assert len(ids) == 5000
    assert not [i for i in ids if i.startswith("-")]
    assert all(len(i) == 22 for i in ids)
