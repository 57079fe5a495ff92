"""Binance's public market-data API, answered from a :class:`PriceFeed` at a given time.

Pure functions: ``(feed, now, query) → JSON-ready data`` or a :class:`BinanceApiError`
carrying Binance's own error code and message. The emulator's HTTP layer only routes. No
answer ever reveals the future: the current minute's candle is built from the price path
up to ``now``, with volume pro-rated to the part of the minute that has passed.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from src.sim.feeds.base import MINUTE_MS, Kline, PriceFeed, minute_open_ms
from src.sim.feeds.table import feed_prices, minute_reads

INTERVALS_MS = {
    "1m": MINUTE_MS,
    "3m": 3 * MINUTE_MS,
    "5m": 5 * MINUTE_MS,
    "15m": 15 * MINUTE_MS,
    "30m": 30 * MINUTE_MS,
    "1h": 60 * MINUTE_MS,
    "2h": 120 * MINUTE_MS,
    "4h": 240 * MINUTE_MS,
}
DEFAULT_LIMIT = 500
MAX_LIMIT = 1000
FUNDING_INTERVAL_MS = 8 * 3600 * 1000
PLACES = 8  # decimals of every price and volume in an answer (Binance's own)


@dataclass(frozen=True)
class BinanceApiError(Exception):
    """An error as Binance reports it: HTTP status, code and message."""

    status: int
    code: int
    msg: str

    def body(self) -> dict[str, Any]:
        """The JSON body Binance sends."""
        return {"code": self.code, "msg": self.msg}


def _bad_param(name: str) -> BinanceApiError:
    return BinanceApiError(
        400,
        -1100,
        f"Illegal characters found in parameter '{name}'; "
        "legal range is '^[0-9]{1,20}$'.",
    )


def _symbol(feed: PriceFeed, query: Mapping[str, str]) -> str:
    symbol = query.get("symbol", "").upper()
    if not symbol:
        raise BinanceApiError(
            400,
            -1102,
            "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.",
        )
    if symbol not in feed.symbols:
        raise BinanceApiError(400, -1121, "Invalid symbol.")
    return symbol


def _int_param(
    query: Mapping[str, str | int], name: str, default: int | None
) -> int | None:
    raw = query.get(name)
    if type(raw) is int:  # an in-process caller's number: what its text would read as
        return raw
    if raw is None or raw == "":
        return default
    assert isinstance(raw, str)
    if not raw.lstrip("-").isdigit():
        raise _bad_param(name)
    return int(raw)


def _fmt(value: float, places: int = PLACES) -> str:
    return f"{value:.{places}f}"


def kline_row(k: Kline) -> list[Any]:
    """A candle in the ``/api/v3/klines`` row layout (numbers as strings)."""
    return [
        k.open_time_ms,
        _fmt(k.open),
        _fmt(k.high),
        _fmt(k.low),
        _fmt(k.close),
        _fmt(k.volume),
        k.close_time_ms,
        _fmt(k.quote_volume),
        k.trades,
        _fmt(k.taker_buy_volume),
        _fmt(k.taker_buy_quote_volume),
        "0",
    ]


def kline_values(k: Kline) -> list[Any]:
    """:func:`kline_row` with numbers for text: each float is the number its text reads
    back as (``round`` to :data:`PLACES` is the same correctly rounded decimal as the
    text; the tests hold them equal), so a parser reading this row reads the same
    candle as from the text, without writing and reading it (the in-process client)."""
    return [
        k.open_time_ms,
        round(k.open, PLACES),
        round(k.high, PLACES),
        round(k.low, PLACES),
        round(k.close, PLACES),
        round(k.volume, PLACES),
        k.close_time_ms,
        round(k.quote_volume, PLACES),
        k.trades,
        round(k.taker_buy_volume, PLACES),
        round(k.taker_buy_quote_volume, PLACES),
        "0",
    ]


class FormingPaths:
    """The high and low of each symbol's current minute so far, kept between requests.

    The forming candle reads the minute's path once a second from its open; a client asking
    every few seconds would read the same seconds again each time. A minute's path never
    changes, so its extremes over the seconds already read are kept and only the new
    seconds are read: the same candle for a fraction of the reads. One instance per feed
    (the in-process client keeps one; the HTTP emulator reads the path each time).
    """

    def __init__(self) -> None:
        # symbol → (minute open ms, seconds folded in, high, low)
        self._seen: dict[str, tuple[int, int, float, float]] = {}

    def extremes(
        self, feed: PriceFeed, symbol: str, start_ms: int, steps: int
    ) -> tuple[float, float]:
        """``(max, min)`` of the path at the first ``steps`` whole seconds of the minute
        opening at ``start_ms``, folded in the order :func:`forming_candle` reads them."""
        high, low, _ = self.read(feed, symbol, start_ms, steps, None)
        return high, low

    def read(
        self, feed: PriceFeed, symbol: str, start_ms: int, steps: int, now: float | None
    ) -> tuple[float, float, float | None]:
        """:meth:`extremes`, and the price at ``now`` (None: not asked) read in the same
        batch: a poll's new seconds and its close are one feed request."""
        steps = max(steps, 1)  # the minute's first second is always read
        seen = self._seen.get(symbol)
        if seen is not None and seen[0] == start_ms and 0 < seen[1] <= steps:
            _, first, high, low = seen
        else:
            first = 0
        close: float | None = None
        if now is not None:
            read, close = minute_reads(feed, symbol, start_ms, first, steps, now)
        elif first < steps:
            start_s = start_ms / 1000
            read = feed_prices(feed, symbol, [start_s + i for i in range(first, steps)])
        else:
            read = []
        if first == 0:  # nothing folded in yet: start from the minute's first second
            high = low = read[0]
        if read:
            # max and min of prices do not depend on the order they are folded in
            high = max(high, *read)
            low = min(low, *read)
        self._seen[symbol] = (start_ms, steps, high, low)
        return high, low, close


def forming_candle(
    feed: PriceFeed,
    symbol: str,
    now: float,
    paths: FormingPaths | None = None,
    whole: Kline | None = None,
) -> Kline | None:
    """The current minute's candle as of ``now``: only the path so far, volume pro rata.

    ``paths`` keeps the path's extremes between calls; ``whole`` is the minute's full
    candle when the caller already has it.
    """
    start_ms = minute_open_ms(now)
    if whole is None or whole.open_time_ms != start_ms:
        full = feed.klines(symbol, start_ms, start_ms + MINUTE_MS)
        if not full:
            return None
        whole = full[0]
    start_s = start_ms / 1000
    steps = max(1, math.floor(now - start_s))
    if paths is None:
        prices = [feed.price_at(symbol, start_s + i) for i in range(steps)]
        high, low = max(prices), min(prices)
        close = feed.price_at(symbol, now)
    else:
        high, low, read_close = paths.read(feed, symbol, start_ms, steps, now)
        close = read_close if read_close is not None else feed.price_at(symbol, now)
    share = min(1.0, max(0.0, (now - start_s) / 60))
    return Kline(  # positional (Kline's field order): a keyword call costs more
        start_ms,
        whole.open,
        max(high, close),
        min(low, close),
        close,
        whole.volume * share,
        whole.close_time_ms,
        whole.quote_volume * share,
        int(whole.trades * share),
        whole.taker_buy_volume * share,
        whole.taker_buy_quote_volume * share,
    )


def _aggregate(klines: list[Kline], interval_ms: int) -> list[Kline]:
    if interval_ms == MINUTE_MS:
        return klines
    grouped: dict[int, list[Kline]] = {}
    for k in klines:
        grouped.setdefault(k.open_time_ms - k.open_time_ms % interval_ms, []).append(k)
    return [
        Kline(
            open_time_ms=start,
            open=group[0].open,
            high=max(k.high for k in group),
            low=min(k.low for k in group),
            close=group[-1].close,
            volume=sum(k.volume for k in group),
            close_time_ms=start + interval_ms - 1,
            quote_volume=sum(k.quote_volume for k in group),
            trades=sum(k.trades for k in group),
            taker_buy_volume=sum(k.taker_buy_volume for k in group),
            taker_buy_quote_volume=sum(k.taker_buy_quote_volume for k in group),
        )
        for start, group in sorted(grouped.items())
    ]


def klines(
    feed: PriceFeed,
    now: float,
    query: Mapping[str, str],
    paths: FormingPaths | None = None,
) -> list[list[Any]]:
    """``GET /api/v3/klines``: candles up to now (the last one still forming).

    Without ``startTime`` the newest ``limit`` candles are returned; with it, the oldest
    ``limit`` from there — including python-binance's ``startTime=0, limit=1`` probe for
    the first available candle. ``paths`` (optional) keeps the forming minute's extremes
    between calls.
    """
    return [kline_row(b) for b in kline_bars(feed, now, query, paths)]


def kline_bars(
    feed: PriceFeed,
    now: float,
    query: Mapping[str, str],
    paths: FormingPaths | None = None,
) -> list[Kline]:
    """The candles :func:`klines` answers, before they are written as rows."""
    span = kline_span(feed, now, query)
    return [] if span is None else span_bars(feed, now, span, paths)


class KlineSpan(NamedTuple):
    """A klines query after Binance's rules: the bars it answers (see :func:`kline_span`).

    ``first`` is the first bar's open time (on the interval), ``stop`` the last open time
    allowed; the minutes ``[first, read_end)`` are read; ``live`` says the feed still runs
    at ``now_ms``, so the forming candle can be one of them. (A named tuple: one is built
    per request, and a frozen dataclass costs several times more to build.)
    """

    symbol: str
    step: int
    first: int
    stop: int
    limit: int
    read_end: int
    now_ms: int
    live: bool


def kline_span(
    feed: PriceFeed, now: float, query: Mapping[str, str | int]
) -> KlineSpan | None:
    """The range rules of ``GET /api/v3/klines`` (None: the answer is empty), or the
    error Binance gives for the query. Numbers may be given as ``int`` (in-process
    callers): the same as their text."""
    symbol = _symbol(feed, query)  # type: ignore[arg-type]
    interval = query.get("interval", "")
    if interval not in INTERVALS_MS:
        raise BinanceApiError(400, -1120, "Invalid interval.")
    step = INTERVALS_MS[interval]  # type: ignore[index]
    limit = _int_param(query, "limit", DEFAULT_LIMIT) or DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise BinanceApiError(400, -1130, "Invalid data sent for a parameter.")
    first_ms, end_ms = feed.time_range()
    now_ms = int(now * 1000)
    latest = min(now_ms, end_ms - 1)
    start = _int_param(query, "startTime", None)
    stop = _int_param(query, "endTime", None)
    stop = latest if stop is None else min(stop, latest)
    if start is None:
        start = stop - stop % step - (limit - 1) * step
    start = max(start, first_ms)
    if start > stop:
        return None
    read_end = min(start + limit * step, stop - stop % step + step)
    return KlineSpan(
        symbol, step, start - start % step, stop, limit, read_end, now_ms, now_ms < end_ms
    )


def span_bars(
    feed: PriceFeed,
    now: float,
    span: KlineSpan,
    paths: FormingPaths | None = None,
    minutes: list[Kline] | None = None,
) -> list[Kline]:
    """The bars of ``span`` at ``now``: the closed minutes read, the forming one so far,
    aggregated to the interval. ``minutes`` is ``feed.klines(span.symbol, span.first,
    span.read_end)`` when the caller already has it (a minute's candle never changes)."""
    if minutes is None:
        minutes = feed.klines(span.symbol, span.first, span.read_end)
    now_ms = span.now_ms
    closed = [k for k in minutes if k.open_time_ms + MINUTE_MS <= now_ms]
    # the forming candle opens at now's minute: built only when the span can hold it
    if span.live and minute_open_ms(now) < span.read_end:
        whole = minutes[-1] if minutes else None
        forming = forming_candle(feed, span.symbol, now, paths, whole)
        if forming is not None:
            closed.append(forming)
    if span.step == MINUTE_MS:
        # minutes are their own bars, and every one read lies in [first, stop]: it
        # opens in [first, read_end), and read_end ends the minute holding stop
        return closed[: span.limit]
    bars = [
        b
        for b in _aggregate(closed, span.step)
        if span.first <= b.open_time_ms <= span.stop
    ]
    return bars[: span.limit]


def ticker_price(feed: PriceFeed, now: float, query: Mapping[str, str]) -> Any:
    """``GET /api/v3/ticker/price`` for one symbol, or all when none is given."""
    if "symbol" not in query:
        return [{"symbol": s, "price": _fmt(feed.price_at(s, now))} for s in feed.symbols]
    symbol = _symbol(feed, query)
    return {"symbol": symbol, "price": _fmt(feed.price_at(symbol, now))}


def _half_spread(price: float) -> float:
    return max(price * 0.00005, 0.0001)


def book_ticker(feed: PriceFeed, now: float, query: Mapping[str, str]) -> dict[str, str]:
    """``GET /api/v3/ticker/bookTicker``: a tight synthetic spread around the price."""
    symbol = _symbol(feed, query)
    price = feed.price_at(symbol, now)
    half = _half_spread(price)
    return {
        "symbol": symbol,
        "bidPrice": _fmt(price - half),
        "bidQty": "5.00000000",
        "askPrice": _fmt(price + half),
        "askQty": "5.00000000",
    }


def depth(feed: PriceFeed, now: float, query: Mapping[str, str]) -> dict[str, Any]:
    """``GET /api/v3/depth``: symmetric synthetic levels around the price."""
    symbol = _symbol(feed, query)
    limit = _int_param(query, "limit", 100) or 100
    if limit not in (5, 10, 20, 50, 100, 500, 1000, 5000):
        raise BinanceApiError(400, -1130, "Invalid data sent for a parameter.")
    price = feed.price_at(symbol, now)
    half = _half_spread(price)
    levels = range(min(limit, 100))
    return {
        "lastUpdateId": int(now * 1000),
        "bids": [[_fmt(price - half * (1 + 2 * i)), _fmt(1.0 + i)] for i in levels],
        "asks": [[_fmt(price + half * (1 + 2 * i)), _fmt(1.0 + i)] for i in levels],
    }


def agg_trades(
    feed: PriceFeed, now: float, query: Mapping[str, str]
) -> list[dict[str, Any]]:
    """``GET /api/v3/aggTrades``: one aggregated trade per second of the path, newest last.

    Sizes share out each minute's volume; the buyer-is-maker flag follows the minute's
    taker-buy share, so order flow seen here agrees with the klines.
    """
    symbol = _symbol(feed, query)
    limit = min(_int_param(query, "limit", DEFAULT_LIMIT) or DEFAULT_LIMIT, MAX_LIMIT)
    end_s = math.floor(now)
    trades = []
    for second in range(end_s - limit + 1, end_s + 1):
        minute = feed.klines(symbol, minute_open_ms(second), minute_open_ms(second) + 1)
        if not minute:
            continue
        k = minute[0]
        buy_share = k.taker_buy_volume / k.volume if k.volume > 0 else 0.5
        draw = int.from_bytes(
            hashlib.sha256(f"{symbol}{second}".encode()).digest()[:4], "big"
        )
        trades.append(
            {
                "a": second,
                "p": _fmt(feed.price_at(symbol, second)),
                "q": _fmt(k.volume / 60),
                "f": second * 10,
                "l": second * 10,
                "T": second * 1000,
                "m": draw / 2**32 >= buy_share,
                "M": True,
            }
        )
    return trades


def _funding_rate(symbol: str, funding_time_ms: int) -> float:
    # Small, deterministic and centred on the usual 0.01 %: no information about direction.
    draw = int.from_bytes(
        hashlib.sha256(f"{symbol}{funding_time_ms}".encode()).digest()[:4], "big"
    )
    return 0.0001 + (draw / 2**32 - 0.5) * 0.0001


def premium_index(feed: PriceFeed, now: float, query: Mapping[str, str]) -> dict[str, Any]:
    """``GET /fapi/v1/premiumIndex``."""
    symbol = _symbol(feed, query)
    now_ms = int(now * 1000)
    last_funding = now_ms - now_ms % FUNDING_INTERVAL_MS
    price = feed.price_at(symbol, now)
    return {
        "symbol": symbol,
        "markPrice": _fmt(price),
        "indexPrice": _fmt(price),
        "estimatedSettlePrice": _fmt(price),
        "lastFundingRate": _fmt(_funding_rate(symbol, last_funding)),
        "interestRate": "0.00010000",
        "nextFundingTime": last_funding + FUNDING_INTERVAL_MS,
        "time": now_ms,
    }


def funding_rate(
    feed: PriceFeed, now: float, query: Mapping[str, str]
) -> list[dict[str, Any]]:
    """``GET /fapi/v1/fundingRate``: the last ``limit`` (default 100) funding events."""
    symbol = _symbol(feed, query)
    limit = min(_int_param(query, "limit", 100) or 100, MAX_LIMIT)
    now_ms = int(now * 1000)
    last = now_ms - now_ms % FUNDING_INTERVAL_MS
    first_ms = feed.time_range()[0]
    times = [last - i * FUNDING_INTERVAL_MS for i in range(limit)]
    return [
        {
            "symbol": symbol,
            "fundingTime": t,
            "fundingRate": _fmt(_funding_rate(symbol, t)),
            "markPrice": _fmt(feed.price_at(symbol, t / 1000)),
        }
        for t in reversed(times)
        if t >= first_ms
    ]


def kline_event(feed: PriceFeed, symbol: str, now: float) -> dict[str, Any] | None:
    """A ``<symbol>@kline_1m`` websocket message for the candle forming at ``now``."""
    k = forming_candle(feed, symbol, now)
    if k is None:
        return None
    closed = int(now * 1000) >= k.close_time_ms
    return {
        "e": "kline",
        "E": int(now * 1000),
        "s": symbol,
        "k": {
            "t": k.open_time_ms,
            "T": k.close_time_ms,
            "s": symbol,
            "i": "1m",
            "f": 0,
            "L": k.trades,
            "o": _fmt(k.open),
            "c": _fmt(k.close),
            "h": _fmt(k.high),
            "l": _fmt(k.low),
            "v": _fmt(k.volume),
            "n": k.trades,
            "x": closed,
            "q": _fmt(k.quote_volume),
            "V": _fmt(k.taker_buy_volume),
            "Q": _fmt(k.taker_buy_quote_volume),
            "B": "0",
        },
    }
