"""CPU accounting from /proc (Linux): one process's CPU time, and the whole machine's busy time."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from pathlib import Path


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process (all its threads) has used; NaN without /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of a process and its live children (`bondflow serve` and its worker process)."""
    return process_cpu_seconds(pid) + sum(process_cpu_seconds(child) for child in children_of(pid))


def _machine_times() -> list[int] | None:
    try:
        return [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None


def machine_busy_seconds() -> float:
    """CPU seconds every core together has spent not idle since boot (steal included); NaN without /proc."""
    values = _machine_times()
    if values is None:
        return math.nan
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def machine_stolen_seconds() -> float:
    """CPU seconds the hypervisor gave to other guests while this one wanted them (steal); NaN without
    /proc. A VM's neighbours show up here: a run with much of it was measured on a slower machine."""
    values = _machine_times()
    if values is None or len(values) < 8:
        return math.nan
    return values[7] / os.sysconf("SC_CLK_TCK")


def meter(read: Callable[[], float]) -> Callable[[], float]:
    """Start measuring a CPU counter; the returned function gives CPU seconds per wall second since."""
    cpu0, wall0 = read(), time.perf_counter()
    return lambda: (read() - cpu0) / (time.perf_counter() - wall0)


def children_of(pid: int) -> list[int]:
    """The live child processes of `pid`."""
    found: list[int] = []
    tasks = Path(f"/proc/{pid}/task")
    for task in tasks.iterdir() if tasks.exists() else []:
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def processes_named(name: str) -> list[int]:
    """Every process whose command name is `name` (e.g. the PostgreSQL server and its backends)."""
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def cpu_by_role(server_pid: int) -> dict[str, float]:
    """CPU seconds so far of `bondflow serve` itself (the API and the ClickHouse followers), its worker
    process(es), every PostgreSQL process, this process (the load generator), the whole machine, and the CPU time the hypervisor took away."""
    return {
        "api": process_cpu_seconds(server_pid),
        "workers": sum(process_cpu_seconds(c) for c in children_of(server_pid)),
        "postgres": sum(process_cpu_seconds(p) for p in processes_named("postgres")),
        "load": process_cpu_seconds(os.getpid()),
        "machine": machine_busy_seconds(),
        "stolen": machine_stolen_seconds(),
    }
