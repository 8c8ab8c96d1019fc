"""Avro schema compatibility without a registry: can data written with one schema be read with another?

Implements the specification's schema-resolution rules for the shapes BondFlow publishes (records, enums,
arrays, maps, unions, fixed, primitives with promotions) and is stricter on logical types, as EVENTS.md
asks: decimal precision and scale, and timestamp units, must be equal. FULL_TRANSITIVE means every pair
of versions of a topic can read each other, in both directions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

PROMOTIONS = {
    "int": {"int", "long", "float", "double"},
    "long": {"long", "float", "double"},
    "float": {"float", "double"},
    "double": {"double"},
    "string": {"string", "bytes"},
    "bytes": {"bytes", "string"},
    "boolean": {"boolean"},
    "null": {"null"},
}


def _normalise(schema: Any) -> Any:
    if isinstance(schema, str):
        return {"type": schema}
    return schema


def _kind(schema: Any) -> str:
    if isinstance(schema, list):
        return "union"
    kind = _normalise(schema)["type"]
    return kind if isinstance(kind, str) else _kind(kind)


def problems(writer: Any, reader: Any, path: str = "$") -> list[str]:
    """Why data written with `writer` cannot be read with `reader` (empty when it can)."""
    if isinstance(writer, list):
        found: list[str] = []
        for branch in writer:
            found.extend(problems(branch, reader, f"{path}|{_kind(branch)}"))
        return found
    if isinstance(reader, list):
        if any(not problems(writer, branch, path) for branch in reader):
            return []
        return [f"{path}: no branch of the reader union accepts writer type {_kind(writer)}"]
    w, r = _normalise(writer), _normalise(reader)
    if isinstance(w["type"], dict | list):
        return problems(w["type"], reader, path)
    if isinstance(r["type"], dict | list):
        return problems(writer, r["type"], path)
    logical = _logical_problems(w, r, path)
    if logical:
        return logical
    wk, rk = w["type"], r["type"]
    if wk in PROMOTIONS:
        return [] if rk in PROMOTIONS[wk] else [f"{path}: writer {wk} cannot be read as {rk}"]
    if wk != rk:
        return [f"{path}: writer {wk} cannot be read as {rk}"]
    return _named_problems(w, r, path)


def _named_problems(w: dict[str, Any], r: dict[str, Any], path: str) -> list[str]:
    wk = w["type"]
    if wk == "record":
        return _record_problems(w, r, path)
    if wk == "enum":
        missing = set(w["symbols"]) - set(r["symbols"])
        if missing and "default" not in r:
            return [f"{path}: reader enum lacks symbols {sorted(missing)} and has no default"]
        return []
    if wk == "array":
        return problems(w["items"], r["items"], f"{path}[]")
    if wk == "map":
        return problems(w["values"], r["values"], f"{path}{{}}")
    if wk == "fixed":
        same = w.get("size") == r.get("size") and w.get("name") == r.get("name")
        return [] if same else [f"{path}: fixed size or name differs"]
    return [f"{path}: unsupported type {wk}"]


def _logical_problems(w: dict[str, Any], r: dict[str, Any], path: str) -> list[str]:
    wl, rl = w.get("logicalType"), r.get("logicalType")
    if wl != rl:
        return [f"{path}: logical type {wl} cannot be read as {rl}"]
    if wl == "decimal" and (w.get("precision"), w.get("scale", 0)) != (r.get("precision"), r.get("scale", 0)):
        return [
            f"{path}: decimal({w.get('precision')},{w.get('scale', 0)}) vs decimal({r.get('precision')},{r.get('scale', 0)})"
        ]
    return []


def _record_problems(w: dict[str, Any], r: dict[str, Any], path: str) -> list[str]:
    found: list[str] = []
    if w.get("name") != r.get("name"):
        found.append(f"{path}: record name {w.get('name')} vs {r.get('name')}")
    written = {f["name"]: f for f in w["fields"]}
    for field in r["fields"]:
        source = written.get(field["name"])
        if source is None:
            if "default" not in field:
                found.append(f"{path}.{field['name']}: added without a default")
            continue
        found.extend(problems(source["type"], field["type"], f"{path}.{field['name']}"))
    return found


def full_transitive_problems(versions: Sequence[Any]) -> list[str]:
    """Every pair of versions must read each other's data (both directions)."""
    found: list[str] = []
    for i, older in enumerate(versions):
        for j in range(i + 1, len(versions)):
            newer = versions[j]
            found.extend(f"v{j + 1} reading v{i + 1}: {p}" for p in problems(older, newer))
            found.extend(f"v{i + 1} reading v{j + 1}: {p}" for p in problems(newer, older))
    return found
