"""The investor context's services, built once by the composition root: personal-data vault, password
hashing, login limits, user and KYC commands, the webhook verifier, the KYC provider and its followers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bondflow.adapters.kyc_sandbox import SandboxKycProvider
from bondflow.adapters.postgres import Database
from bondflow.adapters.rate_buckets import TokenBuckets
from bondflow.adapters.sandbox_faults import FaultSwitches
from bondflow.adapters.webhook_outbox import WebhookPump
from bondflow.adapters.webhook_sender import Delivery, HttpDelivery
from bondflow.runtime.clock import Clock
from bondflow.runtime.eventstore import EventStore
from bondflow.runtime.followers import Follower
from bondflow.security.email_accounts import EmailAccounts
from bondflow.security.oidc import OidcVerifier
from bondflow.security.passwords import Passwords
from bondflow.security.pii import Vault
from bondflow.security.tokens import TokenService
from bondflow.security.verified_pans import VerifiedPans
from bondflow.security.webhooks import WebhookVerifier
from bondflow.settings import Settings
from bondflow.workers.kyc import KycEffectWorker, KycHandoff
from commands.investors.kyc import KycCommands
from commands.investors.login_limits import LoginLimits
from commands.investors.users import UserCommands
from commands.trading.attributes import AttributeReader


@dataclass
class Investors:
    vault: Vault
    users: UserCommands
    kyc: KycCommands
    attributes: AttributeReader
    kyc_provider: SandboxKycProvider
    followers: tuple[Follower, ...]
    timers: tuple[Any, ...]  # followers of the clock, run by `TimerRunner`: the KYC sandbox's webhook pump

    def close(self) -> None:
        self.kyc_provider.close()


def oidc_verifier(settings: Settings, clock: Clock) -> OidcVerifier | None:
    """External OIDC tokens are accepted only when both the issuer and the audience are configured."""
    if not settings.oidc_issuer or not settings.oidc_audience:
        return None
    return OidcVerifier(settings.oidc_issuer, settings.oidc_audience, clock)


def loopback_webhook_url(settings: Settings) -> str:
    host = "127.0.0.1" if settings.http_host in {"0.0.0.0", "::", ""} else settings.http_host  # noqa: S104
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{settings.http_port}/v1/kyc/webhook"


def build_investors(
    settings: Settings,
    db: Database,
    store: EventStore,
    tokens: TokenService,
    clock: Clock,
    *,
    buckets: TokenBuckets,
    delivery: Delivery | None = None,
    faults: FaultSwitches | None = None,
) -> Investors:
    secrets = settings.webhook_hmac_secret.get_secret_value()
    vault = Vault(db, settings.master_key.get_secret_value())
    handoff = KycHandoff(db, vault)
    verifier = WebhookVerifier(db, clock, secrets, source="kyc")
    emails, pans = EmailAccounts(db), VerifiedPans(db)
    for table_owner in (vault, handoff, verifier, emails, pans):
        table_owner.setup()
    attributes = AttributeReader(store)
    limits = LoginLimits(buckets, settings)
    passwords = Passwords(settings.password_hash_memory_kib, settings.password_hash_time_cost)
    users = UserCommands(store, vault, passwords, tokens, attributes, handoff, limits, clock, emails, pans)
    kyc = KycCommands(store, vault, handoff, verifier, users, attributes, clock, pans)
    provider = SandboxKycProvider(
        delivery or HttpDelivery(loopback_webhook_url(settings)),
        secrets.split(",")[0].strip(),  # providers sign with the newest secret; we accept every listed one
        clock,
        db,
        delay_seconds=settings.kyc_sandbox_delay_seconds,
        faults=faults,
    )
    provider.setup()
    followers: tuple[Follower, ...] = (KycEffectWorker(db, handoff, provider),)
    pump = WebhookPump("kyc_webhooks", provider.sender, provider.sender.outbox, store.head_position)
    return Investors(vault, users, kyc, attributes, provider, followers, (pump,))
