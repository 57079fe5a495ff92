"""The poller's shortcuts against their general paths: window slugs kept (lru_cache),
klines parsed into a positional Kline, refresh's snapshot taken under its own lock."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from src.data.market_data.binance import BinanceMarketData, parse_kline_row
from src.data.market_data.polymarket import MarketDataError
from src.data.market_data.windows import SlugError, WindowRef, window_slug
from src.sim.feeds.base import Kline
from src.utils.clock import SimClock

T0 = 1_767_225_600

general_slug = window_slug.__wrapped__  # the function without its cache


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["BTC", "eth", "SOLUSDT", " xrpusdc ", "Doge"]),
    st.integers(-5, 5).map(lambda k: T0 + 900 * k)
    | st.integers(T0 - 2_000, T0 + 2_000)
    | st.integers(T0 - 2_000, T0 + 2_000).map(float),
)
def test_window_slug_equals_the_uncached_function(coin: str, start: int) -> None:
    for _ in range(2):  # the second call is served from the cache
        try:
            expected: str | type = general_slug(coin, start)
        except SlugError:
            expected = SlugError
        if expected is SlugError:
            with pytest.raises(SlugError):
                window_slug(coin, start)
        else:
            assert window_slug(coin, start) == expected


def test_a_float_start_keeps_its_own_slug() -> None:
    assert window_slug("BTC", T0) == f"btc-updown-15m-{T0}"
    assert window_slug("BTC", float(T0)) == f"btc-updown-15m-{float(T0)}"
    assert window_slug("BTC", T0) == f"btc-updown-15m-{T0}"
    assert WindowRef("BTC", T0).slug == general_slug("BTC", T0)


numbers = st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=8)
integers = st.integers(-(2**64), 2**64) | st.booleans() | st.floats() | st.text(max_size=5)


def keyword_kline(row: Any) -> Kline:
    """parse_kline_row as first written: a keyword Kline, then the same checks."""
    from src.data.market_data.binance import _integer, _number

    if not isinstance(row, (list, tuple)) or len(row) < 11:
        raise MarketDataError("shape")
    kline = Kline(
        open_time_ms=_integer(row[0], "open time"),
        open=_number(row[1], "open"),
        high=_number(row[2], "high"),
        low=_number(row[3], "low"),
        close=_number(row[4], "close"),
        volume=_number(row[5], "volume"),
        close_time_ms=_integer(row[6], "close time"),
        quote_volume=_number(row[7], "quote volume"),
        trades=_integer(row[8], "trade count"),
        taker_buy_volume=_number(row[9], "taker buy volume"),
        taker_buy_quote_volume=_number(row[10], "taker buy quote volume"),
    )
    prices = (kline.open, kline.high, kline.low, kline.close)
    if min(prices) <= 0 or kline.low > min(prices) or kline.high < max(prices):
        raise MarketDataError("prices")
    if kline.volume < 0 or not 0 <= kline.taker_buy_volume <= kline.volume * (1 + 1e-9):
        raise MarketDataError("volumes")
    return kline


@st.composite
def rows(draw: st.DrawFn) -> list[Any]:
    low = draw(st.floats(0.01, 1e5))
    high = low + draw(st.floats(0, 10))
    price = st.floats(low, high) | st.floats(low, high).map(str)
    volume = draw(st.floats(0, 1e6))
    good = [
        T0 * 1000,
        draw(price),
        high,
        str(low),
        draw(price),
        volume,
        T0 * 1000 + 59_999,
        draw(st.floats(0, 1e6)),
        draw(st.integers(0, 10**6)),
        draw(st.floats(0, volume)),
        1.0,
        "0",
    ]
    # a field or two made bad, at times: the same error, from the same field
    for _ in range(draw(st.integers(0, 2))):
        i = draw(st.integers(0, 10))
        good[i] = draw(integers if i in (0, 6, 8) else numbers)
    return good


@settings(max_examples=200, deadline=None)
@given(rows())
def test_parse_kline_row_equals_the_keyword_build(row: list[Any]) -> None:
    try:
        expected: Any = keyword_kline(row)
    except MarketDataError as exc:
        expected = type(exc)
    if isinstance(expected, Kline):
        assert parse_kline_row(row) == expected
    else:
        with pytest.raises(MarketDataError):
            parse_kline_row(row)


class MinuteClient:
    """get_klines over a fixed run of minutes (the rows python-binance would return)."""

    def __init__(self) -> None:
        self.fail = False

    def get_klines(self, **params: Any) -> list[list[Any]]:
        if self.fail:
            raise ValueError("not JSON")
        start = params.get("startTime", T0 * 1000)
        return [
            [m, "100", "102", "99", "101", "10", m + 59_999, "1000", 5, "4", "400", "0"]
            for m in range(start, (T0 + 600) * 1000, 60_000)
        ][: params["limit"]]


def test_refresh_answers_what_snapshot_answers() -> None:
    clock = SimClock(start=T0 + 200)
    client = MinuteClient()
    data = BinanceMarketData(client, clock, history=3)  # type: ignore[arg-type]
    refreshed = None
    for step, fail in ((0, False), (30, False), (45, True), (60, False), (400, False)):
        clock.advance(step)
        client.fail = fail
        got = data.refresh("btc")
        if not fail:
            refreshed = int(clock.now() * 1000)
        assert (got.symbol, got.last_price, got.refreshed_ms) == (
            "BTCUSDT",
            101.0,
            refreshed,
        )
        assert refreshed is not None
        closed_end = min(refreshed - 59_999, (T0 + 600) * 1000)  # the client's last
        expected = list(range(T0 * 1000, closed_end, 60_000))[-3:]
        assert [k.open_time_ms for k in got.klines] == expected
        assert got == data.snapshot("btc")
        assert got.klines is data.snapshot("btc").klines  # the same shared tuple


def converted_fields(row: list[Any]) -> Kline | str:
    """A row's fields through the general conversions (``_integer``/``_number``), before
    the candle's checks; the message of the first refusal otherwise."""
    from src.data.market_data.binance import _integer, _number

    try:
        return Kline(
            _integer(row[0], "open time"),
            *(_number(row[i], "x") for i in range(1, 6)),
            _integer(row[6], "close time"),
            _number(row[7], "x"),
            _integer(row[8], "trade count"),
            _number(row[9], "x"),
            _number(row[10], "x"),
        )
    except MarketDataError as exc:
        return str(exc)


def typed(kline: Kline) -> list[tuple[type, Any]]:
    return [(type(v), v) for v in (getattr(kline, f) for f in Kline.__slots__)]


any_int = (
    st.integers(-(2**64), 2**64)
    | st.sampled_from([2**63 - 1, 2**63, -(2**63), -(2**63) - 1])
    | st.booleans()
)
any_float = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [1e308, -1e308, -0.0, 5e-324]
)
any_field = any_int | any_float | st.text(max_size=4)


@st.composite
def typed_rows(draw: st.DrawFn) -> list[Any]:
    """Rows mostly of in-process types (ints and floats), a field or two off at times."""
    row: list[Any] = [draw(any_int if i in (0, 6, 8) else any_float) for i in range(11)]
    row.append("0")
    for _ in range(draw(st.integers(0, 2))):
        row[draw(st.integers(0, 10))] = draw(any_field)
    return row


@settings(max_examples=1000, deadline=None)
@given(typed_rows() | rows())
def test_typed_rows_convert_as_the_general_rules_convert(row: list[Any]) -> None:
    """``_typed_kline``: no candle (the general rules decide), or the one their
    conversions give, field for field, types too."""
    from src.data.market_data.binance import _typed_kline

    shortcut = _typed_kline(row)
    if shortcut is not None:
        general = converted_fields(row)
        assert isinstance(general, Kline) and typed(shortcut) == typed(general)


def test_in_process_rows_take_the_typed_shortcut() -> None:
    from src.data.market_data.binance import _typed_kline
    from src.sim.binance_api import kline_values

    t = T0 * 1000
    kline = Kline(t, 1.5, 2.0, 1.0, 1.75, 10.0, t + 59_999, 15.0, 3, 4.0, 6.0)
    row = kline_values(kline)
    assert _typed_kline(row) == kline == parse_kline_row(row)
