"""The TaxDeclaration aggregate: an investor's Form 15G or 15H for one financial year (no TDS on interest
below the taxable limit, Income-tax Act s.197A). One per (investor, financial year): its id is derived
from both, so a second filing for the same year collides. Only the form and the year are recorded (the
declared income stays on the paper form). Event class paths are stored data: never move them.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from bondflow.domain.ids import derived_id
from bondflow.errors import InvalidRequest

FIRST_YEAR = 2000
LAST_YEAR = 2100


class DeclarationForm(StrEnum):
    FORM_15G = "15G"  # resident individuals below 60
    FORM_15H = "15H"  # resident individuals of 60 or more

    @classmethod
    def parse(cls, raw: object) -> DeclarationForm:
        if not isinstance(raw, str) or raw not in {f.value for f in cls}:
            raise InvalidRequest("form: must be 15G or 15H", {"fields": {"form": "must be 15G or 15H"}})
        return cls(str(raw))


def parse_financial_year(raw: object) -> int:
    """`"2026-27"` → 2026 (the year the financial year starts in)."""
    problem = InvalidRequest(
        "financial_year: must be like 2026-27", {"fields": {"financial_year": "must be like 2026-27"}}
    )
    if not isinstance(raw, str) or len(raw) != 7 or raw[4] != "-" or not (raw[:4] + raw[5:]).isdigit():
        raise problem
    start = int(raw[:4])
    if not FIRST_YEAR <= start <= LAST_YEAR or int(raw[5:]) != (start + 1) % 100:
        raise problem
    return start


def declaration_id(user_id: str, financial_year: int) -> UUID:
    return derived_id("tax_declaration", user_id, str(financial_year))


class TaxDeclaration(Aggregate):
    class Filed(Aggregate.Created):
        user_id: str
        form: str
        financial_year: int
        filed_at: datetime
        actor_id: str
        request_id: str

    @event(Filed)
    def __init__(
        self,
        *,
        id: UUID,
        user_id: str,
        form: str,
        financial_year: int,
        filed_at: datetime,
        actor_id: str,
        request_id: str,
    ) -> None:
        self.user_id = user_id
        self.form = form
        self.financial_year = financial_year
        self.filed_at = filed_at
