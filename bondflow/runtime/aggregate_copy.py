"""Copying an aggregate out of the repository's cache, cheaply.

Every command loads its aggregates through the cache, and the library hands out a `copy.deepcopy` of the
cached one, so that a command that fails half-way cannot corrupt it. `deepcopy` copies every `Decimal`,
`UUID`, `datetime` and string through its generic protocol; a settlement (about thirty such attributes)
took about 100 µs, and under load those copies were a quarter of the settlement saga's CPU.

`copy_aggregate` gives the same guarantee (nothing reachable from the copy is shared with the original,
except values that cannot change) for much less: immutable values are shared, the containers and
dataclasses our aggregates hold are rebuilt, and anything else goes through `deepcopy` as before. Objects
reached twice are copied once (a `memo`, like deepcopy's), so aliasing inside an aggregate survives.
"""

from __future__ import annotations

import dataclasses
from copy import deepcopy
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.domain import BaseAggregate

T = TypeVar("T")

# values no operation can change: shared between the original and the copy
ATOMIC: frozenset[type] = frozenset(
    {str, bytes, int, float, bool, complex, Decimal, UUID, date, datetime, time, timedelta, type(None)}
)


def copy_aggregate(aggregate: T) -> T:
    """A copy of `aggregate` that shares nothing mutable with it."""
    copied: T = _copy(aggregate, {})
    return copied


def _copy(value: Any, memo: dict[int, Any]) -> Any:
    kind = type(value)
    if kind in ATOMIC or isinstance(value, Enum):
        return value
    if kind is tuple and all(type(item) in ATOMIC for item in value):
        return value
    key = id(value)
    done = memo.get(key)
    if done is not None:
        return done
    if kind is dict:
        copied_dict: dict[Any, Any] = {}
        memo[key] = copied_dict
        for name, item in value.items():  # keys are hashable, so they are not changed in place
            copied_dict[name] = _copy(item, memo)
        return copied_dict
    if kind is list:
        copied_list: list[Any] = []
        memo[key] = copied_list
        copied_list.extend(_copy(item, memo) for item in value)
        return copied_list
    if kind is set:
        memo[key] = copied_set = set(value)  # members are hashable: shared, as deepcopy shares atomic ones
        return copied_set
    if _has_plain_state(value):
        copied = object.__new__(kind)
        memo[key] = copied
        copied.__dict__.update(_copy(value.__dict__, memo))
        return copied
    memo[key] = copied = deepcopy(value)  # anything else: the generic protocol
    return copied


def _has_plain_state(value: Any) -> bool:
    """An aggregate or a dataclass whose whole state is its `__dict__` (no slots, no copy hooks of its own)."""
    kind = type(value)
    plain = _PLAIN.get(kind)
    if plain is None:
        hooks = {"__deepcopy__", "__copy__", "__reduce__", "__reduce_ex__", "__getstate__"}
        own = {name for klass in kind.__mro__ if klass is not object for name in vars(klass)}
        slots = any(getattr(klass, "__slots__", ()) for klass in kind.__mro__)  # `Generic` has empty ones
        shaped = dataclasses.is_dataclass(kind) or issubclass(kind, BaseAggregate)
        plain = _PLAIN[kind] = shaped and not slots and not (own & hooks)
    return plain


_PLAIN: dict[type, bool] = {}  # per class: whether `_has_plain_state` holds
