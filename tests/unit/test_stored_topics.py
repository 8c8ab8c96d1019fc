"""Event class paths are stored data (every event in the log names its class by topic): the aggregates'
event classes keep the topics they had when their events were first stored.

`stored_topics.txt` was generated from the tree before the event classes were declared explicitly
(string-named `@event("…")` methods); the explicit classes must resolve to exactly those topics. A new event
is an addition to the list; a topic that leaves the list would strand every stored event of that type.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

from eventsourcing.domain import Aggregate, CanMutateAggregate
from eventsourcing.utils import get_topic, resolve_topic

import bondflow.domain

STORED = Path(__file__).with_name("stored_topics.txt")


def declared_topics() -> set[str]:
    found = set()
    for info in pkgutil.walk_packages(bondflow.domain.__path__, "bondflow.domain."):
        module = importlib.import_module(info.name)
        for cls in vars(module).values():
            if inspect.isclass(cls) and issubclass(cls, Aggregate) and cls.__module__ == module.__name__:
                found |= {
                    get_topic(member)
                    for name, member in vars(cls).items()
                    if inspect.isclass(member)
                    and issubclass(member, CanMutateAggregate)
                    and name not in ("Event", "Created")
                }
    return found


def test_every_stored_topic_still_names_an_event_class() -> None:
    stored = set(STORED.read_text().split())
    assert len(stored) >= 87
    for topic in sorted(stored):
        resolved = resolve_topic(topic)
        assert inspect.isclass(resolved) and issubclass(resolved, CanMutateAggregate), topic
    assert sorted(stored - declared_topics()) == []


def test_a_new_event_class_is_added_to_the_stored_list() -> None:
    assert sorted(declared_topics() - set(STORED.read_text().split())) == []
