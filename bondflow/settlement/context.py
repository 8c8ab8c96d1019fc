"""The settlement context's services, built once by the composition root: commands, the saga, the effect
workers with their sandbox adapters (chain ledger, payouts), the deadline timer and the fault switches."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bondflow.adapters.chain_port import ChainUnavailable
from bondflow.adapters.chain_sandbox import SandboxChain
from bondflow.adapters.payments_port import PaymentProviderUnavailable
from bondflow.adapters.payout_sandbox import SandboxPayouts
from bondflow.adapters.postgres import Database
from bondflow.adapters.sandbox_faults import FaultSwitches
from bondflow.clock import Clock
from bondflow.eventstore import EventStore
from bondflow.followers import Follower
from bondflow.resilience import CircuitBreaker, Retrying
from bondflow.settings import Settings
from bondflow.settlement.commands import SettlementCommands
from bondflow.settlement.effects import ChainLegWorker, PaymentLegWorker
from bondflow.settlement.saga import SettlementSaga
from bondflow.settlement.timer import DeadlineTimer
from commands.escrow import EscrowService
from projections.settlements_view import SettlementsProjector


@dataclass
class Settling:
    commands: SettlementCommands
    saga: SettlementSaga
    payments_worker: PaymentLegWorker
    chain_worker: ChainLegWorker
    timer: DeadlineTimer
    chain: SandboxChain
    payouts: SandboxPayouts
    projector: SettlementsProjector

    @property
    def followers(self) -> tuple[Follower, ...]:
        """What runs as followers of the log (the timer runs under its own `TimerRunner`)."""
        return (self.projector, self.saga, self.payments_worker, self.chain_worker)


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
    payouts = SandboxPayouts(db, payment_faults)
    payouts.setup()
    pay_retry = Retrying(CircuitBreaker("payments"), (PaymentProviderUnavailable,), seed=seed)
    chain_retry = Retrying(CircuitBreaker("chain"), (ChainUnavailable,), seed=seed)
    return Settling(
        commands=commands,
        saga=SettlementSaga(store, db, commands),
        payments_worker=PaymentLegWorker(db, commands, pay_retry, payouts),
        chain_worker=ChainLegWorker(db, commands, chain_retry, chain),
        timer=DeadlineTimer(db, store, clock, commands),
        chain=chain,
        payouts=payouts,
        projector=SettlementsProjector(db),
    )
