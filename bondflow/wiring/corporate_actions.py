"""The corporate-actions context's services, built once by the composition root: the TDS configuration
from settings, the payouts, and the coupon job with the runner that ticks it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bondflow.adapters.chain_sandbox import SandboxChain
from bondflow.domain.tds import TdsConfig
from bondflow.runtime.clock import Clock
from bondflow.runtime.eventstore import EventStore
from bondflow.saga.timer import TimerRunner
from bondflow.settings import Settings
from bondflow.workers.coupon_job import CouponJob
from commands.corporate_actions.job_commands import CorporateActionCommands
from commands.corporate_actions.payouts import Payouts
from commands.corporate_actions.tax_profiles import TaxProfiles
from commands.payments.escrow import EscrowService


class CouponJobRunner(TimerRunner):
    """Ticks the coupon job (its interval is a setting; a tick with nothing due reads no aggregate)."""


def tds_config(settings: Settings) -> TdsConfig:
    return TdsConfig(
        resident_rate=settings.tds_resident_rate_pct,
        no_pan_rate=settings.tds_no_pan_rate_pct,
        non_resident_base_rate=settings.tds_non_resident_rate_pct,
        non_resident_surcharge_pct=settings.tds_non_resident_surcharge_pct,
        non_resident_cess_pct=settings.tds_non_resident_cess_pct,
        thresholds={2000: Decimal(5000), 2025: settings.tds_threshold_inr},
    )


@dataclass
class CorporateActions:
    job: CouponJob
    profiles: TaxProfiles
    tds: TdsConfig


def build_corporate_actions(
    settings: Settings, store: EventStore, clock: Clock, chain: SandboxChain, escrow: EscrowService
) -> CorporateActions:
    profiles = TaxProfiles(store)
    config = tds_config(settings)
    job = CouponJob(
        store,
        clock,
        chain,
        CorporateActionCommands(store, Payouts(store, escrow, profiles, config)),
        issue_units=settings.token_issue_units,
        lead_days=settings.coupon_job_lead_days,
    )
    return CorporateActions(job, profiles, config)
