"""The embedded PostgreSQL stops when its last BondFlow process exits, SIGTERM included; a server left
behind by a killed process is reused on restart, and `bondflow stop` says whether it can stop it."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_serve_over_http import free_port

pytestmark = pytest.mark.e2e


def _env(data_dir: Path, port: int) -> dict[str, str]:
    env = {**os.environ, "BONDFLOW_DATA_DIR": str(data_dir), "BONDFLOW_HTTP_PORT": str(port)}
    for name in ("BONDFLOW_DATABASE_URL", "BONDFLOW_CLICKHOUSE_DSN"):
        env.pop(name, None)
    return {**env, "BONDFLOW_LOG_LEVEL": "WARNING"}


def _serve(data_dir: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bondflow.cli", "serve", "--single-process"],
            env=_env(data_dir, port),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    _eventually(lambda: _ready(base) or process.poll() is not None, 90, log)
    assert process.poll() is None, log.read_text()[-3000:]
    return process, base


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def _eventually(condition: Callable[[], bool], seconds: float, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out; the server's log:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


def _postmaster(data_dir: Path) -> int:
    return int((data_dir / "pg" / "postmaster.pid").read_text().splitlines()[0])


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stop(data_dir: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "bondflow.cli", "stop"]
    return subprocess.run(
        command, env=_env(data_dir, 1), capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture
def workdir() -> Iterator[Path]:
    """Readable by the embedded server's own user (as root it runs as `pgserver`), unlike pytest's tmp_path."""
    path = Path(tempfile.mkdtemp(prefix="bf-lifecycle-"))
    os.chmod(path, 0o755)
    yield path
    pid_file = path / "var" / "pg" / "postmaster.pid"
    if pid_file.exists():  # a failed run must not leave a server behind
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid_file.read_text().splitlines()[0]), signal.SIGINT)  # fast shutdown
            time.sleep(2)
    shutil.rmtree(path, ignore_errors=True)


def test_killed_then_restarted_then_sigterm_leaves_no_postgres_behind(workdir: Path) -> None:
    data_dir, log = workdir / "var", workdir / "serve.log"
    killed, _ = _serve(data_dir, log)
    postgres = _postmaster(data_dir)
    killed.kill()  # no exit hooks: the server stays up, with a dead process on its list of users
    killed.wait(10)
    assert _running(postgres)

    restarted, base = _serve(data_dir, log)
    assert _postmaster(data_dir) == postgres  # reused, not started twice
    assert (
        httpx.get(f"{base}/v1/instruments/INE123A07043/analytics?clean_price=100", timeout=5).status_code
        == 401
    )
    busy = _stop(data_dir)
    assert busy.returncode == 1 and str(restarted.pid) in busy.stderr

    restarted.send_signal(signal.SIGTERM)
    assert restarted.wait(30) == 128 + signal.SIGTERM
    _eventually(lambda: not _running(postgres), 15, log)
    assert "not running" in _stop(data_dir).stdout
