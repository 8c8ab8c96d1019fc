"""Apache Avro's Java implementation as an independent consumer of what BondFlow publishes.

`java_decode(frames)` hands single-object-encoded values to ``tools/avro/DecodeFrames.java``, which decodes
them with Avro's `BinaryMessageDecoder` knowing only the schema files (jars from Maven Central through
``tools/avro/fetch.sh``, cached in ``tools/avro/target`` and ``~/.m2``). `differences(decoded, canonical,
schema)` says where a decoded record is not the canonical record its `hash` covers.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from bondflow.avro.contracts import SCHEMA_DIR

TOOL_DIR = Path(__file__).resolve().parents[2] / "tools" / "avro"
CLASSPATH = f"{TOOL_DIR / 'target' / 'lib' / '*'}:{TOOL_DIR / 'target' / 'classes'}"


def ensure_decoder() -> None:
    """Fetch and compile once (~10 ms when up to date); fail, naming what is missing, otherwise."""
    proc = subprocess.run(
        ["bash", str(TOOL_DIR / "fetch.sh")], capture_output=True, text=True, check=False, timeout=900
    )
    if proc.returncode != 0:
        pytest.fail(
            "Apache Avro's Java decoder is missing and tools/avro/fetch.sh could not provide it (it needs a"
            " Java 17+ JDK, Maven, and Maven Central or a warm ~/.m2):\n" + (proc.stdout + proc.stderr)
        )


def java_decode(frames: Iterable[tuple[str, bytes]]) -> list[dict[str, Any]]:
    """Decode `(topic, value)` frames with Java's BinaryMessageDecoder; one JSON-ready record per frame."""
    ensure_decoder()
    java = shutil.which("java")
    assert java is not None, "no `java` on PATH: Apache Avro's Java decoder needs Java 17+"
    with tempfile.TemporaryDirectory(prefix="bf-avro-java-") as work:
        given, answered = Path(work) / "frames.tsv", Path(work) / "records.jsonl"
        given.write_text("".join(f"{t}\t{base64.b64encode(v).decode()}\n" for t, v in frames))
        proc = subprocess.run(
            [
                java,
                "-Xshare:auto",
                "-cp",
                CLASSPATH,
                "DecodeFrames",
                str(SCHEMA_DIR),
                str(given),
                str(answered),
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert proc.returncode == 0, f"Java's BinaryMessageDecoder refused a frame:\n{proc.stderr[-3000:]}"
        return [orjson.loads(line) for line in answered.read_text().splitlines()]


def differences(decoded: Any, canonical: Any, schema: Any, path: str = "") -> list[str]:
    """Where `decoded` (Java's view) is not `canonical` (the JSON the hash covers), by the schema's types."""
    if isinstance(schema, list):
        if canonical is None or decoded is None:
            return [] if canonical is decoded else [f"{path}: {decoded!r} != {canonical!r}"]
        return differences(decoded, canonical, next(s for s in schema if s != "null"), path)
    if isinstance(schema, dict) and schema.get("type") == "record":
        return _record_differences(decoded, canonical, schema, path)
    if isinstance(schema, dict) and schema.get("type") == "array":
        if len(decoded) != len(canonical):
            return [f"{path}: {len(decoded)} items != {len(canonical)}"]
        return [
            p
            for d, c in zip(decoded, canonical, strict=True)
            for p in differences(d, c, schema["items"], path)
        ]
    if isinstance(schema, dict) and schema.get("logicalType") == "decimal":
        same = isinstance(canonical, str) and Decimal(decoded) == Decimal(canonical)
        return [] if same else [f"{path}: decimal {decoded!r} != {canonical!r}"]
    if isinstance(canonical, dict):  # free-form details travel as canonical JSON text
        return [] if orjson.loads(decoded) == canonical else [f"{path}: {decoded!r} != {canonical!r}"]
    return [] if decoded == canonical else [f"{path}: {decoded!r} != {canonical!r}"]


def _record_differences(decoded: Any, canonical: Any, schema: dict[str, Any], path: str) -> list[str]:
    fields = {f["name"]: f for f in schema["fields"]}
    found = [
        f"{path}.{k}: in the hashed record but not in the schema"
        for k in sorted(set(canonical) - set(fields))
    ]
    for name, field in fields.items():
        expected = canonical.get(name, field.get("default"))
        found += differences(decoded.get(name), expected, field["type"], f"{path}.{name}".lstrip("."))
    return found
