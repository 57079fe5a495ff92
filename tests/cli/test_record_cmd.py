"""``polyflup record``'s refusals, before any network: usage and settings exit 2 naming
what is wrong; a folder held by another recorder or a foreign file in it exits 1."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from src.cli import cli
from src.data.quotes import COLUMNS

# Nothing listens here: a command that got as far as the network would fail differently.
NOWHERE = {
    "POLYMARKET_CLOB_URL": "http://127.0.0.1:9",
    "POLYMARKET_GAMMA_URL": "http://127.0.0.1:9/gamma",
    "POLYMARKET_WS_URL": "ws://127.0.0.1:9/ws",
    "BINANCE_API_URL": "http://127.0.0.1:9/binance/api",
}


def record(tmp_path: Path, *args: str) -> Result:
    argv = ["--env-file", str(tmp_path / "absent.env"), "record", *args]
    return CliRunner().invoke(cli, argv, env=NOWHERE, catch_exceptions=False)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--symbols", "BTC,DOGE"), "DOGE"),
        (("--symbols", ","), "--symbols"),
        (("--windows", "1", "--duration", "60"), "not both"),
        (("--interval", "0"), "--interval"),
        (("--windows", "0"), "--windows"),
        (("--set", "MARKETS=FOO"), "MARKETS"),
        (("--set", "POLYMARKET_WS_URL=nope"), "POLYMARKET_WS_URL"),
    ],
)
def test_bad_usage_or_settings_exit_2_naming_them(
    tmp_path: Path, args: tuple[str, ...], words: str
) -> None:
    result = record(tmp_path, "--out", str(tmp_path / "q"), *args)
    assert result.exit_code == 2, result.output
    assert words in result.output
    assert not (tmp_path / "q").exists()


def test_a_folder_another_recorder_holds_exits_1(tmp_path: Path) -> None:
    out = tmp_path / "q"
    out.mkdir()
    fd = os.open(out / ".record.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.write(fd, b"4242\n")
        result = record(tmp_path, "--out", str(out), "--duration", "5")
    finally:
        os.close(fd)
    assert result.exit_code == 1, result.output
    assert "pid 4242" in result.output and "another `polyflup record`" in result.output


def test_a_foreign_daily_file_exits_1_naming_it(tmp_path: Path) -> None:
    out = tmp_path / "q"
    out.mkdir()
    bad = out / "btc-updown-15m-quotes-2099-01-01.csv"  # "today" or later: indexed
    bad.write_text(",".join(COLUMNS[:3]) + "\n")
    result = record(tmp_path, "--out", str(out), "--symbols", "BTC", "--duration", "5")
    assert result.exit_code == 1, result.output
    assert bad.name in result.output and "lacks column" in result.output
