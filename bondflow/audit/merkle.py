"""Merkle roots over chain hashes (RFC 6962 style: 0x00 for leaves, 0x01 for nodes, odd node promoted)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    if not leaves:
        return hashlib.sha256(b"").digest()
    level = [hashlib.sha256(b"\x00" + leaf).digest() for leaf in leaves]
    while len(level) > 1:
        paired = [
            hashlib.sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)
        ]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def checkpoint_message(seq: int, root: bytes) -> bytes:
    """What a checkpoint signature covers."""
    return b"bondflow-checkpoint:" + str(seq).encode() + b":" + root.hex().encode()


class MerkleFrontier:
    """`merkle_root` kept up to date leaf by leaf: the peaks of the perfect subtrees so far (one per set bit
    of the leaf count), so an append costs O(log n) and a root O(log n), not O(n). The same root as
    `merkle_root` over the same leaves: bottom-up pairing with the odd node promoted bags the peaks right
    to left."""

    def __init__(self, leaves: Sequence[bytes] = ()) -> None:
        self.count = 0
        self._peaks: list[tuple[int, bytes]] = []  # (leaves under it, its hash), largest first
        for leaf in leaves:
            self.append(leaf)

    def append(self, leaf: bytes) -> None:
        size, node = 1, hashlib.sha256(b"\x00" + leaf).digest()
        peaks = self._peaks
        while peaks and peaks[-1][0] == size:
            _, left = peaks.pop()
            size, node = size * 2, hashlib.sha256(b"\x01" + left + node).digest()
        peaks.append((size, node))
        self.count += 1

    def root(self) -> bytes:
        if not self._peaks:
            return hashlib.sha256(b"").digest()
        node = self._peaks[-1][1]
        for _, left in reversed(self._peaks[:-1]):
            node = hashlib.sha256(b"\x01" + left + node).digest()
        return node
