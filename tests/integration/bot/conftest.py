"""A fresh emulator process and a generated account per test (tests/support/processes)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import BotSetup, new_setup, start_emulator_process


@pytest.fixture
def bot_setup(tmp_path: Path) -> Iterator[BotSetup]:
    """One emulator process (seed 11) and one account."""
    emulator = start_emulator_process(tmp_path / "emulator", seed=11)
    try:
        yield new_setup(emulator, tmp_path)
    finally:
        emulator.stop()
