"""Processes that start together (a supervisor restarting killed workers, `make chaos`) open the event
store at the same moment: the library's start-up DDL (`CREATE OR REPLACE FUNCTION` …) raced on the catalog
and one of them died with `tuple concurrently updated`. `open_store` now takes its turn."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from bondflow.settings import Settings
from bondflow.wiring.bootstrap import open_store

pytestmark = pytest.mark.integration

PROCESSES = 6
ROUNDS = 3


def open_together(settings: Settings, count: int) -> tuple[list[Any], list[str]]:
    """`count` stores opened at the same instant (each as a process's start-up would); what failed."""
    start = threading.Barrier(count)
    opened: list[Any] = []
    errors: list[str] = []

    def open_one() -> None:
        start.wait()
        try:
            opened.append(open_store(settings))
        except Exception as exc:  # every failure is the finding
            errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=open_one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return opened, errors


def test_stores_opened_at_the_same_moment_all_open(settings: Settings) -> None:
    for _round in range(ROUNDS):
        opened, errors = open_together(settings, PROCESSES)
        for db, store in opened:
            store.close()
            db.close()
        assert errors == []
        assert len(opened) == PROCESSES
