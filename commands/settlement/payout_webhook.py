"""The dealer-payments provider's signed webhook (`POST /v1/settlement/payouts/webhook`): `{event_id,
payout_id, settlement_id, direction, status: CONFIRMED|FAILED, reference, amount}`, verified like every
provider webhook (API.md: signature, timestamp window, nonce seen once), then reported to the payment leg
worker, which records the outcome on the settlement (a repeated delivery records nothing)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from bondflow.errors import InvalidRequest
from bondflow.security.webhooks import WebhookVerifier
from bondflow.workers.settlement_payments import PaymentLegWorker
from commands.kernel.bodies import exact_json

FIELDS = frozenset({"event_id", "payout_id", "settlement_id", "direction", "status", "reference", "amount"})


def _body(raw: bytes) -> dict[str, Any]:
    body = exact_json(raw, "webhook body")
    if set(body) != FIELDS:
        raise InvalidRequest("webhook body must be an object with " + ", ".join(sorted(FIELDS)))
    if body["status"] not in ("CONFIRMED", "FAILED"):
        raise InvalidRequest(
            "status: must be CONFIRMED or FAILED", {"fields": {"status": "CONFIRMED or FAILED"}}
        )
    for field in ("payout_id", "reference", "settlement_id"):
        if not isinstance(body[field], str) or len(body[field]) > 200:
            raise InvalidRequest(f"{field}: must be text", {"fields": {field: "text"}})
    try:
        body["settlement_id"] = UUID(body["settlement_id"])
    except ValueError as exc:
        raise InvalidRequest("settlement_id: must be a UUID", {"fields": {"settlement_id": "UUID"}}) from exc
    return body


class PayoutWebhook:
    def __init__(self, verifier: WebhookVerifier, worker: PaymentLegWorker) -> None:
        self.verifier = verifier
        self.worker = worker

    def receive(self, headers: Mapping[str, str], raw: bytes) -> dict[str, Any]:
        self.verifier.verify(headers, raw)
        body = _body(raw)
        recorded = self.worker.on_webhook(
            body["settlement_id"], body["payout_id"], body["status"], body["reference"]
        )
        return {"event_id": str(body["event_id"]), "recorded": recorded}
