"""The real-time data socket (``/rtds``; the venue's ``wss://ws-live-data.polymarket.com``):
the ``crypto_prices_chainlink`` topic, carrying the world's resolution reference.

Subscribe with ``{"action": "subscribe", "subscriptions": [{"topic":
"crypto_prices_chainlink", "type": "*", "filters": "{\\"symbol\\":\\"btc/usd\\"}"}]}``
(``filters`` a JSON string or object; empty: every coin), ``"action": "unsubscribe"`` to
stop; text ``PING`` → ``PONG``. Each new symbol first gets a dump (``"type": "subscribe"``,
``payload {"symbol", "data": [{"timestamp", "value"}, …]}``: the last
:data:`DUMP_SECONDS` seconds plus the current window's start), then an ``update`` for each
whole emulator second the world reaches (checked at every world tick, or every real
second) — always including a window's start second, even when a fast clock skips over it,
as Chainlink reports every second.

The value is the world's reference (what the markets resolve on): the feed's price times
``exp(β)``, with ``β`` the market's basis (:meth:`MarketSource.reference_basis`) going
linearly from its start draw at the window's start — so the value stamped with the start
is the strike exactly — to its end draw at the end (:func:`basis_at`). A choice: the
market model draws the basis only at the two ends, and any path between them serves the
stream's purpose. Worlds that resolve on the feed itself have no basis.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from aiohttp import web

from src.data.market_data.windows import (
    WINDOW_SECONDS,
    normalize_coin,
    window_slug,
    window_start,
)
from src.sim.emulator.routing import Route, ctx_of
from src.sim.emulator.world import MarketSource
from src.sim.emulator.ws_hub import HUB, Connection
from src.sim.feeds.base import PriceFeed
from src.sim.feeds.errors import FeedError
from src.utils.safe_json import loads_bounded

TOPIC = "crypto_prices_chainlink"
CHANNEL = "rtds"
PUSH_EVERY_S = 1.0
"""Real seconds the stream waits for a world tick before looking at the clock anyway."""
DUMP_SECONDS = 30
"""Seconds of history in the dump a new subscription starts with."""
MAX_FRAME = 65_536
VALUE_DECIMALS = 8


def basis_at(
    start_basis: float, end_basis: float, start: float, end: float, t: float
) -> float:
    """The reference's log basis at ``t``: ``start_basis`` at the window's start (exactly),
    moving linearly to ``end_basis`` at its end; clamped outside the window."""
    if end <= start:
        return end_basis
    weight = min(1.0, max(0.0, (t - start) / (end - start)))
    return start_basis * (1.0 - weight) + end_basis * weight  # exact at both ends


def served_symbols(feed: PriceFeed) -> dict[str, str]:
    """``{"btc/usd": "BTCUSDT", …}``: the RTDS symbol of each coin the feed prices."""
    return {f"{normalize_coin(s).lower()}/usd": s for s in feed.symbols}


def reference_at(source: MarketSource, feed_symbol: str, t: float) -> float | None:
    """The world's reference price of ``feed_symbol`` at ``t`` (None outside the feed)."""
    start = window_start(t)
    market = source.by_slug(window_slug(feed_symbol, start))
    first, last = (0.0, 0.0) if market is None else source.reference_basis(market)
    try:
        price = source.feed.price_at(feed_symbol, t)
    except FeedError:
        return None
    # feed × exp(β): src.sim.market_model.reference.reference_price, bit for bit
    return price * math.exp(basis_at(first, last, start, start + WINDOW_SECONDS, t))


def due_seconds(last: int | None, now_s: int) -> list[int]:
    """The whole seconds to send after ``last`` up to ``now_s``: the newest, and a window
    start skipped in between (the strike reference must be seen)."""
    if last is None:
        return [now_s]
    if now_s <= last:
        return []
    start = window_start(now_s)
    return [start, now_s] if last < start < now_s else [now_s]


def dump_seconds(now_s: int) -> list[int]:
    """The seconds of a subscription's dump: the last :data:`DUMP_SECONDS` and the
    current window's start, oldest first."""
    seconds = set(range(now_s - DUMP_SECONDS + 1, now_s + 1))
    seconds.add(window_start(now_s))
    return sorted(seconds)


def _value(price: float) -> float:
    return round(price, VALUE_DECIMALS)


def _full_accuracy(value: float) -> str:
    """The value as an integer string in units of 10⁻¹⁸ (Chainlink's own precision)."""
    return str(int(Decimal(repr(value)).scaleb(18)))


def update_message(symbol: str, second: int, price: float, now: float) -> dict[str, Any]:
    """One ``update``: the reference at the whole second ``second``."""
    value = _value(price)
    return {
        "topic": TOPIC,
        "type": "update",
        "timestamp": int(now * 1000),
        "payload": {
            "symbol": symbol,
            "timestamp": second * 1000,
            "value": value,
            "full_accuracy_value": _full_accuracy(value),
        },
    }


def dump_message(
    symbol: str, points: list[tuple[int, float]], now: float
) -> dict[str, Any]:
    """The dump a new subscription starts with: ``(second, price)`` points."""
    return {
        "topic": TOPIC,
        "type": "subscribe",
        "timestamp": int(now * 1000),
        "payload": {
            "symbol": symbol,
            "data": [{"timestamp": s * 1000, "value": _value(p)} for s, p in points],
        },
    }


def requested(
    payload: Mapping[str, Any], served: Mapping[str, str]
) -> tuple[str, set[str]]:
    """``(action, symbols)`` of a (un)subscribe message: the served symbols its
    ``crypto_prices_chainlink`` subscriptions name (an empty filter names them all)."""
    action = payload.get("action")
    subscriptions = payload.get("subscriptions")
    if action not in ("subscribe", "unsubscribe") or not isinstance(subscriptions, list):
        return "", set()
    symbols: set[str] = set()
    for sub in subscriptions:
        if not isinstance(sub, dict) or sub.get("topic") != TOPIC:
            continue
        filters = sub.get("filters")
        if isinstance(filters, str) and filters.strip():
            try:
                filters = loads_bounded(filters)
            except ValueError:
                continue
        if filters in (None, "", {}):
            symbols.update(served)
        elif isinstance(filters, dict):
            symbol = filters.get("symbol")
            if isinstance(symbol, str) and symbol.strip().lower() in served:
                symbols.add(symbol.strip().lower())
    return str(action), symbols


def _payload(text: str) -> dict[str, Any] | None:
    try:
        payload = loads_bounded(text) if len(text) < MAX_FRAME else None
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


async def rtds_channel(request: web.Request) -> web.WebSocketResponse:
    """``/rtds``: the Chainlink reference of every coin the feed prices."""
    ctx = ctx_of(request)
    hub = request.app[HUB]
    ws = web.WebSocketResponse(autoping=True)
    await ws.prepare(request)
    conn = Connection(ws, request, CHANNEL, ctx.clock.now())
    served = served_symbols(ctx.feed)
    sent: dict[str, int] = {}  # per symbol, the last second sent

    def points(symbol: str, seconds: list[int]) -> list[tuple[int, float]]:
        found = []
        for second in seconds:
            price = reference_at(ctx.source, served[symbol], float(second))
            if price is not None:
                found.append((second, price))
        return found

    def on_text(conn: Connection, text: str) -> None:
        if text.strip().upper() == "PING":
            conn.send_text("PONG")
            return
        payload = _payload(text)
        if payload is None:
            return
        action, symbols = requested(payload, served)
        if action == "unsubscribe":
            conn.assets.difference_update(symbols)
            return
        now = ctx.clock.now()
        for symbol in sorted(symbols - conn.assets):
            conn.assets.add(symbol)
            now_s = int(now // 1)
            conn.send(dump_message(symbol, points(symbol, dump_seconds(now_s)), now))
            sent[symbol] = now_s

    async def push() -> None:
        while not ws.closed:
            now = ctx.clock.now()
            now_s = int(now // 1)
            for symbol in sorted(conn.assets):
                for second, price in points(symbol, due_seconds(sent.get(symbol), now_s)):
                    conn.send(update_message(symbol, second, price, now))
                sent[symbol] = max(now_s, sent.get(symbol, now_s))
            await hub.wait_tick(PUSH_EVERY_S)

    pusher = asyncio.create_task(push())
    try:
        await hub.serve(conn, on_text)
    finally:
        pusher.cancel()
    return ws


def ws_routes() -> list[Route]:
    """The real-time data socket."""
    return [Route("GET", "/rtds", rtds_channel, CHANNEL, CHANNEL)]
