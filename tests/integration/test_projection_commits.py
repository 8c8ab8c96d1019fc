"""Read models commit their batches without waiting for the disk; the log, effects and the regulator
stream wait (`bondflow.runtime.positions`, `PostgresProjector.durable_commits`). The setting is taken in
the statement that records the position, so it costs no round trip, and it lasts only for that
transaction."""

from __future__ import annotations

import pytest

from bondflow.runtime import positions
from bondflow.wiring.bootstrap import postgres_read_models
from bondflow.wiring.container import Container

pytestmark = pytest.mark.integration


def commit_setting(container: Container, *, durable: bool, checked: bool) -> tuple[str, str, int]:
    """(synchronous_commit inside the transaction after recording, the same on the connection after the
    commit, the recorded position)."""
    name = f"probe_{durable}_{checked}"
    with container.db.transaction() as cur:
        if checked:
            with positions.following_from(name, 0):
                positions.record_position(cur, name, 42, durable=durable)
        else:
            positions.record_position(cur, name, 42, durable=durable)
        inside = cur.execute("SHOW synchronous_commit").fetchone()
    with container.db.cursor() as cur:
        after = cur.execute("SHOW synchronous_commit").fetchone()
    assert inside is not None and after is not None
    return str(inside[0]), str(after[0]), positions.read_position(container.db, name)


@pytest.mark.parametrize("checked", [False, True])
def test_a_read_models_batch_commits_without_waiting_for_the_disk_and_only_that_transaction(
    container: Container, checked: bool
) -> None:
    inside, after, recorded = commit_setting(container, durable=False, checked=checked)
    assert (inside, after, recorded) == ("off", "on", 42)


@pytest.mark.parametrize("checked", [False, True])
def test_a_durable_position_leaves_the_servers_setting_alone(container: Container, checked: bool) -> None:
    inside, after, recorded = commit_setting(container, durable=True, checked=checked)
    assert (inside, after, recorded) == ("on", "on", 42)


def test_only_the_regulator_stream_among_the_read_models_waits_for_the_disk(container: Container) -> None:
    models = postgres_read_models(container.db, container.signing_key)
    durable = sorted(m.name for m in models if m.durable_commits)
    assert durable == ["regulator_stream"]
    assert len(models) > 5
