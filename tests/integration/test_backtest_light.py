"""``polyflup backtest --market light``: the bot over the makers' quotes alone — same
seed, same ledger; trades happen and settle to the same outcomes as the full model."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from src.backtest.runner import MARKET_LIGHT, MARKET_MODEL, BacktestSpec, run_backtest
from src.config.settings import load_settings

pytestmark = pytest.mark.integration

DAYS = 2 / 24


def _run(tmp_path: Path, name: str, market: str) -> sqlite3.Connection:
    settings = load_settings(environ={}, env_file=None, profile="aggressive")
    spec = BacktestSpec(seed=2, days=DAYS, coins=("BTC", "ETH"), market=market)
    run = run_backtest(spec, settings, tmp_path / f"{name}.db")
    assert run.windows == 16
    return sqlite3.connect(run.db_path)


def _rows(conn: sqlite3.Connection, sql: str) -> list[tuple]:
    return conn.execute(sql).fetchall()


def test_the_light_market_is_deterministic_trades_and_resolves_like_the_model(
    tmp_path: Path,
) -> None:
    first = _run(tmp_path, "a", MARKET_LIGHT)
    second = _run(tmp_path, "b", MARKET_LIGHT)
    decisions = "SELECT symbol, decided_ms, action, reason, price_micro FROM decisions"
    fills = "SELECT side, price_micro, size_micro, fee_micro FROM fills ORDER BY id"
    assert _rows(first, decisions) == _rows(second, decisions)
    assert _rows(first, fills) == _rows(second, fills)
    assert _rows(first, fills), "the aggressive profile traded nothing on the light market"
    model = _run(tmp_path, "m", MARKET_MODEL)
    outcomes = "SELECT slug, outcome FROM windows WHERE outcome IS NOT NULL ORDER BY slug"
    light_outcomes = dict(_rows(first, outcomes))
    model_outcomes = dict(_rows(model, outcomes))
    shared = light_outcomes.keys() & model_outcomes.keys()
    assert shared
    assert all(light_outcomes[s] == model_outcomes[s] for s in shared)
