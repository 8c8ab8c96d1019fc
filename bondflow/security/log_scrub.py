"""A structlog processor that masks anything looking like personal data in every log line.

Logs should carry ids only; this is the net under that rule. It rewrites every string in the event
dictionary (nested too, exception text included): emails, phone numbers (E.164 and Indian mobiles),
PANs and Aadhaar numbers become `[email]`, `[phone]`, `[pan]`, `[aadhaar]`. The patterns are anchored on
word boundaries that exclude hex and hyphens, so UUIDs, trace ids and timestamps pass untouched.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_EDGE_BEFORE = r"(?<![\w\-+.])"
_EDGE_AFTER = r"(?![\w\-])"

PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+"),
        "[email]",
    ),
    (re.compile(_EDGE_BEFORE + r"[A-Za-z]{5}[0-9]{4}[A-Za-z]" + _EDGE_AFTER), "[pan]"),
    (re.compile(r"(?<![\w\-])\+[1-9][0-9]{6,14}" + _EDGE_AFTER), "[phone]"),
    (re.compile(_EDGE_BEFORE + r"(?:\+?91[ -]?)?[6-9][0-9]{4}[ -]?[0-9]{5}" + _EDGE_AFTER), "[phone]"),
    (re.compile(_EDGE_BEFORE + r"[2-9][0-9]{3}[ -]?[0-9]{4}[ -]?[0-9]{4}" + _EDGE_AFTER), "[aadhaar]"),
)


def scrub_text(text: str) -> str:
    for pattern, mask in PATTERNS:
        text = pattern.sub(mask, text)
    return text


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, Mapping):
        return {k: _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    if isinstance(value, bytes | bytearray):
        return scrub_text(bytes(value).decode("utf-8", "replace"))
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**9:
        text = str(value)  # a phone or Aadhaar number logged as an integer
        masked = scrub_text(text)
        return value if masked == text else masked
    return value


def scrub_personal_data(_logger: Any, _method: str, event_dict: Any) -> Any:
    """structlog processor: run it last before rendering so exception text is covered too."""
    return {k: v if k.startswith("_") else _scrub(v) for k, v in event_dict.items()}
