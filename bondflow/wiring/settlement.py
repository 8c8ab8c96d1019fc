"""The settlement context's services, built once by the composition root: commands, the saga, the effect
workers with their sandbox adapters (chain ledger with holds, dealer payouts and their signed webhook),
the deadline timer (deadlines and scheduled polls) and the fault switches."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bondflow.adapters.chain_port import ChainUnavailable
from bondflow.adapters.chain_sandbox import SandboxChain
from bondflow.adapters.payments_port import PaymentProviderUnavailable
from bondflow.adapters.payout_sandbox import SandboxPayouts
from bondflow.adapters.postgres import Database
from bondflow.adapters.sandbox_faults import FaultSwitches
from bondflow.adapters.webhook_outbox import WebhookPump
from bondflow.adapters.webhook_sender import HttpDelivery
from bondflow.runtime.clock import Clock
from bondflow.runtime.eventstore import EventStore
from bondflow.runtime.followers import Follower
from bondflow.runtime.resilience import CircuitBreaker, Retrying
from bondflow.saga.follower import SettlementSaga
from bondflow.saga.timer import DeadlineTimer, Poller
from bondflow.security.webhooks import WebhookVerifier
from bondflow.settings import Settings
from bondflow.wiring.investors import loopback_webhook_url
from bondflow.workers.settlement_chain import ChainLegWorker
from bondflow.workers.settlement_payments import PaymentLegWorker
from commands.payments.escrow import EscrowService
from commands.settlement.handlers import SettlementCommands
from commands.settlement.payout_webhook import PayoutWebhook
from projections.settlements.deadlines import SettlementDeadlines

WEBHOOK_PATH = "/v1/settlement/payouts/webhook"
POLL_FLOOR = timedelta(milliseconds=10)


@dataclass
class Settling:
    commands: SettlementCommands
    saga: SettlementSaga
    payments_worker: PaymentLegWorker
    chain_worker: ChainLegWorker
    timer: DeadlineTimer
    chain: SandboxChain
    payouts: SandboxPayouts
    webhook: PayoutWebhook
    pump: WebhookPump

    def close(self) -> None:
        self.payouts.close()

    @property
    def followers(self) -> tuple[Follower, ...]:
        """What runs as followers of the log (the timer runs under its own `TimerRunner`)."""
        return (self.saga, self.payments_worker, self.chain_worker)

    @property
    def timers(self) -> tuple[WebhookPump, ...]:
        """Followers of the clock: the payouts sandbox's webhook pump."""
        return (self.pump,)


def build_settlement(
    settings: Settings,
    db: Database,
    store: EventStore,
    clock: Clock,
    escrow: EscrowService,
    payment_faults: FaultSwitches,
    chain_faults: FaultSwitches,
) -> Settling:
    commands = SettlementCommands(
        store,
        escrow,
        clock,
        payment_timeout=timedelta(seconds=settings.settlement_payment_timeout_seconds),
        token_timeout=timedelta(seconds=settings.settlement_token_timeout_seconds),
    )
    seed = settings.chain_sandbox_seed
    finality = timedelta(seconds=settings.chain_sandbox_finality_seconds)
    chain = SandboxChain(db, clock, finality_delay=finality, faults=chain_faults)
    chain.setup()
    secrets = settings.webhook_hmac_secret.get_secret_value()
    url = loopback_webhook_url(settings).split("/v1/", 1)[0] + WEBHOOK_PATH  # the server's own address
    delay = settings.payout_sandbox_delay_seconds
    payouts = SandboxPayouts(
        db,
        payment_faults,
        clock=clock,
        delivery=HttpDelivery(url),
        secret=secrets.split(",")[0].strip(),
        delay_seconds=delay,
    )
    payouts.setup()
    pay_retry = Retrying(CircuitBreaker("payments"), (PaymentProviderUnavailable,), seed=seed)
    chain_retry = Retrying(CircuitBreaker("chain"), (ChainUnavailable,), seed=seed)
    payments_worker = PaymentLegWorker(
        db, commands, pay_retry, payouts, poll_after=max(timedelta(seconds=delay), POLL_FLOOR)
    )
    chain_worker = ChainLegWorker(db, commands, chain_retry, chain, poll_after=max(finality, POLL_FLOOR))
    saga = SettlementSaga(db, commands)
    for follower in (saga, payments_worker, chain_worker):  # one lane per settlement, many at once
        follower.in_flight = settings.settlement_in_flight
    pollers: dict[str, Poller] = dict.fromkeys(chain_worker.requests, chain_worker)
    pollers.update(dict.fromkeys(payments_worker.requests, payments_worker))
    timer = DeadlineTimer(db, store, clock, commands, SettlementDeadlines(db), pollers)
    # finality and payout polls asked at once: each draws on the pool, which the legs and projectors share
    timer.in_flight = settings.settlement_polls_in_flight
    verifier = WebhookVerifier(db, clock, secrets, source="payouts")
    verifier.setup()
    return Settling(
        commands=commands,
        saga=saga,
        payments_worker=payments_worker,
        chain_worker=chain_worker,
        timer=timer,
        chain=chain,
        payouts=payouts,
        webhook=PayoutWebhook(verifier, payments_worker),
        pump=WebhookPump("payouts_webhooks", payouts.sender, payouts.sender.outbox, store.head_position),
    )
