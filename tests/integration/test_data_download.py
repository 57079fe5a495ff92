"""``polyflup data download`` through click's runner against the in-process emulator's
Binance (generated klines from 2026-01-01), with the real python-binance client.

The command's clock is a manual one at the emulator's time: "now" is the emulator's, and
waits between retries take no real time.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import src.cli.data_cmd as data_cmd
import src.data.download as download_module
from src.cli import cli
from src.data.market_data.binance import make_client
from src.sim.emulator.server import EmulatorHandle
from src.sim.feeds import read_klines_csv
from src.sim.feeds.generator import DEFAULT_START_MS
from src.utils.clock import SimClock
from tests.integration.emulator.conftest import start_emulator

pytestmark = pytest.mark.integration

DAY_S = 86_400
JAN_2_MS = DEFAULT_START_MS + 86_400_000  # the generated feed starts 2026-01-01 00:00
JAN_5_MS = JAN_2_MS + 3 * 86_400_000
SYMBOLS = ("BTCUSDT", "ETHUSDT")
ARGS = ("--days", "3", "--until", "2026-01-04")  # 2026-01-02 00:00 → 01-05 00:00
FILES = [f"{s}-1m-2026-01.csv.gz" for s in SYMBOLS]


class CountingClient:
    """The real python-binance client, counting page requests; after ``fail_after``
    pages it turns on the emulator's Binance 5xx fault (a network that stays down)."""

    def __init__(self, client: Any, emu: EmulatorHandle, fail_after: int | None) -> None:
        self._client = client
        self._emu = emu
        self._fail_after = fail_after
        self.pages: list[dict[str, Any]] = []
        self.calls = 0

    def get_klines(self, **params: Any) -> Any:
        self.calls += 1
        if "startTime" in params:
            self.pages.append(params)
            if self._fail_after is not None and len(self.pages) > self._fail_after:
                self._emu.set_faults("binance:5xx=1")
        return self._client.get_klines(**params)


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[EmulatorHandle]:
    """An emulator four days into its feed (2026-01-05 00:00 UTC); the command's clock
    and client are aimed at it."""
    handle = start_emulator(start_time=DEFAULT_START_MS / 1000 + 4 * DAY_S)
    monkeypatch.setattr(data_cmd, "make_clock", lambda: SimClock(start=handle.clock.now()))
    try:
        yield handle
    finally:
        handle.stop()


def use_client(
    monkeypatch: pytest.MonkeyPatch, emu: EmulatorHandle, fail_after: int | None = None
) -> CountingClient:
    env = emu.env()
    counting = CountingClient(
        make_client(env["BINANCE_API_URL"], env["BINANCE_FUTURES_URL"]), emu, fail_after
    )
    monkeypatch.setattr(data_cmd, "make_client", lambda _api, _futures: counting)
    return counting


def run(emu: EmulatorHandle, out: Path, *args: str) -> Result:
    argv = ["data", "download", *args, "--out", str(out)]
    return CliRunner().invoke(cli, argv, env=emu.env(), catch_exceptions=False)


def symbols_args(symbols: tuple[str, ...] = SYMBOLS) -> list[str]:
    return [arg for s in symbols for arg in ("--symbol", s)]


def test_downloads_the_emulators_klines_then_fetches_nothing(
    emu: EmulatorHandle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    out = tmp_path / "klines"
    client = use_client(monkeypatch, emu)
    result = run(emu, out, *symbols_args(), *ARGS)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == FILES
    for symbol, name in zip(SYMBOLS, FILES, strict=True):
        table = read_klines_csv(out / name)  # the backtest's reader, strict on gaps
        assert table.to_klines() == emu.source.feed.klines(symbol, JAN_2_MS, JAN_5_MS)
    assert len(client.pages) == 2 * 5  # 4,320 minutes: five pages of ≤ 1,000 each
    assert "4,320" in result.output and "Already present" in result.output
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    again = use_client(monkeypatch, emu)
    second = run(emu, out, *symbols_args(), *ARGS)
    assert second.exit_code == 0, second.output
    assert again.calls == 0
    assert "already present" in second.output
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_an_interrupted_download_resumes_to_the_same_files(
    emu: EmulatorHandle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(download_module, "CHECKPOINT_PAGES", 2)
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    use_client(monkeypatch, emu)
    assert run(emu, whole, *symbols_args(), *ARGS).exit_code == 0

    # BTCUSDT's 5 pages, then ETHUSDT's first 3: ETHUSDT is saved after its 2nd page,
    # and the network is down from its 4th (every retry answers HTTP 500).
    use_client(monkeypatch, emu, fail_after=8)
    stopped = run(emu, cut, *symbols_args(), *ARGS)
    assert stopped.exit_code == 1, stopped.output
    assert "Run the same command again to resume" in stopped.output
    assert "HTTP 500" in stopped.output
    assert len(read_klines_csv(cut / FILES[0])) == 4320
    assert len(read_klines_csv(cut / FILES[1])) == 2000  # valid, checkpointed
    assert not list(cut.glob("*.tmp"))

    emu.set_faults("")
    resumed = use_client(monkeypatch, emu)
    finished = run(emu, cut, *symbols_args(), *ARGS)
    assert finished.exit_code == 0, finished.output
    assert [p["symbol"] for p in resumed.pages] == ["ETHUSDT"] * 3
    assert resumed.pages[0]["startTime"] == JAN_2_MS + 2000 * 60_000
    files = sorted(p.name for p in cut.iterdir())
    assert files == FILES
    assert {n: (cut / n).read_bytes() for n in files} == {
        n: (whole / n).read_bytes() for n in files
    }


def test_an_unknown_symbol_exits_2_naming_it(
    emu: EmulatorHandle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_client(monkeypatch, emu)
    result = run(emu, tmp_path / "klines", *symbols_args(("BTCUSDT", "NOPEUSDT")), *ARGS)
    assert result.exit_code == 2
    assert "NOPEUSDT" in result.output and "Invalid symbol" in result.output
    assert not (tmp_path / "klines").exists()


def test_a_malformed_symbol_is_a_usage_error(emu: EmulatorHandle, tmp_path: Path) -> None:
    result = run(emu, tmp_path, "--symbol", "../etc", *ARGS)
    assert result.exit_code == 2 and "not a Binance symbol" in result.output


def test_binance_down_from_the_start_exits_1_writing_nothing(
    emu: EmulatorHandle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    client = use_client(monkeypatch, emu)
    emu.set_faults("binance:5xx=1")
    result = run(emu, tmp_path / "klines", *symbols_args(), *ARGS)
    assert result.exit_code == 1
    assert "HTTP 500" in result.output and "Nothing was written" in result.output
    assert client.calls == 6  # the symbol check, retried with backoff on the manual clock
    assert not (tmp_path / "klines").exists()
