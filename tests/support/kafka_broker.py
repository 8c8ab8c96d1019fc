"""A real Apache Kafka broker (KRaft, one combined broker+controller node) for the test suite.

The jars come from Maven Central through ``tools/kafka/pom.xml`` (fetched once by ``tools/kafka/fetch.sh``
into ``tools/kafka/target/lib``; ``~/.m2`` keeps them for offline reuse). :class:`KafkaBroker` formats a
fresh KRaft log dir in a temp dir, runs ``java -cp 'lib/*' kafka.Kafka server.properties`` on free
loopback ports and waits until a kafka-python admin client sees the broker. The :func:`kafka_broker`
fixture starts one per pytest session.

    with KafkaBroker() as broker:  # or the session fixture `kafka_broker`
        producer = broker.producer(enable_idempotence=True, acks="all")  # or any kafka-python client
        ...                                                             # on broker.bootstrap_servers
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import pytest

# kafka-python 3.0 reads its protocol JSON with importlib.resources.read_text/open_text, deprecated on
# Python 3.11/3.12 (DeprecationWarning at import time). Import it once here, quietly, so that
# `filterwarnings = error` does not turn that import into a failure; later imports come from sys.modules.
with warnings.catch_warnings():
    warnings.filterwarnings(
        "ignore", message=r"(read_text|open_text) is deprecated", category=DeprecationWarning
    )
    import kafka
    import kafka.admin
    import kafka.errors

REPO_ROOT = Path(__file__).resolve().parents[2]
KAFKA_TOOL_DIR = REPO_ROOT / "tools" / "kafka"
LIB_DIR = KAFKA_TOOL_DIR / "target" / "lib"
FETCH_SCRIPT = KAFKA_TOOL_DIR / "fetch.sh"
LOG4J2_CONFIG = KAFKA_TOOL_DIR / "log4j2.xml"
FAILED_LOG = KAFKA_TOOL_DIR / "target" / "last-failed-broker.log"

# Small footprint, fast start, die rather than limp on OOM.
DEFAULT_JVM_OPTS = (
    "-Xms128m",
    "-Xmx512m",
    "-XX:+UseSerialGC",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
)

_PR_SET_PDEATHSIG = 1
_BIND_FAILURE = "Address already in use"
_WORKDIR_PREFIX = "bondflow-kafka-"


class KafkaBrokerError(RuntimeError):
    """The test broker could not be fetched, formatted or started."""


def ensure_jars() -> Path:
    """Make sure ``tools/kafka/target/lib`` holds the broker's jars.

    Runs tools/kafka/fetch.sh every time: it returns in ~10 ms when its stamp says every jar is there,
    and fetches (from ~/.m2, else Maven Central) otherwise.
    """
    if not FETCH_SCRIPT.is_file():
        raise KafkaBrokerError(f"missing {FETCH_SCRIPT}: cannot fetch the Kafka broker jars")
    proc = subprocess.run(
        ["bash", str(FETCH_SCRIPT)], capture_output=True, text=True, check=False, timeout=900
    )
    if proc.returncode != 0 or not any(LIB_DIR.glob("kafka_2.13-*.jar")):
        raise KafkaBrokerError(
            "the Kafka broker jars are missing and tools/kafka/fetch.sh could not fetch them "
            "(it needs Maven, and Maven Central or a warm ~/.m2):\n" + (proc.stdout + proc.stderr).strip()
        )
    return LIB_DIR


def find_java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise KafkaBrokerError("no `java` on PATH and no JAVA_HOME: the Kafka 4 broker needs Java 17+")
    return java


def _free_ports(count: int) -> list[int]:
    """Distinct free TCP ports on 127.0.0.1 (held open together so they differ)."""
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _random_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding (like `random-uuid`).

    Like Kafka's own `Uuid.randomUuid()`, an id that starts with `-` is drawn again: the storage
    tool's argument parser would read it as an option (one in 64 ids did, and failed a CI run).
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode("ascii")
        if not cluster_id.startswith("-"):
            return cluster_id


def _load_prctl() -> Any:
    """libc's prctl, resolved in the parent so that the forked child only makes one C call."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _load_prctl()


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the kernel SIGTERMs the broker if the pytest process dies without tearing down."""
    _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _remove_stale_workdirs() -> None:
    """Remove temp dirs left by test sessions that were killed (their owner process is gone)."""
    for workdir in Path(tempfile.gettempdir()).glob(f"{_WORKDIR_PREFIX}*"):
        try:
            owner = int((workdir / "owner.pid").read_text(encoding="ascii"))
        except (OSError, ValueError):
            continue
        try:
            os.kill(owner, 0)
        except ProcessLookupError:
            shutil.rmtree(workdir, ignore_errors=True)
        except PermissionError:
            continue


def _port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


class KafkaBroker:
    """A single-node KRaft Apache Kafka broker in a subprocess; use as a context manager."""

    def __init__(
        self,
        *,
        start_timeout: float = 60.0,
        jvm_opts: tuple[str, ...] = DEFAULT_JVM_OPTS,
        extra_properties: dict[str, str] | None = None,
    ) -> None:
        self.start_timeout = start_timeout
        self.jvm_opts = jvm_opts
        self.extra_properties = dict(extra_properties or {})
        self.port: int | None = None
        self.controller_port: int | None = None
        self.cluster_id: str | None = None
        self.workdir: Path | None = None
        self.start_seconds: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    # -- public API -----------------------------------------------------------------------------
    @property
    def bootstrap_servers(self) -> str:
        if self.port is None or self._proc is None:
            raise KafkaBrokerError("the Kafka broker is not running")
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path | None:
        return None if self.workdir is None else self.workdir / "broker.log"

    def admin(self, **configs: Any) -> kafka.KafkaAdminClient:
        """A kafka-python admin client on this broker (close it when done)."""
        return kafka.KafkaAdminClient(bootstrap_servers=self.bootstrap_servers, **configs)

    def producer(self, **configs: Any) -> kafka.KafkaProducer:
        """A kafka-python producer on this broker (close it when done)."""
        return kafka.KafkaProducer(bootstrap_servers=self.bootstrap_servers, **configs)

    def consumer(self, *topics: str, **configs: Any) -> kafka.KafkaConsumer:
        """A kafka-python consumer on this broker (close it when done)."""
        return kafka.KafkaConsumer(*topics, bootstrap_servers=self.bootstrap_servers, **configs)

    def __enter__(self) -> KafkaBroker:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        if self._proc is not None:
            return
        started = time.monotonic()
        lib = ensure_jars()
        java = find_java()
        _remove_stale_workdirs()
        self.workdir = Path(tempfile.mkdtemp(prefix=_WORKDIR_PREFIX))
        (self.workdir / "owner.pid").write_text(str(os.getpid()), encoding="ascii")
        try:
            # A port picked free can be taken before the JVM binds it: retry on a bind failure.
            for attempt in range(3):
                self.port, self.controller_port = _free_ports(2)
                self._write_properties()
                self._format_storage(java, lib)
                launched = time.monotonic()
                self._launch(java, lib)
                try:
                    self._wait_ready(launched)
                    break
                except KafkaBrokerError:
                    bind_failed = self._log_mentions(_BIND_FAILURE)
                    self._terminate()
                    if not bind_failed or attempt == 2:
                        raise
                    shutil.rmtree(self.workdir / "data", ignore_errors=True)
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - started

    def stop(self) -> None:
        self._terminate()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None
        self.port = self.controller_port = None

    # -- internals ------------------------------------------------------------------------------
    def _properties_path(self) -> Path:
        assert self.workdir is not None
        return self.workdir / "server.properties"

    def _write_properties(self) -> None:
        assert self.workdir is not None
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.workdir / "data"),
            "num.partitions": "1",
            "default.replication.factor": "1",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "min.insync.replicas": "1",
            "auto.create.topics.enable": "true",
            "group.initial.rebalance.delay.ms": "0",
            "num.network.threads": "2",
            "num.io.threads": "2",
            "num.recovery.threads.per.data.dir": "1",
            **self.extra_properties,
        }
        self._properties_path().write_text(
            "".join(f"{key}={value}\n" for key, value in props.items()), encoding="utf-8"
        )

    def _java_cmd(self, java: str, lib: Path, main: str, *args: str) -> list[str]:
        return [
            java,
            *self.jvm_opts,
            f"-Dlog4j2.configurationFile={LOG4J2_CONFIG}",
            "-cp",
            str(lib / "*"),
            main,
            *args,
        ]

    def _format_storage(self, java: str, lib: Path) -> None:
        assert self.workdir is not None
        self.cluster_id = _random_cluster_id()
        cmd = self._java_cmd(
            java,
            lib,
            "kafka.tools.StorageTool",
            "format",
            "--cluster-id",
            self.cluster_id,
            "--config",
            str(self._properties_path()),
            "--ignore-formatted",
        )
        proc = subprocess.run(cmd, capture_output=True, check=False, timeout=120)
        (self.workdir / "format.log").write_bytes(proc.stdout + proc.stderr)
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).decode(errors="replace").splitlines()[-30:])
            raise KafkaBrokerError(
                f"formatting the KRaft storage failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}"
            )

    def _launch(self, java: str, lib: Path) -> None:
        assert self.log_path is not None
        self._log_file = self.log_path.open("wb")  # one log per attempt
        kwargs: dict[str, Any] = {}
        if _PRCTL is not None:
            kwargs["preexec_fn"] = _die_with_parent
        self._proc = subprocess.Popen(
            self._java_cmd(java, lib, "kafka.Kafka", str(self._properties_path())),
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
            **kwargs,
        )

    def _wait_ready(self, launched: float) -> None:
        assert self._proc is not None and self.port is not None
        deadline = launched + self.start_timeout
        last_error = "the broker port never accepted a connection"
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise self._startup_error(f"the broker process exited with code {self._proc.returncode}")
            if self._log_mentions(_BIND_FAILURE):  # Kafka takes ~30 s to shut down after a bind failure
                raise self._startup_error("a listener port was taken")
            if _port_open(self.port):
                try:
                    self._probe()
                    return
                except Exception as exc:  # not ready yet: retry until the deadline
                    last_error = f"{type(exc).__name__}: {exc}"
            time.sleep(0.2)
        raise self._startup_error(f"not ready after {self.start_timeout:.0f}s ({last_error})")

    def _probe(self) -> None:
        """Ready = an admin client connects and the broker is in the cluster metadata (unfenced)."""
        admin = kafka.KafkaAdminClient(
            bootstrap_servers=f"127.0.0.1:{self.port}",
            client_id="bondflow-test-broker-probe",
            bootstrap_timeout_ms=3000,
            request_timeout_ms=3000,
        )
        try:
            cluster = admin.describe_cluster()
            if not cluster.get("brokers"):
                raise KafkaBrokerError("no broker registered yet")
        finally:
            admin.close()

    def _log_mentions(self, text: str) -> bool:
        if self.log_path is None or not self.log_path.is_file():
            return False
        return text.encode() in self.log_path.read_bytes()

    def _log_tail(self, lines: int = 40) -> str:
        if self.log_path is None or not self.log_path.is_file():
            return "(no broker log)"
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def _startup_error(self, reason: str) -> KafkaBrokerError:
        kept = "(no broker log)"
        if self.log_path is not None and self.log_path.is_file():
            # The temp dir goes away on stop(): keep the whole log where CI and developers can read it.
            with contextlib.suppress(OSError):
                FAILED_LOG.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(self.log_path, FAILED_LOG)
                kept = str(FAILED_LOG)
        return KafkaBrokerError(
            f"the Kafka test broker did not start: {reason}.\n"
            f"jars: {LIB_DIR} (fetch with tools/kafka/fetch.sh); needs Java 17+; "
            f"ports 127.0.0.1:{self.port} (broker) / {self.controller_port} (controller).\n"
            f"whole broker log: {kept}; its last lines:\n{self._log_tail()}"
        )

    def _terminate(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # controlled shutdown, ~0.5 s
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[KafkaBroker]:
    """One real Kafka broker for the whole test session; fails (never skips) if it cannot start."""
    with KafkaBroker() as broker:
        yield broker
