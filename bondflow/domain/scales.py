"""The scale each decimal is decided at, which is also the scale of its published contract (schemas/avro).

DOMAIN.md: rounding happens once, where a value is decided, half-up (money to paise, prices to 4 places).
Values enter events already at these scales, so what is stored, hashed and published is one number; the
Avro encoder refuses anything else rather than round it.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Context, Decimal

MONEY_PLACES = 2
PRICE_PLACES = 4
QTY_PLACES = 6
ACCRUED_PER_100_PLACES = 20  # accrued interest per 100 face: exact enough for any consideration
PER_UNIT_PLACES = 20  # a corporate action's INR per unit: exact enough for any holding's payment

_WIDE = 100  # context precision: quantizing never runs out of digits


def half_up(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), context=Context(prec=_WIDE, rounding=ROUND_HALF_UP))


def price_at_most(value: Decimal) -> Decimal:
    """The highest 4-place price not above `value` (an upper band edge stays inside the band)."""
    return value.quantize(Decimal(1).scaleb(-PRICE_PLACES), context=Context(prec=_WIDE, rounding=ROUND_FLOOR))


def price_at_least(value: Decimal) -> Decimal:
    """The lowest 4-place price not below `value` (a lower band edge stays inside the band)."""
    return value.quantize(
        Decimal(1).scaleb(-PRICE_PLACES), context=Context(prec=_WIDE, rounding=ROUND_CEILING)
    )
