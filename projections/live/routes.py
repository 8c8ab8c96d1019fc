"""The caller's own live updates: `GET /v1/events` as server-sent events (or a JSON page), `/v1/ws` as a
WebSocket. Each update's id is its log position, so `Last-Event-ID` (or `?last_event_id=`) resumes with
nothing missed. A stream reads the read model when the projector announces that its user's feed grew
(`projections.live.wakeups`), holding no worker thread in between; open streams per user are bounded across
every API process (`projections.live.stream_leases`)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from typing import Annotated

import anyio
import orjson
from fastapi import APIRouter, Header, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse

from bondflow.api.deps import ContainerDep, CurrentPrincipal, RequestId
from bondflow.api.envelope import EnvelopeResponse, ok
from bondflow.errors import BondFlowError, Unauthenticated
from bondflow.wiring.container import Container
from projections.live.queries import Update, updates_after
from projections.live.stream_leases import RENEW_SECONDS

router = APIRouter(prefix="/v1", tags=["live"])

KEEP_ALIVE_SECONDS = 15.0
FALLBACK_READ_SECONDS = 5.0  # a stream reads this often even unwoken (a belt to the NOTIFY's braces)
Position = Annotated[int, Query(ge=0, le=2**62)]


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
        lease = container.live.leases.acquire(principal.subject)
        return StreamingResponse(
            _sse(request, container, principal.subject, lease, start, limit),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Request-ID": request_id},
        )
    page = updates_after(container.db, principal.subject, start, limit or 100)
    next_after = page[-1].position if len(page) == (limit or 100) else None
    return ok([u.as_json() for u in page], request_id, next_after=next_after)


async def _updates(
    container: Container,
    user_id: str,
    lease: uuid.UUID,
    after: int,
    limit: int | None,
    disconnected: Callable[[], Awaitable[bool]],
) -> AsyncGenerator[Update | None, None]:
    """`user_id`'s updates after `after` (at most `limit`) as they come, and None as a keep-alive when
    quiet for a while, until `disconnected()`. Renews the stream's lease, and gives it back however the
    stream ends (a client that goes away cancels it)."""
    live = container.live
    subscription = live.wakeups.subscribe(user_id)
    sent = 0
    quiet_since = renewed_at = anyio.current_time()
    try:
        while (limit is None or sent < limit) and not await disconnected():
            if anyio.current_time() - renewed_at >= RENEW_SECONDS:
                await anyio.to_thread.run_sync(live.leases.renew, lease)
                renewed_at = anyio.current_time()
            batch = await anyio.to_thread.run_sync(updates_after, container.db, user_id, after, 100)
            for update in batch[: None if limit is None else limit - sent]:
                yield update
                after, sent, quiet_since = update.position, sent + 1, anyio.current_time()
            if len(batch) == 100:
                continue  # more is waiting: read again at once
            if anyio.current_time() - quiet_since >= KEEP_ALIVE_SECONDS:
                quiet_since = anyio.current_time()
                yield None
            until_keep_alive = quiet_since + KEEP_ALIVE_SECONDS - anyio.current_time()
            await subscription.wait(max(0.0, min(FALLBACK_READ_SECONDS, until_keep_alive)))
    finally:
        live.wakeups.unsubscribe(subscription)
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(live.leases.release, lease)


async def _sse(
    request: Request, container: Container, user_id: str, lease: uuid.UUID, after: int, limit: int | None
) -> AsyncIterator[bytes]:
    """Each update as `id: position`, `event: kind`, `data: …`; a comment as keep-alive when quiet."""
    updates = _updates(container, user_id, lease, after, limit, request.is_disconnected)
    async with aclosing(updates):
        async for update in updates:
            if update is None:
                yield b": keep-alive\n\n"
                continue
            data = orjson.dumps(update.as_json()["data"]).decode()
            yield f"id: {update.position}\nevent: {update.kind}\ndata: {data}\n\n".encode()


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
        lease = await anyio.to_thread.run_sync(container.live.leases.acquire, user_id)
    except BondFlowError as refused:
        await websocket.close(
            code=4401 if isinstance(refused, Unauthenticated) else 4429, reason=refused.code
        )
        return
    await websocket.accept()

    async def until_closed(stream: anyio.CancelScope) -> None:
        try:
            while (await websocket.receive())["type"] != "websocket.disconnect":
                pass  # a client's messages mean nothing here
        finally:
            stream.cancel()  # the client went away: the stream ends (and gives its lease back) at once

    async def never() -> bool:
        return False

    try:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(until_closed, tasks.cancel_scope)
            updates = _updates(container, user_id, lease, last_event_id, None, never)
            async with aclosing(updates):
                async for update in updates:
                    if update is not None:  # the WebSocket protocol's own pings keep a quiet socket open
                        await websocket.send_text(orjson.dumps(update.as_json()).decode())
            tasks.cancel_scope.cancel()
    except WebSocketDisconnect:
        return


def _subject(container: Container, header: str | None, token: str | None) -> str:
    scheme, _, bearer = (header or "").partition(" ")
    candidate = bearer.strip() if scheme.lower() == "bearer" else (token or "").strip()
    if not candidate:
        raise Unauthenticated("missing bearer token")
    return container.tokens.verify(candidate).subject
