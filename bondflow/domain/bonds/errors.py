"""The one error the bond mathematics raises: a refused input, naming the offending field."""

from __future__ import annotations


class BondMathError(ValueError):
    """An input the bond mathematics cannot accept; `field` names it (e.g. "settlement_date", "ytm").

    It is a plain `ValueError` so the pure core depends on nothing; the web layer maps it to
    `InvalidRequest` (BF-REQ-001) with `details = {"fields": {field: message}}`.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
