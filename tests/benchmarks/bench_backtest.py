"""Backtest speed: one generated day × 4 coins at 10-second resolution, through the whole
engine (strategy, execution, position management, ledger) in lockstep, projected to the
issue's 28 days × 4 coins (10,752 windows). Peak memory is the process's high-water mark.
"""

from __future__ import annotations

import resource
import tempfile
import time
from pathlib import Path

from src.backtest.runner import MARKET_LIGHT, MARKET_MODEL, BacktestSpec, run_backtest
from src.config.settings import load_settings
from src.utils.logger import configure_logging
from tests.benchmarks import BenchResult

DAYS = 1
TARGET_WINDOWS = 28 * 96 * 4
TARGET_S = 60.0


def _run(market: str, days: float) -> tuple[float, float, int, int]:
    """Seconds, windows/s, windows and ticks of one 4-coin backtest."""
    settings = load_settings(environ={}, env_file=None, profile="aggressive")
    spec = BacktestSpec(seed=1, days=days, market=market)
    with tempfile.TemporaryDirectory(prefix="polyflup-bench-") as tmp:
        started = time.perf_counter()
        run = run_backtest(spec, settings, Path(tmp) / "b.db")
        seconds = time.perf_counter() - started
    return seconds, run.windows / seconds, run.windows, run.ticks


def bench_backtest_speed() -> list[BenchResult]:
    """Windows per second of 4-coin backtests on the light market (1 day) and the full
    model (a quarter day); the 28-day projection of each; peak RSS."""
    configure_logging(None, "WARNING")
    results = []
    for market, days in ((MARKET_LIGHT, DAYS), (MARKET_MODEL, DAYS / 4)):
        seconds, rate, windows, ticks = _run(market, days)
        projected = TARGET_WINDOWS / rate
        results += [
            BenchResult(
                f"backtest windows/s ({market} market, {days:g} day × 4 coins, 10 s)",
                rate,
                "windows/s",
                note=f"{windows} windows, {ticks:,} ticks in {seconds:.1f} s",
            ),
            BenchResult(
                f"backtest 28 days × 4 coins, {market} market (projected)",
                projected,
                "s",
                target=f"< {TARGET_S:g} s",
                ok=projected < TARGET_S,
                note=f"{TARGET_WINDOWS:,} windows at the measured rate",
            ),
        ]
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results.append(
        BenchResult(
            "backtest peak RSS (both runs)",
            peak_mib,
            "MiB",
            target="< 1024 MiB",
            ok=peak_mib < 1024,
        )
    )
    return results
