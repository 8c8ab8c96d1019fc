"""`make fuzz` forgives only refusals no schema can state; everything else stays a failure."""

from __future__ import annotations

from tools.fuzz_reasons import state_dependent


def envelope(code: str, message: str = "", fields: dict[str, str] | None = None) -> dict[str, object]:
    details = {} if fields is None else {"fields": fields}
    return {"data": None, "error": {"code": code, "message": message, "details": details}, "meta": {}}


def test_the_state_dependent_refusals_are_named() -> None:
    assert state_dependent(envelope("BF-QRY-002")) == "min_position beyond the head of the log"
    assert state_dependent(envelope("BF-IDEM-002")) == "Idempotency-Key reused with another body"
    assert state_dependent(envelope("BF-REQ-001", "cursor: x", {"cursor": "invalid"})).startswith("a cursor")
    check_digit = envelope(
        "BF-ORD-003", "isin: check digit", {"isin": "check digit does not match (ISO 6166)"}
    )
    assert state_dependent(check_digit) == "ISIN check digit (ISO 6166)"
    assert state_dependent(envelope("BF-REQ-001", "from must not be after to")) is not None


def test_anything_else_is_not_forgiven() -> None:
    assert state_dependent(envelope("BF-REQ-001", "body is not valid JSON", {"body": "invalid JSON"})) is None
    assert state_dependent(envelope("BF-INT-001", "internal error")) is None
    assert (
        state_dependent(envelope("BF-REQ-001", "isin: must be 12 characters", {"isin": "12 characters"}))
        is None
    )
    assert state_dependent({"data": [], "error": None, "meta": {}}) is None
    assert state_dependent("not an envelope") is None
