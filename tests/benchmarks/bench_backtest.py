"""Backtest speed: the issue's 28 days × 4 coins (10,752 windows) at 10-second resolution
on the light market, run for real in a child process (its peak memory is its own), and
shorter runs of both markets through the whole engine (strategy, execution, position
management, ledger) in lockstep, with the full model's rate projected to 28 days.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
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
    model (a quarter day); the full model's 28-day projection; peak RSS."""
    configure_logging(None, "WARNING")
    results = []
    for market, days in ((MARKET_LIGHT, DAYS), (MARKET_MODEL, DAYS / 4)):
        seconds, rate, windows, ticks = _run(market, days)
        results.append(
            BenchResult(
                f"backtest windows/s ({market} market, {days:g} day × 4 coins, 10 s)",
                rate,
                "windows/s",
                note=f"{windows} windows, {ticks:,} ticks in {seconds:.1f} s",
            )
        )
        if market == MARKET_MODEL:  # the light market's month is measured (below)
            projected = TARGET_WINDOWS / rate
            results.append(
                BenchResult(
                    f"backtest 28 days × 4 coins, {market} market (projected)",
                    projected,
                    "s",
                    target=f"< {TARGET_S:g} s",
                    ok=projected < TARGET_S,
                    note=f"{TARGET_WINDOWS:,} windows at the measured rate",
                )
            )
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


def bench_backtest_month() -> list[BenchResult]:
    """The issue's run itself: 28 generated days × 4 coins on the light market, then its
    report (CSV files, summary, figure), in a child process."""
    child = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks.backtest_month"],
        capture_output=True,
        text=True,
        check=True,
    )
    figures = json.loads(child.stdout.strip().splitlines()[-1])
    run_s, rss = figures["run_s"], figures["peak_rss_mib"]
    note = (
        f"{figures['windows']:,} windows, {figures['ticks']:,} ticks, "
        f"{figures['decisions']:,} decisions; ledger {figures['ledger_mib']:.0f} MiB"
    )
    return [
        BenchResult(
            "backtest 28 days × 4 coins, light market (measured)",
            run_s,
            "s",
            target=f"< {TARGET_S:g} s",
            ok=run_s < TARGET_S,
            note=note,
        ),
        BenchResult(
            "backtest 28 days × 4 coins: report (CSV, summary, PNG)",
            figures["report_s"],
            "s",
            note="write_outputs over the run's ledger",
        ),
        BenchResult(
            "backtest 28 days × 4 coins: peak RSS",
            rss,
            "MiB",
            target="< 1024 MiB",
            ok=rss < 1024,
            note="the child process's high-water mark, run and report",
        ),
    ]
