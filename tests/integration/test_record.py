"""``polyflup record`` as a real process against the emulator on 127.0.0.1 (its market
model, websockets, Gamma and Binance, on a clock ×60): a whole window recorded through its
resolution, read back with the recordings' reader and replayed in ``backtest --quotes``;
then stopped (SIGTERM), killed (SIGKILL) and restarted mid-window without a duplicate row,
the outcome filled in.

Nothing sleeps for a fixed time: the tests wait on the files and the processes.
"""

from __future__ import annotations

import csv
import io
import itertools
import os
import signal
import sqlite3
import statistics
import subprocess
import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from src.backtest.runner import BacktestSpec, run_backtest
from src.config.settings import load_settings
from src.data.market_data.polymarket import GammaClient
from src.data.market_data.windows import WINDOW_SECONDS
from src.data.quotes import RecordedWindow, load_recordings
from src.sim.emulator.server import EmulatorHandle
from src.sim.feeds.binance_csv import write_klines_csv
from src.sim.feeds.generator import DEFAULT_START_MS
from src.sim.feeds.table import KlineTable
from tests.integration.emulator.conftest import start_emulator
from tests.support.processes import POLYFLUP
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

SPEED = 60.0
INTERVAL = 3.0  # emulator seconds between two rows (20 rows a real second per coin)
COINS = ("BTC", "ETH")
# The emulator starts this long before a window opens: room for the recorder to start
# (its imports take a few real seconds), so the next window is recorded whole.
LEAD_S = 480
FIRST_BOUNDARY = DEFAULT_START_MS // 1000 + 86_400 + WINDOW_SECONDS
RUN_TIMEOUT_S = 90.0


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorHandle]:
    """One emulator for the module, its clock running ×60 from LEAD_S before a window."""
    handle = start_emulator(
        market_model=True,
        speed=SPEED,
        seed=11,
        coins=COINS,
        start_time=FIRST_BOUNDARY - LEAD_S,
    )
    try:
        yield handle
    finally:
        handle.stop()


def env_for(emu: EmulatorHandle, home: Path) -> dict[str, str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("POLYFLUP_", "POLYMARKET_", "BINANCE_", "DISCORD_"))
    }
    return {**clean, **emu.env(), "POLYFLUP_LOG_DIR": str(home / "logs")}


def record_args(home: Path, out: Path, *extra: str) -> list[str]:
    return [
        POLYFLUP,
        "--env-file",
        str(home / "absent.env"),
        "record",
        "--symbols",
        ",".join(COINS),
        "--out",
        str(out),
        "--speed",
        f"{SPEED:g}",
        "--interval",
        f"{INTERVAL:g}",
        *extra,
    ]


def start_recorder(
    emu: EmulatorHandle, home: Path, out: Path, *extra: str
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        record_args(home, out, *extra),
        env=env_for(emu, home),
        cwd=home,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def complete_rows(out: Path) -> list[tuple[str, float]]:
    """``(slug, t_s)`` of every whole line written so far (a line being written is not)."""
    found = []
    for path in sorted(out.glob("*.csv")):
        text = path.read_text(encoding="utf-8")
        text = text[: text.rfind("\n") + 1]
        for row in csv.DictReader(io.StringIO(text)):
            found.append((row["slug"], float(row["t_s"])))
    return found


def read_back(out: Path) -> list[RecordedWindow]:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not even an exact duplicate row
        return load_recordings(sorted(out.glob("*.csv")))


def emulator_outcome(emu: EmulatorHandle, slug: str) -> str | None:
    info = GammaClient(emu.env()["POLYMARKET_GAMMA_URL"]).market_by_slug(slug)
    assert info is not None
    return None if info.outcome is None else str(info.outcome.value)


def check_quotes(window: RecordedWindow) -> None:
    """What every window recorded from the emulator must show."""
    rows = window.rows
    gaps = [b.t_s - a.t_s for a, b in itertools.pairwise(rows)]
    if len(gaps) >= 5:  # a window caught in its last seconds has too few to tell
        assert statistics.median(gaps) == pytest.approx(INTERVAL, rel=0.1)
        assert sum(g <= 2 * INTERVAL for g in gaps) >= 0.9 * len(gaps)
    assert all(
        window.window_start <= r.t_s < window.window_start + WINDOW_SECONDS for r in rows
    )
    mirrored = 0
    for r in rows:
        for bid, ask in ((r.up_bid, r.up_ask), (r.down_bid, r.down_ask)):
            if bid is not None and ask is not None:
                assert bid < ask, r
        for price, size in (
            (r.up_bid, r.up_bid_size),
            (r.up_ask, r.up_ask_size),
            (r.down_bid, r.down_bid_size),
            (r.down_ask, r.down_ask_size),
        ):
            assert (price is None) == (size is None), r
            assert size is None or size > 0, r
        assert r.spot is not None and r.spot > 0, r
        if r.down_bid is not None and r.up_ask is not None:
            mirrored += abs(float(r.down_bid) - (1 - float(r.up_ask))) <= 0.011
        elif r.down_bid is None and r.up_ask is None:
            mirrored += 1
    # the emulator's makers quote Down as the mirror of Up (Down bid = 1 − Up ask)
    assert mirrored >= 0.95 * len(rows)


def test_records_a_whole_window_through_its_resolution(
    emu: EmulatorHandle, tmp_path: Path
) -> None:
    out = tmp_path / "quotes"
    result = subprocess.run(
        record_args(tmp_path, out, "--windows", "2"),
        env=env_for(emu, tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Recording stopped (windows)" in result.stdout
    assert "windows still awaiting an outcome: 0" in result.stdout

    windows = read_back(out)
    full = [w for w in windows if w.window_start == FIRST_BOUNDARY]
    assert [w.coin for w in full] == list(COINS)
    for window in windows:
        check_quotes(window)
        assert window.outcome is not None
        assert window.outcome == emulator_outcome(emu, window.slug)
    for window in full:  # the whole window, first interval to last
        assert window.rows[0].t_s < FIRST_BOUNDARY + 2 * INTERVAL
        assert window.rows[-1].t_s >= FIRST_BOUNDARY + WINDOW_SECONDS - 2 * INTERVAL
        assert len(window.rows) >= 0.9 * WINDOW_SECONDS / INTERVAL
    files = sorted(out.glob("*.csv"))
    assert [p.name for p in files] == [
        "btc-updown-15m-quotes-2026-01-02.csv",
        "eth-updown-15m-quotes-2026-01-02.csv",
    ]
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in files)
    total = sum(len(w.rows) for w in windows)
    assert f"Recording stopped (windows): {total:,} rows" in result.stdout
    assert "from the websocket" in result.stdout
    replay_in_a_backtest(emu, tmp_path, files, windows)


def replay_in_a_backtest(
    emu: EmulatorHandle, tmp_path: Path, files: list[Path], windows: list[RecordedWindow]
) -> None:
    """The recording, with the emulator's own klines, replays in ``backtest --quotes``:
    every recorded window is listed and resolves to its recorded outcome."""
    feed = emu.context.feed
    klines = []
    last_end = max(w.window_start for w in windows) + WINDOW_SECONDS
    for coin in COINS:
        path = tmp_path / f"{coin}USDT-1m-emulator.csv"
        first_ms = feed.time_range()[0]
        candles = feed.klines(f"{coin}USDT", first_ms, (last_end + 600) * 1000)
        write_klines_csv(path, KlineTable.from_klines(candles))
        klines.append(str(path))
    settings = load_settings(environ={}, env_file=None, profile="aggressive")
    spec = BacktestSpec(
        seed=11, coins=COINS, data_files=tuple(klines), quote_files=tuple(map(str, files))
    )
    run = run_backtest(spec, settings, tmp_path / "replay.db")
    assert run.windows == len(windows)
    with sqlite3.connect(run.db_path) as conn:
        replayed = dict(
            conn.execute("SELECT slug, outcome FROM windows WHERE outcome IS NOT NULL")
        )
        decisions = conn.execute("SELECT COUNT(*) FROM decisions").fetchone()[0]
    assert replayed == {w.slug: w.outcome for w in windows}
    assert decisions > 0


def test_stopped_killed_and_restarted_mid_window(
    emu: EmulatorHandle, tmp_path: Path
) -> None:
    out = tmp_path / "quotes"

    def rows_after(count: int, process: subprocess.Popen[str]) -> None:
        wait_until(
            lambda: len(complete_rows(out)) >= count,
            f"{count} rows in {out}",
            RUN_TIMEOUT_S,
            give_up=lambda: process.poll() is not None,
        )
        assert process.poll() is None, process.communicate()[0]

    # 1. SIGTERM: a clean stop with its summary
    first = start_recorder(emu, tmp_path, out)
    rows_after(2 * len(COINS) * 5, first)
    first.send_signal(signal.SIGTERM)
    output, _ = first.communicate(timeout=30)
    assert first.returncode == 0, output
    assert "Recording stopped (signal)" in output
    stopped = complete_rows(out)

    # 2. SIGKILL: no goodbye at all, maybe in the middle of a line
    second = start_recorder(emu, tmp_path, out)
    rows_after(len(stopped) + 2 * len(COINS) * 5, second)
    second.kill()
    second.communicate(timeout=30)
    killed = complete_rows(out)

    # 3. to the end of the window and its outcome
    third = subprocess.run(
        record_args(tmp_path, out, "--windows", "1"),
        env=env_for(emu, tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    assert third.returncode == 0, third.stdout + third.stderr
    assert "resuming in" in third.stderr

    final = complete_rows(out)
    counts = Counter(final)
    assert [k for k, n in counts.items() if n > 1] == []  # no (slug, t_s) twice
    assert set(stopped) <= set(killed) <= set(final)  # nothing lost either
    windows = read_back(out)
    for window in windows:
        check_quotes(window)
        assert window.outcome is not None
        assert window.outcome == emulator_outcome(emu, window.slug)
    # the restarts show as gaps within a window, never as a row out of order
    assert any(len(w.rows) >= 0.5 * WINDOW_SECONDS / INTERVAL for w in windows)
