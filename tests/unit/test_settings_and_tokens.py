"""Settings refuse unsafe production defaults; tokens carry role scopes and expire by the injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bondflow.errors import ConfigurationError, Unauthenticated
from bondflow.runtime.clock import ManualClock
from bondflow.security.keys import SigningKey
from bondflow.security.principal import Role
from bondflow.security.tokens import TokenService
from bondflow.settings import Settings


def test_defaults_are_for_development_on_loopback() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (settings.env, settings.http_host, settings.http_port) == ("dev", "127.0.0.1", 8000)
    settings.check_safe_for_production()  # dev accepts defaults


def test_prod_refuses_default_secrets_and_embedded_stores_naming_each() -> None:
    settings = Settings(env="prod")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError) as caught:
        settings.check_safe_for_production()
    message = str(caught.value)
    for name in (
        "BONDFLOW_DATABASE_URL",
        "BONDFLOW_CLICKHOUSE_DSN",
        "BONDFLOW_WEBHOOK_HMAC_SECRET",
        "BONDFLOW_MASTER_KEY",
    ):
        assert name in message


def test_prod_starts_with_real_servers_and_long_secrets() -> None:
    Settings(
        env="prod",  # type: ignore[arg-type]
        database_url="postgresql://bf@db/bondflow",
        clickhouse_dsn="http://ch:8123",
        webhook_hmac_secret="s" * 40,  # type: ignore[arg-type]
        master_key="m" * 40,  # type: ignore[arg-type]
    ).check_safe_for_production()


def test_env_variables_use_the_bondflow_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BONDFLOW_HTTP_PORT", "8123")
    monkeypatch.setenv("BONDFLOW_DATA_DIR", "/tmp/bf-x")
    settings = Settings()
    assert settings.http_port == 8123
    assert settings.data_dir == Path("/tmp/bf-x")


def test_a_minted_token_verifies_with_its_role_scopes_and_expires_by_the_clock(tmp_path: Path) -> None:
    clock = ManualClock(datetime(2026, 11, 23, 12, tzinfo=UTC))
    service = TokenService(SigningKey.load_or_create(tmp_path), clock, timedelta(minutes=10))
    token = service.mint("u-1", Role.OPS)
    principal = service.verify(token)
    assert principal.subject == "u-1"
    assert principal.role is Role.OPS
    assert "ops:settlements" in principal.scopes
    assert "orders:write" not in principal.scopes
    clock.advance(timedelta(minutes=11))
    with pytest.raises(Unauthenticated, match="expired"):
        service.verify(token)


def test_a_token_signed_by_another_key_is_refused(tmp_path: Path) -> None:
    clock = ManualClock(datetime(2026, 11, 23, 12, tzinfo=UTC))
    ours = TokenService(SigningKey.load_or_create(tmp_path / "a"), clock, timedelta(minutes=10))
    theirs = TokenService(SigningKey.load_or_create(tmp_path / "b"), clock, timedelta(minutes=10))
    with pytest.raises(Unauthenticated):
        ours.verify(theirs.mint("u-1", Role.ADMIN))


def test_the_signing_key_is_created_once_and_reused(tmp_path: Path) -> None:
    first = SigningKey.load_or_create(tmp_path)
    second = SigningKey.load_or_create(tmp_path)
    assert first.kid == second.kid
    assert first.jwks()["keys"][0]["kid"] == first.kid
    assert (tmp_path / "keys" / "signing-key.pem").stat().st_mode & 0o777 == 0o600


def test_processes_given_the_same_clock_anchor_share_one_shifted_clock() -> None:
    from bondflow.wiring.bootstrap import clock_from

    start = datetime(2026, 11, 25, 5, 0, tzinfo=UTC)
    anchor = datetime.now(UTC) - timedelta(seconds=30)  # the first process started 30 s ago
    later = clock_from(Settings(clock_start=start, clock_anchor=anchor)).now()
    assert timedelta(seconds=29) < later - start < timedelta(seconds=40)
    fresh = clock_from(Settings(clock_start=start)).now()  # no anchor: from this process's start
    assert abs(fresh - start) < timedelta(seconds=5)
