"""The emulator's feed choice: ``--data`` arguments, replayed files and the start time."""

from __future__ import annotations

from pathlib import Path

import pytest

from src.data.market_data.windows import WINDOW_SECONDS
from src.sim.emulator.config import EmulatorConfig
from src.sim.emulator.feed_setup import (
    DataFileError,
    build_feed,
    parse_data_arg,
    replay_setup,
)
from src.sim.feeds.generator import DEFAULT_START_MS
from tests.conftest import shared_path


@pytest.mark.parametrize(
    ("arg", "symbol", "name"),
    [
        ("data/BTCUSDT-1m-2026-01.csv.gz", "BTCUSDT", "BTCUSDT-1m-2026-01.csv.gz"),
        ("ETH=prices.csv", "ETHUSDT", "prices.csv"),
        ("btcusdt=x/LINKUSDT-1m.csv", "BTCUSDT", "LINKUSDT-1m.csv"),
    ],
)
def test_data_arguments(arg: str, symbol: str, name: str) -> None:
    parsed_symbol, path = parse_data_arg(arg)
    assert parsed_symbol == symbol and path.name == name


def test_a_nameless_file_needs_a_symbol() -> None:
    with pytest.raises(DataFileError, match="SYMBOL=PATH"):
        parse_data_arg("prices.csv")
    with pytest.raises(DataFileError, match="no such file"):
        replay_setup([str(Path("BTCUSDT-1m-missing.csv"))], seed=0, start_time=None)


def test_generated_feed_starts_a_day_in_on_a_window_boundary() -> None:
    setup = build_feed(EmulatorConfig(coins=("btc", "ETH", "DOGE")))
    assert setup.coins == ("BTC", "ETH")
    assert setup.start_time == DEFAULT_START_MS / 1000 + 86_400
    assert setup.start_time % WINDOW_SECONDS == 0
    chosen = build_feed(EmulatorConfig(start_time=1_767_400_000.0))
    assert chosen.start_time == 1_767_400_000.0


def test_replayed_files_name_the_coins_and_start_a_day_in() -> None:
    path = shared_path("data", "BTCUSDT-1m-2026-01-09_12.csv.gz")
    setup = replay_setup([str(path), f"ETH={path}"], seed=1, start_time=None)
    assert setup.coins == ("BTC", "ETH")
    first, end = setup.feed.time_range()
    assert setup.start_time == first / 1000 + 86_400
    assert setup.start_time % WINDOW_SECONDS == 0 and setup.start_time < end / 1000
