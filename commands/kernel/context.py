"""What every command carries besides its own fields: who acts, for which request, under which key."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bondflow.security.principal import Principal


@dataclass(frozen=True, slots=True)
class CommandContext:
    principal: Principal
    request_id: str
    idempotency_key: str | None = None

    @property
    def actor_id(self) -> str:
        return self.principal.subject


@dataclass(frozen=True, slots=True)
class Accepted:
    """The answer to a command: what it created or changed, and the log position of its last event."""

    data: Mapping[str, object]
    position: int
    replayed: bool = False
