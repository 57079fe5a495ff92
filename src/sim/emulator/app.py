"""The aiohttp application: every route of every emulated API on one port.

Layout (``docs/SIMULATOR.md``, "Emulator")::

    /                      CLOB (py-clob-client-v2 joins host + endpoint)
    /gamma/…               Gamma
    /data-api/…            Data API
    /ws/market, /ws/user   CLOB websockets
    /binance/api/…         Binance spot REST      /binance/fapi/…   futures REST
    /binance/ws/<stream>   Binance raw streams    /binance/stream   combined streams
    /rtds                  real-time data socket (Chainlink reference prices)
    /admin/…               admin (loopback only)
"""

from __future__ import annotations

from aiohttp import web

from src.sim.emulator import (
    admin_routes,
    binance_routes,
    clob_routes,
    data_api,
    gamma,
    rtds,
    trading_routes,
)
from src.sim.emulator.context import EmulatorContext
from src.sim.emulator.middleware import admin_guard, error_middleware, fault_middleware
from src.sim.emulator.routing import CONTEXT, ROUTE_GROUPS, Route
from src.sim.emulator.ws_hub import HUB, WsHub, market_channel, user_channel

MAX_BODY_BYTES = 1 << 20


def all_routes() -> list[Route]:
    """Every route, in registration order (specific paths before parametrised ones)."""
    return [
        *admin_routes.routes(),
        *clob_routes.routes(),
        *trading_routes.routes(),
        *gamma.routes(),
        *data_api.routes(),
        *binance_routes.routes(),
        Route("GET", "/ws/market", market_channel, "ws-market", "ws-market"),
        Route("GET", "/ws/user", user_channel, "ws-user", "ws-user"),
        *binance_routes.ws_routes(),
        *rtds.ws_routes(),
    ]


def build_app(ctx: EmulatorContext, hub: WsHub) -> web.Application:
    """The application with its middleware (admin guard, faults, error envelopes)."""
    app = web.Application(
        middlewares=[admin_guard, fault_middleware, error_middleware],
        client_max_size=MAX_BODY_BYTES,
    )
    app[CONTEXT] = ctx
    app[HUB] = hub
    groups: dict[str, str] = {}
    for route in all_routes():
        app.router.add_route(route.method, route.path, route.handler, name=route.name)
        groups[route.name] = route.group
    app[ROUTE_GROUPS] = groups

    async def start_hub(_app: web.Application) -> None:
        await hub.start()

    async def stop_hub(_app: web.Application) -> None:
        await hub.close()

    app.on_startup.append(start_hub)
    app.on_shutdown.append(stop_hub)
    return app
