"""Websockets: the market and user channels, driven by the venue's event log.

The venue calls our listener under its lock, from whichever thread changed it; the
listener only queues the event and wakes the loop. One pump coroutine on the server loop
drains the queue and fans messages out: book diffs (``price_change``), ``book`` after a
trade, ``last_trade_price``, ``tick_size_change``, ``best_bid_ask`` and ``market_resolved``
to the market channel; ``order`` and ``trade`` events to the user channel; and the
notifications (``/notifications``). Each connection has its own bounded send queue, so a
slow client never stalls the pump (it is disconnected instead).

Like the venue (reference §6.1), a market-channel subscription starts with a ``book``
snapshot and continues with ``price_change`` deltas. The deltas are taken, per connection,
against what *that* connection was last sent for the token (its snapshot plus every delta
since), never against a state shared by all clients: a token's book keeps changing while
nobody follows it, and a shared "last published" state would then miss the levels that
changed in the gap for whoever subscribes next (a level added while unwatched and removed
later was never removed from that client's book). So applying a connection's messages in
order always rebuilds ``GET /book``, whatever the subscribes, unsubscribes and reconnects.

The same hub relays the world's ticks (:meth:`WsHub.tick`): the Binance kline streams push
on them, and the ``ws:drop=…`` fault closes connections on them.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from src.sim.emulator import ws_views as views
from src.sim.emulator.auth import ApiKeyRecord
from src.sim.emulator.context import EmulatorContext
from src.sim.emulator.gamma import gamma_id
from src.sim.emulator.http_util import dumps
from src.sim.emulator.notifications import NotificationType
from src.sim.emulator.routing import ctx_of
from src.sim.venue import (
    CancelReason,
    EventKind,
    Outcome,
    TradeStatus,
    UnknownMarketError,
    VenueEvent,
)
from src.utils.logger import log, log_warning
from src.utils.safe_json import loads_bounded

SEND_QUEUE = 1000
"""Messages a connection may have waiting; beyond that it is too slow and is closed."""

CLOSE_UNAUTHORIZED = 4001
TextHandler = Callable[["Connection", str], "bool | None"]
_ORDER_KINDS = frozenset(
    {EventKind.ORDER_PLACED, EventKind.ORDER_UPDATED, EventKind.ORDER_CANCELED}
)


@dataclass(eq=False)
class Connection:
    """One websocket client: its socket, send queue, channel and subscriptions."""

    ws: web.WebSocketResponse
    request: web.Request
    channel: str
    opened_at: float
    queue: asyncio.Queue[str | None] = field(
        default_factory=lambda: asyncio.Queue(maxsize=SEND_QUEUE)
    )
    assets: set[str] = field(default_factory=set)
    custom: bool = False
    sent_levels: dict[str, views.Levels] = field(default_factory=dict)
    """Per followed token, the levels this connection's messages add up to (its last
    ``book`` plus the ``price_change`` deltas since); its next delta is taken from them."""
    sent_best: dict[str, tuple[int | None, int | None]] = field(default_factory=dict)
    """Per followed token, the best bid/ask this connection last learned."""
    address: str = ""
    api_key: str = ""
    markets: set[str] = field(default_factory=set)

    def send(self, message: Any) -> None:
        """Queue one JSON message; a full queue closes the connection."""
        try:
            self.queue.put_nowait(dumps(message).decode("utf-8"))
        except asyncio.QueueFull:
            log_warning(f"⚠️ websocket {self.channel}: client too slow, disconnecting")
            self.drop()

    def send_text(self, text: str) -> None:
        """Queue one raw text frame (``PONG``)."""
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(text)

    def drop(self) -> None:
        """Cut the connection without a close handshake (what a network drop looks like)."""
        transport = self.request.transport
        if transport is not None:
            transport.abort()
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(None)


class WsHub:
    """Every websocket connection, the event pump and the tick relay."""

    def __init__(self, ctx: EmulatorContext) -> None:
        self._ctx = ctx
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: deque[VenueEvent] = deque()
        self._scheduled = False
        self._wake: asyncio.Event | None = None
        self._tick: asyncio.Event | None = None
        self._unsubscribe = None
        self._pump_task: asyncio.Task[None] | None = None
        self.connections: set[Connection] = set()
        self._ticks: dict[str, int] = {}

    # -- lifecycle (on the loop) ------------------------------------------------------------

    async def start(self) -> None:
        """Subscribe to the venue and start the pump (call on the server loop)."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._tick = asyncio.Event()
        self._unsubscribe = self._ctx.venue.subscribe(self._on_event)
        self._pump_task = asyncio.create_task(self._pump())

    async def close(self) -> None:
        """Stop the pump and close every connection."""
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self._pump_task is not None:
            self._pump_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump_task
        for conn in list(self.connections):
            with contextlib.suppress(Exception):
                await conn.ws.close()

    # -- from other threads -----------------------------------------------------------------

    def _on_event(self, event: VenueEvent) -> None:
        """The venue's listener: queue, and wake the loop once per batch."""
        self._pending.append(event)
        if not self._scheduled and self._loop is not None:
            self._scheduled = True
            self._loop.call_soon_threadsafe(self._set_wake)

    def _set_wake(self) -> None:
        self._scheduled = False
        if self._wake is not None:
            self._wake.set()

    def tick(self) -> None:
        """The world moved (thread-safe): kline streams push, websocket drops fire."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._on_tick)

    def _on_tick(self) -> None:
        if self._tick is not None:
            self._tick.set()
            self._tick = asyncio.Event()
        self._apply_drops()
        if self._wake is not None:
            self._wake.set()  # settle-time events may be waiting

    async def wait_tick(self, timeout: float) -> None:
        """Wait for the next tick (or ``timeout`` real seconds)."""
        event = self._tick
        if event is None:
            await asyncio.sleep(timeout)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)

    def _apply_drops(self) -> None:
        faults = self._ctx.faults
        now = self._ctx.clock.now()
        for conn in list(self.connections):
            after = faults.ws_drop_after(conn.channel)
            if after is not None and now - conn.opened_at >= after:
                log(f"💥 fault {conn.channel}: dropping a websocket after {after:g}s")
                self._ctx.fault_counts.add("ws_drop")
                self.connections.discard(conn)
                conn.drop()

    # -- the pump ---------------------------------------------------------------------------

    async def _pump(self) -> None:
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            self.flush()

    def flush(self) -> None:
        """Fan out every venue event queued so far, as one batch (the pump's step; call
        it on the loop, or where no loop runs)."""
        batch: list[VenueEvent] = []
        while self._pending:
            batch.append(self._pending.popleft())
        if batch:
            try:
                self._dispatch(batch)
            except Exception as exc:  # one bad event must not stop every socket
                log_warning(f"⚠️ websocket pump: {exc!r}")

    def _dispatch(self, batch: list[VenueEvent]) -> None:
        ctx = self._ctx
        market_conns = [c for c in self.connections if c.channel == "ws-market"]
        user_conns = [c for c in self.connections if c.channel == "ws-user"]
        watched = {a for c in market_conns for a in c.assets}
        users = {c.address for c in user_conns}
        touched: dict[str, bool] = {}
        for event in batch:
            kind = event.kind
            if kind in _ORDER_KINDS:
                if event.token_id in watched:
                    touched.setdefault(event.token_id, False)
                if ctx.accounts.is_trader(event.account):
                    self._order_event(event, user_conns if event.account in users else [])
            elif kind is EventKind.TRADE:
                self._trade_event(event, market_conns, user_conns, watched, touched)
            elif kind is EventKind.TICK_SIZE_CHANGED:
                self._tick_size_event(event, market_conns)
            elif kind is EventKind.MARKET_RESOLVED:
                self._resolved_event(event, market_conns)
        for token_id, traded in touched.items():
            self._book_changed(token_id, traded, market_conns)

    # -- market channel ---------------------------------------------------------------------

    def _book_changed(self, token_id: str, traded: bool, conns: list[Connection]) -> None:
        """Bring every subscriber of ``token_id`` up to its current book: a ``book`` after
        a trade (or for a subscriber that never got one), otherwise the ``price_change``
        from what that connection was last sent; then ``best_bid_ask`` if its top moved."""
        subscribers = [c for c in conns if token_id in c.assets]
        if not subscribers:
            return
        try:
            book = self._ctx.venue.book(token_id)
        except UnknownMarketError:
            return
        levels = views.levels_of(book)
        best = (book.best_bid, book.best_ask)
        full: dict[str, Any] | None = None
        # Connections told the same thing share one levels object: one diff per group.
        groups: dict[int, tuple[views.Levels | None, list[Connection]]] = {}
        for conn in subscribers:
            seen = None if traded else conn.sent_levels.get(token_id)
            groups.setdefault(id(seen), (seen, []))[1].append(conn)
        for seen, members in groups.values():
            if seen is None:
                full = full or views.book_message(book)
                message: dict[str, Any] | None = full
            else:
                changes = views.level_changes(seen, levels)
                message = views.price_change_message(book, changes) if changes else None
            for conn in members:
                if message is not None:
                    conn.send(message)
                conn.sent_levels[token_id] = levels
        top: dict[str, Any] | None = None
        for conn in subscribers:
            if conn.sent_best.get(token_id) != best:
                conn.sent_best[token_id] = best
                if conn.custom:
                    top = top or views.best_bid_ask_message(book)
                    conn.send(top)

    def _tick_size_event(self, event: VenueEvent, conns: list[Connection]) -> None:
        new = int(event.detail or 0)
        market = self._ctx.source.by_token(event.token_id)
        old = self._ticks.get(event.token_id)
        if old is None and market is not None:
            old = int(market.tick_size * 1_000_000)
        self._ticks[event.token_id] = new
        message = views.tick_size_message(
            event.market, event.token_id, old or new, new, event.time
        )
        for conn in conns:
            if event.token_id in conn.assets:
                conn.send(message)

    def _resolved_event(self, event: VenueEvent, conns: list[Connection]) -> None:
        market = self._ctx.source.by_condition(event.market)
        if market is None:
            return
        winner = Outcome.UP if event.detail == market.up_token_id else Outcome.DOWN
        message = views.market_resolved_message(
            market, winner, gamma_id("market", market.condition_id), event.time
        )
        for conn in conns:
            if conn.custom and conn.assets.intersection(market.token_ids):
                conn.send(message)

    # -- user channel and notifications ------------------------------------------------------

    def _order_event(self, event: VenueEvent, conns: list[Connection]) -> None:
        ctx = self._ctx
        order = ctx.venue.order(event.order_id)
        owner = ctx.key_of(event.account)
        if (
            event.kind is EventKind.ORDER_CANCELED
            and event.detail
            and event.detail != CancelReason.USER
        ):
            ctx.notifications.add(
                event.account,
                owner,
                NotificationType.ORDER_CANCELLATION,
                _notice(event, order),
                event.time,
            )
        for conn in conns:
            if conn.address == event.account and _wants(conn, event.market):
                conn.send(
                    views.user_order_message(
                        event, order, conn.api_key, ctx.config.status_style
                    )
                )

    def _trade_event(
        self,
        event: VenueEvent,
        market_conns: list[Connection],
        user_conns: list[Connection],
        watched: set[str],
        touched: dict[str, bool],
    ) -> None:
        ctx = self._ctx
        status = str(event.status)
        first = status == TradeStatus.MATCHED
        if first and event.token_id in watched:
            touched[event.token_id] = True
            market = ctx.source.by_token(event.token_id)
            rate = market.fee_rate if market is not None else 0
            message = views.last_trade_message(event, rate)
            for conn in market_conns:
                if event.token_id in conn.assets:
                    conn.send(message)
        # The venue keeps trades with at least one trader in them; others concern nobody.
        trade = ctx.venue.trade(event.trade_id)
        if trade is None:
            return
        parties = [trade.taker_account] + [f.account for f in trade.maker_fills]
        for account in dict.fromkeys(parties):
            if not ctx.accounts.is_trader(account):
                continue
            if status != TradeStatus.CONFIRMED:
                kind = (
                    NotificationType.ORDER_FILL
                    if first
                    else NotificationType.ORDER_FILL_FAILED
                )
                notice = _fill_notice(trade, account)
                ctx.notifications.add(
                    account, ctx.key_of(account), kind, notice, event.time
                )
            for conn in user_conns:
                if conn.address == account and _wants(conn, trade.market):
                    message = views.user_trade_message(
                        trade,
                        status,
                        account,
                        ctx.key_of,
                        ctx.config.status_style,
                        event.time,
                    )
                    conn.send(message)

    # -- connections ------------------------------------------------------------------------

    def user_subscribers(self) -> set[str]:
        """Addresses with an authenticated user-channel connection right now."""
        return {
            c.address
            for c in list(self.connections)
            if c.channel == "ws-user" and c.address
        }

    async def serve(self, conn: Connection, on_text: TextHandler) -> None:
        """Run one connection: a writer task draining its queue, this task reading.

        ``on_text`` handles each text frame; returning ``False`` closes the socket as
        unauthorized (4001)."""
        self.connections.add(conn)
        writer = asyncio.create_task(self._writer(conn))
        try:
            async for msg in conn.ws:
                if msg.type is WSMsgType.TEXT:
                    if on_text(conn, msg.data) is False:
                        await conn.ws.close(
                            code=CLOSE_UNAUTHORIZED, message=b"Unauthorized"
                        )
                        break
                elif msg.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                    break
        finally:
            self.connections.discard(conn)
            with contextlib.suppress(asyncio.QueueFull):
                conn.queue.put_nowait(None)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writer

    async def _writer(self, conn: Connection) -> None:
        while True:
            text = await conn.queue.get()
            if text is None or conn.ws.closed:
                return
            try:
                await conn.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                return

    def subscribe_market(self, conn: Connection, assets: list[str], dump: bool) -> None:
        """Follow ``assets`` on a market connection. The new ones start from the current
        book: sent as the ``book`` dump (unknown or resolved tokens are left out, as the
        venue does), or, with ``initial_dump`` off, only taken as the base of the deltas."""
        new = [a for a in dict.fromkeys(assets) if a not in conn.assets]
        conn.assets.update(assets)
        books = []
        for token_id in new:
            try:
                snapshot = self._ctx.books.snapshot(token_id)
            except Exception:  # unknown or resolved token: the venue sends nothing for it
                continue
            conn.sent_levels[token_id] = views.levels_of(snapshot)
            conn.sent_best[token_id] = (snapshot.best_bid, snapshot.best_ask)
            books.append(views.book_message(snapshot))
        if dump:
            conn.send(books)

    @staticmethod
    def unsubscribe_market(conn: Connection, assets: list[str]) -> None:
        """Stop following ``assets``; a later subscribe starts again from a snapshot."""
        for token_id in assets:
            conn.assets.discard(token_id)
            conn.sent_levels.pop(token_id, None)
            conn.sent_best.pop(token_id, None)


def _wants(conn: Connection, market: str) -> bool:
    return not conn.markets or market in conn.markets


def _notice(event: VenueEvent, order: Any) -> dict[str, Any]:
    return {
        "asset_id": event.token_id,
        "market": event.market,
        "order_id": event.order_id,
        "side": str(event.side),
        "type": str(order.order_type) if order is not None else "",
        "price": str(event.price / 1_000_000),
        "original_size": str(order.size / 1_000_000) if order is not None else "",
        "matched_size": str(event.size_matched / 1_000_000),
        "remaining_size": str(event.remaining / 1_000_000),
        "outcome": str(order.outcome) if order is not None else "",
        "reason": event.detail,
    }


def _fill_notice(trade: Any, account: str) -> dict[str, Any]:
    return {
        "asset_id": trade.token_id,
        "market": trade.market,
        "trade_id": trade.trade_id,
        "side": str(trade.side),
        "price": str(trade.price / 1_000_000),
        "matched_size": str(trade.size / 1_000_000),
        "outcome": str(trade.outcome),
        "trader_side": "TAKER" if trade.taker_account == account else "MAKER",
    }


# -- handlers -------------------------------------------------------------------------------

HUB: web.AppKey[WsHub] = web.AppKey("ws_hub", WsHub)


def _parse(text: str) -> dict[str, Any] | None:
    # Bounded depth: a deeply nested frame would otherwise crash the whole process
    # (see safe_json). JsonBodyError is a ValueError.
    try:
        payload = loads_bounded(text) if len(text) < 65_536 else None
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def _user_key(ctx: EmulatorContext, auth: Any) -> ApiKeyRecord | None:
    """The key record of a user-channel ``auth`` object, if its secret and passphrase
    match (compared in constant time)."""
    if not isinstance(auth, dict):
        return None
    record = ctx.keys.lookup(str(auth.get("apiKey", "")))
    if record is None:
        return None
    creds = record.credentials
    secret_ok = _same(auth.get("secret"), creds.secret)
    phrase_ok = _same(auth.get("passphrase"), creds.passphrase)
    return record if secret_ok and phrase_ok else None


def _same(given: Any, expected: str) -> bool:
    raw = str(given if given is not None else "").encode("utf-8", "surrogatepass")
    return hmac.compare_digest(raw, expected.encode("utf-8"))


def _strings(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [v for v in value if isinstance(v, str)]


async def _open(
    request: web.Request, channel: str, now: float
) -> tuple[web.WebSocketResponse, Connection]:
    """Accept a websocket on ``channel`` (aiohttp answers protocol pings itself)."""
    ws = web.WebSocketResponse(autoping=True)
    await ws.prepare(request)
    return ws, Connection(ws, request, channel, now)


def _pong_or_parse(conn: Connection, text: str) -> dict[str, Any] | None:
    """Answer the venue's text ``PING``; otherwise the frame's JSON object (or None)."""
    if text.strip() == "PING":
        conn.send_text("PONG")
        return None
    return _parse(text)


async def market_channel(request: web.Request) -> web.WebSocketResponse:
    """``/ws/market``: subscribe with ``{"assets_ids": [...], "type": "market"}``."""
    ctx = ctx_of(request)
    hub = request.app[HUB]
    ws, conn = await _open(request, "ws-market", ctx.clock.now())

    def on_text(conn: Connection, text: str) -> bool | None:
        payload = _pong_or_parse(conn, text)
        if payload is None:
            return
        assets = _strings(payload.get("assets_ids"))
        operation = payload.get("operation")
        if operation == "unsubscribe":
            hub.unsubscribe_market(conn, assets)
            return
        if "custom_feature_enabled" in payload:
            conn.custom = bool(payload.get("custom_feature_enabled"))
        hub.subscribe_market(conn, assets, payload.get("initial_dump", True) is not False)

    await hub.serve(conn, on_text)
    return ws


async def user_channel(request: web.Request) -> web.WebSocketResponse:
    """``/ws/user``: subscribe with ``{"auth": {apiKey, secret, passphrase}, "type":
    "user", "markets": [...]}``; bad credentials close the socket (4001)."""
    ctx = ctx_of(request)
    hub = request.app[HUB]
    ws, conn = await _open(request, "ws-user", ctx.clock.now())

    def on_text(conn: Connection, text: str) -> bool | None:
        payload = _pong_or_parse(conn, text)
        if payload is None:
            return
        if not conn.address:
            record = _user_key(ctx, payload.get("auth"))
            if record is None:
                return False
            conn.address = ctx.accounts.funder_of(record.address)
            conn.api_key = record.credentials.api_key
        markets = _strings(payload.get("markets"))
        if payload.get("operation") == "unsubscribe":
            conn.markets.difference_update(markets)
        else:
            conn.markets.update(markets)

    await hub.serve(conn, on_text)
    return ws
