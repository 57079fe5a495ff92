"""``polyflup backtest``: the output contract, determinism, and clear usage errors."""

from __future__ import annotations

import csv
import json
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from src.cli import cli

pytestmark = pytest.mark.integration

ARGS = ("backtest", "--profile", "aggressive", "--synthetic", "--days", "0.25")


def _run(out: Path, *extra: str) -> str:
    result = CliRunner().invoke(
        cli,
        ["--env-file", "absent.env", *ARGS, "--seed", "5", "--out", str(out), *extra],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "Backtest" in result.output
    return result.output


def test_the_outputs_add_up_and_repeat_byte_for_byte(tmp_path: Path) -> None:
    output = _run(tmp_path / "a")
    _run(tmp_path / "b")
    for name in ("trades.csv", "decisions.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    trades = list(csv.DictReader((tmp_path / "a" / "trades.csv").open()))
    decisions = list(csv.DictReader((tmp_path / "a" / "decisions.csv").open()))
    assert summary["trades"] == len(trades) > 0
    assert summary["decisions"] == len(decisions)
    assert Decimal(summary["fees_paid"]) == sum(Decimal(t["fees"]) for t in trades)
    closed = [t for t in trades if t["exit_reason"] not in ("open", "closed")]
    assert Decimal(summary["pnl"]) == sum(Decimal(t["pnl"]) for t in closed)
    assert summary["seed"] == 5 and summary["profile"] == "aggressive"
    assert {d["outcome"] for d in decisions} <= {"UP", "DOWN", ""}
    assert any(d["action"] == "PASS" for d in decisions)
    assert set(trades[0]) == {
        "symbol", "window_start", "side", "entry_price", "size", "cost", "fees",
        "exit_reason", "pnl", "confidence_additive", "confidence_bayesian", "fair_value",
    }  # fmt: skip
    assert summary["settings"]["POLYMARKET_PRIVATE_KEY"] in ("(not set)", "***")

    # report.png, calibration of both methods, the baselines — on screen too.
    png = (tmp_path / "a" / "report.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    for method in ("additive", "bayesian"):
        buckets = summary[f"calibration_{method}"]
        assert buckets and set(buckets[0]) == {"bucket", "n", "mean_confidence", "win_rate"}
        assert all(0 <= b["win_rate"] <= 1 and b["n"] > 0 for b in buckets)
        assert sum(b["n"] for b in buckets) <= len(decisions)
    baselines = summary["baselines"]
    assert set(baselines) == {"favourite", "fair_value", "random"}
    for figures in baselines.values():
        assert {"trades", "win_rate", "pnl", "roi", "fees"} <= set(figures)
    assert baselines["random"]["trades"] > 0
    assert Decimal(summary["baseline_stake"]) > 0
    assert sum(g["trades"] for g in summary["by_symbol"]) == len(closed)
    assert sum(Decimal(g["pnl"]) for g in summary["by_exit_reason"]) == Decimal(
        summary["pnl"]
    )
    for title in ("PnL by symbol", "PnL by exit reason", "Calibration", "Baselines"):
        assert title in output
    assert "report.png" in output


def test_lean_decisions_report_exactly_what_full_ones_do(tmp_path: Path) -> None:
    """A backtest stores lean decisions by default (a few dozen bytes, not ~3 kB): the
    reports read the same values from them as from the full audit ``run`` keeps."""
    _run(tmp_path / "lean")
    _run(tmp_path / "full", "--audit", "full")
    for name in ("trades.csv", "decisions.csv"):
        lean, full = (tmp_path / d / name for d in ("lean", "full"))
        assert lean.read_bytes() == full.read_bytes()
    summaries = [
        json.loads((tmp_path / d / "summary.json").read_text()) for d in ("lean", "full")
    ]
    assert [s.pop("audit") for s in summaries] == ["lean", "full"]
    assert summaries[0] == summaries[1]
    stored = {}
    for d in ("lean", "full"):
        with sqlite3.connect(tmp_path / d / "ledger.db") as conn:
            stored[d] = conn.execute(
                "SELECT signals_json, inputs_json FROM decisions ORDER BY id LIMIT 200"
            ).fetchall()
    assert all(signals is None for signals, _ in stored["lean"])
    assert all(json.loads(signals) for signals, _ in stored["full"])
    lean_keys = {key for _, inputs in stored["lean"] for key in json.loads(inputs)}
    assert lean_keys == {
        "elapsed_s",
        "up_bid",
        "up_ask",
        "fee_rate",
        "additive",
        "bayesian",
    }
    assert "indicators" in json.loads(stored["full"][-1][1])
    lean_size = (tmp_path / "lean" / "ledger.db").stat().st_size
    assert lean_size * 4 < (tmp_path / "full" / "ledger.db").stat().st_size


def test_data_or_synthetic_must_be_chosen(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--env-file", "absent.env", "backtest"])
    assert result.exit_code == 2 and "--synthetic" in result.output
    result = CliRunner().invoke(
        cli, ["--env-file", "absent.env", "backtest", "--synthetic"]
    )
    assert result.exit_code == 2 and "--days" in result.output


def test_a_backtest_on_the_real_klines_runs(tmp_path: Path) -> None:
    from tests.conftest import shared_path

    data = shared_path("data", "BTCUSDT-1m-2026-01-09_12.csv.gz")  # skips when absent
    out = tmp_path / "real"
    result = CliRunner().invoke(
        cli,
        [
            *("--env-file", "absent.env", "backtest", "--profile", "aggressive"),
            *("--data", str(data), "--days", "0.1", "--out", str(out)),
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["coins"] == ["BTC"] and summary["decisions"] > 0
    assert summary["windows"] >= 8  # 0.1 day of 15-minute windows, one coin
    assert summary["data"] == [str(data)]


def test_a_broken_kline_file_is_named_with_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "BTCUSDT-1m-bad.csv"
    bad.write_text(
        "open_time,open,high,low,close,volume,close_time,quote_volume,count,"
        "taker_buy_volume,taker_buy_quote_volume,ignore\n"
        "1767225600000,100,101,99,100.5,10,1767225659999,1005,5,5,502,0\n"
        "1767225660000,abc,101,99,100.5,10,1767225719999,1005,5,5,502,0\n"
    )
    result = CliRunner().invoke(
        cli,
        [
            "--env-file",
            "absent.env",
            "backtest",
            "--data",
            str(bad),
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 2, result.output
    assert "BTCUSDT-1m-bad.csv:3:" in result.output  # the file and the line
    assert "open is not a number" in result.output
