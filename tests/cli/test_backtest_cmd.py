"""``polyflup backtest``: the output contract, determinism, and clear usage errors."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from src.cli import cli

pytestmark = pytest.mark.integration

ARGS = ("backtest", "--profile", "aggressive", "--synthetic", "--days", "0.25")


def _run(out: Path, *extra: str) -> None:
    result = CliRunner().invoke(
        cli,
        ["--env-file", "absent.env", *ARGS, "--seed", "5", "--out", str(out), *extra],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "Backtest" in result.output


def test_the_outputs_add_up_and_repeat_byte_for_byte(tmp_path: Path) -> None:
    _run(tmp_path / "a")
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


def test_data_or_synthetic_must_be_chosen(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--env-file", "absent.env", "backtest"])
    assert result.exit_code == 2 and "--synthetic" in result.output
    result = CliRunner().invoke(
        cli, ["--env-file", "absent.env", "backtest", "--synthetic"]
    )
    assert result.exit_code == 2 and "--days" in result.output
