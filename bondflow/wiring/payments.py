"""The payments context's services, built once by the composition root: the escrow service the order
path uses, payment commands, the webhook verifier, the sandbox provider, the followers, and the clock
followers (the sandbox's webhook pump and the reconciler that queries the provider and raises breaks)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bondflow.adapters.payments_sandbox import SandboxPaymentProvider
from bondflow.adapters.postgres import Database
from bondflow.adapters.sandbox_faults import FaultSwitches
from bondflow.adapters.webhook_outbox import WebhookOutbox, WebhookPump
from bondflow.adapters.webhook_sender import Delivery, HttpDelivery, SignedWebhookSender
from bondflow.runtime.clock import Clock
from bondflow.runtime.eventstore import EventStore
from bondflow.runtime.followers import Follower
from bondflow.security.webhooks import WebhookVerifier
from bondflow.settings import Settings
from bondflow.wiring.investors import loopback_webhook_url
from bondflow.workers.payment_reconciler import PaymentReconciler
from bondflow.workers.payments import PaymentEffectWorker
from commands.kernel.idempotency import InFlightGuard
from commands.payments.escrow import EscrowService
from commands.payments.handlers import PaymentCommands

WEBHOOK_PATH = "/v1/payments/webhook"


@dataclass
class Payments:
    escrow: EscrowService
    commands: PaymentCommands
    provider: SandboxPaymentProvider
    reconciler: PaymentReconciler
    followers: tuple[Follower, ...]
    timers: tuple[Any, ...]  # followers of the clock, run by `TimerRunner`: the webhook pump, the reconciler

    def close(self) -> None:
        self.provider.close()


def build_payments(
    settings: Settings,
    db: Database,
    store: EventStore,
    clock: Clock,
    *,
    delivery: Delivery | None = None,
    faults: FaultSwitches | None = None,
) -> Payments:
    secrets = settings.webhook_hmac_secret.get_secret_value()
    verifier = WebhookVerifier(db, clock, secrets, source="payments")
    verifier.setup()
    escrow = EscrowService(store)
    commands = PaymentCommands(store, escrow, InFlightGuard(db), verifier)
    url = loopback_webhook_url(settings).split("/v1/", 1)[0] + WEBHOOK_PATH  # the server's own address
    sender = SignedWebhookSender(
        delivery or HttpDelivery(url),
        secrets.split(",")[0].strip(),  # providers sign with the newest secret; we accept every listed one
        clock,
        WebhookOutbox(db, "payments"),
    )
    provider = SandboxPaymentProvider(
        sender,
        db,
        delay_seconds=settings.payments_sandbox_delay_seconds,
        faults=faults,
    )
    provider.setup()
    followers: tuple[Follower, ...] = (PaymentEffectWorker(db, provider, commands.outcomes),)
    pump = WebhookPump("payments_webhooks", sender, sender.outbox, store.head_position)
    reconciler = PaymentReconciler(
        db,
        store,
        clock,
        provider,
        commands.outcomes,
        check_seconds=settings.payments_status_check_seconds,
        deadline_seconds=settings.payments_deadline_seconds,
    )
    return Payments(escrow, commands, provider, reconciler, followers, (pump, reconciler))
