"""Settings from `BONDFLOW_*` environment variables; production refuses defaults that are unsafe there."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path

from pydantic import Field, SecretStr
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
    follower_batch_size: int = Field(default=500, ge=1, le=10_000)
    query_wait_seconds: float = Field(default=5.0, ge=0, le=30)
    log_level: str = "INFO"
    login_attempts_per_ip_per_minute: int = Field(default=30, ge=1, le=10_000)
    login_attempts_per_account_per_minute: int = Field(default=5, ge=1, le=1_000)
    sign_ups_per_ip_per_minute: int = Field(default=20, ge=1, le=10_000)
    kyc_sandbox_delay_seconds: float = Field(default=0.5, ge=0, le=60)
    payments_sandbox_delay_seconds: float = Field(default=0.3, ge=0, le=60)
    payments_sandbox_seed: int = 0  # the sandbox's fault RNG (fail_rate), for reproducible chaos runs
    trading_fee_bps: Decimal = Field(default=Decimal("5"), ge=0, le=100)
    trading_allowlist: list[str] | None = None  # ISINs the platform trades; None means every listed bond
    venue_seed: int = 7  # the sandbox dealers' quotes are deterministic for a seed
    settlement_payment_timeout_seconds: float = Field(default=30, gt=0, le=86_400)  # DvP cut-offs
    settlement_token_timeout_seconds: float = Field(default=60, gt=0, le=86_400)
    chain_sandbox_finality_seconds: float = Field(default=0.02, ge=0, le=60)
    chain_sandbox_seed: int = 0  # the sandbox chain's fault RNG (fail_rate)
    clock_start: datetime | None = None  # dev only: run the clock from this instant (a chosen trading day)
    # dev only: the real instant at which the clock showed `clock_start` (default: when the process started),
    # so that several processes (API, workers, a restarted worker) share one shifted clock
    clock_anchor: datetime | None = None
    seed_demo_data: bool = True  # dev only: demo bonds and the holiday calendar on `serve`

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
