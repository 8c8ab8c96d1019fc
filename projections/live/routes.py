"""The caller's own live updates: `GET /v1/events` as server-sent events (or a JSON page), `/v1/ws` as a
WebSocket. Each update's id is its log position, so `Last-Event-ID` (or `?last_event_id=`) resumes with
nothing missed. Streams per user are bounded; a stream waits asynchronously (no worker thread is held
between reads)."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from typing import Annotated

import anyio
import orjson
from fastapi import APIRouter, Header, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse

from bondflow.api.deps import ContainerDep, CurrentPrincipal, RequestId
from bondflow.api.envelope import EnvelopeResponse, ok
from bondflow.errors import BondFlowError, RateLimited, Unauthenticated
from bondflow.wiring.container import Container
from projections.live.queries import updates_after

router = APIRouter(prefix="/v1", tags=["live"])

POLL_SECONDS = 0.05
KEEP_ALIVE_SECONDS = 15.0
STREAMS_PER_USER = 5
Position = Annotated[int, Query(ge=0, le=2**62)]


class StreamCounter:
    """How many live streams each user has open in this process; `acquire` refuses past the bound."""

    def __init__(self, bound: int) -> None:
        self.bound = bound
        self._open: dict[str, int] = {}
        self._lock = threading.Lock()

    def acquire(self, user_id: str) -> None:
        with self._lock:
            if self._open.get(user_id, 0) >= self.bound:
                raise RateLimited(
                    f"at most {self.bound} live streams per user", 5, {"streams_per_user": self.bound}
                )
            self._open[user_id] = self._open.get(user_id, 0) + 1

    def release(self, user_id: str) -> None:
        with self._lock:
            self._open[user_id] -= 1


STREAMS = StreamCounter(STREAMS_PER_USER)


@router.get("/events", response_model=None)
def live_events(
    request: Request,
    principal: CurrentPrincipal,
    container: ContainerDep,
    request_id: RequestId,
    after: Position = 0,
    limit: Annotated[int | None, Query(ge=1, le=1000)] = None,
    accept: Annotated[str, Header()] = "application/json",
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", pattern=r"^[0-9]{1,18}$")] = None,
) -> EnvelopeResponse | StreamingResponse:
    start = int(last_event_id) if last_event_id is not None else after
    if "text/event-stream" in accept:
        STREAMS.acquire(principal.subject)
        return StreamingResponse(
            _sse(request, container, principal.subject, start, limit),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Request-ID": request_id},
        )
    page = updates_after(container.db, principal.subject, start, limit or 100)
    next_after = page[-1].position if len(page) == (limit or 100) else None
    return ok([u.as_json() for u in page], request_id, next_after=next_after)


async def _sse(
    request: Request, container: Container, user_id: str, after: int, limit: int | None
) -> AsyncIterator[bytes]:
    """Each update as `id: position`, `event: kind`, `data: …`; a comment as keep-alive when quiet."""
    sent = 0
    quiet_since = anyio.current_time()
    try:
        while limit is None or sent < limit:
            if await request.is_disconnected():
                return
            batch = await anyio.to_thread.run_sync(updates_after, container.db, user_id, after, 100)
            for update in batch[: None if limit is None else limit - sent]:
                data = orjson.dumps(update.as_json()["data"]).decode()
                yield f"id: {update.position}\nevent: {update.kind}\ndata: {data}\n\n".encode()
                after, sent, quiet_since = update.position, sent + 1, anyio.current_time()
            if batch:
                continue
            if anyio.current_time() - quiet_since >= KEEP_ALIVE_SECONDS:
                quiet_since = anyio.current_time()
                yield b": keep-alive\n\n"
            await anyio.sleep(POLL_SECONDS)
    finally:
        STREAMS.release(user_id)


@router.websocket("/ws")
async def live_socket(
    websocket: WebSocket,
    last_event_id: Annotated[int, Query(ge=0, le=2**62)] = 0,
    access_token: str | None = None,
) -> None:
    """The same updates as `/v1/events`, one JSON message each. The token comes in the `Authorization`
    header or, for browsers (which cannot set headers on a WebSocket), in `access_token`."""
    container: Container = websocket.app.state.container
    try:
        user_id = _subject(container, websocket.headers.get("authorization"), access_token)
        STREAMS.acquire(user_id)
    except BondFlowError as refused:
        await websocket.close(
            code=4401 if isinstance(refused, Unauthenticated) else 4429, reason=refused.code
        )
        return
    await websocket.accept()
    after = last_event_id
    try:
        while True:
            batch = await anyio.to_thread.run_sync(updates_after, container.db, user_id, after, 100)
            for update in batch:
                await websocket.send_text(orjson.dumps(update.as_json()).decode())
                after = update.position
            if not batch:
                await anyio.sleep(POLL_SECONDS)
    except WebSocketDisconnect:
        return
    finally:
        STREAMS.release(user_id)


def _subject(container: Container, header: str | None, token: str | None) -> str:
    scheme, _, bearer = (header or "").partition(" ")
    candidate = bearer.strip() if scheme.lower() == "bearer" else (token or "").strip()
    if not candidate:
        raise Unauthenticated("missing bearer token")
    return container.tokens.verify(candidate).subject
