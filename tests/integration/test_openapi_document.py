"""The published `/openapi.json` is exact: request bodies with their constraints, the required
`Idempotency-Key`, every error status with the envelope, links from a placed order; and a query parameter
the route does not declare is refused."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

pytestmark = pytest.mark.integration


def test_the_document_states_what_the_order_route_accepts(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    place = document["paths"]["/v1/orders"]["post"]
    body = document["components"]["schemas"]["PlaceOrderRequest"]
    assert body["additionalProperties"] is False
    assert set(body["required"]) == {"isin", "side", "qty"}
    assert body["properties"]["side"]["enum"] == ["BUY", "SELL"]
    assert "pattern" in body["properties"]["qty"]
    key = next(p for p in place["parameters"] if p["name"] == "Idempotency-Key")
    assert key["required"] is True
    assert set(place["responses"]) >= {"202", "400", "401", "403", "409", "422", "429"}
    assert set(place["responses"]["202"]["links"]) == {"GetOrder", "CancelOrder"}
    assert "422" not in document["paths"]["/v1/orders"]["get"]["responses"] or (
        "BF-" in document["paths"]["/v1/orders"]["get"]["responses"]["422"]["description"]
    )


def test_an_unknown_query_parameter_is_refused(client: TestClient, investor: dict[str, str]) -> None:
    answer = client.get("/v1/orders", params={"statsu": "FILLED"}, headers=investor)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "BF-REQ-001"
    assert answer.json()["error"]["details"]["fields"] == {"statsu": "not allowed"}
    assert client.get("/v1/orders", params={"status": "FILLED"}, headers=investor).status_code == 200


def test_the_document_states_what_parameters_the_server_accepts(client: TestClient) -> None:
    """What schemathesis (`make fuzz`) found the document saying wrong: optional parameters published as
    nullable (a fuzzer sends the string "null"), ISIN parameters without their pattern, an optional
    Idempotency-Key without its limits, `/metrics` as JSON, a financial year the server refuses."""
    document = client.get("/openapi.json").json()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                where = f"{method.upper()} {path} {parameter['name']}"
                assert {"type": "null"} not in parameter["schema"].get("anyOf", []), where
                if parameter["name"] == "isin":
                    assert parameter["schema"]["pattern"] == r"^[A-Z]{2}[A-Z0-9]{9}[0-9]$", where
                if parameter["name"] == "Idempotency-Key":
                    assert parameter["schema"]["maxLength"] == 255 and "pattern" in parameter["schema"], where
    assert "text/plain" in next(iter(document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]))
    withdrawal = document["components"]["schemas"]["WithdrawalRequest"]["properties"]["method"]
    assert "anyOf" not in withdrawal and withdrawal["default"] == "NEFT"
    year = re.compile(
        document["components"]["schemas"]["DeclarationRequest"]["properties"]["financial_year"]["pattern"]
    )
    assert year.match("2026-27") and year.match("2099-00")
    assert not year.match("2020-00") and not year.match("2026-28")


def test_the_document_states_the_answers_that_are_not_json(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "application/pdf" in paths["/v1/portfolio/statements"]["get"]["responses"]["200"]["content"]
    assert (
        "application/pdf"
        in paths["/v1/trades/{trade_id}/contract-note"]["get"]["responses"]["200"]["content"]
    )
    assert "application/xml" in paths["/v1/reports/iso20022/{message}"]["get"]["responses"]["200"]["content"]
    report = paths["/v1/reports/{report}"]["get"]["responses"]["200"]["content"]
    assert {"text/csv; charset=utf-8", "application/vnd.apache.parquet"} <= set(report)
    tds = {p["name"]: p["schema"] for p in paths["/v1/tax/tds-certificates"]["get"]["parameters"]}
    assert re.compile(tds["financial_year"]["pattern"]).match("2026-27")
    assert not re.compile(tds["financial_year"]["pattern"]).match("0000-00")
    flow = {p["name"]: p["schema"] for p in paths["/v1/analytics/order-flow"]["get"]["parameters"]}
    assert not re.compile(flow["to"]["pattern"]).match("0") and re.compile(flow["to"]["pattern"]).match(
        "2026-12-01"
    )


def test_listing_a_bond_has_a_published_body_that_the_demo_bonds_satisfy(client: TestClient) -> None:
    """schemathesis sent `POST /v1/instruments` with no body: the document did not describe one."""
    from bondflow.api.request_models import ListInstrumentRequest
    from bondflow.wiring.seed import DEMO_BONDS

    document = client.get("/openapi.json").json()
    body = document["paths"]["/v1/instruments"]["post"]["requestBody"]
    assert body["required"] is True
    assert body["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ListInstrumentRequest"
    }
    for bond in DEMO_BONDS:
        ListInstrumentRequest.model_validate(bond)
    coupon = re.compile(
        document["components"]["schemas"]["ListInstrumentRequest"]["properties"]["coupon_rate"]["pattern"]
    )
    assert coupon.match("8.75") and coupon.match("100") and not coupon.match("803")  # the server takes 0-100


def test_the_document_states_sorts_dates_and_as_of_as_the_server_reads_them(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]

    def schema(path: str, name: str) -> dict[str, str]:
        return next(p["schema"] for p in paths[path]["get"]["parameters"] if p["name"] == name)

    sort = re.compile(schema("/v1/orders", "sort")["pattern"])
    assert sort.match("-created_at") and not sort.match("price")
    date = re.compile(schema("/v1/analytics/fills", "from")["pattern"])
    assert date.match("2026-12-01") and not date.match("0000-01-01")  # Python has no year 0
    as_of = re.compile(schema("/v1/portfolio/holdings", "as_of")["pattern"])
    assert as_of.match("42") and as_of.match("2026-11-25T05:00:00Z") and not as_of.match("")
