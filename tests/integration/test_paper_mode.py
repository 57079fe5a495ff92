"""``polyflup run --paper`` against the emulator: live data in, not one order out.

The emulator stands in for Polymarket, Gamma and Binance (its clock runs ×60, so two
simulated minutes take two real seconds); no key is configured. Every order the bot
places must stay in the paper venue: the emulator's ledger never hears of one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from src.cli import cli
from src.sim.emulator.server import EmulatorHandle
from tests.integration.emulator.conftest import start_emulator

pytestmark = pytest.mark.integration


@pytest.fixture
def running_emulator() -> Iterator[EmulatorHandle]:
    """An emulator whose clock runs ×60, with market makers quoting the books."""
    handle = start_emulator(market_model=True, speed=60.0)
    try:
        yield handle
    finally:
        handle.stop()


def run_paper(emu: EmulatorHandle, db: Path) -> Result:
    env = {
        **emu.env(),
        "POLYFLUP_DB": str(db),
        "POLYFLUP_LOG_DIR": str(db.parent / "logs"),
    }
    assert not any("PRIVATE_KEY" in name for name in env)
    return CliRunner().invoke(
        cli,
        [
            "--env-file",
            str(db.parent / "absent.env"),
            "run",
            "--paper",
            "--duration",
            "120",
            "--speed",
            "60",
            "--profile",
            "aggressive",
        ],
        env=env,
        catch_exceptions=False,
    )


def test_paper_run_decides_without_sending_an_order(
    running_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    db = tmp_path / "paper.db"
    first = run_paper(running_emulator, db)
    assert first.exit_code == 0, first.output
    assert "PAPER" in first.output and "no real money" in first.output
    assert "fills simulated" in first.output

    with sqlite3.connect(db) as conn:
        decisions = conn.execute("SELECT COUNT(*) FROM decisions").fetchone()[0]
        modes = {r[0] for r in conn.execute("SELECT DISTINCT mode FROM decisions")}
        order_modes = {r[0] for r in conn.execute("SELECT DISTINCT mode FROM orders")}
    assert decisions > 0 and modes == {"paper"}
    assert order_modes <= {"paper"}

    ledger = running_emulator.ledger()
    assert all(not a["orders"] and not a["trades"] for a in ledger["accounts"])

    # A second run on the same ledger resumes the paper account from it, so the
    # startup reconciliation finds nothing to report.
    second = run_paper(running_emulator, db)
    assert second.exit_code == 0, second.output
    assert "resumed from the ledger" in second.output
    assert "mismatch" not in second.output
    assert all(not a["orders"] for a in running_emulator.ledger()["accounts"])
