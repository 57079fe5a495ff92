"""Fixtures: a fresh emulator per test on a free port, with a manual clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from src.sim.emulator.config import EmulatorConfig
from src.sim.emulator.server import Emulator, EmulatorHandle
from src.sim.emulator.sources import calendar_source, model_source
from src.sim.emulator.world import ListedMarket
from tests.integration.emulator.support import current_market

pytestmark = pytest.mark.integration


def start_emulator(*, market_model: bool = False, **overrides: object) -> EmulatorHandle:
    """An emulator on 127.0.0.1:0 with a manual clock and BTC markets only; without the
    market model unless asked, so books hold exactly what a test puts there."""
    settings: dict[str, object] = {
        "port": 0,
        "speed": None,
        "seed": 7,
        "coins": ("BTC",),
        **overrides,
    }
    factory = model_source if market_model else calendar_source
    config = EmulatorConfig(**settings)  # type: ignore[arg-type]
    return Emulator(config, source_factory=factory).start()


@pytest.fixture
def emu() -> Iterator[EmulatorHandle]:
    """A running emulator, stopped after the test."""
    handle = start_emulator()
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def market(emu: EmulatorHandle) -> ListedMarket:
    """The BTC market of the running window."""
    return current_market(emu)
