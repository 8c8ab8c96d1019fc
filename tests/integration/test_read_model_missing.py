"""A query whose read model has no tables yet (the process that builds it is still starting) is a 503
`BF-QRY-001` with `Retry-After`, never a 500; and the composition root creates the read models' tables
before anything answers, so a fresh server never shows the gap."""

from __future__ import annotations

from fastapi.testclient import TestClient

from bondflow.wiring.bootstrap import bootstrap
from bondflow.wiring.container import Container
from tests.support.investors import signed_up_investor


def test_a_missing_read_model_is_a_retryable_503(client: TestClient, container: Container) -> None:
    _email, headers, _user_id = signed_up_investor(client)
    container.stop_followers()
    with container.db.transaction() as cur:
        cur.execute("DROP TABLE escrow_balances")
    answer = client.get("/v1/escrow/balance", headers=headers)
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"]["code"] == "BF-QRY-001"
    assert answer.headers["Retry-After"] == "1"

    bootstrap(container.settings, clock=container.clock).close()  # the composition root creates the tables
    assert client.get("/v1/escrow/balance", headers=headers).status_code == 200
