"""Reads over the regulator stream and its checkpoints (PostgreSQL)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from bondflow.adapters.postgres import Database


@dataclass(frozen=True, slots=True)
class StreamEvent:
    seq: int
    hash: str
    record: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "hash": self.hash, **self.record}


def events_after(db: Database, after_seq: int, limit: int) -> list[StreamEvent]:
    with db.cursor() as cur:
        rows = cur.execute(
            "SELECT seq, hash, body FROM regulator_stream WHERE seq > %s ORDER BY seq LIMIT %s",
            (after_seq, limit),
        ).fetchall()
    return [StreamEvent(int(seq), bytes(h).hex(), orjson.loads(bytes(body))) for seq, h, body in rows]


def checkpoints(db: Database, after_seq: int, limit: int) -> list[dict[str, Any]]:
    with db.cursor() as cur:
        rows = cur.execute(
            "SELECT seq, merkle_root, kid, signature, created_at FROM regulator_checkpoints"
            " WHERE seq > %s ORDER BY seq LIMIT %s",
            (after_seq, limit),
        ).fetchall()
    return [
        {
            "seq": int(seq),
            "merkle_root": bytes(root).hex(),
            "kid": kid,
            "signature": bytes(sig).hex(),
            "algorithm": "ES256 (ECDSA P-256, SHA-256, DER)",
            "created_at": created,
        }
        for seq, root, kid, sig, created in rows
    ]
