"""``polyflup backtest --quotes``: the bot trades a recorded market, and the report's Brier
table by minute is what a hand computation on the recording gives."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from src.backtest.report import write_outputs
from src.backtest.runner import BacktestSpec, run_backtest
from src.cli import cli
from src.config.settings import Settings, load_settings
from src.data.market_data.windows import WindowRef
from src.data.quotes import COLUMNS, QuoteRow, format_row, load_recordings
from src.sim.feeds.binance_csv import write_klines_csv
from src.sim.feeds.generator import DEFAULT_START_MS, GeneratedFeed
from src.utils.money import MICRO
from tests.conftest import shared_path

pytestmark = pytest.mark.integration

FIRST = DEFAULT_START_MS // 1000 + 3 * 3600  # three hours of klines before the first window
WINDOWS = (FIRST, FIRST + 900, FIRST + 2700)  # a gap between the 2nd and the 3rd
OUTCOMES = ("UP", "DOWN", "UP")


def _mid(start: int, t: int) -> Decimal:
    """A recorded mid that wanders and ends near its outcome (cents)."""
    k = (start // 900) % 3
    value = 0.5 + 0.35 * math.sin((t / 900) * math.pi * (1 + k)) * (1 if k != 1 else -1)
    return Decimal(str(round(min(max(value, 0.03), 0.97), 2)))


def _flat(start: int, t: int) -> Decimal:
    """A market that never moves off even odds: wrong whenever the price has moved."""
    return Decimal("0.50")


def _write_inputs(
    folder: Path, mid: Callable[[int, int], Decimal] = _mid
) -> tuple[Path, Path]:
    feed = GeneratedFeed(5, start_ms=DEFAULT_START_MS, minutes=6 * 60)
    klines = folder / "BTCUSDT-1m-test.csv"
    write_klines_csv(
        klines, feed.table("BTCUSDT", DEFAULT_START_MS, DEFAULT_START_MS + 6 * 3_600_000)
    )
    rows = []
    for start, outcome in zip(WINDOWS, OUTCOMES, strict=True):
        for t in range(0, 900, 5):
            value = mid(start, t)
            rows.append(
                QuoteRow(
                    slug=WindowRef("BTC", start).slug,
                    window_start=start,
                    t_s=float(start + t),
                    up_bid=value - Decimal("0.01"),
                    up_ask=value + Decimal("0.01"),
                    down_bid=1 - value - Decimal("0.01"),
                    down_ask=1 - value + Decimal("0.01"),
                    outcome=outcome,
                )
            )
    quotes = folder / "btc-quotes.csv"
    lines = [",".join(COLUMNS)] + [",".join(format_row(r)) for r in rows]
    quotes.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return klines, quotes


def _spec(klines: Path, quotes: Path, seed: int = 1) -> BacktestSpec:
    return BacktestSpec(
        seed=seed,
        coins=("BTC",),
        data_files=(str(klines),),
        quote_files=(str(quotes),),
        resolution_s=10.0,
    )


def _settings(**overrides: str) -> Settings:
    """The aggressive profile with ``overrides`` on top (as ``--set`` gives them)."""
    return load_settings(
        environ={}, env_file=None, profile="aggressive", overrides=overrides
    )


def _run(tmp_path: Path, name: str, overrides: dict[str, str]) -> dict:
    klines, quotes = _write_inputs(tmp_path)
    settings = _settings(**overrides)
    out = tmp_path / name
    run = run_backtest(_spec(klines, quotes), settings, out / "ledger.db")
    assert run.windows == len(WINDOWS)
    write_outputs(out, 1_000 * MICRO, run.windows, {"seed": 1})
    return json.loads((out / "summary.json").read_text())


def test_the_market_column_of_the_brier_table_is_the_recordings_mid(
    tmp_path: Path,
) -> None:
    # No entries (an unreachable edge): the books the bot reads are the recording's alone.
    summary = _run(tmp_path, "quiet", {"MIN_EDGE": "0.9", "LOSING_SIDE_MIN_EDGE": "0.9"})
    assert summary["trades"] == 0
    table = {row["minute"]: row for row in summary["brier_by_minute"]}
    assert sorted(table) == list(range(1, 15))
    for minute, row in table.items():
        # the bot decides on the 10-s grid, so minute m is decided at exactly 60·m
        expected = [
            (float(_mid(start, 60 * minute)) - (1.0 if outcome == "UP" else 0.0)) ** 2
            for start, outcome in zip(WINDOWS, OUTCOMES, strict=True)
        ]
        assert row["windows"] == len(WINDOWS)
        assert row["market"] == pytest.approx(sum(expected) / len(expected), abs=1e-6)
        assert row["fair_value"] is not None and 0 <= row["fair_value"] <= 1


def test_a_recorded_market_trades_and_replays_byte_for_byte(tmp_path: Path) -> None:
    klines, quotes = _write_inputs(tmp_path, _flat)
    # Taker entries: a maker bid that only joins the recorded best bid never fills (nobody
    # else trades in a recording), so the test would prove nothing with it.
    settings = _settings(ORDER_STYLE="taker")
    outputs = []
    for name in ("a", "b"):
        out = tmp_path / name
        run = run_backtest(_spec(klines, quotes), settings, out / "ledger.db")
        write_outputs(out, 1_000 * MICRO, run.windows, {"seed": 1})
        outputs.append(out)
    for name in ("trades.csv", "decisions.csv"):
        assert (outputs[0] / name).read_bytes() == (outputs[1] / name).read_bytes()
    summary = json.loads((outputs[0] / "summary.json").read_text())
    assert summary["trades"] > 0, "the aggressive profile traded nothing on the recording"
    trades = (outputs[0] / "trades.csv").read_text().splitlines()[1:]
    recorded = {
        datetime.fromtimestamp(start, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for start in WINDOWS
    }
    assert {line.split(",")[1] for line in trades} <= recorded


def test_quotes_need_klines_and_bad_files_name_their_line(tmp_path: Path) -> None:
    klines, quotes = _write_inputs(tmp_path)
    runner = CliRunner()
    args = ["backtest", "--out", str(tmp_path / "o"), "--quotes", str(quotes)]
    assert runner.invoke(cli, [*args, "--synthetic", "--days", "1"]).exit_code == 2
    broken = tmp_path / "broken.csv"
    text = quotes.read_text().splitlines()
    text[3] = text[3].replace(",Up", ",Sideways")
    broken.write_text("\n".join(text) + "\n")
    result = runner.invoke(
        cli,
        [
            "backtest",
            "--quotes",
            str(broken),
            "--data",
            str(klines),
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 2
    assert f"{broken}:4" in result.output and "Sideways" in result.output


@pytest.mark.slow
def test_a_backtest_on_the_shared_recordings(tmp_path: Path) -> None:
    folder = shared_path("data", "polymarket")
    quotes = shared_path("data", "polymarket", "btc-updown-15m-quotes-2025-12-26_29.csv.gz")
    klines = sorted(folder.glob("BTCUSDT-1m-*.csv.gz"))
    settings = load_settings(environ={}, env_file=None, profile="aggressive")
    spec = BacktestSpec(
        seed=0,
        coins=("BTC",),
        data_files=tuple(str(k) for k in klines),
        quote_files=(str(quotes),),
    )
    with pytest.warns(UserWarning, match="flat candles"):  # the days between the files
        run = run_backtest(spec, settings, tmp_path / "ledger.db")
    recorded = [w for w in load_recordings([quotes]) if w.outcome is not None]
    assert run.windows == len(recorded) == 66
    report = write_outputs(tmp_path, 1_000 * MICRO, run.windows, {"seed": 0})
    assert report.summary["trades"] > 0
    first = report.brier_by_minute[0]
    # ../shared/data/polymarket/README.md: the market's mid scores 0.232 at minute 1
    assert first.minute == 1 and first.market == pytest.approx(0.232, abs=0.002)
    last = report.brier_by_minute[-1]
    assert last.minute == 14 and last.market is not None and last.market < 0.15
