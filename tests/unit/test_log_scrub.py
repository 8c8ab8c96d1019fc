"""The structlog processor masks personal data in every log line and leaves ids, times and codes alone."""

from __future__ import annotations

import io
import logging

import pytest

from bondflow.runtime.logs import json_formatter
from bondflow.security.log_scrub import scrub_personal_data, scrub_text


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("login by priya.sharma+bonds@example.co.in failed", "login by [email] failed"),
        ("phone +919812345678 on file", "phone [phone] on file"),
        ("call 9812345678 or 98123 45678", "call [phone] or [phone]"),
        ("PAN ABCPE1234F, pan abcpe1234f", "PAN [pan], pan [pan]"),
        ("aadhaar 2345 6789 0123 / 234567890123", "aadhaar [aadhaar] / [aadhaar]"),
    ],
)
def test_personal_data_is_masked(text: str, masked: str) -> None:
    assert scrub_text(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "user 6f1d3c7e-2b9a-5e4f-9c1d-123456789012 order 3599782b-50d2-5a45-95cb-061f6351f362",
        "trace 4bf92f3577b34da6a3ce929d0e0e4736 at 2026-11-23T21:19:42.195633Z",
        "isin INE123A07043 position 1234567 took 12.5 ms code BF-KYC-002",
        "process kyc_6f1d3c7e2b9a5e4f9c1d0b5a7e3f2d10_2 kra_ref KRA0A1B2C3D4E ckyc 12345678901234",
    ],
)
def test_ids_timestamps_and_codes_pass_untouched(text: str) -> None:
    assert scrub_text(text) == text


def test_the_processor_scrubs_nested_values_integers_and_exception_text() -> None:
    event = {
        "event": "signup for a@b.in",
        "fields": {"phone": "+14155550123", "list": ["ABCPE1234F"]},
        "aadhaar": 234567890123,
        "count": 3,
        "_record": "kept as is",
    }
    assert scrub_personal_data(None, "info", event) == {
        "event": "signup for [email]",
        "fields": {"phone": "[phone]", "list": ["[pan]"]},
        "aadhaar": "[aadhaar]",
        "count": 3,
        "_record": "kept as is",
    }


def test_the_production_formatter_scrubs_stdlib_records_and_tracebacks() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter())
    logger = logging.getLogger("bondflow.test.scrub")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            raise ValueError("bad value ABCPE1234F for x@y.in")
        except ValueError:
            logger.exception("while handling %s", "+919812345678")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    line = stream.getvalue()
    assert "ABCPE1234F" not in line and "x@y.in" not in line and "9812345678" not in line
    assert "[pan]" in line and "[email]" in line and "[phone]" in line
