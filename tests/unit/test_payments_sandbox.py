"""The sandbox payments provider: one signed webhook per idempotency key, `.13` paise fail, faults switch on.
Its memory and its pending webhooks are in PostgreSQL (the test's database); a thread plays the webhook
pump that `bondflow serve` runs as a follower of the clock."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import orjson
import pytest

from bondflow.adapters.payments_port import PaymentProviderUnavailable
from bondflow.adapters.payments_sandbox import SandboxPaymentProvider
from bondflow.adapters.postgres import Database
from bondflow.adapters.sandbox_faults import Faults
from bondflow.adapters.webhook_outbox import WebhookOutbox
from bondflow.adapters.webhook_sender import SignedWebhookSender
from bondflow.errors import PaymentInitiationFailed
from bondflow.runtime.clock import ManualClock
from bondflow.security.webhooks import signature


class Inbox:
    def __init__(self) -> None:
        self.received: list[tuple[bytes, dict[str, str]]] = []
        self.arrived = threading.Event()

    def __call__(self, body: bytes, headers: dict[str, str]) -> int:
        self.received.append((body, headers))
        self.arrived.set()
        return 202


PUMPS: list[tuple[SignedWebhookSender, threading.Thread]] = []


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url, pool_size=4)
    database.open()
    yield database
    for sender, thread in PUMPS:  # every pump stops before its database goes away
        sender.close()
        thread.join(5)
    PUMPS.clear()
    database.close()


def sandbox(inbox: Inbox, db: Database, faults: Faults | None = None) -> SandboxPaymentProvider:
    """A fresh provider on the test's database, with a thread that delivers its due webhooks until closed."""
    clock = ManualClock(datetime(2026, 11, 23, tzinfo=UTC))
    sender = SignedWebhookSender(inbox, "s3cret", clock, WebhookOutbox(db, "payments"))
    provider = SandboxPaymentProvider(sender, db, delay_seconds=0.01, faults=faults)
    provider.setup()
    with db.transaction() as cur:
        cur.execute("TRUNCATE sandbox_payments, sandbox_webhooks")

    def pump() -> None:
        while not sender.closed:
            sender.deliver_due()
            time.sleep(0.005)

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    PUMPS.append((sender, thread))
    return provider


def test_the_same_key_gives_the_same_reference_and_one_signed_webhook(db: Database) -> None:
    inbox = Inbox()
    provider = sandbox(inbox, db)
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


def test_amounts_ending_in_13_paise_fail(db: Database) -> None:
    inbox = Inbox()
    provider = sandbox(inbox, db)
    provider.initiate("pay-1", Decimal("99.13"), "NEFT", "key-1")
    assert inbox.arrived.wait(2)
    provider.close()
    assert orjson.loads(inbox.received[0][0])["status"] == "FAILED"


def test_fail_next_refuses_and_timeout_next_times_out_once(db: Database) -> None:
    provider = sandbox(Inbox(), db)
    provider.faults.set("fail_next")
    with pytest.raises(PaymentInitiationFailed):
        provider.initiate("pay-1", Decimal("1"), "UPI", "key-1")
    provider.faults.set("timeout_next")
    with pytest.raises(PaymentProviderUnavailable):
        provider.initiate("pay-1", Decimal("1"), "UPI", "key-1")
    assert provider.initiate("pay-1", Decimal("1"), "UPI", "key-1").startswith("SBXUPI")
    provider.close()


def test_a_fail_rate_is_reproducible_for_a_seed(db: Database) -> None:
    def outcomes() -> list[str]:
        provider = sandbox(Inbox(), db, Faults(fail_rate=0.5, seed=7))
        for n in range(20):
            provider.initiate(f"pay-{n}", Decimal("1"), "UPI", f"key-{n}")
        provider.close()
        return [orjson.loads(provider.sent[f"pay-{n}"])["status"] for n in range(20)]

    first = outcomes()
    assert first == outcomes() and {"FAILED", "CONFIRMED"} <= set(first)


def test_a_duplicate_rate_delivers_the_same_webhook_twice(db: Database) -> None:
    inbox = Inbox()
    provider = sandbox(inbox, db, Faults(duplicate_rate=1.0))
    provider.initiate("pay-1", Decimal("1"), "UPI", "key-1")
    deadline = time.monotonic() + 3
    while len(inbox.received) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    provider.close()
    bodies = [body for body, _headers in inbox.received]
    assert len(bodies) == 2 and bodies[0] == bodies[1]
    assert inbox.received[0][1]["X-BF-Nonce"] != inbox.received[1][1]["X-BF-Nonce"]
