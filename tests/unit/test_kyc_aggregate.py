"""The KycCase aggregate: given events, when the provider answers, then one decision — never two."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from bondflow.domain.kyc import KycCase, KycStatus, case_id_for, case_id_of_token
from bondflow.errors import Forbidden

NOW = datetime(2026, 11, 23, 10, tzinfo=UTC)
USER = uuid.uuid4()


def started() -> KycCase:
    return KycCase(
        id=case_id_for(USER),
        user_id=str(USER),
        pan_hash="h" * 64,
        with_aadhaar=False,
        consent_id="c",
        started_at=NOW,
        actor_id=str(USER),
        request_id="r",
    )


def answer(case: KycCase, event_id: str, verified: bool = True, token: str | None = None) -> bool:
    return case.record_provider_result(
        provider_event_id=event_id,
        process_token=token or case.process_token,
        verified=verified,
        tier="basic" if verified else None,
        kra_ref="KRA1",
        ckyc_no="1" * 14 if verified else None,
        decided_at=NOW,
        actor_id="kyc-provider",
        request_id="r",
    )


def events_of(case: KycCase) -> list[str]:
    return [type(e).__name__ for e in case.collect_events()]


def test_the_process_token_names_the_case_and_attempt() -> None:
    case = started()
    assert case_id_of_token(case.process_token) == case.id
    assert case.process_token.endswith("_1")
    assert case_id_of_token("kyc_nothex_1") is None


def test_a_verification_is_recorded_once_however_often_it_is_delivered() -> None:
    case = started()
    assert answer(case, "e1") is True
    assert answer(case, "e1") is False
    assert answer(case, "e2", verified=False) is False  # a late contradiction changes nothing
    assert events_of(case) == ["Started", "Verified"]
    assert (case.status, case.tier, case.kra_ref) == (KycStatus.VERIFIED, "basic", "KRA1")


def test_an_answer_for_an_earlier_attempt_is_ignored_after_a_restart() -> None:
    case = started()
    old_token = case.process_token
    answer(case, "e1", verified=False)
    assert case.restart(
        pan_hash="g" * 64, with_aadhaar=True, consent_id="c", started_at=NOW, actor_id="u", request_id="r"
    )
    assert answer(case, "e9", token=old_token) is False
    assert case.status is KycStatus.PENDING
    assert answer(case, "e2") is True
    assert events_of(case) == ["Started", "Rejected", "Restarted", "Verified"]


def test_only_a_rejected_case_restarts() -> None:
    case = started()
    assert not case.restart(
        pan_hash="g" * 64, with_aadhaar=False, consent_id="c", started_at=NOW, actor_id="u", request_id="r"
    )
    assert events_of(case) == ["Started"]


def test_an_admin_cannot_approve_their_own_kyc() -> None:
    case = started()
    with pytest.raises(Forbidden):
        case.approve_manually(tier="full", reason="self", decided_at=NOW, actor_id=str(USER), request_id="r")
    assert case.approve_manually(
        tier="full", reason="checked", decided_at=NOW, actor_id="admin-1", request_id="r"
    )
    assert (case.status, case.tier) == (KycStatus.VERIFIED, "full")


def test_a_pending_case_restarts_only_when_its_consent_was_renewed_and_the_old_answer_is_then_ignored() -> (
    None
):
    case = started()
    first = case.process_token
    again = {"pan_hash": "h" * 64, "with_aadhaar": False, "consent_id": "c", "started_at": NOW}
    assert not case.restart(**again, actor_id=str(USER), request_id="r")  # pending: nothing changes
    assert case.restart(**again, actor_id=str(USER), request_id="r", consent_renewed=True)
    assert case.process_token != first and case.status is KycStatus.PENDING
    assert not answer(case, "evt-old", token=first)  # the provider's answer to the withdrawn attempt
    assert answer(case, "evt-new") and case.status is KycStatus.VERIFIED
    assert not case.restart(**again, actor_id=str(USER), request_id="r", consent_renewed=True)  # verified
