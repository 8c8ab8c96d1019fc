"""The one `decimal.Context` every bond computation runs under, and the rounding applied at the edge."""

from __future__ import annotations

from decimal import (
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
)

# 34 significant digits (IEEE decimal128) is far beyond the 1e-10 the analytics promise; wide exponents
# let the solver explore yields near -100% without overflow; any invalid or dividing-by-zero step raises.
MATH_CONTEXT = Context(
    prec=34,
    rounding=ROUND_HALF_EVEN,
    Emin=-999_999,
    Emax=999_999,
    traps=[InvalidOperation, DivisionByZero, Overflow],
)

PRICE_PLACES = Decimal("0.0001")  # prices, accrued interest, durations, convexity per 100 face
YIELD_PLACES = Decimal("0.000001")  # yields as decimal fractions (0.072500 = 7.25%) and PV01
MONEY_PLACES = Decimal("0.01")  # rupees to the paisa


def round_price(value: Decimal) -> Decimal:
    """A price-like figure (per 100 face) for display: 4 places, half up."""
    return value.quantize(PRICE_PLACES, rounding=ROUND_HALF_UP, context=MATH_CONTEXT)


def round_yield(value: Decimal) -> Decimal:
    """A yield (decimal fraction) for display: 6 places, half up."""
    return value.quantize(YIELD_PLACES, rounding=ROUND_HALF_UP, context=MATH_CONTEXT)


def round_money(value: Decimal) -> Decimal:
    """An amount of rupees for display or payment: to the paisa, half up."""
    return value.quantize(MONEY_PLACES, rounding=ROUND_HALF_UP, context=MATH_CONTEXT)
