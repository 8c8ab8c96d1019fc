"""How a sandbox provider calls BondFlow back: a signed webhook (API.md) delivered after a delay through an
injected callable, retried with backoff and a fresh nonce while the receiver is down or refuses it.

Deliveries wait in PostgreSQL (`WebhookOutbox`), written in the same transaction as the provider's record
of the request, and `deliver_due` (run by the `WebhookPump` clock follower) sends what is due, so a
provider process killed between accepting a request and calling back still calls back once restarted.
The delivery callable is an HTTP POST to the server's own loopback URL in `bondflow serve` and the test
client in tests. The payments and KYC sandboxes both send through it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import httpx

from bondflow.adapters.webhook_outbox import DueWebhook, WebhookOutbox
from bondflow.runtime.clock import Clock
from bondflow.security.webhooks import signed_headers

log = logging.getLogger(__name__)

Delivery = Callable[[bytes, dict[str, str]], int]  # (raw body, headers) -> HTTP status
MAX_BACKOFF_SECONDS = 60.0
MIN_BACKOFF_SECONDS = 0.1


class HttpDelivery:
    """POSTs the webhook to a URL over one kept-alive client: a client per delivery built a TLS context
    each time (loading the CA bundle), which was most of the worker process's CPU under load."""

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self.url = url
        self.timeout = timeout
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(timeout=self.timeout)
            return self._client

    def __call__(self, body: bytes, headers: dict[str, str]) -> int:
        return self._http().post(self.url, content=body, headers=headers).status_code

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None


class SignedWebhookSender:
    def __init__(
        self, deliver: Delivery, secret: str, clock: Clock, outbox: WebhookOutbox, *, max_attempts: int = 10
    ) -> None:
        self.deliver = deliver
        self.secret = secret
        self.clock = clock
        self.outbox = outbox
        self.max_attempts = max_attempts
        self._closed = False

    def send_later(self, delay: float, body: bytes, *, within: Any) -> None:
        """Deliver `body` after `delay` seconds (recorded in the caller's transaction `within`); retry after
        2×, 4× … `delay` (at most a minute apart) while it is not accepted."""
        self.outbox.schedule(within, delay, body)

    def deliver_due(self) -> int:
        """Deliver every webhook that is due; returns how many were accepted."""
        if self._closed:  # a closed sender claims nothing: the next process delivers it
            return 0
        return sum(self._attempt(webhook) for webhook in self.outbox.claim_due())

    def send_now(self, body: bytes) -> int:
        """One delivery with a fresh timestamp and nonce; 0 when the receiver could not be reached."""
        headers = signed_headers(self.secret, body, int(self.clock.now().timestamp()))
        try:
            status = self.deliver(body, headers)
        except Exception as exc:  # the receiver is down: the caller decides whether to try again
            log.warning("sandbox webhook delivery failed: %s", type(exc).__name__)
            return 0
        if status >= 300:
            log.warning("sandbox webhook answered %s", status)
        return status

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Stop delivering from this process; what is still due stays in the outbox for the next one."""
        self._closed = True
        close = getattr(self.deliver, "close", None)
        if close is not None:
            close()

    def _attempt(self, webhook: DueWebhook) -> int:
        status = self.send_now(webhook.body)
        if not (status in {0, 401} or status >= 500):
            self.outbox.delivered(webhook, status)
            return 1 if status < 300 else 0
        if webhook.attempt >= self.max_attempts:
            log.warning("sandbox webhook undelivered after %s attempts", webhook.attempt)
            self.outbox.give_up(webhook, status)
            return 0
        base = max(webhook.delay_seconds, MIN_BACKOFF_SECONDS)
        self.outbox.retry_in(webhook, status, min(base * 2**webhook.attempt, MAX_BACKOFF_SECONDS))
        return 0
