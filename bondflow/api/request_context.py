"""The request id: a valid incoming `X-Request-ID` is kept, otherwise one is generated."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

_VALID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
current_request_id: ContextVar[str] = ContextVar("request_id", default="")


def request_id_from(header: str | None) -> str:
    if header and _VALID.match(header):
        return header
    return f"bf_{uuid.uuid4().hex}"
