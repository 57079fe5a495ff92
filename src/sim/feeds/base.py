"""The feed interface shared by the replay and the generator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

MINUTE_MS = 60_000


@dataclass(frozen=True, slots=True)
class Kline:
    """One Binance 1-minute candle (prices and volumes as floats: signal math only)."""

    open_time_ms: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    close_time_ms: int
    quote_volume: float
    trades: int
    taker_buy_volume: float
    taker_buy_quote_volume: float


class PriceFeed(Protocol):
    """A source of 1-minute klines and of a sub-minute price path for some symbols."""

    @property
    def symbols(self) -> tuple[str, ...]:
        """Symbols served, e.g. ``('BTCUSDT', 'ETHUSDT')``."""
        ...

    def time_range(self) -> tuple[int, int]:
        """``(first_open_ms, end_ms)``: the span of minutes available for every symbol."""
        ...

    def klines(self, symbol: str, start_ms: int, end_ms: int) -> list[Kline]:
        """Candles whose open time lies in ``[start_ms, end_ms)``, oldest first."""
        ...

    def price_at(self, symbol: str, t: float) -> float:
        """The underlying price at Unix time ``t`` (seconds), consistent with the candle."""
        ...


def minute_open_ms(t: float) -> int:
    """Open time (ms) of the minute containing Unix time ``t`` (seconds)."""
    return int(t // 60) * MINUTE_MS


def kline_at(feed: PriceFeed, symbol: str, t: float) -> Kline | None:
    """The candle of the minute containing Unix time ``t`` from any feed, if it has one."""
    start = minute_open_ms(t)
    found = feed.klines(symbol, start, start + MINUTE_MS)
    return found[0] if found else None
