"""Route tables: each route module lists its routes with a name and a group, which the
fault rules target (``book:latency=50ms``, ``gamma:5xx=0.1``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from src.sim.emulator.context import EmulatorContext

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

CONTEXT: web.AppKey[EmulatorContext] = web.AppKey("emulator_context", EmulatorContext)
ROUTE_GROUPS: web.AppKey[dict[str, str]] = web.AppKey("route_groups", dict)


@dataclass(frozen=True, slots=True)
class Route:
    """One route: method, path, handler, the name faults use, and its group."""

    method: str
    path: str
    handler: Handler
    name: str
    group: str


def ctx_of(request: web.Request) -> EmulatorContext:
    """The emulator's shared state, from any handler."""
    return request.app[CONTEXT]
