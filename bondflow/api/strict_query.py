"""Unknown query parameters are refused (API.md: filtering and sorting only on whitelisted fields): a
misspelt `statsu=FILLED` is a 400 naming it, never a silently unfiltered answer."""

from __future__ import annotations

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.requests import HTTPConnection

from bondflow.errors import InvalidRequest

_ALLOWED: dict[int, frozenset[str]] = {}


def allowed_query_parameters(route: APIRoute) -> frozenset[str]:
    known = _ALLOWED.get(id(route))
    if known is None:
        known = _ALLOWED[id(route)] = frozenset(_query_names(route.dependant))
    return known


def _query_names(dependant: Dependant) -> set[str]:
    """The query parameters of a route and of every dependency it has, however deep."""
    names = {field.alias for field in dependant.query_params}
    for dependency in dependant.dependencies:
        names |= _query_names(dependency)
    return names


async def reject_unknown_query_parameters(connection: HTTPConnection) -> None:
    """App-wide dependency (HTTP only): every query parameter must be one the route declares."""
    if not isinstance(connection, Request) or not connection.query_params:
        return
    route = connection.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    unknown = sorted(set(connection.query_params) - allowed_query_parameters(route))
    if unknown:
        raise InvalidRequest(
            f"unknown query parameters: {', '.join(unknown)}",
            {"fields": dict.fromkeys(unknown, "not allowed")},
        )
