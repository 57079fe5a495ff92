"""The klines shortcuts equal the general path: the range rules split into
``kline_span``/``span_bars`` answer what the rules answered as first written, numbers given
as ints read as their text, a poll's close read in the batch of its new seconds, and the
in-process client's kept minutes answer what a fresh read answers."""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from src.backtest.adapters import InProcessBinanceClient
from src.data.market_data.binance import BinanceMarketData, parse_klines
from src.sim import binance_api as api
from src.sim.emulator.world import LockedFeed
from src.sim.feeds.base import MINUTE_MS, Kline, PriceFeed
from src.sim.feeds.generator import DEFAULT_START_MS, GeneratedFeed
from src.utils.clock import SimClock

MINUTES = 240
FEED = GeneratedFeed(11, start_ms=DEFAULT_START_MS, minutes=MINUTES)
FIRST_S = DEFAULT_START_MS / 1000
END_S = FIRST_S + MINUTES * 60


def bars_as_first_written(
    feed: PriceFeed, now: float, query: Mapping[str, str]
) -> list[Kline]:
    """``kline_bars`` before its rules were split in two (no kept extremes)."""
    symbol = api._symbol(feed, query)
    interval = query.get("interval", "")
    if interval not in api.INTERVALS_MS:
        raise api.BinanceApiError(400, -1120, "Invalid interval.")
    step = api.INTERVALS_MS[interval]
    limit = api._int_param(query, "limit", api.DEFAULT_LIMIT) or api.DEFAULT_LIMIT
    if not 1 <= limit <= api.MAX_LIMIT:
        raise api.BinanceApiError(400, -1130, "Invalid data sent for a parameter.")
    first_ms, end_ms = feed.time_range()
    now_ms = int(now * 1000)
    latest = min(now_ms, end_ms - 1)
    start = api._int_param(query, "startTime", None)
    stop = api._int_param(query, "endTime", None)
    stop = latest if stop is None else min(stop, latest)
    if start is None:
        start = stop - stop % step - (limit - 1) * step
    start = max(start, first_ms)
    if start > stop:
        return []
    span_end = min(start + limit * step, stop - stop % step + step)
    minutes = feed.klines(symbol, start - start % step, span_end)
    closed = [k for k in minutes if k.open_time_ms + MINUTE_MS <= now_ms]
    forming = api.forming_candle(feed, symbol, now, None, minutes[-1] if minutes else None)
    if forming is not None and forming.open_time_ms < span_end and now_ms < end_ms:
        closed.append(forming)
    bars = [
        b
        for b in api._aggregate(closed, step)
        if start - start % step <= b.open_time_ms <= stop
    ]
    return bars[:limit]


def _outcome(call: Any, *args: Any) -> Any:
    try:
        return call(*args)
    except api.BinanceApiError as exc:
        return exc


minute = st.integers(-5, MINUTES + 5).map(lambda m: DEFAULT_START_MS + m * MINUTE_MS)
queries = st.fixed_dictionaries(
    {
        "symbol": st.sampled_from(["BTCUSDT", "ethusdt", "DOGEUSDT", ""]),
        "interval": st.sampled_from(["1m", "1m", "1m", "3m", "5m", "15m", "1h", "7m"]),
    },
    optional={
        "limit": st.sampled_from(["", "0", "1", "2", "17", "241", "1000", "1001", "x"]),
        "startTime": st.one_of(
            st.just("0"),
            minute.map(str),
            st.integers(DEFAULT_START_MS - 10**6, int(END_S * 1000) + 10**5).map(str),
            st.sampled_from(["-5", "", "12a"]),
        ),
        "endTime": st.one_of(
            minute.map(str),
            st.integers(DEFAULT_START_MS - 10**5, int(END_S * 1000) + 10**5).map(str),
        ),
    },
)
times = st.one_of(
    st.floats(FIRST_S - 90, END_S + 120, allow_nan=False),
    minute.map(lambda ms: ms / 1000),  # a minute's first instant
    minute.map(lambda ms: ms / 1000 - 0.001),  # its previous minute's last
)


@settings(max_examples=600, deadline=None)
@given(query=queries, now=times)
def test_split_rules_answer_the_bars_as_first_written(
    query: dict[str, str], now: float
) -> None:
    """Any query at any time: the same bars, or the same error, and kept extremes too."""
    want = _outcome(bars_as_first_written, FEED, now, query)
    assert _outcome(api.kline_bars, FEED, now, query) == want
    paths = api.FormingPaths()
    for earlier in (now - 37.0, now - 1.5, now):  # the extremes kept from earlier polls
        _outcome(api.kline_bars, FEED, earlier, query, paths)
    assert _outcome(api.kline_bars, FEED, now, query, paths) == want


@settings(max_examples=300, deadline=None)
@given(query=queries, now=times)
def test_numbers_as_ints_read_as_their_text(query: dict[str, str], now: float) -> None:
    """The in-process client's int parameters give the span their text gives."""
    as_ints: dict[str, str | int] = {
        k: int(v) if k != "symbol" and k != "interval" and v.lstrip("-").isdigit() else v
        for k, v in query.items()
    }
    assert _outcome(api.kline_span, FEED, now, as_ints) == _outcome(
        api.kline_span, FEED, now, query
    )


@settings(max_examples=300, deadline=None)
@given(
    start=st.floats(FIRST_S, END_S - 60, allow_nan=False),
    offsets=st.lists(st.floats(0, 59.999, allow_nan=False), min_size=1, max_size=6),
)
def test_a_poll_reads_its_close_with_its_new_seconds(
    start: float, offsets: list[float]
) -> None:
    """``FormingPaths.read``: the extremes of the seconds so far and the price at now,
    whatever was read before (polls out of order, other minutes between)."""
    paths = api.FormingPaths()
    minute_ms = int(start // 60) * MINUTE_MS
    for offset in offsets:
        now = minute_ms / 1000 + offset
        steps = max(1, math.floor(now - minute_ms / 1000))
        prices = [FEED.price_at("BTCUSDT", minute_ms / 1000 + i) for i in range(steps)]
        high, low, close = paths.read(FEED, "BTCUSDT", minute_ms, steps, now)
        assert (high, low, close) == (
            max(prices),
            min(prices),
            FEED.price_at("BTCUSDT", now),
        )
        assert paths.extremes(FEED, "BTCUSDT", minute_ms, steps) == (high, low)


def client(clock: SimClock) -> InProcessBinanceClient:
    feed = LockedFeed(FEED)
    return InProcessBinanceClient(SimpleNamespace(feed=feed), clock)  # type: ignore[arg-type]


@settings(max_examples=100, deadline=None)
@given(
    start=st.floats(FIRST_S + 600, END_S - 600, allow_nan=False),
    steps=st.lists(st.floats(0, 75, allow_nan=False), min_size=2, max_size=25),
)
def test_kept_minutes_answer_what_a_fresh_read_answers(
    start: float, steps: list[float]
) -> None:
    """Incremental polls (the same span again until a minute closes, then a new one),
    strike look-ups between them: the client that keeps its spans' minutes answers what
    a new client answers each time."""
    clock = SimClock(start=start)
    kept = client(clock)
    data = BinanceMarketData(kept, clock)  # type: ignore[arg-type]
    for step in steps:
        clock.advance(step)
        for coin in ("BTC", "ETH"):
            since = data.snapshot(coin).klines
            params: dict[str, Any] = {"symbol": f"{coin}USDT", "interval": "1m"}
            if since:
                params["startTime"] = since[-1].open_time_ms + MINUTE_MS
            params["limit"] = 1000 if since else 241
            assert kept.parsed_klines(**params) == client(clock).parsed_klines(**params)
            assert kept.parsed_klines(**params) == parse_klines(kept.get_klines(**params))
            data.refresh(coin)
            strike = {"symbol": f"{coin}USDT", "interval": "1m", "limit": 1}
            strike["startTime"] = int(clock.now() // 900 * 900 * 1000)
            assert kept.parsed_klines(**strike) == client(clock).parsed_klines(**strike)


ranges = st.tuples(
    st.integers(-3, MINUTES + 3).map(lambda m: DEFAULT_START_MS + m * MINUTE_MS)
    | st.integers(DEFAULT_START_MS - 10**5, DEFAULT_START_MS + (MINUTES + 1) * MINUTE_MS),
    st.integers(0, 4 * MINUTE_MS) | st.integers(0, 4).map(lambda m: m * MINUTE_MS),
)


@settings(max_examples=300, deadline=None)
@given(
    symbol=st.sampled_from(["BTCUSDT", "ETHUSDT"]),
    reads=st.lists(ranges, min_size=1, max_size=15),
)
def test_span_minutes_are_the_feeds_minutes(
    symbol: str, reads: list[tuple[int, int]]
) -> None:
    """Ranges in any order (inside the last one read, equal to it, overlapping it, apart
    from it): the kept minutes are what the feed reads for the range."""
    kept = client(SimClock(start=END_S))
    for first, length in reads:
        span = api.KlineSpan(symbol, MINUTE_MS, first, first, 1000, first + length, 0, True)
        assert kept._span_minutes(span) == FEED.klines(symbol, first, first + length)
