"""Binance API answers built from a price feed: shapes, errors, and no look-ahead."""

from __future__ import annotations

from dataclasses import fields

import pytest

from src.sim import binance_api as api
from src.sim.feeds.base import MINUTE_MS, Kline
from src.sim.feeds.generator import DEFAULT_START_MS, GeneratedFeed
from src.sim.feeds.table import KlineTable

T0 = 1_767_225_600


class LineFeed:
    """A feed whose price rises 1.0 per second from 100 at T0 (easy to hand-check)."""

    symbols = ("BTCUSDT",)

    def time_range(self) -> tuple[int, int]:
        return T0 * 1000, (T0 + 3600) * 1000

    def price_at(self, symbol: str, t: float) -> float:
        return 100.0 + (t - T0)

    def klines(self, symbol: str, start_ms: int, end_ms: int) -> list[Kline]:
        first, end = self.time_range()
        out = []
        for open_ms in range(
            max(start_ms - start_ms % MINUTE_MS, first), min(end_ms, end), MINUTE_MS
        ):
            if open_ms < start_ms:
                continue
            t = open_ms / 1000
            o, c = self.price_at(symbol, t), self.price_at(symbol, t + 60)
            out.append(
                Kline(
                    open_ms,
                    o,
                    c,
                    o,
                    c,
                    60.0,
                    open_ms + 59_999,
                    60.0 * o,
                    600,
                    30.0,
                    30.0 * o,
                )
            )
        return out


feed = LineFeed()


def test_klines_never_show_the_future() -> None:
    now = T0 + 5 * 60 + 30  # half-way through minute 5
    rows = api.klines(feed, now, {"symbol": "BTCUSDT", "interval": "1m", "limit": "3"})
    assert [r[0] for r in rows] == [(T0 + 60 * m) * 1000 for m in (3, 4, 5)]
    forming = rows[-1]
    assert float(forming[1]) == 400.0 and float(forming[4]) == 430.0  # open, close so far
    assert float(forming[2]) == 430.0  # high so far, not the minute's 460
    assert float(forming[5]) == pytest.approx(30.0)  # half the minute's volume
    assert rows[0][6] == rows[0][0] + 59_999 and isinstance(rows[0][8], int)


def test_start_time_probe_and_ranges() -> None:
    now = T0 + 600
    probe = api.klines(
        feed, now, {"symbol": "BTCUSDT", "interval": "1m", "startTime": "0", "limit": "1"}
    )
    assert probe[0][0] == T0 * 1000
    ranged = api.klines(
        feed,
        now,
        {
            "symbol": "btcusdt",
            "interval": "1m",
            "startTime": str((T0 + 120) * 1000),
            "endTime": str((T0 + 239) * 1000),
        },
    )
    assert [r[0] for r in ranged] == [(T0 + 120) * 1000, (T0 + 180) * 1000]


def test_aggregated_intervals() -> None:
    rows = api.klines(feed, T0 + 1810, {"symbol": "BTCUSDT", "interval": "15m"})
    assert [r[0] for r in rows] == [T0 * 1000, (T0 + 900) * 1000, (T0 + 1800) * 1000]
    assert float(rows[-1][4]) == 1910.0  # the third bar is forming, closing at now
    first = rows[0]
    assert float(first[1]) == 100.0 and float(first[4]) == 1000.0
    assert float(first[5]) == 900.0 and first[8] == 9000


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({"interval": "1m"}, -1102),
        ({"symbol": "DOGEUSDT", "interval": "1m"}, -1121),
        ({"symbol": "BTCUSDT", "interval": "7m"}, -1120),
        ({"symbol": "BTCUSDT", "interval": "1m", "limit": "5000"}, -1130),
        ({"symbol": "BTCUSDT", "interval": "1m", "startTime": "abc"}, -1100),
    ],
)
def test_errors_use_binance_codes(query: dict[str, str], code: int) -> None:
    with pytest.raises(api.BinanceApiError) as info:
        api.klines(feed, T0 + 600, query)
    assert info.value.code == code and info.value.status == 400
    assert info.value.body()["msg"]


def test_tickers_depth_and_trades() -> None:
    now = T0 + 90.5
    assert api.ticker_price(feed, now, {"symbol": "BTCUSDT"}) == {
        "symbol": "BTCUSDT",
        "price": "190.50000000",
    }
    assert api.ticker_price(feed, now, {})[0]["symbol"] == "BTCUSDT"
    book = api.book_ticker(feed, now, {"symbol": "BTCUSDT"})
    assert float(book["bidPrice"]) < 190.5 < float(book["askPrice"])
    levels = api.depth(feed, now, {"symbol": "BTCUSDT", "limit": "5"})
    assert len(levels["bids"]) == 5 and float(levels["bids"][0][0]) > float(
        levels["bids"][1][0]
    )
    trades = api.agg_trades(feed, now, {"symbol": "BTCUSDT", "limit": "10"})
    assert len(trades) == 10 and trades[-1]["T"] == (T0 + 90) * 1000
    assert {t["m"] for t in api.agg_trades(feed, now, {"symbol": "BTCUSDT"})} == {
        True,
        False,
    }


def test_funding_is_small_and_deterministic() -> None:
    now = T0 + 3000
    first = api.funding_rate(feed, now, {"symbol": "BTCUSDT"})
    assert first == api.funding_rate(feed, now, {"symbol": "BTCUSDT"})
    assert all(abs(float(f["fundingRate"])) < 0.001 for f in first)
    index = api.premium_index(feed, now, {"symbol": "BTCUSDT"})
    assert index["nextFundingTime"] > index["time"]


def test_kline_event() -> None:
    event = api.kline_event(feed, "BTCUSDT", T0 + 30)
    assert event is not None and event["k"]["x"] is False and event["k"]["i"] == "1m"
    assert float(event["k"]["c"]) == 130.0


# --- the in-process client's shortcuts give the same answers ------------------------------


@pytest.fixture(scope="module")
def generated() -> GeneratedFeed:
    return GeneratedFeed(3, start_ms=DEFAULT_START_MS, minutes=240)


def test_few_klines_are_the_table_rows(generated: GeneratedFeed) -> None:
    first, end = generated.time_range()
    spans = [(first, first), (first - MINUTE_MS, first + 2 * MINUTE_MS), (end - 1, end + 5)]
    spans += [
        (first + a * 7_919, first + a * 7_919 + b * 30_011)
        for a in range(40)
        for b in range(12)
    ]
    for start_ms, end_ms in spans:
        table = generated.table("BTCUSDT", start_ms, end_ms)
        assert generated.klines("BTCUSDT", start_ms, end_ms) == table.to_klines()
        columns = {f.name: getattr(table, f.name) for f in fields(KlineTable)}
        assert KlineTable(**columns).same_as(table)  # a slice still passes the checks


def test_kept_minute_extremes_give_the_same_klines(generated: GeneratedFeed) -> None:
    first = generated.time_range()[0] / 1000
    paths = api.FormingPaths()
    queries = [
        {"symbol": "ETHUSDT", "interval": "1m", "limit": "241"},
        {"symbol": "ETHUSDT", "interval": "1m", "startTime": "0", "limit": "1"},
    ]
    # polls every 10 s with odd offsets, a repeated time, a step back, and minute edges
    times = [first + 7200 + 10 * i + (i % 3) * 0.37 for i in range(40)]
    times += [times[5], times[3], first + 7260.0, first + 7260.999, first + 7319.5]
    for now in times:
        start = (int(now * 1000) // MINUTE_MS - 2) * MINUTE_MS
        for query in (
            *queries,
            {"symbol": "ETHUSDT", "interval": "1m", "startTime": str(start)},
        ):
            assert api.klines(generated, now, query, paths) == api.klines(
                generated, now, query
            )
        whole = generated.klines("ETHUSDT", int(now // 60) * MINUTE_MS, int(now * 1000) + 1)
        assert api.forming_candle(generated, "ETHUSDT", now, paths, whole[-1]) == (
            api.forming_candle(generated, "ETHUSDT", now)
        )
