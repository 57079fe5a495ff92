"""The in-process Binance client's parsed klines are what the text answer parses to."""

from __future__ import annotations

import math
import struct
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from src.backtest.adapters import InProcessBinanceClient
from src.data.market_data.binance import BinanceMarketData, parse_kline_row, parse_klines
from src.data.market_data.polymarket import MarketDataError
from src.sim import binance_api as api
from src.sim.emulator.world import LockedFeed
from src.sim.feeds.base import MINUTE_MS, Kline
from src.sim.feeds.generator import DEFAULT_START_MS, GeneratedFeed
from src.utils.clock import SimClock

MINUTES = 300
FEED = LockedFeed(GeneratedFeed(7, start_ms=DEFAULT_START_MS, minutes=MINUTES))
FIRST_S = DEFAULT_START_MS / 1000
END_S = FIRST_S + MINUTES * 60


def client(clock: SimClock) -> InProcessBinanceClient:
    return InProcessBinanceClient(SimpleNamespace(feed=FEED), clock)  # type: ignore[arg-type]


def _bits_float(bits: int) -> float:
    return float(struct.unpack("<d", struct.pack("<Q", bits))[0])


any_float = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(0, 2**64 - 1).map(_bits_float),
    st.decimals(0, 10**6, places=9).map(float),  # ties and near-ties at the 8th place
)


@settings(max_examples=3000, deadline=None)
@given(any_float)
def test_round_reads_like_the_text(x: float) -> None:
    """``round(x, 8)`` is the number ``f"{x:.8f}"`` reads back as, sign of zero too."""
    text = float(api.kline_row(Kline(0, x, x, x, x, x, 0, x, 0, x, x))[1])
    number = api.kline_values(Kline(0, x, x, x, x, x, 0, x, 0, x, x))[1]
    if math.isnan(x):
        assert math.isnan(text) and math.isnan(number)
    else:
        assert number == text and math.copysign(1, number) == math.copysign(1, text)


prices = st.floats(-10, 1e6, allow_nan=False).map(lambda p: round(p, 11))
klines_any = st.builds(
    Kline,
    open_time_ms=st.integers(0, 2**40),
    open=prices,
    high=prices,
    low=prices,
    close=prices,
    volume=prices,
    close_time_ms=st.integers(0, 2**40),
    quote_volume=prices,
    trades=st.integers(0, 10**9),
    taker_buy_volume=prices,
    taker_buy_quote_volume=prices,
)


def _parse(row: list[Any]) -> Kline | str:
    try:
        return parse_kline_row(row)
    except MarketDataError:
        return "refused"


@settings(max_examples=500, deadline=None)
@given(klines_any)
def test_values_parse_like_the_text(kline: Kline) -> None:
    """The same candle, or the same refusal, from the numbers as from the text."""
    assert _parse(api.kline_values(kline)) == _parse(api.kline_row(kline))


queries = st.fixed_dictionaries(
    {
        "symbol": st.sampled_from(["BTCUSDT", "ethusdt", "DOGEUSDT"]),
        "interval": st.sampled_from(["1m", "1m", "1m", "5m", "15m", "7m"]),
    },
    optional={
        "limit": st.sampled_from([1, 2, 241, 1000, 1001]),
        "startTime": st.one_of(
            st.just(0),
            st.integers(-5, MINUTES + 5).map(lambda m: DEFAULT_START_MS + m * MINUTE_MS),
            st.integers(DEFAULT_START_MS - 10**6, DEFAULT_START_MS + MINUTES * MINUTE_MS),
        ),
        "endTime": st.integers(DEFAULT_START_MS, DEFAULT_START_MS + MINUTES * MINUTE_MS),
    },
)


def _answer(call: Any, params: dict[str, Any]) -> Any:
    try:
        return call(**params)
    except MarketDataError as exc:
        return f"error: {exc}"


@settings(max_examples=300, deadline=None)
@given(
    params=queries,
    now=st.floats(FIRST_S, END_S + 120, allow_nan=False),
    polls=st.lists(st.floats(0, 200, allow_nan=False), max_size=4),
)
def test_parsed_klines_are_the_parsed_text(
    params: dict[str, Any], now: float, polls: list[float]
) -> None:
    """Any query at any time (a few polls in a row, the forming minute's extremes kept
    between them) answers the candles the text answer parses to, or the same error."""
    clock = SimClock(start=now)
    fast, text = client(clock), client(clock)
    for step in (0.0, *polls):
        clock.advance(step)
        got = _answer(fast.parsed_klines, params)
        want = _answer(text.get_klines, params)
        assert got == (want if isinstance(want, str) else parse_klines(want))


def _text_only(inner: InProcessBinanceClient) -> Any:
    """The same client without ``parsed_klines`` (as python-binance is)."""
    return SimpleNamespace(
        get_klines=inner.get_klines,
        get_symbol_ticker=inner.get_symbol_ticker,
        futures_funding_rate=inner.futures_funding_rate,
    )


@pytest.mark.parametrize("step_s", [10.0, 7.3, 61.0])
def test_market_data_over_both_paths_is_the_same(step_s: float) -> None:
    """``BinanceMarketData`` keeps the same candles, price, freshness and strikes whether
    the client parses for it or hands it text."""
    clock = SimClock(start=FIRST_S + 3 * 3600 + 5)
    fast = BinanceMarketData(client(clock), clock)  # type: ignore[arg-type]
    text = BinanceMarketData(_text_only(client(clock)), clock)
    while clock.now() < END_S + 30:
        for coin in ("btc", "ETH"):
            assert fast.refresh(coin) == text.refresh(coin)
            start = int(clock.now()) - int(clock.now()) % 900
            assert fast.strike_price(coin, start) == text.strike_price(coin, start)
        clock.advance(step_s)
    assert fast.strike_price("btc", 0) == text.strike_price("btc", 0) is None
