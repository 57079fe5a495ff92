"""ReplayFeed: files under any symbol, on one timeline, with a sub-minute path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from src.sim.feeds.base import PriceFeed, kline_at
from src.sim.feeds.binance_csv import write_klines_csv
from src.sim.feeds.errors import (
    FeedError,
    FeedRangeError,
    KlineFileError,
    UnknownSymbolError,
)
from src.sim.feeds.generator import generate_tables
from src.sim.feeds.path import PathParams
from src.sim.feeds.replay import Alignment, ReplayFeed
from tests.conftest import SHARED

SHARED_DATA = SHARED / "data"
T0 = 1_767_225_600_000  # 2026-01-01 00:00 UTC
DAY = 86_400_000


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two files of different periods and lengths: 'a' (120 min), 'b' (90 min, a day on)."""
    folder = tmp_path_factory.mktemp("replay")
    a = generate_tables(1, T0, 120)["BTCUSDT"]
    b = generate_tables(2, T0 + DAY, 90)["SOLUSDT"]
    write_klines_csv(folder / "a.csv.gz", a)
    write_klines_csv(folder / "b.csv", b)
    return {"a": folder / "a.csv.gz", "b": folder / "b.csv"}


def test_files_are_renamed_and_shifted_onto_one_timeline(sources: dict[str, Path]) -> None:
    feed: PriceFeed = ReplayFeed({"BTCUSDT": sources["a"], "ETHUSDT": sources["b"]})
    assert feed.symbols == ("BTCUSDT", "ETHUSDT")
    # Starts where the first source starts; lasts as long as the shortest.
    assert feed.time_range() == (T0, T0 + 90 * 60_000)
    eth = feed.klines("ETHUSDT", T0, T0 + 3 * 60_000)
    original = generate_tables(2, T0 + DAY, 3)["SOLUSDT"].to_klines()
    assert [k.open_time_ms for k in eth] == [T0, T0 + 60_000, T0 + 120_000]
    assert [k.close_time_ms for k in eth] == [T0 + 59_999, T0 + 119_999, T0 + 179_999]
    assert [(k.open, k.close, k.volume) for k in eth] == [
        (k.open, k.close, k.volume) for k in original
    ]


def test_start_can_be_chosen(sources: dict[str, Path]) -> None:
    start = T0 + 7 * DAY
    feed = ReplayFeed({"X": sources["b"]}, start_ms=start)
    assert feed.time_range() == (start, start + 90 * 60_000)
    with pytest.raises(ValueError, match="whole minute"):
        ReplayFeed({"X": sources["b"]}, start_ms=start + 1)


def test_actual_alignment_keeps_times_and_serves_the_common_span() -> None:
    tables = generate_tables(3, T0, 100)
    late = tables["ETHUSDT"].take(30, 100)
    feed = ReplayFeed(
        {"BTCUSDT": tables["BTCUSDT"], "ETHUSDT": late}, alignment=Alignment.ACTUAL
    )
    assert feed.time_range() == (T0 + 30 * 60_000, T0 + 100 * 60_000)
    btc = feed.klines("BTCUSDT", 0, 2**62)
    assert len(btc) == 70
    assert btc[0] == tables["BTCUSDT"].kline(30)
    with pytest.raises(ValueError, match="SHIFT"):
        ReplayFeed({"X": late}, alignment=Alignment.ACTUAL, start_ms=T0)


def test_actual_alignment_without_overlap_is_an_error(sources: dict[str, Path]) -> None:
    with pytest.raises(FeedError, match="no minute in common"):
        ReplayFeed({"A": sources["a"], "B": sources["b"]}, alignment=Alignment.ACTUAL)


def test_no_source_is_an_error() -> None:
    with pytest.raises(ValueError):
        ReplayFeed({})


def test_bad_files_surface_the_reader_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("1767225600000,1,1,1,1\n")
    with pytest.raises(KlineFileError, match=r"bad\.csv:1: expected 12 fields"):
        ReplayFeed({"BTCUSDT": bad})


def test_klines_are_clamped_to_the_range_and_half_open() -> None:
    table = generate_tables(4, T0, 10)["XRPUSDT"]
    feed = ReplayFeed({"XRPUSDT": table})
    assert feed.klines("XRPUSDT", T0 - DAY, T0 + DAY) == table.to_klines()
    assert feed.klines("XRPUSDT", T0 + 60_000, T0 + 180_000) == table.to_klines()[1:3]
    # A start inside a minute excludes that minute (its open time is before the start).
    assert feed.klines("XRPUSDT", T0 + 1, T0 + 120_000) == table.to_klines()[1:2]
    assert feed.klines("XRPUSDT", T0 + DAY, T0 + 2 * DAY) == []
    assert feed.klines("XRPUSDT", T0 + 180_000, T0 + 60_000) == []


def test_price_path_follows_each_candle() -> None:
    table = generate_tables(5, T0, 5)["BTCUSDT"]
    feed = ReplayFeed({"BTCUSDT": table}, seed=9)
    for i, k in enumerate(table.to_klines()):
        start = k.open_time_ms / 1000
        prices = [feed.price_at("BTCUSDT", start + s + 0.25) for s in range(60)]
        assert prices[0] == k.open
        assert prices[-1] == k.close
        assert min(prices) == k.low
        assert max(prices) == k.high
        # A step function: constant within each second.
        assert feed.price_at("BTCUSDT", start + 10.0) == feed.price_at(
            "BTCUSDT", start + 10.9
        )
        assert kline_at(feed, "BTCUSDT", start + 30) == k
        assert feed.kline_at("BTCUSDT", start + 30) == table.kline(i)


def test_finer_resolution() -> None:
    table = generate_tables(6, T0, 2)["ETHUSDT"]
    feed = ReplayFeed({"ETHUSDT": table}, path_params=PathParams(resolution_s=0.25))
    start = T0 / 1000
    assert len(feed.minute_path("ETHUSDT", start)) == 240
    assert feed.price_at("ETHUSDT", start + 59.8) == table.kline(0).close


def test_same_seed_same_path_other_seed_other_path() -> None:
    table = generate_tables(7, T0, 3)["SOLUSDT"]
    times = [T0 / 1000 + s * 0.5 for s in range(360)]
    first = [ReplayFeed({"S": table}, seed=1).price_at("S", t) for t in times]
    again = ReplayFeed({"S": table}, seed=1)
    assert [again.price_at("S", t) for t in reversed(times)] == first[::-1]
    other = ReplayFeed({"S": table}, seed=2)
    assert [other.price_at("S", t) for t in times] != first


def test_unknown_symbol_and_out_of_range_are_typed_errors() -> None:
    feed = ReplayFeed({"BTCUSDT": generate_tables(8, T0, 3)["BTCUSDT"]})
    with pytest.raises(UnknownSymbolError, match="'DOGEUSDT'"):
        feed.price_at("DOGEUSDT", T0 / 1000)
    with pytest.raises(UnknownSymbolError):
        feed.klines("DOGEUSDT", T0, T0 + 60_000)
    for t in (T0 / 1000 - 0.001, T0 / 1000 + 180):
        with pytest.raises(FeedRangeError, match="outside the feed's range"):
            feed.price_at("BTCUSDT", t)
    assert kline_at(feed, "BTCUSDT", T0 / 1000 + 180) is None


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="shared data absent")
def test_real_files_replay_side_by_side() -> None:
    btc = SHARED_DATA / "BTCUSDT-1m-2026-01-09_12.csv.gz"
    link = SHARED_DATA / "LINKUSDT-1m-2026-02.csv.gz"
    if not (btc.exists() and link.exists()):
        pytest.skip("shared kline files absent")
    feed = ReplayFeed({"BTCUSDT": btc, "ETHUSDT": link})
    first, end = feed.time_range()
    assert (end - first) // 60_000 == 4_080
    for symbol in feed.symbols:
        candles = feed.klines(symbol, first, first + 15 * 60_000)
        assert len(candles) == 15
        for k in candles:
            t = k.open_time_ms / 1000
            prices = np.array([feed.price_at(symbol, t + s) for s in range(60)])
            assert prices.min() == k.low and prices.max() == k.high
