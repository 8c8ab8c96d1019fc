"""A real `bondflow serve` subprocess (followers on) on a free loopback port, in its own DATA_DIR."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx


@dataclass(frozen=True, slots=True)
class Server:
    """A running `bondflow serve`: its base URL and process id."""

    base: str
    pid: int


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerFailed(RuntimeError):
    """`bondflow serve` exited or did not become ready in time."""


def server_env(database_url: str, data_dir: Path, port: int) -> dict[str, str]:
    """The server's environment: the bench's database, its own DATA_DIR and port, no demo holidays."""
    env = {
        **os.environ,
        "BONDFLOW_DATABASE_URL": database_url,
        "BONDFLOW_DATA_DIR": str(data_dir),
        "BONDFLOW_HTTP_HOST": "127.0.0.1",
        "BONDFLOW_HTTP_PORT": str(port),
        "BONDFLOW_LOG_LEVEL": "WARNING",
        "BONDFLOW_SEED_DEMO_DATA": "false",  # the bench lists its own bond; see setup.py
        "BONDFLOW_RATE_LIMITS_ENABLED": "false",  # a load run: API.md limits would refuse most of it
    }
    for name in ("BONDFLOW_CLICKHOUSE_DSN", "BONDFLOW_KAFKA_BOOTSTRAP_SERVERS", "BONDFLOW_ENV"):
        env.pop(name, None)  # chDB under DATA_DIR, no Kafka relay, dev mode: loopback only
    return env


@contextmanager
def running_server(
    database_url: str,
    workdir: Path,
    *,
    single_process: bool = False,
    workers: bool = True,
    ready_within: float = 90.0,
) -> Iterator[Server]:
    """Start `bondflow serve` with every follower (in its worker process, or all in one process with
    `single_process`), yield it, and stop it on the way out. Its DATA_DIR is `var` or `var-single`."""
    port = free_port()
    name = "var-single" if single_process else "var"
    data_dir = workdir / name
    log_path = workdir / f"serve-{name}.log"
    command = [
        sys.executable,
        "-m",
        "bondflow.cli",
        "serve",
        *(["--single-process"] if single_process else []),
        *([] if workers else ["--no-workers"]),  # no follower runs: every read model lags the log
    ]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own executable, fixed arguments
            command,
            env=server_env(database_url, data_dir, port),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, process, log_path, ready_within)
        yield Server(base, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _wait_ready(base: str, process: subprocess.Popen[bytes], log_path: Path, within: float) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            tail = log_path.read_text(errors="replace")[-3000:]
            raise ServerFailed(f"bondflow serve did not become ready:\n{tail}")
        time.sleep(0.2)
