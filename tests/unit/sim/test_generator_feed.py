"""GeneratedFeed: determinism, valid candles, zero drift, no predictability, seasonality."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from src.sim.feeds.base import PriceFeed
from src.sim.feeds.binance_csv import format_klines_csv, parse_klines_csv
from src.sim.feeds.errors import FeedRangeError, UnknownSymbolError
from src.sim.feeds.generator import (
    DEFAULT_COINS,
    CoinParams,
    GeneratedFeed,
    GeneratorParams,
    generate_tables,
    seasonal_profiles,
    t_expectation,
)
from src.sim.feeds.table import KlineTable

T0 = 1_767_225_600_000  # 2026-01-01 00:00 UTC, a Thursday
DAY_MINUTES = 1440


@pytest.fixture(scope="module")
def long_run() -> dict[str, KlineTable]:
    """About 139 days of every coin (≈ 0.3 s): enough for tight statistical bounds."""
    return generate_tables(2024, T0, 200_160)


def test_default_symbols_and_start_prices() -> None:
    feed: PriceFeed = GeneratedFeed(seed=1)
    assert feed.symbols == ("BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT")
    first = {s: feed.klines(s, T0, T0 + 60_000)[0] for s in feed.symbols}
    assert first["BTCUSDT"].open == 90_000.0
    assert first["ETHUSDT"].open == 3_100.0
    assert first["SOLUSDT"].open == 135.0
    assert first["XRPUSDT"].open == 2.0
    assert feed.time_range() == (T0, T0 + 30 * DAY_MINUTES * 60_000)


def test_same_seed_same_data_whatever_the_order_of_requests() -> None:
    start, end = T0, T0 + 3 * DAY_MINUTES * 60_000
    sequential = GeneratedFeed(seed=5, minutes=3 * DAY_MINUTES)
    jumping = GeneratedFeed(seed=5, minutes=3 * DAY_MINUTES)
    late = T0 / 1000 + 2.5 * 86_400
    late_price = jumping.price_at("SOLUSDT", late)
    for symbol in reversed(sequential.symbols):
        assert jumping.klines(symbol, start, end) == sequential.klines(symbol, start, end)
    assert sequential.price_at("SOLUSDT", late) == late_price
    other = GeneratedFeed(seed=6, minutes=3 * DAY_MINUTES)
    assert other.klines("BTCUSDT", start, end) != sequential.klines("BTCUSDT", start, end)


def test_a_symbol_asked_later_sees_blocks_another_symbol_generated() -> None:
    feed = GeneratedFeed(seed=4, minutes=3 * DAY_MINUTES)
    day = DAY_MINUTES * 60_000
    assert len(feed.klines("BTCUSDT", T0, T0 + day)) == DAY_MINUTES
    assert len(feed.klines("ETHUSDT", T0, T0 + 3 * day)) == 3 * DAY_MINUTES
    assert len(feed.klines("BTCUSDT", T0, T0 + 3 * day)) == 3 * DAY_MINUTES
    late = T0 / 1000 + 2.9 * 86_400
    assert feed.kline_at("BTCUSDT", late).open_time_ms == int(late // 60) * 60_000


def test_a_coin_does_not_depend_on_the_other_coins_generated() -> None:
    btc_only = GeneratorParams(coins=DEFAULT_COINS[:1])
    alone = generate_tables(3, T0, 2000, btc_only)["BTCUSDT"]
    together = generate_tables(3, T0, 2000)["BTCUSDT"]
    assert alone.same_as(together)


def test_candles_are_valid_binance_klines() -> None:
    tables = generate_tables(8, T0, 3 * DAY_MINUTES)
    for coin in DEFAULT_COINS:
        table = tables[coin.symbol]
        # The strict reader enforces every kline rule; the round trip must be exact.
        text = format_klines_csv(table, decimals=coin.csv_decimals())
        assert parse_klines_csv(text).same_as(table)
        assert np.all(table.open[1:] == table.close[:-1])
        assert np.all(table.trades >= 1)
        assert np.all(table.volume > 0)
        tick = 10.0**-coin.price_decimals
        assert np.allclose(np.round(table.close / tick) * tick, table.close, rtol=1e-12)


def test_zero_drift(long_run: dict[str, KlineTable]) -> None:
    for symbol, table in long_run.items():
        r = np.diff(np.log(table.close))
        # Returns are uncorrelated (martingale differences): the usual standard error holds.
        t_stat = r.mean() / (r.std() / math.sqrt(len(r)))
        assert abs(t_stat) < 4, symbol
        # Up/Down windows: Up (close >= open over 15 minutes) about half the time.
        windows = len(table) // 15
        up = table.close[14::15][:windows] >= table.open[::15][:windows]
        assert abs(up.mean() - 0.5) < 4 * 0.5 / math.sqrt(windows), symbol


def test_nothing_observable_predicts_the_next_return(
    long_run: dict[str, KlineTable],
) -> None:
    bound = 4 / math.sqrt(200_000)
    for symbol, table in long_run.items():
        r = np.diff(np.log(table.close))
        nxt = r[1:]
        share = (table.taker_buy_volume / table.volume)[1:-1]
        volume = np.log(table.volume)[1:-1]
        for name, signal in (
            ("sign of the last return", np.sign(r[:-1])),
            ("taker-buy share", share - 0.5),
            ("log volume", volume),
        ):
            # Signs of the next return: robust to the fat tails that inflate Pearson's.
            agreement = np.corrcoef(signal, np.sign(nxt))[0, 1]
            assert abs(agreement) < bound, (symbol, name)
        # Window to window: Up after Up as often as Up after Down.
        up = table.close[14::15] >= table.open[::15][: len(table.close[14::15])]
        after_up = up[1:][up[:-1]].mean()
        after_down = up[1:][~up[:-1]].mean()
        # Each rate over half the windows: the difference has standard error sqrt(1/n).
        assert abs(after_up - after_down) < 4 * math.sqrt(1 / len(up)), symbol


def test_taker_share_moves_with_the_same_minute(long_run: dict[str, KlineTable]) -> None:
    for symbol, table in long_run.items():
        share = table.taker_buy_volume / table.volume
        body = np.log(table.close / table.open)
        assert np.corrcoef(share, np.sign(body))[0, 1] > 0.3, symbol
        assert 0.45 < share.mean() < 0.55


def test_volatility_clusters_and_tails_are_fat(long_run: dict[str, KlineTable]) -> None:
    for symbol, table in long_run.items():
        a = np.abs(np.diff(np.log(table.close)))
        assert np.corrcoef(a[:-1], a[1:])[0, 1] > 0.15, symbol
        r = np.diff(np.log(table.close))
        assert ((r - r.mean()) ** 4).mean() / r.var() ** 2 - 3 > 5, symbol


def test_intraday_volume_seasonality(long_run: dict[str, KlineTable]) -> None:
    for symbol, table in long_run.items():
        hour = (table.open_time_ms // 3_600_000) % 24
        busy = table.volume[(hour >= 14) & (hour < 17)].mean()
        quiet = table.volume[(hour >= 3) & (hour < 6)].mean()
        assert busy > 1.8 * quiet, symbol


def test_trade_count_is_consistent_with_volume(long_run: dict[str, KlineTable]) -> None:
    for coin in DEFAULT_COINS:
        table = long_run[coin.symbol]
        log_v, log_n = np.log(table.volume), np.log(table.trades)
        assert np.corrcoef(log_v, log_n)[0, 1] > 0.8
        size = np.median(table.volume / table.trades)
        assert 0.5 * coin.mean_trade_size < size < 1.5 * coin.mean_trade_size
        # The daily mean volume is of the order of the parameter (about 0.8 of it).
        assert 0.5 * coin.base_volume < table.volume.mean() < coin.base_volume


def test_seasonal_profiles_are_normalised() -> None:
    minutes = T0 + np.arange(DAY_MINUTES, dtype=np.int64) * 60_000
    volume, vol = seasonal_profiles(GeneratorParams(), minutes)
    assert volume.mean() == pytest.approx(1.0)
    assert (vol**2).mean() == pytest.approx(1.0)
    assert np.argmax(volume) // 60 == 15  # around the US open, UTC


@pytest.mark.parametrize("dof", [3.0, 4.5, 10.0])
def test_t_expectation_matches_sampling_and_theory(dof: float) -> None:
    rng = np.random.default_rng(0)
    z = np.abs(rng.standard_t(dof, 1_000_000) * math.sqrt((dof - 2) / dof))
    assert t_expectation(np.ones_like, dof) == pytest.approx(1.0, abs=1e-6)
    assert t_expectation(np.square, dof) == pytest.approx(1.0, abs=1e-5)
    assert t_expectation(np.log1p, dof) == pytest.approx(np.log1p(z).mean(), rel=0.01)
    normal_mean_abs = t_expectation(lambda a: a, 1e6)
    assert normal_mean_abs == pytest.approx(math.sqrt(2 / math.pi), rel=1e-4)


def test_feed_range_and_laziness() -> None:
    feed = GeneratedFeed(seed=2, start_ms=T0, minutes=100)
    assert feed.time_range() == (T0, T0 + 100 * 60_000)
    assert len(feed.klines("ETHUSDT", 0, 2**62)) == 100
    with pytest.raises(FeedRangeError):
        feed.price_at("ETHUSDT", T0 / 1000 + 100 * 60)
    with pytest.raises(UnknownSymbolError):
        feed.price_at("DOGEUSDT", T0 / 1000)
    k = feed.kline_at("ETHUSDT", T0 / 1000 + 61)
    assert k.open_time_ms == T0 + 60_000
    assert feed.price_at("ETHUSDT", T0 / 1000 + 60) == k.open
    assert feed.price_at("ETHUSDT", T0 / 1000 + 119.5) == k.close


def test_long_feeds_generate_only_what_is_asked() -> None:
    feed = GeneratedFeed(seed=2, minutes=10 * 365 * DAY_MINUTES)
    feed.price_at("BTCUSDT", T0 / 1000 + 30)
    assert len(feed._generator.table("BTCUSDT", T0 + 60_000)) == DAY_MINUTES


@pytest.mark.parametrize(
    "change",
    [
        {"garch_alpha": 0.3, "garch_beta": 0.75},
        {"garch_shock_cap": 0.0},
        {"garch_vol_ceiling": 1.0},
        {"garch_alpha": -0.1},
        {"t_dof": 2.0},
        {"correlation": 1.0},
        {"hourly_volume": (1.0,) * 23},
        {"hourly_volume": (0.0,) * 24},
        {"block_minutes": 0},
        {"activity_persistence": 1.0},
        {"coins": ()},
        {"coins": (DEFAULT_COINS[0], DEFAULT_COINS[0])},
    ],
)
def test_bad_generator_params_are_rejected(change: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        dataclasses.replace(GeneratorParams(), **change)


def test_bad_coin_and_feed_arguments_are_rejected() -> None:
    with pytest.raises(ValueError):
        CoinParams("X", 0.0, 1e-3, 2, 2, 1.0, 1.0)
    with pytest.raises(ValueError):
        CoinParams("X", 1.0, 1e-3, 2, 2, 1.0, 0.0)
    with pytest.raises(ValueError):
        GeneratedFeed(seed=-1)
    with pytest.raises(ValueError):
        GeneratedFeed(start_ms=T0 + 1)
    with pytest.raises(ValueError):
        GeneratedFeed(minutes=0)
    with pytest.raises(UnknownSymbolError):
        GeneratorParams().coin("DOGEUSDT")
    assert GeneratorParams().coin("XRPUSDT") is DEFAULT_COINS[3]
