"""Settings from `BONDFLOW_*` environment variables; production refuses defaults that are unsafe there."""

from __future__ import annotations

import ipaddress
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bondflow.errors import ConfigurationError

DEV_WEBHOOK_SECRET = "dev-webhook-secret-change-me"  # noqa: S105 - the default that prod refuses
DEV_MASTER_KEY = "dev-master-key-change-me"


class Environment(StrEnum):
    DEV = "dev"
    PROD = "prod"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BONDFLOW_", extra="ignore", frozen=True)

    env: Environment = Environment.DEV
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=1, le=65535)
    data_dir: Path = Path("./var")
    database_url: str | None = None
    clickhouse_dsn: str | None = None
    clickhouse_database: str = "bondflow"
    kafka_bootstrap_servers: str | None = None
    kafka_topic_partitions: int = Field(default=3, ge=1, le=256)
    kafka_replication_factor: int = Field(default=1, ge=1, le=5)
    webhook_hmac_secret: SecretStr = SecretStr(DEV_WEBHOOK_SECRET)
    master_key: SecretStr = SecretStr(DEV_MASTER_KEY)
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    token_ttl_seconds: int = Field(default=3600, ge=60, le=86400)
    cors_allow_origins: list[str] = Field(default_factory=list)
    postgres_lock_timeout_seconds: int = Field(default=5, ge=1, le=60)
    postgres_pool_size: int = Field(default=8, ge=1, le=64)
    # a thread asking the pool for a second connection while holding one: logged ("warn") or an error
    # ("refuse", the tests): it is how a small pool deadlocks (bondflow/adapters/postgres.py Database)
    postgres_nested_connections: Literal["warn", "refuse"] = "warn"
    follower_batch_size: int = Field(default=500, ge=1, le=10_000)
    query_wait_seconds: float = Field(default=5.0, ge=0, le=30)
    query_max_waiters: int = Field(default=1000, ge=1, le=100_000)  # queries parked for min_position at once
    password_hash_memory_kib: int = Field(default=19_456, ge=19_456, le=4_194_304)  # Argon2id (OWASP minimum)
    password_hash_time_cost: int = Field(default=2, ge=2, le=20)
    live_streams_per_user: int = Field(default=5, ge=1, le=1000)  # open /v1/events and /v1/ws, every process
    log_level: str = "INFO"
    # Rate limits (API.md), token buckets kept in PostgreSQL and shared by every API process.
    # `BONDFLOW_RATE_LIMITS_ENABLED=false` lifts every one of them, for load runs.
    rate_limits_enabled: bool = True
    orders_per_user_per_minute: int = Field(default=20, ge=1, le=100_000_000)  # POST /v1/orders
    orders_per_user_per_hour: int = Field(default=200, ge=1, le=100_000_000)
    requests_per_user_per_minute: int = Field(default=600, ge=1, le=100_000_000)  # reads, per user and scope
    writes_per_user_per_minute: int = Field(
        default=30, ge=1, le=100_000_000
    )  # other writes, per user and scope
    requests_per_ip_per_minute: int = Field(default=300, ge=1, le=100_000_000)  # anonymous, per IP and scope
    login_attempts_per_ip_per_minute: int = Field(default=30, ge=1, le=100_000_000)
    login_attempts_per_account_ip_per_minute: int = Field(default=5, ge=1, le=100_000_000)
    login_attempts_per_account_per_hour: int = Field(default=100, ge=1, le=100_000_000)  # from every IP
    sign_ups_per_ip_per_minute: int = Field(default=20, ge=1, le=100_000_000)
    # Proxies whose X-Forwarded-For is believed (comma-separated IPs or CIDRs); none by default, so the
    # peer address is the client and a made-up header changes nothing.
    trusted_proxies: str = ""
    kyc_sandbox_delay_seconds: float = Field(default=0.5, ge=0, le=60)
    payments_sandbox_delay_seconds: float = Field(default=0.3, ge=0, le=60)
    payout_sandbox_delay_seconds: float = Field(default=0.3, ge=0, le=600)  # dealer payouts' webhooks
    payments_sandbox_seed: int = 0  # the sandbox's fault RNG (fail_rate), for reproducible chaos runs
    # a deposit or withdrawal still INITIATED this long after it started is asked about at the provider,
    # and again at this interval; one with no final answer by the deadline is a break for operators
    payments_status_check_seconds: float = Field(default=10, gt=0, le=86_400)
    payments_deadline_seconds: float = Field(default=600, gt=0, le=7 * 86_400)
    trading_fee_bps: Decimal = Field(default=Decimal("5"), ge=0, le=100)
    trading_allowlist: list[str] | None = None  # ISINs the platform trades; None means every listed bond
    venue_seed: int = 7  # the sandbox dealers' quotes are deterministic for a seed
    venue_quote_delay_seconds: float = Field(default=0, ge=0, le=60)  # the sandbox dealers answer after this
    execution_in_flight: int = Field(default=16, ge=1, le=256)  # RFQs of different orders in flight at once
    settlement_in_flight: int = Field(
        default=4, ge=1, le=64
    )  # settlements the saga and each leg work at once
    settlement_polls_in_flight: int = Field(default=4, ge=1, le=64)  # finality/payout polls asked at once
    follower_segments: dict[str, int] = Field(default_factory=dict)  # e.g. {"execution": 4}: run in segments
    advisor_refresh_seconds: float = Field(default=5.0, ge=0, le=3600)  # dealer statistics cached this long
    # the CPU priority `serve` gives its worker process below its own (nice), so the API answers first
    worker_nice: int = Field(default=5, ge=0, le=19)
    # followers `serve` runs in worker processes of their own, one per group (the rest in the first):
    # e.g. [["settlement_saga", "settlement_chain", "settlement_payments", "settlement_timer"]]
    worker_groups: list[list[str]] = Field(default_factory=list)
    settlement_payment_timeout_seconds: float = Field(default=30, gt=0, le=86_400)  # DvP cut-offs
    settlement_token_timeout_seconds: float = Field(default=60, gt=0, le=86_400)
    chain_sandbox_finality_seconds: float = Field(default=0.02, ge=0, le=60)
    chain_sandbox_seed: int = 0  # the sandbox chain's fault RNG (fail_rate)
    clock_start: datetime | None = None  # dev only: run the clock from this instant (a chosen trading day)
    # dev only: the real instant at which the clock showed `clock_start` (default: when the process started),
    # so that several processes (API, workers, a restarted worker) share one shifted clock
    clock_anchor: datetime | None = None
    seed_demo_data: bool = True  # dev only: demo bonds and the holiday calendar on `serve`
    # corporate actions: units minted to the issuer's wallet at listing, how far ahead actions are scheduled,
    # and the TDS rates (percent) and threshold (INR per FY per issuer, from FY 2025-26) of DOMAIN.md
    token_issue_units: Decimal = Field(default=Decimal("10000000"), gt=0, le=Decimal("1e12"))
    coupon_job_lead_days: int = Field(default=30, ge=0, le=400)
    coupon_job_interval_seconds: float = Field(default=1.0, gt=0, le=3600)
    tds_resident_rate_pct: Decimal = Field(default=Decimal("10"), ge=0, le=100)
    tds_no_pan_rate_pct: Decimal = Field(default=Decimal("20"), ge=0, le=100)
    tds_non_resident_rate_pct: Decimal = Field(default=Decimal("20"), ge=0, le=100)
    tds_non_resident_surcharge_pct: Decimal = Field(default=Decimal("0"), ge=0, le=100)
    tds_non_resident_cess_pct: Decimal = Field(default=Decimal("4"), ge=0, le=100)
    tds_threshold_inr: Decimal = Field(default=Decimal("10000"), ge=0)

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_parse(cls, value: str) -> str:
        for entry in filter(None, (part.strip() for part in value.split(","))):
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"BONDFLOW_TRUSTED_PROXIES: {entry!r} is not an IP address or CIDR"
                ) from None
        return value

    @property
    def trusted_proxy_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        parts = (part.strip() for part in self.trusted_proxies.split(","))
        return tuple(ipaddress.ip_network(p, strict=False) for p in parts if p)

    @property
    def is_prod(self) -> bool:
        return self.env is Environment.PROD

    @property
    def uses_embedded_postgres(self) -> bool:
        return not self.database_url

    @property
    def resolved_data_dir(self) -> Path:
        return self.data_dir.expanduser().resolve()

    def check_safe_for_production(self) -> None:
        """Refuse to start in `prod` with a default secret or the embedded database, with a clear message."""
        if not self.is_prod:
            return
        problems = []
        if self.uses_embedded_postgres:
            problems.append(
                "BONDFLOW_DATABASE_URL must name a PostgreSQL server (the embedded one is dev only)"
            )
        if not self.clickhouse_dsn or self.clickhouse_dsn.startswith("chdb"):
            problems.append("BONDFLOW_CLICKHOUSE_DSN must name a ClickHouse server (chDB is dev only)")
        secrets = self.webhook_hmac_secret.get_secret_value().split(",")
        if DEV_WEBHOOK_SECRET in secrets or any(len(s) < 32 for s in secrets):
            problems.append("BONDFLOW_WEBHOOK_HMAC_SECRET must be set to secrets of at least 32 characters")
        master = self.master_key.get_secret_value()
        if master == DEV_MASTER_KEY or len(master) < 32:
            problems.append("BONDFLOW_MASTER_KEY must be set to a secret of at least 32 characters")
        if self.clock_start is not None:
            problems.append("BONDFLOW_CLOCK_START is for development only")
        if problems:
            raise ConfigurationError("refusing to start in prod: " + "; ".join(problems))
