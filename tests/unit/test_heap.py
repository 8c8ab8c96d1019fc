"""`freeze_startup_heap` leaves what existed before it out of later full collections; `fewer_young_collections`
raises the young threshold for batch work and puts it back."""

from __future__ import annotations

import gc

from bondflow.runtime.heap import fewer_young_collections, freeze_startup_heap


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


def test_fewer_young_collections_raises_only_the_young_threshold_and_puts_it_back() -> None:
    before = gc.get_threshold()
    with fewer_young_collections(50_000):
        inside = gc.get_threshold()
    assert inside == (50_000, *before[1:])
    assert gc.get_threshold() == before


def test_fewer_young_collections_puts_the_thresholds_back_when_the_work_fails() -> None:
    before = gc.get_threshold()
    try:
        with fewer_young_collections(50_000):
            raise RuntimeError("the batch failed")
    except RuntimeError:
        pass
    assert gc.get_threshold() == before


def test_fewer_young_collections_never_lowers_a_higher_threshold() -> None:
    before = gc.get_threshold()
    gc.set_threshold(90_000, *before[1:])
    try:
        with fewer_young_collections(50_000):
            assert gc.get_threshold()[0] == 90_000
    finally:
        gc.set_threshold(*before)
