"""`freeze_startup_heap` leaves what existed before it out of later full collections."""

from __future__ import annotations

import gc

from bondflow.runtime.heap import freeze_startup_heap


def test_objects_alive_at_startup_are_frozen_and_new_ones_are_not() -> None:
    before = [object() for _ in range(10)], {"k": [1, 2, 3]}
    try:
        frozen = freeze_startup_heap()
        assert frozen == gc.get_freeze_count() > 0
        tracked = {id(o) for o in gc.get_objects()}
        assert id(before[1]) not in tracked  # frozen: no collection walks it
        later = {"made": ["after"]}
        assert id(later) in {id(o) for o in gc.get_objects()}
    finally:
        gc.unfreeze()
