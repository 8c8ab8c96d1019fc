"""Interoperability: a client generated from our `/openapi.json` by a tool that is not ours
(`openapi-python-client`, pinned in `tools/tool_venv.py`, installed once into `.venv-tools/`) signs up, logs
in, passes KYC, funds escrow, reads the instruments, places an order and reads it back, against the real
app (real PostgreSQL, chDB and followers; the sandbox providers call the webhooks back through the app).
The generator must accept the document without a single warning, and the generated client is told to raise
on any status the document does not list."""

from __future__ import annotations

import importlib
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bondflow.wiring.container import Container
from tests.support.investors import GOOD_PAN, PASSWORD, new_email, route_webhooks_through
from tools.tool_venv import ToolVenvFailed, tool_bin

pytestmark = pytest.mark.integration

PACKAGE = "bondflow_generated_client"
CONFIG = f"post_hooks: []\npackage_name_override: {PACKAGE}\nproject_name_override: bondflow-generated\n"


def generate(document: bytes, workdir: Path) -> tuple[Path, str]:
    """Run the generator on the document; (the generated package's folder, everything the tool printed)."""
    try:
        tool = tool_bin("openapi-python-client") / "openapi-python-client"
    except ToolVenvFailed as exc:
        pytest.fail(
            f"the openapi-python-client tool venv could not be built (needs the package registry): {exc}"
        )
    (workdir / "openapi.json").write_bytes(document)
    (workdir / "config.yaml").write_text(CONFIG)
    out = workdir / PACKAGE
    arguments = ["--path", "openapi.json", "--config", "config.yaml", "--meta", "none", "--output-path"]
    done = subprocess.run(
        [str(tool), "generate", *arguments, str(out), "--fail-on-warning"],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    printed = done.stdout + done.stderr
    assert done.returncode == 0, f"openapi-python-client refused our document:\n{printed}"
    return out, printed


@pytest.fixture
def generated(client: TestClient, tmp_path: Path) -> Iterator[Callable[[str], ModuleType]]:
    """`generated("api.orders.place_order_v1_orders_post")` imports a module of the generated client."""
    answer = client.get("/openapi.json")
    assert answer.status_code == 200
    _package, printed = generate(answer.content, tmp_path)
    assert "warning" not in printed.lower(), f"the generator warned about our document:\n{printed}"
    sys.path.insert(0, str(tmp_path))
    try:
        yield lambda name: importlib.import_module(f"{PACKAGE}.{name}" if name else PACKAGE)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def route_payment_webhooks_through(container: Container, client: TestClient) -> None:
    container.payments.provider.sender.deliver = lambda body, headers: (
        client.post("/v1/payments/webhook", content=body, headers=headers).status_code
    )


def until(read: Callable[[], Any], done: Callable[[Any], bool], seconds: float = 15) -> Any:
    deadline = time.monotonic() + seconds
    value = read()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(0.05)
        value = read()
    return value


def ok(answer: Any, status: int) -> Any:
    """The parsed envelope's data of an answer that must have `status`."""
    assert answer.status_code == status, answer.content
    envelope = answer.parsed
    assert envelope is not None and envelope.error is None, answer.content
    assert envelope.meta.request_id
    return envelope.data


def test_a_generated_client_onboards_funds_and_places_and_reads_an_order(
    client: TestClient, container: Container, generated: Callable[[str], ModuleType]
) -> None:
    route_webhooks_through(container, client)
    route_payment_webhooks_through(container, client)
    container.start_followers(["execution"])  # the order is routed and filled as in production
    api, models = generated(""), generated("models")
    anonymous = api.Client(base_url="http://testserver", raise_on_unexpected_status=True)
    anonymous.set_httpx_client(client)
    email = new_email()
    sign_up = generated("api.investors.sign_up_v1_users_post")
    created = ok(sign_up.sync_detailed(client=anonymous, body=models.SignUpRequest(email, PASSWORD)), 201)
    assert created["status"] == "pending"
    log_in = generated("api.investors.issue_token_v1_auth_token_post")
    issued = ok(log_in.sync_detailed(client=anonymous, body=models.LogInRequest(email, PASSWORD)), 200)
    assert issued["token_type"] == "Bearer"
    wrong = log_in.sync_detailed(client=anonymous, body=models.LogInRequest(email, "not the password"))
    assert wrong.status_code == 401 and wrong.parsed.error.code == "BF-AUTH-001", wrong.content

    investor = api.AuthenticatedClient(
        base_url="http://testserver", token=issued["access_token"], raise_on_unexpected_status=True
    )
    client.headers["Authorization"] = f"Bearer {issued['access_token']}"
    investor.set_httpx_client(client)  # the same app; the token rides on the shared httpx client

    me = ok(generated("api.investors.get_me_v1_users_me_get").sync_detailed(client=investor), 200)
    assert (me["user_id"], me["email"]) == (created["user_id"], email)
    start_kyc = generated("api.investors.start_kyc_v1_kyc_start_post")
    ok(start_kyc.sync_detailed(client=investor, body=models.StartKycRequest(pan=GOOD_PAN, consent=True)), 202)
    kyc_status = generated("api.investors.get_kyc_status_v1_kyc_status_get")
    kyc = until(
        lambda: ok(kyc_status.sync_detailed(client=investor), 200),
        lambda data: data is not None and data["status"] == "verified",
    )
    assert kyc["status"] == "verified", kyc

    deposit = generated("api.payments.deposit_v1_payments_deposits_post")
    body = models.DepositRequest(amount="500000", method=models.DepositRequestMethod.RTGS)
    funded = ok(deposit.sync_detailed(client=investor, body=body, idempotency_key=uuid.uuid4().hex), 202)
    assert funded["status"] == "INITIATED"
    balance = generated("api.payments.get_balance_v1_escrow_balance_get")
    escrow = until(
        lambda: ok(balance.sync_detailed(client=investor), 200),
        lambda data: data is not None and data["available"] == "500000.00",
    )
    assert escrow["available"] == "500000.00", escrow

    instruments = generated("api.instruments.list_instruments_v1_instruments_get")
    listed = ok(instruments.sync_detailed(client=investor, limit=100), 200)
    assert "INE123A07043" in {bond["isin"] for bond in listed}

    order = models.PlaceOrderRequest(
        isin="INE123A07043", side=models.PlaceOrderRequestSide.BUY, qty="10", limit_clean_price="102.5"
    )
    place = generated("api.orders.place_order_v1_orders_post")
    key = uuid.uuid4().hex
    placed = place.sync_detailed(client=investor, body=order, idempotency_key=key)
    accepted = ok(placed, 202)
    replayed = place.sync_detailed(client=investor, body=order, idempotency_key=key)
    assert replayed.status_code == 409 and replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.parsed.data == accepted
    position = placed.parsed.meta.additional_properties["position"]
    assert isinstance(position, int) and position > 0

    get_order = generated("api.queries.get_order_v1_orders_order_id_get")
    read = ok(
        get_order.sync_detailed(uuid.UUID(accepted["order_id"]), client=investor, min_position=position), 200
    )
    assert (read["order_id"], read["isin"], read["side"]) == (accepted["order_id"], "INE123A07043", "BUY")
    assert (read["qty"], read["limit_clean_price"]) == ("10.000000", "102.5000")
    list_orders = generated("api.queries.list_orders_v1_orders_get")
    mine = ok(list_orders.sync_detailed(client=investor, isin="INE123A07043", min_position=position), 200)
    assert [o["order_id"] for o in mine] == [accepted["order_id"]]
    filled = until(
        lambda: ok(get_order.sync_detailed(uuid.UUID(accepted["order_id"]), client=investor), 200),
        lambda data: data["status"] == "FILLED",
        seconds=20,
    )
    assert filled["status"] == "FILLED" and filled["filled_qty"] == "10.000000", filled.get("reasons")
