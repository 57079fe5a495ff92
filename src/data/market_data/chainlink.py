"""Chainlink reference prices from Polymarket's real-time data socket (RTDS).

The 15-minute markets settle on Chainlink, not on Binance (``docs/STRATEGY.md`` §4). With
``CHAINLINK_REFERENCE=on`` the live bot subscribes to the RTDS topic
``crypto_prices_chainlink`` (reference §6.3) for each traded coin (``btc/usd`` …) and keeps,
per coin, the latest price and its time, and the price at each window start — the strike
reference — when it saw it. The decision reads them through :meth:`ChainlinkStream.quote`
and decides by itself whether they are fresh enough (``chainlink_max_age_sec``).

The channel plumbing — a daemon thread with its own loop, reconnect with backoff, the text
``PING`` keep-alive (every 5 s here, as RTDS asks), the silence timeout — is the CLOB
streams' :class:`~src.trading.venue.streams.ws_client.WsChannel`.

Messages::

    {"topic": "crypto_prices_chainlink", "type": "update", "timestamp": <ms>,
     "payload": {"symbol": "btc/usd", "timestamp": <ms>, "value": 118000.12,
                 "full_accuracy_value": "<1e18 integer string>"}}

and, right after a subscription, a dump ``"payload": {"symbol": …, "data": [{"timestamp",
"value"}, …]}``. Other topics, acknowledgements and ``PONG`` are skipped; a malformed
message is logged once and ignored, never raised out of the reader.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from src.data.market_data.polymarket import MAX_TIMESTAMP_MS
from src.data.market_data.windows import normalize_coin, window_start
from src.trading.venue.streams.messages import (
    PING,
    PONG,
    MalformedMessageError,
    OnceLog,
    excerpt,
)
from src.trading.venue.streams.ws_client import WsChannel, WsOptions
from src.utils.clock import Clock
from src.utils.safe_json import loads_bounded

TOPIC = "crypto_prices_chainlink"
PING_INTERVAL_S = 5.0
"""RTDS asks for a keep-alive every 5 s (the CLOB channels: 10 s)."""
START_MATCH_S = 1.0
"""A point stamped within this long after a window's start is the window's start value
(Chainlink reports carry whole-second timestamps: the point *at* the start)."""
STARTS_KEPT = 4
"""Window-start values kept per coin (the current window's is the one used)."""
MAX_PRICE = 1e12
_SYMBOL = re.compile(r"^([a-z0-9]{1,12})/usd$")
_DIGITS = re.compile(r"^[0-9]{1,17}$")
_DECIMAL = re.compile(r"^[0-9]{1,15}(\.[0-9]{1,20})?$")


@dataclass(frozen=True, slots=True)
class ReferencePoint:
    """One Chainlink price of one coin, stamped with its observation time."""

    coin: str
    timestamp_ms: int
    value: float

    @property
    def time(self) -> float:
        """The observation time, Unix seconds."""
        return self.timestamp_ms / 1000


@dataclass(frozen=True, slots=True)
class ReferenceQuote:
    """What the decision may use for one coin's window: the latest price and its time,
    and the value at the window's start (None when it was not seen)."""

    spot: float
    spot_time: float
    strike: float | None


class ReferenceSource(Protocol):
    """Where the market poller reads the reference (:class:`ChainlinkStream`)."""

    def quote(self, coin: str, window_start: int) -> ReferenceQuote | None:
        """The coin's reference for the window starting at ``window_start``."""
        ...


def rtds_symbol(coin: str) -> str:
    """``'BTC'`` → ``'btc/usd'``."""
    return f"{normalize_coin(coin).lower()}/usd"


def coin_of_symbol(symbol: object) -> str | None:
    """``'btc/usd'`` → ``'BTC'``; None for anything else."""
    if not isinstance(symbol, str):
        return None
    match = _SYMBOL.match(symbol.strip().lower())
    return match.group(1).upper() if match else None


def subscribe_message(coins: Iterable[str]) -> str:
    """The subscription to every coin's Chainlink price (one filter per symbol)."""
    symbols = sorted({rtds_symbol(c) for c in coins})
    return json.dumps(
        {
            "action": "subscribe",
            "subscriptions": [
                {"topic": TOPIC, "type": "*", "filters": json.dumps({"symbol": s})}
                for s in symbols
            ],
        }
    )


def parse_message(text: str) -> list[ReferencePoint]:
    """A text frame → its Chainlink points (``[]`` for keep-alives, other topics and
    acknowledgements). Raises only :class:`MalformedMessageError`, and then for the whole
    message: a dump with one bad row is not half applied."""
    stripped = text.strip()
    if not stripped or stripped.upper() in (PING, PONG):
        return []
    try:
        message = loads_bounded(text)
    except ValueError as exc:
        raise MalformedMessageError("not JSON") from exc
    if not isinstance(message, dict):
        raise MalformedMessageError("not an object")
    if message.get("topic") != TOPIC:
        return []
    body = message.get("payload")
    if not isinstance(body, dict):
        raise MalformedMessageError("no payload")
    coin = coin_of_symbol(body.get("symbol"))
    if coin is None:
        raise MalformedMessageError(f"bad symbol: {excerpt(repr(body.get('symbol')), 40)}")
    if "data" in body:
        rows = body["data"]
        if not isinstance(rows, list):
            raise MalformedMessageError("data is not a list")
        return [_point(coin, row) for row in rows]
    return [_point(coin, body)]


def _point(coin: str, row: object) -> ReferencePoint:
    if not isinstance(row, Mapping):
        raise MalformedMessageError("point is not an object")
    return ReferencePoint(
        coin, _timestamp_ms(row.get("timestamp")), _value(row.get("value"))
    )


def _timestamp_ms(raw: Any) -> int:
    digits = isinstance(raw, str) and _DIGITS.match(raw) is not None
    whole = isinstance(raw, float) and math.isfinite(raw) and raw.is_integer()
    if digits or whole:
        raw = int(raw)
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 < raw < MAX_TIMESTAMP_MS:
        raise MalformedMessageError(f"bad timestamp: {excerpt(repr(raw), 40)}")
    return raw


def _value(raw: Any) -> float:
    if isinstance(raw, str) and _DECIMAL.match(raw):
        raw = float(raw)
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise MalformedMessageError(f"bad value: {excerpt(repr(raw), 40)}")
    if isinstance(raw, int) and not 0 < raw < MAX_PRICE:  # float(10**400) overflows
        raise MalformedMessageError(f"bad value: {excerpt(repr(raw), 40)}")
    value = float(raw)
    if not (math.isfinite(value) and 0 < value < MAX_PRICE):
        raise MalformedMessageError(f"bad value: {excerpt(repr(raw), 40)}")
    return value


class ChainlinkPrices:
    """Per coin: the latest point and the points at recent window starts. Thread-safe;
    points may arrive in any order (a dump after updates), the newest stays the latest
    and the earliest in a window's first second stays its start value."""

    def __init__(self, start_match_s: float = START_MATCH_S) -> None:
        self._lock = threading.Lock()
        self._match_ms = int(start_match_s * 1000)
        self._latest: dict[str, ReferencePoint] = {}
        self._starts: dict[str, dict[int, ReferencePoint]] = {}

    def apply(self, points: Iterable[ReferencePoint]) -> None:
        """Fold points in."""
        with self._lock:
            for point in points:
                latest = self._latest.get(point.coin)
                if latest is None or point.timestamp_ms > latest.timestamp_ms:
                    self._latest[point.coin] = point
                start = window_start(point.time)
                if point.timestamp_ms - start * 1000 >= self._match_ms:
                    continue
                starts = self._starts.setdefault(point.coin, {})
                known = starts.get(start)
                if known is None or point.timestamp_ms < known.timestamp_ms:
                    starts[start] = point
                    while len(starts) > STARTS_KEPT:
                        del starts[min(starts)]

    def latest(self, coin: str) -> ReferencePoint | None:
        """The coin's newest point."""
        with self._lock:
            return self._latest.get(coin)

    def start_value(self, coin: str, start: int) -> float | None:
        """The coin's price at the window start ``start`` (None: not seen)."""
        with self._lock:
            point = self._starts.get(coin, {}).get(start)
            return None if point is None else point.value

    def quote(self, coin: str, window_start: int) -> ReferenceQuote | None:
        """The latest price and the window's start value (None: no price yet)."""
        with self._lock:
            latest = self._latest.get(coin)
            if latest is None:
                return None
            start = self._starts.get(coin, {}).get(window_start)
            return ReferenceQuote(
                latest.value, latest.time, None if start is None else start.value
            )


class ChainlinkStream(WsChannel):
    """The RTDS ``crypto_prices_chainlink`` subscription of the traded coins, feeding a
    :class:`ChainlinkPrices`."""

    name = "rtds-chainlink"

    def __init__(
        self,
        url: str,
        coins: Sequence[str],
        clock: Clock,
        *,
        prices: ChainlinkPrices | None = None,
        options: WsOptions | None = None,
    ) -> None:
        super().__init__(url, options or WsOptions(ping_interval_s=PING_INTERVAL_S))
        self.coins = tuple(dict.fromkeys(normalize_coin(c) for c in coins))
        self.clock = clock
        self.prices = prices or ChainlinkPrices()
        self.last_message_at: float | None = None  # Clock time of the last usable frame
        self._bad = OnceLog()

    def subscribe_messages(self) -> Sequence[str]:
        """One subscription for every coin."""
        return [subscribe_message(self.coins)] if self.coins else []

    def handle_text(self, text: str) -> None:
        """Fold the frame's points of the followed coins in; a malformed frame is logged
        once (per reason) and skipped."""
        try:
            points = parse_message(text)
        except MalformedMessageError as exc:
            self._bad.warn(
                f"rtds:{exc}", f"⚠️ {self.name}: ignoring {excerpt(text)!r} ({exc})"
            )
            return
        self.last_message_at = self.clock.now()
        self.prices.apply(p for p in points if p.coin in self.coins)

    def quote(self, coin: str, window_start: int) -> ReferenceQuote | None:
        """The coin's reference for the window starting at ``window_start``."""
        return self.prices.quote(normalize_coin(coin), window_start)
