"""Issue 8, "done when": the backtest and a ``run --sim --lockstep`` on the same data and
seed produce the same trades.

The backtest steps the world in-process (InProcessVenue, in-process Gamma and Binance); the
lockstep run serves the same world from the embedded emulator over HTTP and trades it
through the official CLOB client, Gamma and python-binance — stepped by the same driver.
Both ledgers must hold the same positions and the same fills, to the micro-unit.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from src.backtest.runner import BacktestSpec, run_backtest
from src.cli import cli
from src.config.settings import load_settings
from src.sim.feeds.binance_csv import write_klines_csv
from src.sim.feeds.generator import DEFAULT_START_MS, MINUTES_PER_DAY, generate_tables

pytestmark = pytest.mark.integration

SEED = 3
COINS = ("BTC", "ETH")
HOURS = 1.0  # four windows of each coin, then the settlement tail
FILE_DAYS = 2  # the replay starts a day in: a day of kline history for the indicators


def _kline_files(folder: Path) -> tuple[str, ...]:
    """Two days of generated BTC and ETH klines, written as Binance CSV files."""
    tables = generate_tables(
        SEED + 100,
        DEFAULT_START_MS,
        FILE_DAYS * MINUTES_PER_DAY,
        symbols=[f"{coin}USDT" for coin in COINS],
    )
    files = []
    for symbol, table in tables.items():
        path = folder / f"{symbol}-1m-test.csv"
        write_klines_csv(path, table)
        files.append(f"{symbol}={path}")
    return tuple(files)


def _ledger(db: Path) -> dict[str, list[tuple]]:
    with sqlite3.connect(db) as conn:
        return {
            "positions": conn.execute(
                "SELECT p.symbol, w.slug, p.outcome, p.size_micro, p.cost_micro, "
                "p.fees_micro, p.realized_pnl_micro, p.status, p.exit_reason, "
                "p.opened_ms, p.closed_ms "
                "FROM positions p LEFT JOIN windows w ON w.id = p.window_id "
                "ORDER BY p.opened_ms, p.symbol, p.outcome"
            ).fetchall(),
            # what each position bought: shares and their average price
            "entries": conn.execute(
                "SELECT p.symbol, p.outcome, SUM(f.size_micro), "
                "SUM(f.notional_micro) * 1000000 / SUM(f.size_micro) "
                "FROM positions p JOIN orders o ON o.token_id = p.token_id "
                "JOIN fills f ON f.order_id = o.id WHERE f.side = 'BUY' "
                "GROUP BY p.id ORDER BY p.opened_ms, p.symbol, p.outcome"
            ).fetchall(),
            "fills": conn.execute(
                "SELECT o.symbol, o.outcome, o.intent, f.side, f.role, f.price_micro, "
                "f.size_micro, f.notional_micro, f.fee_micro, f.fee_asset, f.status, "
                "f.matched_ms "
                "FROM fills f JOIN orders o ON o.id = f.order_id "
                "ORDER BY f.matched_ms, o.symbol, o.outcome, f.side, f.price_micro, "
                "f.size_micro"
            ).fetchall(),
            "orders": conn.execute(
                "SELECT symbol, outcome, intent, side, order_type, post_only, "
                "price_micro, size_micro, filled_micro, created_ms "
                "FROM orders ORDER BY created_ms, symbol, outcome, intent, price_micro"
            ).fetchall(),
            "cash": conn.execute(
                "SELECT kind, amount_micro FROM cash_ledger ORDER BY id"
            ).fetchall(),
        }


@pytest.mark.parametrize("replayed", [True, False], ids=["kline-files", "generated"])
def test_the_backtest_and_a_lockstep_sim_run_make_the_same_trades(
    tmp_path: Path, replayed: bool
) -> None:
    files = _kline_files(tmp_path) if replayed else ()
    settings = load_settings(environ={}, env_file=None, profile="aggressive")
    spec = BacktestSpec(seed=SEED, days=HOURS / 24, data_files=files, coins=COINS)
    backtest = run_backtest(spec, settings, tmp_path / "backtest.db")

    args = ["run", "--sim", "--lockstep", "--profile", "aggressive"]
    args += [a for f in files for a in ("--data", f)]
    args += ["--duration", f"{backtest.end - backtest.start:g}"]
    args += ["--db", str(tmp_path / "sim.db")]
    args += ["--set", f"SIM_SEED={SEED}", "--set", f"MARKETS={','.join(COINS)}"]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output

    expected = _ledger(backtest.db_path)
    got = _ledger(tmp_path / "sim.db")
    assert len(expected["positions"]) >= 3, "too few trades for the test to mean much"
    assert len(expected["fills"]) >= 6
    for table in ("positions", "entries", "fills", "orders", "cash"):
        assert got[table] == expected[table], table
