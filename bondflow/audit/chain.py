"""The hash chain: `hash_n = SHA-256(hash_{n-1} ‖ canonical bytes of event n)`, starting from 32 zero bytes."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

GENESIS = bytes(32)


def link(previous: bytes, canonical: bytes) -> bytes:
    return hashlib.sha256(previous + canonical).digest()


@dataclass(frozen=True, slots=True)
class ChainBreak:
    seq: int
    reason: str


def first_break(
    rows: Iterable[tuple[int, bytes, bytes]], previous: bytes = GENESIS, start_seq: int = 1
) -> ChainBreak | None:
    """Walk `(seq, canonical, stored_hash)` rows; name the first seq whose hash or numbering is wrong."""
    expected_seq = start_seq
    for seq, canonical, stored in rows:
        if seq != expected_seq:
            return ChainBreak(expected_seq, f"seq {expected_seq} is missing (found {seq})")
        computed = link(previous, canonical)
        if computed != stored:
            return ChainBreak(seq, "hash does not match the event's canonical bytes and the previous hash")
        previous = stored
        expected_seq += 1
    return None
