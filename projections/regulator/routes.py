"""The regulator stream over HTTP: paged JSON, live server-sent events, and signed checkpoints."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import anyio
import orjson
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse

from bondflow.api.deps import ContainerDep, RequestId, require_scope
from bondflow.api.envelope import EnvelopeResponse, ok
from bondflow.security.principal import Principal
from bondflow.wiring.container import Container
from projections.regulator import queries as regulator_queries

router = APIRouter(prefix="/v1/regulator", tags=["regulator"])

RegulatorReader = Annotated[Principal, Depends(require_scope("regulator:read"))]
AfterSeq = Annotated[int, Query(ge=0, le=2**62)]
POLL_SECONDS = 0.25


@router.get("/events", response_model=None)
def regulator_events(
    request: Request,
    _principal: RegulatorReader,
    container: ContainerDep,
    request_id: RequestId,
    after_seq: AfterSeq = 0,
    limit: Annotated[int | None, Query(ge=1, le=1000)] = None,
    accept: Annotated[str, Header()] = "application/json",
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", pattern=r"^[0-9]{1,18}$")] = None,
) -> EnvelopeResponse | StreamingResponse:
    if "text/event-stream" in accept:
        start = int(last_event_id) if last_event_id is not None else after_seq
        return StreamingResponse(
            _live(request, container, start, limit),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Request-ID": request_id},
        )
    page_size = limit or 100
    events = regulator_queries.events_after(container.db, after_seq, page_size)
    next_after = events[-1].seq if len(events) == page_size else None
    return ok([e.as_json() for e in events], request_id, next_after_seq=next_after)


async def _live(
    request: Request, container: Container, after_seq: int, limit: int | None
) -> AsyncIterator[bytes]:
    """Follow the stream: each event as `id: seq`, `event: topic`, `data: record`; a comment as keep-alive."""
    sent = 0
    idle = 0.0
    while limit is None or sent < limit:
        if await request.is_disconnected():
            return
        batch_size = 100 if limit is None else min(100, limit - sent)
        events = await anyio.to_thread.run_sync(
            regulator_queries.events_after, container.db, after_seq, batch_size
        )
        for event in events:
            data = orjson.dumps(event.as_json()).decode()
            yield f"id: {event.seq}\nevent: {event.record['topic']}\ndata: {data}\n\n".encode()
            after_seq = event.seq
            sent += 1
        if events:
            idle = 0.0
            continue
        idle += POLL_SECONDS
        if idle >= 15:
            idle = 0.0
            yield b": keep-alive\n\n"
        await anyio.sleep(POLL_SECONDS)


@router.get("/checkpoints")
def regulator_checkpoints(
    _principal: RegulatorReader,
    container: ContainerDep,
    request_id: RequestId,
    after_seq: AfterSeq = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> EnvelopeResponse:
    items = regulator_queries.checkpoints(container.db, after_seq, limit)
    return ok(items, request_id, kid=container.signing_key.kid, jwks="/.well-known/jwks.json")
