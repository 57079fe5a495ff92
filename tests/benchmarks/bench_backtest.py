"""Backtest speed: one generated day × 4 coins at 10-second resolution, through the whole
engine (strategy, execution, position management, ledger) in lockstep, projected to the
issue's 28 days × 4 coins (10,752 windows). Peak memory is the process's high-water mark.
"""

from __future__ import annotations

import resource
import tempfile
import time
from pathlib import Path

from src.backtest.runner import BacktestSpec, run_backtest
from src.config.settings import load_settings
from src.utils.logger import configure_logging
from tests.benchmarks import BenchResult

DAYS = 1
TARGET_WINDOWS = 28 * 96 * 4
TARGET_S = 60.0


def bench_backtest_speed() -> list[BenchResult]:
    """Windows per second of a 1-day, 4-coin backtest; the 28-day projection; peak RSS."""
    configure_logging(None, "WARNING")
    settings = load_settings(environ={}, env_file=None, profile="aggressive")
    with tempfile.TemporaryDirectory(prefix="polyflup-bench-") as tmp:
        started = time.perf_counter()
        run = run_backtest(BacktestSpec(seed=1, days=DAYS), settings, Path(tmp) / "b.db")
        seconds = time.perf_counter() - started
    rate = run.windows / seconds
    projected = TARGET_WINDOWS / rate
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return [
        BenchResult(
            "backtest windows/s (1 day × 4 coins, 10 s)",
            rate,
            "windows/s",
            note=f"{run.windows} windows, {run.ticks:,} ticks in {seconds:.1f} s",
        ),
        BenchResult(
            "backtest 28 days × 4 coins (projected)",
            projected,
            "s",
            target=f"< {TARGET_S:g} s",
            ok=projected < TARGET_S,
            note=f"{TARGET_WINDOWS:,} windows at the measured rate",
        ),
        BenchResult(
            "backtest peak RSS (1 day)",
            peak_mib,
            "MiB",
            target="< 1024 MiB",
            ok=peak_mib < 1024,
        ),
    ]
