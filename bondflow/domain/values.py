"""Value types validated once at the edge: ISIN, side, quantity and clean price, all `Decimal`-based."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from bondflow.errors import InvalidRequest

_ISIN_SHAPE = re.compile(r"^[A-Z]{2}[A-Z0-9]{9}[0-9]$")
_DECIMAL_TEXT = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]{1,4})?$")

MAX_QTY = Decimal("1000000000")  # a billion units: far above any single retail order
MAX_PRICE = Decimal("100000")  # clean price per 100 face


Refusal = type[InvalidRequest]


def _refuse(field: str, message: str, refusal: Refusal = InvalidRequest) -> InvalidRequest:
    return refusal(f"{field}: {message}", {"fields": {field: message}})


def isin_check_digit_ok(isin: str) -> bool:
    """ISO 6166: letters become two digits (A=10 … Z=35), then the Luhn check over the digit string."""
    digits = "".join(str(int(ch, 36)) for ch in isin[:-1])
    total = 0
    for index, ch in enumerate(reversed(digits)):
        value = int(ch)
        if index % 2 == 0:  # rightmost digit of the payload is doubled (the check digit is excluded)
            value *= 2
            value = value - 9 if value > 9 else value
        total += value
    return (10 - total % 10) % 10 == int(isin[-1])


@dataclass(frozen=True, slots=True)
class Isin:
    value: str

    @classmethod
    def parse(cls, raw: object, field: str = "isin", refusal: Refusal = InvalidRequest) -> Isin:
        if not isinstance(raw, str):
            raise _refuse(field, "must be a string", refusal)
        if not _ISIN_SHAPE.match(raw):
            raise _refuse(field, "must be 12 characters: 2 letters, 9 letters or digits, 1 digit", refusal)
        if not isin_check_digit_ok(raw):
            raise _refuse(field, "check digit does not match (ISO 6166)", refusal)
        return cls(raw)

    def __str__(self) -> str:
        return self.value


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"

    @classmethod
    def parse(cls, raw: object, field: str = "side") -> Side:
        if raw not in ("BUY", "SELL"):
            raise _refuse(field, "must be BUY or SELL")
        return cls(str(raw))


def exact_decimal(raw: object, field: str, refusal: Refusal = InvalidRequest) -> Decimal:
    """A JSON number (already parsed exactly as `Decimal`/`int`) or a decimal string; never a float or bool."""
    if isinstance(raw, bool) or raw is None:
        raise _refuse(field, "must be a decimal number or a decimal string", refusal)
    if isinstance(raw, int):
        if abs(raw) > 10**30:
            raise _refuse(field, "is out of range", refusal)
        return Decimal(raw)
    if isinstance(raw, Decimal):
        value = raw
    elif isinstance(raw, str) and len(raw) <= 64 and _DECIMAL_TEXT.match(raw.strip()):
        try:
            value = Decimal(raw.strip())
        except InvalidOperation as exc:  # pragma: no cover - the pattern admits only valid text
            raise _refuse(field, "is not a decimal number", refusal) from exc
    else:
        raise _refuse(field, "must be a decimal number or a decimal string", refusal)
    if not value.is_finite() or value.adjusted() > 30:
        raise _refuse(field, "is out of range", refusal)
    return value


def _places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def decimal_with_places(raw: object, field: str, places: int, maximum: Decimal) -> Decimal:
    """`exact_decimal` with at most `places` decimal places and at most `maximum`: the figures its published
    contract can carry exactly (the encoder never rounds)."""
    value = exact_decimal(raw, field)
    if _places(value) > places:
        raise _refuse(field, f"at most {places} decimal places")
    if value > maximum:
        raise _refuse(field, f"must not exceed {maximum}")
    return value


@dataclass(frozen=True, slots=True)
class Quantity:
    """Units of a bond (one unit = its face value); tokenized, so fractions to 6 places are allowed."""

    value: Decimal

    @classmethod
    def parse(cls, raw: object, field: str = "qty", refusal: Refusal = InvalidRequest) -> Quantity:
        value = exact_decimal(raw, field, refusal)
        if value <= 0:
            raise _refuse(field, "must be greater than 0", refusal)
        if _places(value) > 6:
            raise _refuse(field, "at most 6 decimal places", refusal)
        if value > MAX_QTY:
            raise _refuse(field, f"must not exceed {MAX_QTY}", refusal)
        return cls(value.quantize(Decimal("0.000001")))


@dataclass(frozen=True, slots=True)
class CleanPrice:
    """A clean price per 100 of face value, at most 4 decimal places."""

    value: Decimal

    @classmethod
    def parse(
        cls, raw: object, field: str = "limit_clean_price", refusal: Refusal = InvalidRequest
    ) -> CleanPrice:
        value = exact_decimal(raw, field, refusal)
        if value <= 0:
            raise _refuse(field, "must be greater than 0", refusal)
        if _places(value) > 4:
            raise _refuse(field, "at most 4 decimal places", refusal)
        if value > MAX_PRICE:
            raise _refuse(field, f"must not exceed {MAX_PRICE}", refusal)
        return cls(value.quantize(Decimal("0.0001")))
