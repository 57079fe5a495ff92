"""Binance market data with the real python-binance client over HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlparse

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from src.data.market_data.binance import (
    BinanceMarketData,
    binance_symbol,
    make_client,
    parse_funding_rate,
    parse_kline_row,
    parse_klines,
    parse_ticker_price,
)
from src.data.market_data.polymarket import MarketDataError
from src.utils.clock import SimClock

T0 = 1_767_225_600  # 2026-01-01 00:00 UTC, a window start


def row(minute: int, open_: float = 100.0, close: float = 101.0) -> list[Any]:
    """A Binance kline row for the minute ``minute`` after T0."""
    start = (T0 + 60 * minute) * 1000
    high, low = max(open_, close) + 1, min(open_, close) - 1
    return [
        start,
        str(open_),
        str(high),
        str(low),
        str(close),
        "10.5",
        start + 59_999,
        "1050.0",
        42,
        "6.0",
        "600.0",
        "0",
    ]


class FakeBinance(BaseHTTPRequestHandler):
    """Serves the three public endpoints the adapter reads, from class-level state."""

    minutes: ClassVar[int] = 0
    requests: ClassVar[list[tuple[str, dict[str, list[str]]]]] = []
    fail_next: ClassVar[list[int]] = []

    def do_GET(self) -> None:
        url = urlparse(self.path)
        query = parse_qs(url.query)
        FakeBinance.requests.append((url.path, query))
        if FakeBinance.fail_next:
            self._send(FakeBinance.fail_next.pop(0), {"code": -1003, "msg": "Too many"})
            return
        if url.path == "/api/v3/klines":
            start = int(query.get("startTime", [str(T0 * 1000)])[0])
            limit = int(query.get("limit", ["500"])[0])
            first = (start // 1000 - T0) // 60
            rows = [
                row(m, 100 + m, 101 + m) for m in range(max(first, 0), FakeBinance.minutes)
            ]
            self._send(200, rows[:limit])
        elif url.path == "/api/v3/ticker/price":
            self._send(200, {"symbol": query["symbol"][0], "price": "123.45"})
        elif url.path == "/fapi/v1/fundingRate":
            self._send(
                200,
                [{"symbol": query["symbol"][0], "fundingRate": "0.0001", "fundingTime": 1}],
            )
        else:
            self._send(404, {})

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeBinance)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    FakeBinance.minutes, FakeBinance.requests, FakeBinance.fail_next = 0, [], []
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def make(server: str, clock: SimClock, history: int = 240) -> BinanceMarketData:
    client = make_client(f"{server}/api", f"{server}/fapi", timeout_s=2)
    return BinanceMarketData(client, clock, history=history)


def test_klines_are_fetched_then_refreshed_incrementally(server: str) -> None:
    clock = SimClock(start=T0 + 5 * 60 + 30)  # minute 5 is still open
    FakeBinance.minutes = 6
    data = make(server, clock)
    snap = data.refresh("btc")
    assert snap.symbol == "BTCUSDT"
    assert [k.open_time_ms for k in snap.klines] == [(T0 + 60 * m) * 1000 for m in range(5)]
    assert snap.last_price == 106.0  # the open minute's latest close
    assert snap.klines[0].taker_buy_volume == 6.0 and snap.klines[0].trades == 42
    clock.advance(120)
    FakeBinance.minutes = 8
    snap = data.refresh("BTC")
    assert len(snap.klines) == 7
    last_query = FakeBinance.requests[-1][1]
    assert last_query["startTime"] == [str((T0 + 300) * 1000)]  # only what is new


def test_the_klines_tuple_is_shared_until_a_minute_closes(server: str) -> None:
    clock = SimClock(start=T0 + 5 * 60 + 10)
    FakeBinance.minutes = 6
    data = make(server, clock, history=4)
    first = data.refresh("BTC").klines
    clock.advance(20)  # the same minute: nothing new, the same tuple
    assert data.refresh("BTC").klines is first and data.snapshot("BTC").klines is first
    clock.advance(60)
    FakeBinance.minutes = 7
    later = data.refresh("BTC").klines
    assert later is not first and len(later) == 4  # still bounded
    assert [k.open_time_ms for k in later] == [(T0 + 60 * m) * 1000 for m in range(2, 6)]
    assert later == tuple(data._klines["BTCUSDT"])


def test_history_is_bounded(server: str) -> None:
    FakeBinance.minutes = 50
    data = make(server, SimClock(start=T0 + 3600), history=10)
    assert len(data.refresh("ETH").klines) == 10


def test_staleness(server: str) -> None:
    clock = SimClock(start=T0 + 120)
    FakeBinance.minutes = 2
    data = make(server, clock)
    assert data.is_stale("BTC", 30)  # never fetched
    data.refresh("BTC")
    assert not data.is_stale("BTC", 30)
    clock.advance(31)
    assert data.is_stale("BTC", 30)


def test_failed_refresh_keeps_the_cache(server: str) -> None:
    clock = SimClock(start=T0 + 300)
    FakeBinance.minutes = 5
    data = make(server, clock)
    before = data.refresh("BTC")
    FakeBinance.fail_next = [500]
    clock.advance(60)
    after = data.refresh("BTC")
    assert after.klines == before.klines and after.refreshed_ms == before.refreshed_ms


def test_strike_from_cache_or_a_targeted_request(server: str) -> None:
    FakeBinance.minutes = 20
    data = make(server, SimClock(start=T0 + 20 * 60))
    assert data.strike_price("BTC", T0 + 900) == 115.0  # not cached: asked directly
    data.refresh("BTC")
    count = len(FakeBinance.requests)
    assert data.strike_price("BTC", T0 + 900) == 115.0
    assert len(FakeBinance.requests) == count  # served from cache
    assert data.strike_price("BTC", T0 + 9000) is None  # the future has no candle


def test_ticker_and_funding(server: str) -> None:
    data = make(server, SimClock(start=T0))
    assert data.ticker_price("sol") == 123.45
    assert data.funding_rate("xrp") == 0.0001
    FakeBinance.fail_next = [429, 500]
    assert data.ticker_price("sol") is None
    assert data.funding_rate("sol") is None


def test_binance_symbol() -> None:
    assert binance_symbol("btc") == "BTCUSDT" and binance_symbol("ETHUSDT") == "ETHUSDT"


@pytest.mark.parametrize(
    "bad",
    [
        None,
        [],
        [1, 2, 3],
        ["x"] * 12,
        row(0)[:10],
        [0, "100", "99", "101", "100", "1", 59999, "1", 1, "0.5", "50", "0"],  # high < low
        [0, "nan", "101", "99", "100", "1", 59999, "1", 1, "0.5", "50", "0"],
        [
            0,
            "100",
            "101",
            "99",
            "100",
            "1",
            59999,
            "1",
            1,
            "5",
            "50",
            "0",
        ],  # taker > volume
        [0, "-1", "101", "-2", "100", "1", 59999, "1", 1, "0.5", "50", "0"],
    ],
)
def test_bad_kline_rows(bad: Any) -> None:
    with pytest.raises(MarketDataError):
        parse_kline_row(bad)


def test_bad_rows_are_skipped_not_fatal() -> None:
    assert [k.open_time_ms for k in parse_klines([row(1), ["junk"], row(0)])] == [
        T0 * 1000,
        (T0 + 60) * 1000,
    ]
    for bad in ({}, "x", None):
        with pytest.raises(MarketDataError):
            parse_klines(bad)


@pytest.mark.parametrize("bad", [None, {}, {"price": "abc"}, {"price": "-1"}, []])
def test_bad_ticker(bad: Any) -> None:
    with pytest.raises(MarketDataError):
        parse_ticker_price(bad)


@pytest.mark.parametrize(
    "bad",
    [
        None,
        [],
        [{}],
        [{"fundingRate": "inf"}],
        [{"fundingRate": "0.5"}],
        {"fundingRate": "0.1"},
    ],
)
def test_bad_funding(bad: Any) -> None:
    with pytest.raises(MarketDataError):
        parse_funding_rate(bad)


anything = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=13)
        | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(anything)
def test_parsers_only_raise_market_data_error(payload: Any) -> None:
    for parser in (parse_kline_row, parse_klines, parse_ticker_price, parse_funding_rate):
        try:
            parser(payload)
        except MarketDataError:
            continue
