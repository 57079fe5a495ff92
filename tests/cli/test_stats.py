"""polyflup stats on a ledger built from real fills."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from src.cli import cli
from src.data.db_connection import configure_database, db_connection
from src.data.ledger_store import (
    apply_fill_event,
    insert_order_intent,
    record_cash,
    settle_position,
)
from src.data.migrations import run_migrations
from src.trading.ledger.accounting import FeeAsset, Side
from src.trading.ledger.events import FillEvent, FillStatus, OrderIntent

M = 1_000_000
DAY1, DAY2 = 1_767_225_600_000, 1_767_312_000_000  # 2026-01-01 and 01-02, ms


def build(db: Path) -> None:
    run_migrations(db)
    configure_database(db)
    with db_connection() as cur:
        record_cash(cur, "deposit", 100 * M, 0)
        cur.execute(
            "INSERT INTO windows (id, symbol, slug, start_ms, end_ms, created_ms, "
            "outcome) VALUES (1, 'BTC', 'btc-updown-15m-1767225600', ?, ?, 0, 'UP')",
            (DAY1, DAY1 + 900_000),
        )
        for i, (symbol, token, outcome, price, won, when) in enumerate(
            [
                ("BTC", "t-up", "UP", 600_000, "UP", DAY1),
                ("ETH", "t-eth", "DOWN", 400_000, "UP", DAY2),
            ]
        ):
            insert_order_intent(
                cur,
                OrderIntent(
                    f"c{i}",
                    token,
                    symbol,
                    outcome,
                    Side.BUY,
                    "entry",
                    "FOK",
                    price,
                    10 * M,
                    "sim",
                    venue_order_id=f"0x{i}",
                ),
                when,
            )
            apply_fill_event(
                cur,
                FillEvent(
                    f"t{i}",
                    f"0x{i}",
                    FillStatus.CONFIRMED,
                    Side.BUY,
                    "taker",
                    price,
                    10 * M,
                    0,
                    FeeAsset.SHARES,
                    when,
                ),
                when,
            )
            settle_position(cur, token, won, when + 900_000)
        for conf_a, conf_b, action in ((0.62, 0.71, "UP"), (0.66, 0.58, "DOWN")):
            cur.execute(
                "INSERT INTO decisions (window_id, symbol, decided_ms, mode, action, "
                "reason, method, confidence_additive, confidence_bayesian) "
                "VALUES (1, 'BTC', 0, 'sim', ?, 'edge', 'bayesian', ?, ?)",
                (action, conf_a, conf_b),
            )


def test_stats_json(tmp_path: Path) -> None:
    build(tmp_path / "s.db")
    result = CliRunner().invoke(
        cli, ["stats", "--db", str(tmp_path / "s.db"), "--json"], env={}
    )
    data = json.loads(result.stdout)
    assert data["cash"] == "90"  # 100 − 6 − 4: the win pays out only when redeemed
    assert data["total"]["positions"] == 2 and data["total"]["pnl"] == "0"
    assert [g["key"] for g in data["by_symbol"]] == ["BTC", "ETH"]
    assert data["by_symbol"][0]["pnl"] == "4" and data["by_symbol"][1]["pnl"] == "-4"
    assert [g["key"] for g in data["by_day"]] == ["2026-01-01", "2026-01-02"]
    assert data["by_exit_reason"][0]["key"] == "settlement"
    buckets = {(b["method"], b["low"]): b for b in data["calibration"]}
    assert buckets[("additive", 0.6)]["count"] == 1
    assert buckets[("additive", 0.6)]["hit_rate"] == 1.0  # UP decision, UP outcome
    assert buckets[("additive", 0.65)]["hit_rate"] == 0.0
    assert buckets[("bayesian", 0.7)]["count"] == 1


def test_stats_table_and_empty(tmp_path: Path) -> None:
    runner = CliRunner()
    empty = runner.invoke(cli, ["stats", "--db", str(tmp_path / "none.db")], env={})
    assert empty.exit_code == 0 and "No database" in empty.output
    build(tmp_path / "s.db")
    table = runner.invoke(
        cli, ["stats", "--db", str(tmp_path / "s.db")], env={"COLUMNS": "160"}
    )
    assert table.exit_code == 0
    assert "Cash (ledger): 90.00" in table.output and "PnL by symbol" in table.output
    assert "Calibration" in table.output
