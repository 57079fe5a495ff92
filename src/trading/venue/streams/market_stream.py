"""The market channel (reference §6.1) as an in-memory book cache per token.

:class:`BookCache` applies ``book`` (a full replacement), ``price_change`` (new aggregate
size per level, 0 removes it), ``tick_size_change``, ``best_bid_ask`` (only recorded: the
levels stay the source of truth), ``last_trade_price`` and ``market_resolved``, and stamps
each token with the Clock time of its last update. :meth:`MarketStream.books` serves fresh
books from the cache and refreshes the stale ones with **one** batched REST
``fetch_books``. A malformed message is logged once (with its event type and start) and
ignored; nothing raises out of the reader.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from src.data.market_data.polymarket import (
    BookLevel,
    BookReader,
    MarketDataError,
    OrderBook,
    fetch_books,
    parse_book,
)
from src.trading.venue.streams.messages import (
    MalformedMessageError,
    OnceLog,
    event_type,
    excerpt,
    market_subscribe_message,
    parse_frame,
)
from src.trading.venue.streams.ws_client import WsChannel, WsOptions
from src.utils.clock import Clock
from src.utils.logger import log_warning

DEFAULT_MAX_AGE_S = 10.0


@dataclass
class _TokenBook:
    """Mutable per-token state behind the cache's lock."""

    bids: dict[Decimal, Decimal] = field(default_factory=dict)
    asks: dict[Decimal, Decimal] = field(default_factory=dict)
    timestamp_ms: int = 0
    tick_size: Decimal | None = None
    min_order_size: Decimal | None = None
    last_trade_price: Decimal | None = None
    best_bid: Decimal | None = None
    best_ask: Decimal | None = None
    winner: str | None = None
    updated_at: float = 0.0

    def snapshot(self, token_id: str) -> OrderBook:
        return OrderBook(
            token_id=token_id,
            bids=tuple(BookLevel(p, s) for p, s in sorted(self.bids.items(), reverse=True)),
            asks=tuple(BookLevel(p, s) for p, s in sorted(self.asks.items())),
            timestamp_ms=self.timestamp_ms,
            tick_size=self.tick_size,
            min_order_size=self.min_order_size,
            last_trade_price=self.last_trade_price,
        )


def _dec(value: Any, what: str) -> Decimal:
    try:
        result = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise MalformedMessageError(f"bad {what}: {value!r}") from exc
    if not result.is_finite() or result < 0:
        raise MalformedMessageError(f"bad {what}: {value!r}")
    return result


def _opt_dec(value: Any, what: str) -> Decimal | None:
    return None if value in (None, "") else _dec(value, what)


def _ms(value: Any) -> int:
    try:
        return int(str(value or 0))
    except ValueError as exc:
        raise MalformedMessageError(f"bad timestamp: {value!r}") from exc


def _token(message: Mapping[str, Any], key: str = "asset_id") -> str:
    token = message.get(key)
    if not isinstance(token, str) or not token:
        raise MalformedMessageError(f"no {key}")
    return token


class BookCache:
    """Books per token from market-channel messages; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._books: dict[str, _TokenBook] = {}

    def apply(self, message: Mapping[str, Any], now: float) -> list[str]:
        """Apply one event; returns the tokens it updated. Raises
        :class:`MalformedMessageError` *before* changing anything when the message is bad."""
        kind = event_type(message)
        handler = _HANDLERS.get(kind)
        if handler is None:
            return []  # an event we do not use (e.g. new_market)
        changes = handler(message)  # parse everything first: all or nothing
        with self._lock:
            for token, change in changes:
                entry = self._books.setdefault(token, _TokenBook())
                change(entry)
                entry.updated_at = now
        return [token for token, _ in changes]

    def store(self, book: OrderBook, now: float) -> None:
        """Replace a token's book with one read over REST."""
        with self._lock:
            entry = self._books.setdefault(book.token_id, _TokenBook())
            _replace(entry, book)
            entry.updated_at = now

    def book(self, token_id: str) -> OrderBook | None:
        """The cached book, best levels first (None: never seen)."""
        with self._lock:
            entry = self._books.get(token_id)
            return entry.snapshot(token_id) if entry is not None else None

    def updated_at(self, token_id: str) -> float | None:
        """Clock time of the token's last update."""
        with self._lock:
            entry = self._books.get(token_id)
            return entry.updated_at if entry is not None else None

    def winner(self, token_id: str) -> str | None:
        """``winning_asset_id`` once the token's market resolved."""
        with self._lock:
            entry = self._books.get(token_id)
            return entry.winner if entry is not None else None

    def stale(self, token_ids: Iterable[str], now: float, max_age_s: float) -> list[str]:
        """Tokens never seen or not updated for ``max_age_s`` (pure on the cache)."""
        with self._lock:
            return [
                t
                for t in dict.fromkeys(token_ids)
                if (e := self._books.get(t)) is None or now - e.updated_at > max_age_s
            ]


Change = Callable[[_TokenBook], None]


def _replace(entry: _TokenBook, book: OrderBook) -> None:
    entry.bids = {lv.price: lv.size for lv in book.bids}
    entry.asks = {lv.price: lv.size for lv in book.asks}
    entry.timestamp_ms = book.timestamp_ms
    if book.tick_size is not None:
        entry.tick_size = book.tick_size
    if book.min_order_size is not None:
        entry.min_order_size = book.min_order_size
    entry.last_trade_price = book.last_trade_price or entry.last_trade_price
    entry.best_bid = book.best_bid
    entry.best_ask = book.best_ask


def _on_book(message: Mapping[str, Any]) -> list[tuple[str, Change]]:
    try:
        book = parse_book(message)
    except (MarketDataError, KeyError, TypeError) as exc:
        raise MalformedMessageError(f"bad book: {exc}") from exc
    return [(book.token_id, lambda e: _replace(e, book))]


def _on_price_change(message: Mapping[str, Any]) -> list[tuple[str, Change]]:
    rows = message.get("price_changes")
    if not isinstance(rows, list) or not rows:
        raise MalformedMessageError("no price_changes")
    stamp = _ms(message.get("timestamp"))
    parsed = []
    for row in rows:
        if not isinstance(row, Mapping):
            raise MalformedMessageError("price_changes entry is not an object")
        side = str(row.get("side", "")).upper()
        if side not in ("BUY", "SELL"):
            raise MalformedMessageError(f"bad side: {row.get('side')!r}")
        parsed.append(
            (
                _token(row),
                side,
                _dec(row.get("price"), "price"),
                _dec(row.get("size"), "size"),
            )
        )

    def change_for(side: str, price: Decimal, size: Decimal) -> Change:
        def change(entry: _TokenBook) -> None:
            levels = entry.bids if side == "BUY" else entry.asks
            if size == 0:
                levels.pop(price, None)
            else:
                levels[price] = size
            entry.timestamp_ms = max(entry.timestamp_ms, stamp)

        return change

    return [(token, change_for(side, price, size)) for token, side, price, size in parsed]


def _on_tick_size(message: Mapping[str, Any]) -> list[tuple[str, Change]]:
    tick = _dec(message.get("new_tick_size"), "new_tick_size")

    def change(entry: _TokenBook) -> None:
        entry.tick_size = tick

    return [(_token(message), change)]


def _on_best(message: Mapping[str, Any]) -> list[tuple[str, Change]]:
    bid = _opt_dec(message.get("best_bid"), "best_bid")
    ask = _opt_dec(message.get("best_ask"), "best_ask")

    def change(entry: _TokenBook) -> None:
        entry.best_bid, entry.best_ask = bid, ask

    return [(_token(message), change)]


def _on_last_trade(message: Mapping[str, Any]) -> list[tuple[str, Change]]:
    price = _dec(message.get("price"), "price")

    def change(entry: _TokenBook) -> None:
        entry.last_trade_price = price

    return [(_token(message), change)]


def _on_resolved(message: Mapping[str, Any]) -> list[tuple[str, Change]]:
    assets = message.get("assets_ids")
    winner = message.get("winning_asset_id")
    if not isinstance(assets, list) or not isinstance(winner, str):
        raise MalformedMessageError("bad market_resolved")

    def change(entry: _TokenBook) -> None:
        entry.winner = winner

    return [(str(token), change) for token in assets]


_HANDLERS: dict[str, Callable[[Mapping[str, Any]], list[tuple[str, Change]]]] = {
    "book": _on_book,
    "price_change": _on_price_change,
    "tick_size_change": _on_tick_size,
    "best_bid_ask": _on_best,
    "last_trade_price": _on_last_trade,
    "market_resolved": _on_resolved,
}


class MarketStream(WsChannel):
    """The market channel feeding a :class:`BookCache`."""

    name = "ws-market"

    def __init__(
        self,
        url: str,
        clock: Clock,
        *,
        assets: Iterable[str] = (),
        rest: BookReader | None = None,
        cache: BookCache | None = None,
        options: WsOptions | None = None,
    ) -> None:
        super().__init__(url, options)
        self.clock = clock
        self.cache = cache or BookCache()
        self.rest = rest
        self._assets: set[str] = set(assets)
        self._assets_lock = threading.Lock()
        self._bad = OnceLog()

    def subscribe_messages(self) -> Sequence[str]:
        """Subscribe to every followed token, with the initial ``book`` dump."""
        with self._assets_lock:
            assets = set(self._assets)
        return [market_subscribe_message(assets)] if assets else []

    def add_assets(self, assets: Iterable[str]) -> None:
        """Follow more tokens; sent at once when connected (their dump follows)."""
        new = set(assets)
        with self._assets_lock:
            new -= self._assets
            self._assets |= new
        if new:
            self.send(market_subscribe_message(new, initial=False))

    def handle_text(self, text: str) -> None:
        """Apply each event of the frame; a malformed one is logged once and skipped."""
        try:
            messages = parse_frame(text)
        except MalformedMessageError as exc:
            self._bad.warn(
                f"frame:{exc}", f"⚠️ ws-market: ignoring {excerpt(text)!r} ({exc})"
            )
            return
        now = self.clock.now()
        for message in messages:
            try:
                self.cache.apply(message, now)
            except MalformedMessageError as exc:
                kind = event_type(message) or "?"
                self._bad.warn(
                    f"{kind}:{exc}",
                    f"⚠️ ws-market: ignoring a {kind} message ({exc}): "
                    f"{excerpt(str(message))}",
                )

    def books(
        self, token_ids: Iterable[str], max_age_s: float = DEFAULT_MAX_AGE_S
    ) -> dict[str, OrderBook]:
        """Books of ``token_ids``: cached when fresh, the stale ones read in one REST
        batch (when a REST reader was given). A token with no book at all is left out."""
        tokens = list(dict.fromkeys(token_ids))
        now = self.clock.now()
        stale = self.cache.stale(tokens, now, max_age_s)
        if stale and self.rest is not None:
            try:
                for book in fetch_books(self.rest, stale).values():
                    self.cache.store(book, now)
            except Exception as exc:  # the cache, stale or not, is still an answer
                log_warning(
                    f"⚠️ ws-market: REST book refresh failed ({exc.__class__.__name__})"
                )
        books = {t: b for t in tokens if (b := self.cache.book(t)) is not None}
        return books
