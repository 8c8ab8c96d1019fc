"""What the live-update routes need from the composition root: the process's wake-ups and the shared
per-user stream bound."""

from __future__ import annotations

from dataclasses import dataclass

from projections.live.stream_leases import StreamLeases
from projections.live.wakeups import FeedWakeups


@dataclass(frozen=True, slots=True)
class LiveFeed:
    wakeups: FeedWakeups  # one LISTEN per process, waking the streams whose user's feed grew
    leases: StreamLeases  # open streams per user, counted across every API process

    def close(self) -> None:
        self.wakeups.close()
