"""Which refusals of a schema-valid request `make fuzz` forgives (tools/fuzz_hooks.py): those whose reason
no JSON Schema can state, named by the error code, field or message in the BF envelope. Pure, so the
default suite tests it without schemathesis (tests/unit/test_fuzz_reasons.py)."""

from __future__ import annotations

from typing import Any

ACROSS_FIELDS = (  # rules between two values, or on the clock, named by the server's message
    ("from must not be after to", "from after to (a rule across two parameters)"),
    ("allows at most", "a payment limit that depends on the method"),
    ("needs at least", "a payment limit that depends on the method"),
    ("takes no value", "a sandbox fault value that depends on the mode"),
    ("needs a value between", "a sandbox fault value that depends on the mode"),
    ("only the current or the next financial year", "the financial year against today's date"),
    ("has no fault", "a sandbox fault mode that depends on the target"),
    ("the issue date", "bond maths across two dates (maturity after issue, within 100 years)"),
)


def state_dependent(body: Any) -> str | None:
    """Why an error envelope refuses a schema-valid request for a reason no schema states, or None."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None
    code = error.get("code")
    fields = (error.get("details") or {}).get("fields") or {}
    if code == "BF-QRY-002":
        return "min_position beyond the head of the log"
    if code == "BF-IDEM-002":
        return "Idempotency-Key reused with another body"
    if code == "BF-REQ-001" and "cursor" in fields:
        return "a cursor this server did not issue (HMAC-signed)"
    if any("check digit" in str(message) for message in fields.values()):
        return "ISIN check digit (ISO 6166)"
    message = str(error.get("message", ""))
    for needle, reason in ACROSS_FIELDS:
        if needle in message:
            return reason
    return None
