"""``polyflup stats --png``: one four-panel chart from the ledger, or a clear 'nothing yet'."""

from __future__ import annotations

import json
import struct
from pathlib import Path

from click.testing import CliRunner

from src.cli import cli
from src.data.migrations import run_migrations
from src.data.stats import CalibrationBucket, GroupStats, Stats
from src.reports.stats_plot import stats_figure, write_stats_png
from tests.cli.test_stats import build

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (after checking the signature)."""
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def stats_cli(*args: str):
    return CliRunner().invoke(cli, ["stats", *args], env={}, catch_exceptions=False)


def test_png_from_a_ledger(tmp_path: Path) -> None:
    build(tmp_path / "s.db")
    out = tmp_path / "charts" / "out.png"  # the folder is created
    result = stats_cli("--db", str(tmp_path / "s.db"), "--png", str(out))
    assert result.exit_code == 0, result.output
    assert "PnL by symbol" in result.stdout  # the tables are still printed
    assert f"Chart written to {out}" in result.stdout
    assert out.stat().st_size > 0
    assert png_size(out) == (1300, 900)


def test_png_with_json_keeps_stdout_parseable(tmp_path: Path) -> None:
    build(tmp_path / "s.db")
    out = tmp_path / "out.png"
    result = stats_cli("--db", str(tmp_path / "s.db"), "--json", "--png", str(out))
    assert result.exit_code == 0
    assert json.loads(result.stdout)["total"]["positions"] == 2
    assert "Chart written" in result.stderr
    assert png_size(out)


def test_empty_ledger_says_so_and_writes_nothing(tmp_path: Path) -> None:
    run_migrations(tmp_path / "empty.db")
    out = tmp_path / "out.png"
    result = stats_cli("--db", str(tmp_path / "empty.db"), "--png", str(out))
    assert result.exit_code == 0
    assert "No closed positions yet." in result.stdout
    assert f"No chart written to {out}" in result.stdout
    assert "no closed positions" in result.stdout
    assert not out.exists()


def test_no_database_says_so_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out.png"
    result = stats_cli("--db", str(tmp_path / "none.db"), "--png", str(out))
    assert result.exit_code == 0
    assert "No database" in result.stderr and "No chart written" in result.stderr
    assert not out.exists()


def test_plot_function_draws_empty_and_calibration_only_stats(tmp_path: Path) -> None:
    """A backtest may hand over a ``Stats`` with nothing closed; every panel copes."""
    nothing = GroupStats("all", 0, 0, 0, 0, 0)
    empty = Stats(0, 0, nothing, (), (), (), ())
    figure = stats_figure(empty, title="backtest")
    assert len(figure.axes) == 4
    assert figure.get_suptitle() == "backtest"
    calibrated = Stats(
        0,
        0,
        nothing,
        (),
        (),
        (),
        (CalibrationBucket("bayesian", 0.6, 0.65, 3, 0.62, 2 / 3),),
    )
    assert png_size(write_stats_png(calibrated, tmp_path / "c.png")) == (1300, 900)
