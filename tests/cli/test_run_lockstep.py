"""``polyflup run --sim --lockstep``: the embedded emulator and the bot stepped together on a
manual clock; its options are for the simulator only (exit 2 otherwise)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from src.cli import cli

KEY = "0x" + "ab" * 32


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env or {}, catch_exceptions=False)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--paper", "--lockstep"), "--lockstep is for the simulator only"),
        (("--paper", "--data", "BTCUSDT=x.csv"), "--data is for the simulator only"),
        (("--sim", "--resolution", "5"), "--resolution needs --lockstep"),
        (("--sim", "--lockstep", "--speed", "60"), "takes no --speed"),
        (("--sim", "--data", "klines.csv"), "cannot tell the symbol"),
        (("--sim", "--data", "BTCUSDT=missing.csv"), "no such file"),
    ],
)
def test_lockstep_and_data_are_refused_where_they_do_not_apply(
    args: tuple[str, ...], message: str
) -> None:
    result = invoke(
        "run",
        *args,
        "--duration",
        "60",
        "--db",
        "run.db",
        env={"POLYMARKET_PRIVATE_KEY": KEY},
    )
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not Path("run.db").exists()


def test_a_lockstep_run_stops_after_its_windows_and_settles() -> None:
    result = invoke(
        "run",
        "--sim",
        "--lockstep",
        "--resolution",
        "15",
        "--windows",
        "1",
        "--profile",
        "aggressive",
        "--set",
        "MARKETS=BTC,ETH",
        "--db",
        "sim.db",
    )
    assert result.exit_code == 0, result.output
    assert "clock lockstep" in result.output
    assert "Run stopped (windows)" in result.output
    with sqlite3.connect("sim.db") as conn:
        modes = {row[0] for row in conn.execute("SELECT DISTINCT mode FROM orders")}
        statuses = [row[0] for row in conn.execute("SELECT status FROM positions")]
    assert modes == {"sim"}
    assert statuses and "open" not in statuses  # it traded, and settled what it held
