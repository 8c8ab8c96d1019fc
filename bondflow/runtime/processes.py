"""The followers `bondflow serve` runs in a child process beside the API, so that the API and the log's
followers do not share one interpreter (and one core). A supervisor thread restarts the child if it dies;
the child stops when the server stops (SIGTERM) or disappears (it watches its parent).

The followers that read or write ClickHouse stay in the server's process: the embedded chDB engine allows
one process per data path (ARCHITECTURE §5), and the server answers the analytics queries from it. The
execution worker is not one of them: its advisor reads the dealers' records that `dealer_records`
publishes from ClickHouse into PostgreSQL, so the RFQs do not share the API's interpreter.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path

from bondflow.errors import ConfigurationError

log = logging.getLogger(__name__)

CLICKHOUSE_BOUND = frozenset(
    {"order_flow", "fill_analytics", "dealer_records"}
)  # they read or write ClickHouse
PARENT_ENV = "BONDFLOW_PARENT_PID"


def split_followers(names: Iterable[str]) -> tuple[list[str], list[str]]:
    """(what stays in the server's process, what runs in the worker process)."""
    names = list(names)
    return [n for n in names if n in CLICKHOUSE_BOUND], [n for n in names if n not in CLICKHOUSE_BOUND]


def worker_groups(names: Iterable[str], groups: Iterable[Iterable[str]]) -> list[list[str]]:
    """The followers of the worker process(es): each of `groups` (`BONDFLOW_WORKER_GROUPS`) in a process of
    its own, every other one of `names` in the first. One process holds one interpreter, so a process's
    followers share at most one core: under load the worker process was the first to run out of it."""
    names = list(names)
    taken: dict[str, int] = {}
    chosen: list[list[str]] = []
    for index, group in enumerate(groups, start=1):
        members = list(dict.fromkeys(group))
        for name in members:
            if name in CLICKHOUSE_BOUND:
                raise ConfigurationError(
                    f"BONDFLOW_WORKER_GROUPS: {name} uses ClickHouse: it stays in the server"
                )
            if name not in names:
                raise ConfigurationError(
                    f"BONDFLOW_WORKER_GROUPS: no follower named {name!r} runs in a worker"
                )
            if name in taken:
                raise ConfigurationError(f"BONDFLOW_WORKER_GROUPS: {name} is in two groups")
            taken[name] = index
        if members:
            chosen.append(members)
    rest = [n for n in names if n not in taken]
    return [group for group in [rest, *chosen] if group]


class WorkerProcess:
    """`bondflow worker NAME ...` as a supervised child process."""

    def __init__(
        self,
        names: list[str],
        env: Mapping[str, str],
        *,
        log_path: Path | None = None,
        restart_after: float = 1.0,
        label: str = "worker_process",
    ) -> None:
        self.label = label
        self.names = names
        self.env = {**env, PARENT_ENV: str(os.getpid())}
        self.log_path = log_path
        self.restart_after = restart_after
        self.restarts = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._stop = threading.Event()
        self._supervisor = threading.Thread(target=self._supervise, name=label.replace("_", "-"), daemon=True)

    @property
    def name(self) -> str:
        return self.label

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        self._spawn()
        self._supervisor.start()

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)

    def _spawn(self) -> None:
        stderr = open(self.log_path, "ab") if self.log_path else None  # noqa: SIM115 - handed to the child
        try:
            self._process = subprocess.Popen(  # noqa: S603 - our own executable and follower names
                [sys.executable, "-m", "bondflow.cli", "worker", *self.names],
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        finally:
            if stderr is not None:
                stderr.close()

    def _supervise(self) -> None:
        while not self._stop.wait(self.restart_after):
            process = self._process
            if process is not None and process.poll() is not None and not self._stop.is_set():
                log.error("worker process exited with %s; restarting it", process.returncode)
                self.restarts += 1
                self._spawn()


def yield_to_parent(nice: int) -> None:
    """In a child started by `WorkerProcess`: run `nice` steps below the server's CPU priority. The two share
    a machine; an order's acknowledgement waits on the server, while the followers' work can wait for a gap
    (measured: README, Decisions)."""
    if nice > 0 and os.environ.get(PARENT_ENV):
        os.nice(nice)


def watch_parent(stop: threading.Event, interval: float = 1.0) -> None:
    """In a child started by `WorkerProcess`: set `stop` once the parent process is gone."""
    parent = os.environ.get(PARENT_ENV)
    if not parent:
        return

    def watch() -> None:
        while not stop.wait(interval):
            if os.getppid() != int(parent):
                log.warning("the server process is gone; the worker process stops")
                stop.set()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
