"""Time for one decision for all four coins from a new minute of data.

Incremental path (production): fold the new kline into each coin's ``IndicatorState`` (O(1)),
take its snapshot and run the full decision. Naive path (baseline): rebuild the indicators
from the whole history with pandas and ``ta``, then the same decision. The history is a day
of 1-minute klines per coin (real Binance klines from ``../shared/data`` when present — BTC,
with LINK/AVAX/LTC standing in for ETH/SOL/XRP — else a generated walk).
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

from src.data.market_data.indicators import IndicatorState, naive_indicators
from src.data.market_data.windows import WINDOW_SECONDS, WindowRef, window_start
from src.sim.feeds.base import MINUTE_MS, Kline
from src.trading.logic import AccountState, decide
from src.trading.params import StrategyParams
from src.trading.signals.fair_value import fair_value
from src.trading.strategy import BookTop, MarketSnapshot, PricePoint
from tests.benchmarks import BenchResult
from tests.unit.strategy.builders import klines_from_closes, load_klines, random_walk

COINS = {
    "BTC": "BTCUSDT-1m-2026-01-09_12.csv.gz",
    "ETH": "LINKUSDT-1m-2026-02.csv.gz",
    "SOL": "AVAXUSDT-1m-2026-02.csv.gz",
    "XRP": "LTCUSDT-1m-2026-02.csv.gz",
}
WARM_UP = 1440
MINUTES = 150
TARGET_US = 1000.0


def _history(coin: str, seed: int) -> tuple[list[Kline], str]:
    data = load_klines(COINS[coin])
    if data is not None and len(data) >= WARM_UP + MINUTES:
        return data[: WARM_UP + MINUTES], "real"
    closes = random_walk(WARM_UP + MINUTES, 100.0 * seed, 0.0008, seed)
    end = 1_767_225_600_000 + (WARM_UP + MINUTES) * MINUTE_MS
    return list(klines_from_closes(closes, end)), "generated"


def _snapshot(
    coin: str,
    k: Kline,
    strikes: dict[int, float],
    recent: tuple[Kline, ...],
    p: StrategyParams,
) -> tuple[MarketSnapshot, float]:
    """The market one second after ``k`` closed, with a book quoted around fair value."""
    now = (k.close_time_ms + 1) / 1000 + 1.0
    window = WindowRef(coin, window_start(now))
    strike = strikes.get(window.start, k.open)
    sigma = 0.0008
    fair = fair_value(k.close, strike, sigma, window.time_left(now), p).p_up
    # A market maker a few points off fair value, so some minutes do trade.
    mid = min(max(fair + 0.06 * math.sin(k.open_time_ms / 7e5), 0.05), 0.95)
    bid = Decimal(int(mid * 100)) / 100
    book = BookTop(bid, bid + Decimal("0.01"), Decimal(800), Decimal(800))
    history = (PricePoint(now - 150, bid), PricePoint(now - 60, bid))
    snap = MarketSnapshot(window, now, strike, book, Decimal("0.07"), recent, history)
    return snap, now


def _run(use_state: bool) -> tuple[list[float], int, str]:
    """Seconds per 4-coin minute over MINUTES new minutes; trades; data source."""
    params = StrategyParams()
    account = AccountState(Decimal(5000), Decimal(5000))
    cfg = params.indicator_config()
    histories, sources = {}, set()
    for seed, coin in enumerate(COINS, start=1):
        histories[coin], source = _history(coin, seed)
        sources.add(source)
    states = {coin: IndicatorState(cfg) for coin in COINS}
    strikes: dict[str, dict[int, float]] = {coin: {} for coin in COINS}
    for coin, history in histories.items():
        for k in history[:WARM_UP]:
            states[coin].update(k)
            _note_strike(strikes[coin], k)
    timings: list[float] = []
    trades = 0
    for minute in range(MINUTES):
        started = time.perf_counter()
        for coin, history in histories.items():
            k = history[WARM_UP + minute]
            _note_strike(strikes[coin], k)
            if use_state:
                state = states[coin]
                state.update(k)
                recent = state.recent_klines()
                indicators = state.snapshot()
            else:
                upto = history[: WARM_UP + minute + 1]
                recent = tuple(upto[-cfg.keep_klines :])
                indicators = naive_indicators(upto, cfg)
            snap, _ = _snapshot(coin, k, strikes[coin], recent, params)
            decision = decide(replace(snap, indicators=indicators), account, params)
            trades += decision.is_trade
        timings.append(time.perf_counter() - started)
    return timings, trades, "/".join(sorted(sources))


def _note_strike(strikes: dict[int, float], k: Kline) -> None:
    start = k.open_time_ms // 1000
    if start % WINDOW_SECONDS == 0:
        strikes[start] = k.open


def _figure(
    name: str, timings: list[float], per: int, target: float | None, note: str
) -> BenchResult:
    median_us = statistics.median(timings) / per * 1e6
    return BenchResult(
        name,
        median_us,
        "µs",
        f"< {target:,.0f} µs" if target else "",
        (median_us < target) if target else None,
        note,
    )


def _timed(fn: Callable[[], tuple[list[float], int, str]]) -> tuple[list[float], int, str]:
    fn()  # warm caches and imports once; the second run is the measurement
    return fn()


def bench_strategy_decision() -> list[BenchResult]:
    """One decision for BTC/ETH/SOL/XRP from a new minute: incremental vs naive pandas."""
    fast, trades_fast, source = _timed(lambda: _run(use_state=True))
    slow, trades_slow, _ = _timed(lambda: _run(use_state=False))
    note = f"{source} klines, {WARM_UP}-min history, median of {MINUTES} minutes"
    speedup = statistics.median(slow) / statistics.median(fast)
    return [
        _figure("strategy: incremental, per coin", fast, 4, TARGET_US, note),
        _figure("strategy: incremental, 4 coins", fast, 1, None, f"{trades_fast} trades"),
        _figure("strategy: naive pandas/ta, per coin", slow, 4, None, note),
        _figure(
            "strategy: naive pandas/ta, 4 coins", slow, 1, None, f"{trades_slow} trades"
        ),
        BenchResult(
            "strategy: incremental speed-up", speedup, "×", note="naive / incremental"
        ),
    ]


def bench_indicator_update() -> BenchResult:
    """Folding one kline into an IndicatorState and taking its snapshot."""
    history, source = _history("BTC", 1)
    state = IndicatorState()
    started = time.perf_counter()
    for k in history:
        state.update(k)
        state.snapshot()
    per_us = (time.perf_counter() - started) / len(history) * 1e6
    return BenchResult(
        "indicators: update + snapshot", per_us, "µs", note=f"{source} klines"
    )
