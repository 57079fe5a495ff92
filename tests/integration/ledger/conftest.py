"""A ledger world: the emulator (manual clock, real HTTP), a generated key behind a
``ClobVenue`` with the unmodified client, and a real migrated sqlite database."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from eth_account import Account
from py_clob_client_v2.http_helpers import helpers

from src.data.db_connection import configure_database, db_connection
from src.data.ledger_store import record_cash
from src.data.market_data.polymarket import GammaClient
from src.data.migrations import run_migrations
from src.sim.emulator.server import EmulatorHandle
from src.sim.emulator.world import ListedMarket
from src.trading.execution import ExecutionContext
from src.trading.state import RecentFills
from src.trading.venue.clob import ClobVenue
from tests.integration.emulator.conftest import start_emulator
from tests.integration.emulator.support import current_market

pytestmark = pytest.mark.integration


@dataclass
class World:
    """Everything one scenario needs."""

    emu: EmulatorHandle
    market: ListedMarket
    venue: ClobVenue
    key: str
    db: Path
    ctx: ExecutionContext
    gamma: GammaClient


@pytest.fixture
def short_client_timeout(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The client's module-level httpx client with a 0.3 s timeout instead of 5 s (its
    configuration, not its code), so a held answer times out quickly."""
    monkeypatch.setattr(helpers._http_client, "timeout", httpx.Timeout(0.3))
    yield


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """A fresh emulator, account and database; the opening balance booked as a deposit."""
    emu = start_emulator()
    try:
        account = Account.create()
        key = account.key.hex()
        env = emu.env()
        venue = ClobVenue.connect(
            emu.base_url,
            private_key=key,
            chain_id=137,
            data_url=env["POLYMARKET_DATA_URL"],
            rate_per_s=1000,
            retry_wait_s=0.01,
        )
        db = tmp_path / "bot.db"
        run_migrations(db)
        configure_database(db)
        with db_connection() as cur:
            record_cash(cur, "deposit", venue.collateral_micro(), 0)
        ctx = ExecutionContext(venue, emu.clock, "sim", recent=RecentFills())
        yield World(
            emu,
            current_market(emu),
            venue,
            key,
            db,
            ctx,
            GammaClient(env["POLYMARKET_GAMMA_URL"], wait_s=0),
        )
    finally:
        emu.stop()
