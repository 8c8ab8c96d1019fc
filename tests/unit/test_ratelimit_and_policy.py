"""Token buckets move with the injected clock; attribute checks and separation of duties refuse clearly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bondflow.domain.policy import (
    InvestorAttributes,
    Requirement,
    check_attributes,
    ensure_not_own_kyc,
    ensure_not_own_trade,
)
from bondflow.errors import Forbidden, KycNotEligible, RateLimited
from bondflow.runtime.clock import ManualClock
from bondflow.security.ratelimit import RateLimiter

VERIFIED_RETAIL = InvestorAttributes(
    residency="IN", investor_category="retail", kyc_status="verified", kyc_tier="basic"
)


def test_a_bucket_refuses_beyond_capacity_says_when_to_retry_and_refills_with_time() -> None:
    clock = ManualClock(datetime(2026, 11, 23, tzinfo=UTC))
    limiter = RateLimiter(clock, name="login", capacity=3, per_seconds=60)
    for _ in range(3):
        limiter.take("ip-1")
    with pytest.raises(RateLimited) as refused:
        limiter.take("ip-1")
    assert refused.value.retry_after == 20
    assert refused.value.response_headers() == {"Retry-After": "20"}
    limiter.take("ip-2")  # other keys have their own bucket
    clock.advance(timedelta(seconds=20))
    limiter.take("ip-1")
    with pytest.raises(RateLimited):
        limiter.take("ip-1")


@pytest.mark.parametrize(
    ("requirement", "attribute"),
    [
        (Requirement(kyc_verified=True), None),
        (Requirement(residencies=frozenset({"IN"})), None),
        (Requirement(investor_categories=frozenset({"retail", "hni"})), None),
        (Requirement(min_kyc_tier="basic"), None),
        (Requirement(min_kyc_tier="full"), "kyc_tier"),
        (Requirement(residencies=frozenset({"AE"})), "residency"),
        (Requirement(investor_categories=frozenset({"institutional"})), "investor_category"),
    ],
)
def test_attribute_checks_name_the_attribute_that_does_not_qualify(
    requirement: Requirement, attribute: str | None
) -> None:
    if attribute is None:
        check_attributes(VERIFIED_RETAIL, requirement)
        return
    with pytest.raises(KycNotEligible) as refused:
        check_attributes(VERIFIED_RETAIL, requirement)
    assert refused.value.code == "BF-KYC-002"
    assert refused.value.details["attribute"] == attribute


def test_an_unverified_investor_fails_the_kyc_check() -> None:
    pending = InvestorAttributes(
        residency="IN", investor_category="retail", kyc_status="pending", kyc_tier=None
    )
    with pytest.raises(KycNotEligible) as refused:
        check_attributes(pending, Requirement(kyc_verified=True))
    assert refused.value.details == {"attribute": "kyc_status", "actual": "pending"}


def test_separation_of_duties_refuses_own_kyc_and_own_trades() -> None:
    with pytest.raises(Forbidden):
        ensure_not_own_kyc("u-1", "u-1")
    ensure_not_own_kyc("admin-1", "u-1")
    with pytest.raises(Forbidden) as refused:
        ensure_not_own_trade("op-1", ["investor-9", "op-1"])
    assert refused.value.details == {"rule": "no_self_trade_resolution"}
    ensure_not_own_trade("op-1", ["investor-9", "dealer-2"])
