"""The request id: a valid incoming `X-Request-ID` is kept, otherwise one is generated."""

from __future__ import annotations

import re
import secrets
import uuid
from contextvars import ContextVar

_VALID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
current_request_id: ContextVar[str] = ContextVar("request_id", default="")


def request_id_from(header: str | None) -> str:
    if header and _VALID.match(header):
        return header
    return f"bf_{uuid.uuid4().hex}"


_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


def traceparent_from(header: str | None) -> tuple[str, str]:
    """W3C trace context: keep the caller's trace id (new span id for this hop), or start a trace.

    Returns `(trace_id, traceparent to propagate)`.
    """
    match = _TRACEPARENT.match(header or "")
    trace_id = match.group(1) if match and match.group(1) != "0" * 32 else secrets.token_hex(16)
    flags = match.group(3) if match else "01"
    return trace_id, f"00-{trace_id}-{secrets.token_hex(8)}-{flags}"
