"""Request bodies are capped while they stream in: nothing larger than the limit is ever buffered.

A pure ASGI middleware: a declared `Content-Length` over the limit is refused before a byte is read; a body
without one (chunked) is counted chunk by chunk and refused as soon as it passes the limit. Either way the
answer is `413` in the envelope (`BodyTooLarge`), raised from the body read so the error handlers render it.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bondflow.api.envelope import failure
from bondflow.errors import BodyTooLarge


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> BodyTooLarge:
        return BodyTooLarge(
            f"request body is larger than {self.max_bytes} bytes", {"max_bytes": self.max_bytes}
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, receive, send, self._too_large())
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise self._too_large()
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge as exc:  # read outside a route (no handler around it): answer here if we can
            if started:
                raise
            await self._refuse(scope, receive, send, exc)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, exc: BodyTooLarge) -> None:
        state: dict[str, Any] = scope.get("state", {})
        response = failure(
            exc.code, exc.message, exc.details, str(state.get("request_id", "")), status=exc.status
        )
        response.headers["Connection"] = "close"  # the rest of the body is never read
        await response(scope, receive, send)
