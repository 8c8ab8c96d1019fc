"""How a sandbox provider calls BondFlow back: a signed webhook (API.md) delivered after a delay through an
injected callable, retried with backoff and a fresh nonce while the receiver is down or refuses it.

The delivery callable is an HTTP POST to the server's own loopback URL in `bondflow serve` and the test
client in tests. The payments and KYC sandboxes both send through it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import httpx

from bondflow.clock import Clock
from bondflow.webhooks import signed_headers

log = logging.getLogger(__name__)

Delivery = Callable[[bytes, dict[str, str]], int]  # (raw body, headers) -> HTTP status


class HttpDelivery:
    """POSTs the webhook to a URL."""

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self.url = url
        self.timeout = timeout

    def __call__(self, body: bytes, headers: dict[str, str]) -> int:
        return httpx.post(self.url, content=body, headers=headers, timeout=self.timeout).status_code


class SignedWebhookSender:
    def __init__(self, deliver: Delivery, secret: str, clock: Clock, *, max_attempts: int = 5) -> None:
        self.deliver = deliver
        self.secret = secret
        self.clock = clock
        self.max_attempts = max_attempts
        self._timers: set[threading.Timer] = set()
        self._lock = threading.Lock()
        self._closed = False

    def send_later(self, delay: float, body: bytes) -> None:
        """Deliver `body` after `delay` seconds; retry after 2×, 4× … `delay` while it is not accepted."""
        self._schedule(delay, delay, body, 1)

    def _schedule(self, wait: float, delay: float, body: bytes, attempt: int) -> None:
        with self._lock:
            if self._closed:
                return
            timer = threading.Timer(wait, self._attempt, (delay, body, attempt))
            timer.daemon = True
            self._timers.add(timer)
            timer.start()  # under the lock: `close` never sees (and joins) a timer that has not started

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

    def close(self) -> None:
        with self._lock:
            self._closed = True
            timers = list(self._timers)
        for timer in timers:
            timer.cancel()
        for timer in timers:  # a delivery already under way finishes before its channel goes away
            if timer is not threading.current_thread():
                timer.join(timeout=10)

    def _attempt(self, delay: float, body: bytes, attempt: int) -> None:
        with self._lock:
            self._timers = {t for t in self._timers if t.is_alive() and t is not threading.current_thread()}
            if self._closed:
                return
        status = self.send_now(body)
        if (status in {0, 401} or status >= 500) and attempt < self.max_attempts:
            self._schedule(delay * 2**attempt, delay, body, attempt + 1)
