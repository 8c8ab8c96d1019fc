"""OpenTelemetry: one trace from `POST /v1/orders` through the execution worker, the settlement saga and its
effect workers, to the Kafka relay that publishes the order and the executed trade (an in-memory span
exporter collects them). The settlement's last steps follow the payout provider's webhook, a request of
its own, in its own trace."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from bondflow.adapters.webhook_sender import HttpDelivery
from bondflow.api.app import create_app
from bondflow.runtime import tracing
from bondflow.runtime.clock import ManualClock
from bondflow.settings import Settings
from bondflow.wiring.bootstrap import bootstrap
from bondflow.wiring.container import Container
from tests.conftest import bearer, list_test_bonds
from tests.integration.test_settlement import buy, order_in
from tests.support.kafka_broker import KafkaBroker

pytestmark = [pytest.mark.integration, pytest.mark.kafka]


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracing.install(SimpleSpanProcessor(exporter))
    yield exporter
    tracing.uninstall()
    exporter.shutdown()


@pytest.fixture
def traced(
    spans: InMemorySpanExporter, settings: Settings, kafka_broker: KafkaBroker, clock: ManualClock
) -> Iterator[tuple[Container, TestClient]]:
    relay_settings = settings.model_copy(
        update={
            "kafka_bootstrap_servers": kafka_broker.bootstrap_servers,
            "clickhouse_database": f"tr_{uuid.uuid4().hex[:8]}",
        }
    )
    container = bootstrap(relay_settings, clock=clock)
    list_test_bonds(container)
    container.start_followers()
    try:
        with TestClient(create_app(container), raise_server_exceptions=False) as client:
            yield container, client
            container.stop_followers()
    finally:
        container.close()
        with contextlib.suppress(Exception):
            container.clickhouse.command("DROP DATABASE IF EXISTS {db}")


def spans_of(exporter: InMemorySpanExporter, trace_id: int) -> list[Any]:
    return [s for s in exporter.get_finished_spans() if s.context.trace_id == trace_id]


def test_one_trace_runs_from_the_order_request_through_execution_settlement_and_the_relay(
    traced: tuple[Container, TestClient], spans: InMemorySpanExporter
) -> None:
    container, client = traced
    headers = bearer(container, sub="traced-investor")
    order_id = buy(client, headers, qty="3")
    order_in(client, headers, order_id, "FILLED")

    request = next(
        s
        for s in spans.get_finished_spans()
        if s.kind.name == "SERVER" and s.attributes.get("http.route") == "/v1/orders"
    )
    trace_id = request.context.trace_id
    wanted = (
        "execution ",
        "settlement_saga ",
        "settlement_chain ",
        "publish order.placed.v1",
        "publish rfq.executed.v1",
    )  # the dealer payout's outcome arrives as the provider's own webhook request: a trace of its own
    deadline = time.monotonic() + 60
    while True:
        names = {s.name for s in spans_of(spans, trace_id)}
        found = {w: any(n.startswith(w) for n in names) for w in wanted}
        if all(found.values()) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert found == dict.fromkeys(wanted, True), sorted(names)
    # the database work inside the trace is traced too (psycopg instrumentation)
    assert any(s.attributes.get("db.system") == "postgresql" for s in spans_of(spans, trace_id))


def test_without_tracing_events_carry_no_trace_context(container: Container) -> None:
    assert not tracing.enabled()
    assert tracing.current_traceparent() is None


def test_a_webhook_delivery_is_a_client_span_and_carries_the_trace_to_the_receiver(
    spans: InMemorySpanExporter,
) -> None:
    """httpx is instrumented: the provider webhook (`HttpDelivery`) is a CLIENT span of the current trace,
    and the receiver gets a `traceparent` naming that trace."""
    received: list[str | None] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            received.append(self.headers.get("traceparent"))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    delivery = HttpDelivery(f"http://127.0.0.1:{server.server_port}/webhook")
    try:
        with tracing.tracer.start_as_current_span("a settlement step") as step:
            assert delivery(b"{}", {"Content-Type": "application/json"}) == 204
    finally:
        delivery.close()
        server.shutdown()
        server.server_close()
    trace_id = step.get_span_context().trace_id
    client = [s for s in spans_of(spans, trace_id) if s.kind.name == "CLIENT"]
    assert len(client) == 1
    method = client[0].attributes.get("http.request.method") or client[0].attributes.get("http.method")
    assert method == "POST"
    assert received and received[0] is not None and received[0].split("-")[1] == f"{trace_id:032x}"
