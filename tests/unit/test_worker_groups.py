"""`BONDFLOW_WORKER_GROUPS`: which followers `serve` runs in worker processes of their own."""

from __future__ import annotations

import pytest

from bondflow.errors import ConfigurationError
from bondflow.runtime.processes import worker_groups
from bondflow.settings import Settings

THERE = [
    "orders_view",
    "execution",
    "settlement_saga",
    "settlement_chain",
    "settlement_timer",
    "ledger_poster",
]


def test_without_groups_every_follower_shares_one_worker_process() -> None:
    assert worker_groups(THERE, []) == [THERE]


def test_a_group_gets_a_process_of_its_own_and_the_rest_stay_in_the_first() -> None:
    groups = worker_groups(THERE, [["settlement_saga", "settlement_chain", "settlement_saga"], []])
    assert groups == [
        ["orders_view", "execution", "settlement_timer", "ledger_poster"],
        ["settlement_saga", "settlement_chain"],  # a name given twice in a group counts once; empty groups go
    ]


def test_a_group_of_everything_leaves_no_empty_first_process() -> None:
    assert worker_groups(THERE, [THERE[:3], THERE[3:]]) == [THERE[:3], THERE[3:]]


@pytest.mark.parametrize(
    ("groups", "says"),
    [
        ([["order_flow"]], "order_flow uses ClickHouse"),
        ([["settlement_sagas"]], "no follower named 'settlement_sagas'"),
        ([["execution"], ["ledger_poster", "execution"]], "execution is in two groups"),
    ],
)
def test_a_group_that_cannot_run_is_refused_with_a_sentence(groups: list[list[str]], says: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        worker_groups(THERE, groups)
    assert says in refused.value.message and "BONDFLOW_WORKER_GROUPS" in refused.value.message


def test_the_setting_reads_json_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BONDFLOW_WORKER_GROUPS", '[["settlement_saga", "settlement_chain"]]')
    assert Settings().worker_groups == [["settlement_saga", "settlement_chain"]]
