"""Load `schemas/avro/<topic>.avsc` (current) and `schemas/avro/history/<topic>/<n>.avsc` (every version
ever published, oldest first)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import fastavro

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas" / "avro"


@dataclass(frozen=True)
class Contract:
    topic: str
    raw: dict[str, Any]
    parsed: Any
    fingerprint: bytes  # CRC-64-AVRO of the parsing canonical form, as the spec's 8 little-endian bytes

    @classmethod
    def from_raw(cls, topic: str, raw: dict[str, Any]) -> Contract:
        parsed = fastavro.parse_schema(raw, _write_hint=False)
        canonical = fastavro.schema.to_parsing_canonical_form(parsed)
        # fastavro's hex is already the little-endian byte sequence the single-object encoding carries
        # (`8a8f25cce724dd63` for "null", the spec's 7195948357588979594): take its bytes as they are.
        fingerprint = bytes.fromhex(fastavro.schema.fingerprint(canonical, "CRC-64-AVRO"))
        return cls(topic, raw, parsed, fingerprint)


def _read(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


@cache
def current_contracts(directory: Path = SCHEMA_DIR) -> dict[str, Contract]:
    return {
        path.name.removesuffix(".avsc"): Contract.from_raw(path.name.removesuffix(".avsc"), _read(path))
        for path in sorted(directory.glob("*.avsc"))
    }


def history(topic: str, directory: Path = SCHEMA_DIR) -> list[dict[str, Any]]:
    folder = directory / "history" / topic
    return [_read(p) for p in sorted(folder.glob("*.avsc"), key=lambda p: int(p.stem))]
