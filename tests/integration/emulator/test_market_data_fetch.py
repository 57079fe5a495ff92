"""The bot's market-data reads against the emulator: one request for many tokens."""

from __future__ import annotations

from decimal import Decimal

from py_clob_client_v2 import ClobClient

from src.data.market_data.polymarket import (
    GammaClient,
    MarketDirectory,
    fetch_books,
    fetch_midpoints,
    parse_slug,
)
from src.sim.emulator.server import EmulatorHandle
from src.sim.emulator.world import ListedMarket
from src.sim.venue import Side
from src.utils.clock import SimClock
from tests.integration.emulator.support import quote


def test_batched_midpoints_and_books(emu: EmulatorHandle, market: ListedMarket) -> None:
    quote(emu, market.up_token_id, Side.BUY, "0.48", "20")
    quote(emu, market.up_token_id, Side.SELL, "0.52", "25")
    client = ClobClient(emu.base_url, chain_id=137)
    mids = fetch_midpoints(client, [market.up_token_id, market.up_token_id])
    assert mids == {market.up_token_id: Decimal("0.5")}
    books = fetch_books(client, [market.up_token_id, market.down_token_id])
    up = books[market.up_token_id]
    assert (up.best_bid, up.best_ask) == (Decimal("0.48"), Decimal("0.52"))
    assert up.asks[0].size == Decimal("25")
    assert fetch_midpoints(client, []) == {} and fetch_books(client, []) == {}


def test_discovery_through_the_directory(emu: EmulatorHandle, market: ListedMarket) -> None:
    gamma = GammaClient(emu.base_url + "/gamma", attempts=1)
    directory = MarketDirectory(gamma.market_by_slug, SimClock(start=market.start))
    info = directory.wait(parse_slug(market.slug), timeout_s=5)
    assert info is not None and info.up_token_id == market.up_token_id
    assert info.outcome is None and info.accepting_orders
    directory.close()
