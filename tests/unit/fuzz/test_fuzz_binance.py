"""Fuzz: Binance REST payloads — klines, ticker, funding — and ``BinanceMarketData`` over a
client that answers garbage.

The parsers raise only :class:`MarketDataError`; the adapter never raises: it logs and
keeps its cache (``refresh``) or answers None (strike, ticker, funding). The bot reads no
Binance websocket (``src/`` has none), so there is no websocket parser to fuzz here.
"""

from __future__ import annotations

import math
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from src.data.market_data.binance import (
    BinanceMarketData,
    KlineSnapshot,
    parse_funding_rate,
    parse_kline_row,
    parse_klines,
    parse_ticker_price,
)
from src.data.market_data.polymarket import MarketDataError
from src.sim.feeds.base import Kline
from src.utils.clock import SimClock
from tests.unit.fuzz.payloads import huge_numbers, json_values, mutated

FUZZ = settings(max_examples=150, deadline=None)
T0 = 1_767_225_600  # 2026-01-01 00:00 UTC


def row(minute: int = 0) -> list[Any]:
    """A ``/api/v3/klines`` row (Binance's documented 12 fields)."""
    start = (T0 + 60 * minute) * 1000
    return [
        start,
        "100.5",
        "101.0",
        "99.5",
        "100.0",
        "10.5",
        start + 59_999,
        "1050.0",
        42,
        "6.0",
        "600.0",
        "0",
    ]


rows = st.sampled_from([row(0), row(1), row(2)]).flatmap(mutated)
tickers = st.just({"symbol": "BTCUSDT", "price": "123.45"}).flatmap(mutated)
funding = st.just(
    [{"symbol": "BTCUSDT", "fundingRate": "0.0001", "fundingTime": 1, "markPrice": "1"}]
).flatmap(mutated)


def only_market_data_error(parse: Any, payload: Any) -> Any:
    try:
        return parse(payload)
    except MarketDataError:
        return None


@FUZZ
@given(payload=rows | json_values())
def test_parse_kline_row_gives_a_consistent_kline_or_market_data_error(
    payload: Any,
) -> None:
    kline = only_market_data_error(parse_kline_row, payload)
    if kline is None:
        return
    assert isinstance(kline, Kline)
    prices = (kline.open, kline.high, kline.low, kline.close)
    assert all(math.isfinite(p) and p > 0 for p in prices)
    assert kline.low <= min(prices) and kline.high >= max(prices)
    assert 0 <= kline.taker_buy_volume <= kline.volume * (1 + 1e-9)


@FUZZ
@given(payload=st.lists(rows, max_size=5) | json_values())
def test_parse_klines_skips_bad_rows_and_sorts(payload: Any) -> None:
    klines = only_market_data_error(parse_klines, payload)
    if klines is None:
        assert not isinstance(payload, list)
        return
    assert len(klines) <= len(payload)
    times = [k.open_time_ms for k in klines]
    assert times == sorted(times)


@FUZZ
@given(
    ticker=tickers | json_values(("price",)), rates=funding | json_values(("fundingRate",))
)
def test_ticker_and_funding_give_a_sane_number_or_market_data_error(
    ticker: Any, rates: Any
) -> None:
    price = only_market_data_error(parse_ticker_price, ticker)
    assert price is None or (math.isfinite(price) and price > 0)
    rate = only_market_data_error(parse_funding_rate, rates)
    assert rate is None or (math.isfinite(rate) and abs(rate) <= 0.1)


class GarbageBinance:
    """The three python-binance calls the adapter makes, answering drawn payloads (or
    raising what a body that is not JSON makes the client raise)."""

    def __init__(self, klines: Any, ticker: Any, rates: Any) -> None:
        self.answers = {"klines": klines, "ticker": ticker, "funding": rates}

    def _answer(self, what: str) -> Any:
        answer = self.answers[what]
        if isinstance(answer, bytes):
            raise ValueError("Expecting value")  # requests' JSONDecodeError is a ValueError
        return answer

    def get_klines(self, **params: Any) -> Any:
        return self._answer("klines")

    def get_symbol_ticker(self, **params: Any) -> Any:
        return self._answer("ticker")

    def futures_funding_rate(self, **params: Any) -> Any:
        return self._answer("funding")


def use_adapter(client: GarbageBinance) -> None:
    data = BinanceMarketData(client, SimClock(start=T0 + 600))  # type: ignore[arg-type]
    snapshot = data.refresh("BTC")
    assert isinstance(snapshot, KlineSnapshot)
    assert all(k.close_time_ms < (T0 + 600) * 1000 for k in snapshot.klines)
    strike = data.strike_price("BTC", T0)
    assert strike is None or (math.isfinite(strike) and strike > 0)
    price = data.ticker_price("BTC")
    assert price is None or price > 0
    rate = data.funding_rate("BTC")
    assert rate is None or abs(rate) <= 0.1


@FUZZ
@given(
    klines=st.lists(rows, max_size=4) | json_values() | st.just(b"<html>"),
    ticker=tickers | st.just(b"<html>"),
    rates=funding | st.just(b"<html>"),
)
def test_the_adapter_never_raises(klines: Any, ticker: Any, rates: Any) -> None:
    use_adapter(GarbageBinance(klines, ticker, rates))


# Found by fuzzing (fixed): Infinity or a 400-digit integer raised OverflowError out of
# the parsers and refresh()
@FUZZ
@example(value=math.inf)
@given(value=huge_numbers | st.sampled_from([math.inf, -math.inf]))
def test_numbers_beyond_float_range_are_market_data_errors(value: Any) -> None:
    for index in (0, 1, 5, 8):
        bad = row()
        bad[index] = value
        only_market_data_error(parse_kline_row, bad)
        only_market_data_error(parse_klines, [row(1), bad])
        use_adapter(
            GarbageBinance([row(1), bad], {"price": value}, [{"fundingRate": value}])
        )
    only_market_data_error(parse_ticker_price, {"price": value})
    only_market_data_error(parse_funding_rate, [{"fundingRate": value}])
