"""Binance (``/binance/api/…``, ``/binance/fapi/…``, ``/binance/ws/…``, ``/binance/stream``)
answered by the pure builders of :mod:`src.sim.binance_api` at the emulator's time.

Point python-binance here with ``API_URL = <base>/binance/api``, ``FUTURES_URL =
<base>/binance/fapi`` and, for websockets, ``BinanceSocketManager.STREAM_URL =
ws://host:port/binance/`` (the manager appends ``ws/<stream>`` or ``stream?streams=``).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

from src.sim import binance_api
from src.sim.emulator.http_util import json_response
from src.sim.emulator.routing import Route, ctx_of
from src.sim.emulator.ws_hub import HUB, Connection

GROUP = "binance"
PUSH_EVERY_S = 1.0
"""Real seconds a kline stream waits for a tick before checking the price anyway."""

_KLINE_STREAM = re.compile(r"^([a-z0-9]+)@kline_([0-9]+[smhdwM])$")

Builder = Callable[[Any, float, Mapping[str, str]], Any]


def _rest(builder: Builder) -> Callable[[web.Request], Any]:
    async def handler(request: web.Request) -> web.Response:
        ctx = ctx_of(request)
        return json_response(builder(ctx.feed, ctx.clock.now(), request.query))

    handler.__doc__ = builder.__doc__
    return handler


async def ping(request: web.Request) -> web.Response:
    """``GET /api/v3/ping`` → ``{}`` (python-binance calls it when it starts)."""
    return json_response({})


async def server_time(request: web.Request) -> web.Response:
    """``GET /api/v3/time`` → ``{"serverTime": <emulator ms>}``."""
    return json_response({"serverTime": int(ctx_of(request).clock.now() * 1000)})


def _kline_symbols(streams: list[str]) -> list[tuple[str, str]]:
    """``(stream name, SYMBOL)`` of the 1-minute kline streams asked for."""
    chosen = []
    for stream in streams:
        match = _KLINE_STREAM.match(stream.split("?", 1)[0])
        if match is not None and match.group(2) == "1m":
            chosen.append((stream, match.group(1).upper()))
    return chosen


async def _serve_klines(
    request: web.Request, streams: list[str], combined: bool
) -> web.WebSocketResponse:
    ctx = ctx_of(request)
    hub = request.app[HUB]
    ws = web.WebSocketResponse(autoping=True)
    await ws.prepare(request)
    conn = Connection(ws, request, "binance-ws", ctx.clock.now())
    symbols = [(name, s) for name, s in _kline_symbols(streams) if s in ctx.feed.symbols]

    async def push() -> None:
        last: dict[str, tuple[Any, ...]] = {}
        while not ws.closed:
            now = ctx.clock.now()
            for name, symbol in symbols:
                event = binance_api.kline_event(ctx.feed, symbol, now)
                if event is None:
                    continue
                k = event["k"]
                key = (k["t"], k["o"], k["h"], k["l"], k["c"], k["v"], k["x"])
                if last.get(name) != key:
                    last[name] = key
                    conn.send({"stream": name, "data": event} if combined else event)
            await hub.wait_tick(PUSH_EVERY_S)

    pusher = asyncio.create_task(push())
    try:
        await hub.serve(conn, lambda _conn, _text: None)
    finally:
        pusher.cancel()
    return ws


async def kline_socket(request: web.Request) -> web.WebSocketResponse:
    """``/binance/ws/<symbol>@kline_1m``: one raw stream."""
    return await _serve_klines(request, [request.match_info["stream"]], combined=False)


async def combined_socket(request: web.Request) -> web.WebSocketResponse:
    """``/binance/stream?streams=a/b``: frames ``{"stream", "data"}``."""
    streams = [s for s in request.query.get("streams", "").split("/") if s]
    return await _serve_klines(request, streams, combined=True)


def routes() -> list[Route]:
    """The Binance REST routes (the websockets are added by the app, unfaulted)."""
    table: list[tuple[str, str, Any, str]] = [
        ("GET", "/binance/api/v3/ping", ping, "binance-ping"),
        ("GET", "/binance/api/v3/time", server_time, "binance-time"),
        ("GET", "/binance/api/v3/klines", _rest(binance_api.klines), "binance-klines"),
        (
            "GET",
            "/binance/api/v3/ticker/price",
            _rest(binance_api.ticker_price),
            "binance-ticker-price",
        ),
        (
            "GET",
            "/binance/api/v3/ticker/bookTicker",
            _rest(binance_api.book_ticker),
            "binance-book-ticker",
        ),
        ("GET", "/binance/api/v3/depth", _rest(binance_api.depth), "binance-depth"),
        (
            "GET",
            "/binance/api/v3/aggTrades",
            _rest(binance_api.agg_trades),
            "binance-agg-trades",
        ),
        ("GET", "/binance/fapi/v1/ping", ping, "binance-fapi-ping"),
        ("GET", "/binance/fapi/v1/time", server_time, "binance-fapi-time"),
        (
            "GET",
            "/binance/fapi/v1/klines",
            _rest(binance_api.klines),
            "binance-fapi-klines",
        ),
        (
            "GET",
            "/binance/fapi/v1/premiumIndex",
            _rest(binance_api.premium_index),
            "binance-premium-index",
        ),
        (
            "GET",
            "/binance/fapi/v1/fundingRate",
            _rest(binance_api.funding_rate),
            "binance-funding-rate",
        ),
        (
            "GET",
            "/binance/fapi/v2/ticker/price",
            _rest(binance_api.ticker_price),
            "binance-fapi-ticker-price",
        ),
        (
            "GET",
            "/binance/fapi/v1/ticker/bookTicker",
            _rest(binance_api.book_ticker),
            "binance-fapi-book-ticker",
        ),
    ]
    return [Route(m, p, h, n, GROUP) for m, p, h, n in table]


def ws_routes() -> list[Route]:
    """The Binance websocket routes."""
    return [
        Route("GET", "/binance/ws/{stream}", kline_socket, "binance-ws", "binance-ws"),
        Route("GET", "/binance/stream", combined_socket, "binance-stream", "binance-ws"),
    ]
