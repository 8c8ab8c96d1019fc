"""OpenTelemetry tracing: one trace from an HTTP request through every follower its events reach.

A request's trace context (W3C `traceparent`) is stored on each event it writes (`trace_context`, kept out of
the published record); a follower handling that event continues the trace in a child span, and the events
it writes carry the new context on. Export follows the standard `OTEL_*` variables
(`OTEL_TRACES_EXPORTER=otlp`, `OTEL_EXPORTER_OTLP_ENDPOINT=…`); with none set tracing is off and costs
nothing but a no-op span. Tests install their own provider with `install`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagate import extract, inject
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

TRACE_ATTRIBUTE = "trace_context"  # the stored event attribute that carries the writer's traceparent
_state: dict[str, bool] = {"on": False}
tracer = trace.get_tracer("bondflow")


def enabled() -> bool:
    return _state["on"]


def export_configured() -> bool:
    """True when the standard variables ask for an exporter (anything but `none`)."""
    exporter = os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter == "none":
        return False
    return bool(exporter) or bool(
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def configure_from_environment(service: str = "bondflow") -> None:
    """Turn tracing on with the OTLP exporter when `OTEL_*` asks for it; otherwise leave it off."""
    if enabled() or not export_configured():
        return
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", service)})
    install(BatchSpanProcessor(OTLPSpanExporter()), resource=resource)


def install(processor: SpanProcessor, *, resource: Resource | None = None) -> TracerProvider:
    """Export spans through `processor` (the provider is set once per process) and instrument psycopg and
    httpx (the provider webhooks and the OIDC discovery: client spans, `traceparent` sent along)."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider(resource=resource or Resource.create({"service.name": "bondflow"}))
        trace.set_tracer_provider(provider)
    provider.add_span_processor(processor)
    if not enabled():
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
        from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor

        PsycopgInstrumentor().instrument(skip_dep_check=True)
        HTTPXClientInstrumentor().instrument()
    _state["on"] = True
    return provider


def uninstall() -> None:
    """Stop tracing new work in this process (tests): events are no longer stamped, psycopg and httpx not traced."""
    if enabled():
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
        from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor

        PsycopgInstrumentor().uninstrument()
        HTTPXClientInstrumentor().uninstrument()
    _state["on"] = False


def instrument_app(app: Any) -> None:
    """Server spans for every route (the incoming `traceparent` is honoured)."""
    if enabled():
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,metrics")


def current_traceparent() -> str | None:
    """The active span's context as a `traceparent` value, or None when nothing is traced."""
    if not enabled():
        return None
    carrier: dict[str, str] = {}
    inject(carrier)
    return carrier.get("traceparent")


@contextmanager
def continued(event: Any, name: str) -> Iterator[None]:
    """Handle `event` inside a span that continues the trace of the request that wrote it."""
    if not enabled():
        yield
        return
    stored = event.__dict__.get(TRACE_ATTRIBUTE)
    parent = extract({"traceparent": stored}) if stored else otel_context.get_current()
    with tracer.start_as_current_span(name, context=parent, kind=trace.SpanKind.CONSUMER):
        yield


def stamp(event: Any) -> None:
    """Store the current trace context on an event about to be recorded (first writer wins)."""
    traceparent = current_traceparent()
    if traceparent and TRACE_ATTRIBUTE not in event.__dict__:
        event.__dict__[TRACE_ATTRIBUTE] = traceparent
