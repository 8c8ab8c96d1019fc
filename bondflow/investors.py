"""The investor context's services, built once by the composition root: personal-data vault, password
hashing, login limits, user and KYC commands, the webhook verifier, the KYC provider and its followers."""

from __future__ import annotations

from dataclasses import dataclass

from bondflow.adapters.kyc_sandbox import SandboxKycProvider
from bondflow.adapters.postgres import Database
from bondflow.adapters.sandbox_faults import FaultSwitches
from bondflow.adapters.webhook_sender import Delivery, HttpDelivery
from bondflow.auth.oidc import OidcVerifier
from bondflow.auth.tokens import TokenService
from bondflow.clock import Clock
from bondflow.eventstore import EventStore
from bondflow.followers import Follower
from bondflow.kyc_effects import KycEffectWorker, KycHandoff
from bondflow.passwords import Passwords
from bondflow.pii import Vault
from bondflow.ratelimit import RateLimiter
from bondflow.settings import Settings
from bondflow.webhooks import WebhookVerifier
from commands.attributes import AttributeReader
from commands.kyc import KycCommands
from commands.users import LoginLimits, UserCommands
from projections.users_view import InvestorsProjector


@dataclass
class Investors:
    vault: Vault
    users: UserCommands
    kyc: KycCommands
    attributes: AttributeReader
    kyc_provider: SandboxKycProvider
    followers: tuple[Follower, ...]

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
    delivery: Delivery | None = None,
    faults: FaultSwitches | None = None,
) -> Investors:
    secrets = settings.webhook_hmac_secret.get_secret_value()
    vault = Vault(db, settings.master_key.get_secret_value())
    handoff = KycHandoff(db, vault)
    verifier = WebhookVerifier(db, clock, secrets, source="kyc")
    for table_owner in (vault, handoff, verifier):
        table_owner.setup()
    attributes = AttributeReader(store)
    limits = LoginLimits(
        per_ip=RateLimiter(
            clock, name="login_per_ip", capacity=settings.login_attempts_per_ip_per_minute, per_seconds=60
        ),
        per_account=RateLimiter(
            clock,
            name="login_per_account",
            capacity=settings.login_attempts_per_account_per_minute,
            per_seconds=60,
        ),
        sign_up_per_ip=RateLimiter(
            clock, name="sign_up_per_ip", capacity=settings.sign_ups_per_ip_per_minute, per_seconds=60
        ),
    )
    users = UserCommands(store, vault, Passwords(), tokens, attributes, handoff, limits, clock)
    kyc = KycCommands(store, vault, handoff, verifier, users, attributes, clock)
    provider = SandboxKycProvider(
        delivery or HttpDelivery(loopback_webhook_url(settings)),
        secrets.split(",")[0].strip(),  # providers sign with the newest secret; we accept every listed one
        clock,
        delay_seconds=settings.kyc_sandbox_delay_seconds,
        faults=faults,
    )
    followers: tuple[Follower, ...] = (InvestorsProjector(db), KycEffectWorker(db, handoff, provider))
    return Investors(vault, users, kyc, attributes, provider, followers)
