"""The payments context's services, built once by the composition root: the escrow service the order
path uses, payment commands, the webhook verifier, the sandbox provider and the followers."""

from __future__ import annotations

from dataclasses import dataclass

from bondflow.adapters.payments_sandbox import SandboxPaymentProvider
from bondflow.adapters.postgres import Database
from bondflow.adapters.sandbox_faults import FaultSwitches
from bondflow.adapters.webhook_sender import Delivery, HttpDelivery, SignedWebhookSender
from bondflow.clock import Clock
from bondflow.eventstore import EventStore
from bondflow.followers import Follower
from bondflow.investors import loopback_webhook_url
from bondflow.payment_effects import PaymentEffectWorker
from bondflow.settings import Settings
from bondflow.webhooks import WebhookVerifier
from commands.escrow import EscrowService
from commands.idempotency import InFlightGuard
from commands.payments import PaymentCommands
from projections.escrow_view import EscrowProjector

WEBHOOK_PATH = "/v1/payments/webhook"


@dataclass
class Payments:
    escrow: EscrowService
    commands: PaymentCommands
    provider: SandboxPaymentProvider
    followers: tuple[Follower, ...]

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
    )
    provider = SandboxPaymentProvider(
        sender,
        delay_seconds=settings.payments_sandbox_delay_seconds,
        faults=faults,
    )
    followers: tuple[Follower, ...] = (EscrowProjector(db), PaymentEffectWorker(store, db, provider))
    return Payments(escrow, commands, provider, followers)
