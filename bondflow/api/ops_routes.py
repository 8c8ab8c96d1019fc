"""Operational endpoints: liveness, readiness per dependency, Prometheus metrics and the JWKS."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from bondflow.api.deps import ContainerDep, RequestId
from bondflow.api.envelope import EnvelopeResponse, dumps, ok
from bondflow.errors import DependencyDown

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz(request_id: RequestId) -> EnvelopeResponse:  # on the event loop: no worker thread needed
    return ok({"status": "ok"}, request_id)


@router.get("/readyz")
def readyz(container: ContainerDep, request_id: RequestId) -> EnvelopeResponse:
    checks: dict[str, Any] = {}
    for name, probe in (
        ("postgres", container.db.ping),
        ("event_store", container.store.head_position),
        ("clickhouse", container.clickhouse.ping),
    ):
        try:
            probe()
            checks[name] = "ok"
        except Exception as exc:  # readiness reports what is down instead of failing itself
            checks[name] = f"down: {type(exc).__name__}"
    for name in container.running:
        runner = container.followers[name]
        if not runner.alive:
            checks[f"follower:{name}"] = "down: thread stopped"
        elif runner.last_error:
            checks[f"follower:{name}"] = f"failing: {runner.last_error[:200]}"
        else:
            checks[f"follower:{name}"] = "ok" if runner.is_leader.is_set() else "standby"
    for process in container.processes:
        checks[f"process:{process.name}"] = "ok" if process.alive else "down: exited"
    down = sorted(k for k, v in checks.items() if v.startswith(("down", "failing")))
    if down:
        raise DependencyDown(f"not ready: {', '.join(down)}", {"checks": checks})
    return ok({"status": "ready", "checks": checks}, request_id)


@router.get("/metrics")
def metrics(container: ContainerDep) -> Response:
    return Response(container.metrics.render(), media_type="text/plain; version=0.0.4")


@router.get("/.well-known/jwks.json")
def jwks(container: ContainerDep) -> Response:
    """A plain JWKS document (the standard shape OIDC clients expect), not an envelope."""
    return Response(dumps(container.signing_key.jwks()), media_type="application/json")
