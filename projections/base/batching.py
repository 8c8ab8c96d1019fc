"""Helpers for set-based projectors: split a batch into rounds that touch each row at most once, and run
each round as one `executemany` per statement (psycopg pipelines it: one round trip, not one per row)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

Statement = tuple[str, Sequence[Any]]


def in_rounds(items: Iterable[T], key: Callable[[T], Hashable]) -> list[list[T]]:
    """Round k holds every key's k-th item, in log order: rows in one round are distinct, so a round's
    statements may run in any order, and the rounds keep each row's changes in order."""
    seen: dict[Hashable, int] = defaultdict(int)
    rounds: list[list[T]] = []
    for item in items:
        k = key(item)
        index = seen[k]
        seen[k] = index + 1
        if index == len(rounds):
            rounds.append([])
        rounds[index].append(item)
    return rounds


def execute_grouped(cur: Any, statements: Iterable[Statement]) -> None:
    """One `executemany` per distinct SQL text (the statements must be independent of each other)."""
    grouped: dict[str, list[Sequence[Any]]] = defaultdict(list)
    for query, params in statements:
        grouped[query].append(params)
    for query, rows in grouped.items():
        cur.executemany(query, rows)
