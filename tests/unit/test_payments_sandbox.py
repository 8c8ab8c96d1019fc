"""The sandbox payments provider: one signed webhook per idempotency key, `.13` paise fail, faults switch on."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from decimal import Decimal

import orjson
import pytest

from bondflow.adapters.payments_port import PaymentProviderUnavailable
from bondflow.adapters.payments_sandbox import SandboxPaymentProvider
from bondflow.adapters.sandbox_faults import Faults
from bondflow.adapters.webhook_sender import SignedWebhookSender
from bondflow.clock import ManualClock
from bondflow.errors import PaymentInitiationFailed
from bondflow.webhooks import signature


class Inbox:
    def __init__(self) -> None:
        self.received: list[tuple[bytes, dict[str, str]]] = []
        self.arrived = threading.Event()

    def __call__(self, body: bytes, headers: dict[str, str]) -> int:
        self.received.append((body, headers))
        self.arrived.set()
        return 202


def sandbox(inbox: Inbox, faults: Faults | None = None) -> SandboxPaymentProvider:
    clock = ManualClock(datetime(2026, 11, 23, tzinfo=UTC))
    return SandboxPaymentProvider(
        SignedWebhookSender(inbox, "s3cret", clock), delay_seconds=0.01, faults=faults
    )


def test_the_same_key_gives_the_same_reference_and_one_signed_webhook() -> None:
    inbox = Inbox()
    provider = sandbox(inbox)
    first = provider.initiate("pay-1", Decimal("10.00"), "UPI", "key-1")
    assert provider.initiate("pay-1", Decimal("10.00"), "UPI", "key-1") == first
    assert inbox.arrived.wait(2)
    provider.close()
    ((body, headers),) = inbox.received
    assert orjson.loads(body) == {
        "event_id": orjson.loads(body)["event_id"],
        "payment_id": "pay-1",
        "status": "CONFIRMED",
        "reference": first,
        "amount": "10.00",
    }
    assert headers["X-BF-Signature"] == signature(
        "s3cret", headers["X-BF-Timestamp"], headers["X-BF-Nonce"], body
    )


def test_amounts_ending_in_13_paise_fail() -> None:
    inbox = Inbox()
    provider = sandbox(inbox)
    provider.initiate("pay-1", Decimal("99.13"), "NEFT", "key-1")
    assert inbox.arrived.wait(2)
    provider.close()
    assert orjson.loads(inbox.received[0][0])["status"] == "FAILED"


def test_fail_next_refuses_and_timeout_next_times_out_once() -> None:
    provider = sandbox(Inbox())
    provider.faults.set("fail_next")
    with pytest.raises(PaymentInitiationFailed):
        provider.initiate("pay-1", Decimal("1"), "UPI", "key-1")
    provider.faults.set("timeout_next")
    with pytest.raises(PaymentProviderUnavailable):
        provider.initiate("pay-1", Decimal("1"), "UPI", "key-1")
    assert provider.initiate("pay-1", Decimal("1"), "UPI", "key-1").startswith("SBXUPI")
    provider.close()


def test_a_fail_rate_is_reproducible_for_a_seed() -> None:
    def outcomes() -> list[str]:
        provider = sandbox(Inbox(), Faults(fail_rate=0.5, seed=7))
        for n in range(20):
            provider.initiate(f"pay-{n}", Decimal("1"), "UPI", f"key-{n}")
        provider.close()
        return [orjson.loads(provider.sent[f"pay-{n}"])["status"] for n in range(20)]

    first = outcomes()
    assert first == outcomes() and {"FAILED", "CONFIRMED"} <= set(first)


def test_a_duplicate_rate_delivers_the_same_webhook_twice() -> None:
    inbox = Inbox()
    provider = sandbox(inbox, Faults(duplicate_rate=1.0))
    provider.initiate("pay-1", Decimal("1"), "UPI", "key-1")
    deadline = time.monotonic() + 3
    while len(inbox.received) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    provider.close()
    bodies = [body for body, _headers in inbox.received]
    assert len(bodies) == 2 and bodies[0] == bodies[1]
    assert inbox.received[0][1]["X-BF-Nonce"] != inbox.received[1][1]["X-BF-Nonce"]
