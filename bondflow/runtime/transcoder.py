"""The stored events' JSON, read faster: `orjson` parses it and the tagged values (`{"_type_", "_data_"}`)
are revived in one walk, instead of the standard library calling a Python hook for every JSON object.

Only reading changes. Events are written by the library's encoder, byte for byte as before, and what this
reads is what the library's decoder reads: the same objects, revived bottom-up like its object hook, the
common types by their constructors and any other registered transcoding by its own `decode`. A document
`orjson` refuses (a lone surrogate, NaN) or may misread (an integer beyond 64 bits, which it reads as a
float: a document with any float) is read by the library's decoder.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Transcoding,
    UUIDAsHex,
)


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


# transcodings whose `decode` is one constructor call, revived by that call (no method call in between)
_CONSTRUCTORS: dict[type, Callable[[Any], Any]] = {
    DecimalAsStr: Decimal,
    DatetimeAsISO: datetime.fromisoformat,
    UUIDAsHex: UUID,
    DateAsISO: date.fromisoformat,
}


class FastJSONTranscoder(JSONTranscoder):
    def __init__(self) -> None:
        super().__init__()
        self._revivers: dict[str, Callable[[Any], Any]] = {}

    def register(self, transcoding: Transcoding) -> None:
        super().register(transcoding)
        self._revivers[transcoding.name] = _CONSTRUCTORS.get(type(transcoding)) or transcoding.decode

    def decode(self, data: bytes) -> Any:
        try:
            parsed = orjson.loads(data)
            kind = type(parsed)
            if kind is float:
                raise _Misread
            return self._revive(parsed) if kind is dict or kind is list else parsed
        except (orjson.JSONDecodeError, _Misread):
            return super().decode(data)

    def _revive(self, value: Any) -> Any:
        if type(value) is list:
            return [self._item(v) for v in value]
        for key, item in value.items():  # children first, as the library's object hook sees them
            kind = type(item)
            if kind is dict or kind is list:
                value[key] = self._revive(item)
            elif kind is float:  # no event holds a float: perhaps an integer beyond 64 bits, misread
                raise _Misread
        if len(value) == 2 and "_type_" in value and "_data_" in value:
            tag = value["_type_"]
            reviver = self._revivers.get(tag) if type(tag) is str else None
            return self._decode_obj(value) if reviver is None else reviver(value["_data_"])
        return value

    def _item(self, value: Any) -> Any:
        kind = type(value)
        if kind is dict or kind is list:
            return self._revive(value)
        if kind is float:
            raise _Misread
        return value


class _Misread(Exception):
    """orjson read a float: the library's decoder reads the document instead (it keeps big integers)."""
