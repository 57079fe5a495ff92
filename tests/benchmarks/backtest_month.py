"""The issue's backtest, for real: ``python -m tests.benchmarks.backtest_month [DAYS]``.

Runs a generated ``DAYS`` (28 by default) × 4 coins at 10-second resolution on the light
market through the whole engine, then writes the outputs a user gets (``trades.csv``,
``decisions.csv``, ``summary.json``, ``report.png``), and prints one JSON line: seconds
for the run and for the report, windows, ticks, decisions and this process's peak RSS.
:mod:`tests.benchmarks.bench_backtest` starts it as a child so that the peak is its own.
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from pathlib import Path

from src.backtest.report import write_outputs
from src.backtest.runner import MARKET_LIGHT, BacktestSpec, run_backtest
from src.config.settings import load_settings
from src.utils.logger import configure_logging
from src.utils.money import to_micro

DEFAULT_DAYS = 28.0


def main(days: float) -> dict[str, float]:
    """Run the backtest and its report; returns the figures."""
    configure_logging(None, "WARNING")
    settings = load_settings(environ={}, env_file=None, profile="aggressive")
    spec = BacktestSpec(seed=1, days=days, market=MARKET_LIGHT)
    with tempfile.TemporaryDirectory(prefix="polyflup-bench-month-") as tmp:
        started = time.perf_counter()
        run = run_backtest(spec, settings, Path(tmp) / "ledger.db")
        ran = time.perf_counter()
        run_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        report = write_outputs(
            Path(tmp), to_micro(settings.sim_starting_balance), run.windows, {"seed": 1}
        )
        reported = time.perf_counter()
        ledger_mib = (Path(tmp) / "ledger.db").stat().st_size / 2**20
    return {
        "days": days,
        "run_s": ran - started,
        "report_s": reported - ran,
        "windows": run.windows,
        "ticks": run.ticks,
        "decisions": report.summary["decisions"],
        "ledger_mib": ledger_mib,
        "run_peak_rss_mib": run_rss,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


if __name__ == "__main__":
    print(json.dumps(main(float(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DAYS)))
