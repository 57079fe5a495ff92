"""The emulator's default world, the market model: books quoted by simulated makers,
traded by the official client, settled and resolved, with the fees to the micro-unit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal

import pytest
import requests
from py_clob_client_v2 import MarketOrderArgs, OrderType

from src.sim.emulator.server import EmulatorHandle
from src.sim.emulator.sources import ModelMarketSource
from tests.integration.emulator.conftest import start_emulator
from tests.integration.emulator.support import buy_fee_shares, current_market, new_trader


@pytest.fixture
def world() -> Iterator[EmulatorHandle]:
    """An emulator running the market model, 30 simulated seconds in."""
    handle = start_emulator(market_model=True)
    try:
        handle.advance(30)
        yield handle
    finally:
        handle.stop()


def test_the_model_quotes_and_the_client_trades(world: EmulatorHandle) -> None:
    assert isinstance(world.source, ModelMarketSource)
    market = current_market(world)
    trader = new_trader(world)
    client = trader.client
    book = client.get_order_book(market.up_token_id)
    assert book["bids"] and book["asks"]
    best_bid = Decimal(book["bids"][-1]["price"])
    best_ask = Decimal(book["asks"][-1]["price"])
    assert 0 < best_bid < best_ask < 1
    answer = client.create_and_post_market_order(
        MarketOrderArgs(token_id=market.up_token_id, amount=5, side="BUY"),
        order_type=OrderType.FOK,
    )
    assert answer["status"] == "matched"
    world.advance(1)
    [trade] = client.get_trades()
    assert trade["status"] == "CONFIRMED"
    fills = [(f["matched_amount"], f["price"]) for f in trade["maker_orders"]]
    cost = sum(Decimal(size) * Decimal(price) for size, price in fills)
    shares = sum(Decimal(size) - buy_fee_shares(size, price) for size, price in fills)
    venue = world.venue
    assert venue.balance(trader.address).balance == int((1000 - cost) * 1_000_000)
    assert venue.position(trader.address, market.up_token_id).size == int(
        shares * 1_000_000
    )


def test_the_model_resolves_markets_seen_through_gamma(world: EmulatorHandle) -> None:
    market = current_market(world)
    world.advance(market.resolves_at - world.clock.now())
    body = requests.get(f"{world.base_url}/gamma/markets/slug/{market.slug}").json()
    assert body["closed"] is True
    assert json.loads(body["outcomePrices"]) in (["1", "0"], ["0", "1"])
    event = requests.get(f"{world.base_url}/gamma/events/slug/{market.slug}").json()
    assert {"priceToBeat", "finalPrice"} <= set(event["eventMetadata"])
