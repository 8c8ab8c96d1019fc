"""What each command route accepts, as pydantic models published in `/openapi.json` (API.md: the OpenAPI
document is exact). The server still parses every body exactly (no float touches money) and the handlers
decide; these models only state the same constraints so generated clients and fuzzers send what is
accepted. Decimals are published as strings with their scale in the pattern (a JSON number is accepted too,
but a client should not send money as a binary float).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ISIN = r"^[A-Z]{2}[A-Z0-9]{9}[0-9]$"
QTY = r"^(0\.[0-9]{0,5}[1-9]|[1-9][0-9]{0,8}(\.[0-9]{1,6})?)$"  # > 0, ≤ 6 places, < 1e9
PRICE = r"^(0\.[0-9]{0,3}[1-9]|[1-9][0-9]{0,4}(\.[0-9]{1,4})?)$"  # > 0, ≤ 4 places, < 100000
AMOUNT = (
    r"^(0\.[0-9]?[1-9]|[1-9][0-9]{0,7}(\.[0-9]{1,2})?|100000000(\.00?)?)$"  # INR > 0, ≤ 2 places, ≤ ₹10 crore
)
AMOUNT_OR_ZERO = r"^(0|0\.[0-9]?[1-9]|[1-9][0-9]{0,10}(\.[0-9]{1,2})?)$"
PAN = r"^[A-Z]{5}[0-9]{4}[A-Z]$"
E164 = r"^\+[1-9][0-9]{6,14}$"
COUNTRY = r"^[A-Z]{2}$"
EMAIL = r"^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})+$"
# "2026-27": the second year is the first plus one, which a character class cannot say, so every one is listed
FINANCIAL_YEAR = "^(" + "|".join(f"{year}-{(year + 1) % 100:02d}" for year in range(2020, 2100)) + ")$"

Isin = Annotated[
    str, Field(pattern=ISIN, examples=["INE123A07043"], description="ISO 6166, check digit verified")
]
Reason = Annotated[str, Field(min_length=3, max_length=500)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PlaceOrderRequest(Strict):
    isin: Isin
    side: Literal["BUY", "SELL"]
    qty: Annotated[str, Field(pattern=QTY, examples=["10"], description="units, up to 6 places")]
    limit_clean_price: Annotated[
        str | None,
        Field(
            pattern=PRICE,
            examples=["101.5"],
            description="clean price per 100 face, up to 4 places; omit for a market order",
        ),
    ] = None


class DepositRequest(Strict):
    amount: Annotated[str, Field(pattern=AMOUNT, examples=["25000.00"], description="INR, up to 2 places")]
    method: Literal["UPI", "RTGS", "NEFT"]


class WithdrawalRequest(Strict):
    amount: Annotated[str, Field(pattern=AMOUNT, examples=["25000.00"], description="INR, up to 2 places")]
    method: Literal["UPI", "RTGS", "NEFT"] = "NEFT"  # the server's default; null is not accepted


class ResolvePaymentRequest(Strict):
    bank_amount: Annotated[
        str | None,
        Field(pattern=AMOUNT_OR_ZERO, description="INR the bank statement shows (0: nothing arrived)"),
    ] = None


class SignUpRequest(Strict):
    email: Annotated[str, Field(pattern=EMAIL, max_length=254, examples=["asha@example.in"])]
    password: Annotated[str, Field(min_length=12, max_length=1024)]
    phone: Annotated[str | None, Field(pattern=E164, examples=["+919812345678"])] = None
    residency: Annotated[str, Field(pattern=COUNTRY)] = "IN"
    investor_category: Literal["retail", "hni", "institutional"] = "retail"


class LogInRequest(Strict):
    email: Annotated[str, Field(max_length=254)]
    password: Annotated[str, Field(max_length=1024)]


class StartKycRequest(Strict):
    pan: Annotated[str, Field(pattern=PAN, examples=["ABCPE1234F"])]
    aadhaar_last4: Annotated[str | None, Field(pattern=r"^[0-9]{4}$")] = None
    consent: Literal[True]


class ApproveKycRequest(Strict):
    tier: Literal["basic", "full"]
    reason: Reason


class InvestorCategoryRequest(Strict):
    investor_category: Literal["retail", "hni", "institutional"]
    reason: Reason


class ReferencePriceRequest(Strict):
    clean_price: Annotated[str, Field(pattern=PRICE)]


class SuspendRequest(Strict):
    reason: Reason = "suspended by admin"  # the server's default; null is not accepted


class HolidayRequest(Strict):
    date: dt.date
    name: Annotated[str, Field(min_length=1, max_length=200)]


class DeclarationRequest(Strict):
    form: Literal["15G", "15H"]
    financial_year: Annotated[str, Field(pattern=FINANCIAL_YEAR, examples=["2026-27"])]


class FaultRequest(Strict):
    target: Literal["payments", "chain", "kyc", "venue"]
    mode: Literal[
        "fail_next",
        "timeout_next",
        "hold_fail_next",
        "fail_rate",
        "timeout_rate",
        "duplicate_rate",
        "stall_rate",
        "hold_fail_rate",
    ]
    value: Annotated[str | None, Field(pattern=r"^(0(\.[0-9]{1,6})?|1(\.0{1,6})?)$")] = None


Category = Literal["retail", "hni", "institutional"]
# A pattern, not an enum: generators name enum members after their values, and "AA+" and "AA" collide
RATING = r"^(SOV|AAA|AA[+-]?|A[+-]?|BBB[+-]?|BB[+-]?|B[+-]?|C|D)$"
BAND = r"^(50(\.0{1,2})?|[1-4][0-9](\.[0-9]{1,2})?|[1-9](\.[0-9]{1,2})?|0\.[0-9]?[1-9])$"  # > 0 and ≤ 50 %


def _every_category() -> list[Category]:
    return ["retail", "hni", "institutional"]


class RedemptionStep(Strict):
    on: dt.date
    principal_per_unit: Annotated[str, Field(pattern=r"^[0-9]{1,12}(\.[0-9]{1,2})?$")]


class ListInstrumentRequest(Strict):
    """A bond for the master; the server also checks the bond maths (issue before maturity, the schedule)."""

    isin: Isin
    issuer: Annotated[str, Field(min_length=1, max_length=200, pattern=r"\S")]
    name: Annotated[str, Field(min_length=1, max_length=200, pattern=r"\S")]
    coupon_rate: Annotated[  # annual percent, 0 to 100 (BondTerms)
        str, Field(pattern=r"^(100(\.0{1,4})?|[0-9]{1,2}(\.[0-9]{1,4})?)$", examples=["8.75"])
    ]
    coupon_frequency: Literal[1, 2, 4, 12]
    issue_date: dt.date
    maturity_date: dt.date
    face_value: Annotated[str, Field(pattern=r"^[1-9][0-9]{0,11}(\.[0-9]{1,2})?$")] = "1000"
    day_count: Literal["ACT/ACT-SEBI", "30E/360", "ACT/365F"]
    rating: Annotated[str, Field(pattern=RATING, examples=["AA+"])]
    eligible_investor_categories: list[Category] = Field(default_factory=_every_category, min_length=1)
    allowed_residencies: list[Annotated[str, Field(pattern=COUNTRY)]] = Field(
        default_factory=lambda: ["IN"], min_length=1
    )
    record_date_days: Annotated[int, Field(ge=0, le=60)] = 15
    lockup_until: dt.date | None = None
    reference_clean_price: Annotated[str, Field(pattern=PRICE, examples=["101.25"])]
    price_band_pct: Annotated[str, Field(pattern=BAND)] = "5"
    redemption_schedule: list[RedemptionStep] = Field(default_factory=list, max_length=100)


class WebhookRequest(BaseModel):
    """A provider's signed callback (its shape is the provider's; the signature headers are required)."""

    model_config = ConfigDict(extra="allow")
    event_id: Annotated[str, Field(max_length=128)]


REQUEST_BODIES: dict[tuple[str, str], type[BaseModel]] = {
    ("post", "/v1/orders"): PlaceOrderRequest,
    ("post", "/v1/instruments"): ListInstrumentRequest,
    ("post", "/v1/payments/deposits"): DepositRequest,
    ("post", "/v1/payments/withdrawals"): WithdrawalRequest,
    ("post", "/v1/ops/payments/{payment_id}/resolve"): ResolvePaymentRequest,
    ("post", "/v1/users"): SignUpRequest,
    ("post", "/v1/auth/token"): LogInRequest,
    ("post", "/v1/kyc/start"): StartKycRequest,
    ("post", "/v1/admin/kyc/{user_id}/approve"): ApproveKycRequest,
    ("post", "/v1/admin/users/{user_id}/investor-category"): InvestorCategoryRequest,
    ("put", "/v1/instruments/{isin}/reference-price"): ReferencePriceRequest,
    ("post", "/v1/instruments/{isin}/suspend"): SuspendRequest,
    ("post", "/v1/calendar/holidays"): HolidayRequest,
    ("post", "/v1/tax/declarations"): DeclarationRequest,
    ("post", "/v1/sandbox/faults"): FaultRequest,
    ("post", "/v1/kyc/webhook"): WebhookRequest,
    ("post", "/v1/payments/webhook"): WebhookRequest,
    ("post", "/v1/settlement/payouts/webhook"): WebhookRequest,
}


def body_schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema(ref_template="#/components/schemas/{model}")
