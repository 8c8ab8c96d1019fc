"""Demo data for embedded mode: a handful of bonds covering every day count and coupon frequency, and the
market's holidays. Idempotent: seeding twice changes nothing."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from bondflow.errors import BondFlowError, InstrumentAlreadyListed
from bondflow.security.principal import ROLE_SCOPES, Principal, Role
from commands.instruments.handlers import InstrumentCommands, ListInstrument
from commands.kernel.context import CommandContext

log = logging.getLogger(__name__)

DEMO_BONDS: list[dict[str, Any]] = [
    {
        "isin": "INE123A07043",
        "issuer": "Demo Housing Finance Ltd",
        "name": "DHFL 8.75% 2031 annual",
        "coupon_rate": "8.75",
        "coupon_frequency": 1,
        "issue_date": "2024-03-15",
        "maturity_date": "2031-03-15",
        "face_value": "1000",
        "day_count": "ACT/ACT-SEBI",
        "rating": "AA+",
        "reference_clean_price": "101.25",
    },
    {
        "isin": "INE531F07129",
        "issuer": "Demo Infra Ltd",
        "name": "DIL 9.10% 2029 quarterly",
        "coupon_rate": "9.10",
        "coupon_frequency": 4,
        "issue_date": "2024-02-29",
        "maturity_date": "2029-02-28",
        "face_value": "1000",
        "day_count": "ACT/ACT-SEBI",
        "rating": "A+",
        "reference_clean_price": "99.80",
    },
    {
        "isin": "INE001A07322",
        "issuer": "Demo NBFC Ltd",
        "name": "DNL 10.25% 2028 monthly",
        "coupon_rate": "10.25",
        "coupon_frequency": 12,
        "issue_date": "2025-01-10",
        "maturity_date": "2028-01-10",
        "face_value": "1000",
        "day_count": "ACT/365F",
        "rating": "A",
        "reference_clean_price": "100.40",
        "eligible_investor_categories": ["hni", "institutional"],
    },
    {
        "isin": "IN0020240019",
        "issuer": "Government of India",
        "name": "7.18% GS 2034",
        "coupon_rate": "7.18",
        "coupon_frequency": 2,
        "issue_date": "2024-07-24",
        "maturity_date": "2034-07-24",
        "face_value": "100",
        "day_count": "30E/360",
        "rating": "SOV",
        "reference_clean_price": "101.90",
        "allowed_residencies": ["IN", "AE", "GB", "SG", "US"],
    },
    {
        "isin": "INE134E08412",
        "issuer": "Demo Power Finance Corp",
        "name": "DPFC 7.45% 2035 semi-annual",
        "coupon_rate": "7.45",
        "coupon_frequency": 2,
        "issue_date": "2025-06-16",
        "maturity_date": "2035-06-15",
        "face_value": "1000",
        "day_count": "ACT/ACT-SEBI",
        "rating": "AAA",
        "reference_clean_price": "100.15",
    },
    {
        "isin": "INE296A07906",
        "issuer": "Demo Capital Ltd",
        "name": "DCL 8.40% 2030 ACT/365F annual",
        "coupon_rate": "8.40",
        "coupon_frequency": 1,
        "issue_date": "2025-09-01",
        "maturity_date": "2030-09-01",
        "face_value": "1000",
        "day_count": "ACT/365F",
        "rating": "AA",
        "reference_clean_price": "100.00",
        "lockup_until": "2026-03-01",
    },
]

# Trading holidays as published for the Indian market (data, not code; admins add more over the API).
HOLIDAYS: list[tuple[str, str]] = [
    ("2026-01-26", "Republic Day"),
    ("2026-03-03", "Holi"),
    ("2026-03-26", "Ram Navami"),
    ("2026-03-31", "Mahavir Jayanti"),
    ("2026-04-03", "Good Friday"),
    ("2026-04-14", "Dr. Ambedkar Jayanti"),
    ("2026-05-01", "Maharashtra Day"),
    ("2026-05-28", "Bakri Id"),
    ("2026-06-26", "Muharram"),
    ("2026-08-15", "Independence Day"),
    ("2026-09-14", "Ganesh Chaturthi"),
    ("2026-10-02", "Gandhi Jayanti"),
    ("2026-10-20", "Dussehra"),
    ("2026-11-10", "Diwali Balipratipada"),
    ("2026-11-24", "Guru Nanak Jayanti"),
    ("2026-12-25", "Christmas"),
    ("2027-01-26", "Republic Day"),
    ("2027-03-22", "Holi"),
    ("2027-03-26", "Good Friday"),
    ("2027-04-14", "Dr. Ambedkar Jayanti"),
    ("2027-05-01", "Maharashtra Day"),
    ("2027-08-15", "Independence Day"),
    ("2027-10-02", "Gandhi Jayanti"),
    ("2027-12-25", "Christmas"),
]

SEED_ACTOR = Principal("system:seed", Role.ADMIN, ROLE_SCOPES[Role.ADMIN])


def seed_demo(commands: InstrumentCommands) -> int:
    """List the demo bonds and holidays that are missing; return how many things were added."""
    ctx = CommandContext(SEED_ACTOR, "seed")
    added = 0
    for day, name in HOLIDAYS:
        before = commands.holiday_count()
        commands.add_holiday(date.fromisoformat(day), name, ctx)
        added += commands.holiday_count() - before
    for bond in DEMO_BONDS:
        try:
            commands.list_instrument(ListInstrument.from_body(dict(bond)), ctx)
            added += 1
        except InstrumentAlreadyListed:
            continue
        except BondFlowError:  # pragma: no cover - the demo data is valid; say so loudly if it is not
            log.exception("demo bond %s refused", bond["isin"])
            raise
    return added
