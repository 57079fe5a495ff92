"""The backtest core: the bot's own engine stepped in lockstep over the emulator's world,
in-process. Same seed, same ledger; a trade happens and is booked from real fills."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from src.backtest import runner
from src.backtest.runner import BacktestSpec, run_backtest
from src.config.settings import load_settings

pytestmark = pytest.mark.integration

HOURS = 0.25  # a few windows: enough for decisions, orders and a settlement


def _ledger(db: Path) -> dict[str, list[tuple]]:
    with sqlite3.connect(db) as conn:
        return {
            "decisions": conn.execute(
                "SELECT symbol, decided_ms, action, reason, price_micro, size_micro "
                "FROM decisions ORDER BY id"
            ).fetchall(),
            "orders": conn.execute(
                "SELECT client_order_id, intent, side, price_micro, size_micro, "
                "filled_micro, status FROM orders ORDER BY id"
            ).fetchall(),
            "fills": conn.execute(
                "SELECT side, price_micro, size_micro, fee_micro, status FROM fills "
                "ORDER BY id"
            ).fetchall(),
        }


def _run(tmp_path: Path, name: str, seed: int) -> dict[str, list[tuple]]:
    settings = load_settings(environ={}, env_file=None, profile="aggressive")
    spec = BacktestSpec(seed=seed, days=HOURS / 24)
    run = run_backtest(spec, settings, tmp_path / f"{name}.db")
    assert run.ticks > 0
    return _ledger(run.db_path)


def test_same_seed_same_ledger_and_trades_happen(tmp_path: Path) -> None:
    first = _run(tmp_path, "a", seed=3)
    second = _run(tmp_path, "b", seed=3)
    assert first == second
    assert len(first["decisions"]) > 100
    assert any(action != "PASS" for _, _, action, *_ in first["decisions"])
    assert first["orders"], "the aggressive profile traded nothing in the backtest"


def test_commit_batches_leave_the_same_ledger_as_a_commit_a_tick(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    batched = _run(tmp_path, "batched", seed=3)
    monkeypatch.setattr(runner, "BACKTEST_TICKS_PER_COMMIT", 1)
    assert _run(tmp_path, "every-tick", seed=3) == batched
