"""Heartbeats and the market channel against the emulator (manual clock, real sockets)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from src.sim.venue import Side as SimSide
from src.trading.execution import execute_trade
from src.trading.venue.clob import Heartbeats
from src.trading.venue.port import OrderType
from src.trading.venue.streams import (
    HeartbeatConfig,
    HeartbeatLoop,
    MarketStream,
    channel_url,
)
from tests.integration.emulator.support import quote
from tests.integration.ledger.test_ledger_against_emulator import order, params
from tests.integration.streams.conftest import Stoppers, World

pytestmark = pytest.mark.integration

WAIT_S = 5.0


def test_heartbeats_keep_orders_alive_and_stopping_them_cancels(
    world: World, started: Stoppers
) -> None:
    execute_trade(
        params(world, "hb", price="0.40", order_type=OrderType.GTC, post_only=True),
        context=world.ctx,
    )
    assert order("hb")[0] == "live"
    loop = HeartbeatLoop(
        Heartbeats(world.venue.client),
        world.emu.clock,
        HeartbeatConfig(interval_s=5.0, poll_s=0.02),
    )
    started.add(loop)
    assert loop.signal.wait_for(lambda: loop.beats >= 1, WAIT_S)
    for n in range(2, 6):  # 20 s of emulator time, a beat every 5 s
        world.emu.advance(5)
        assert loop.signal.wait_for(lambda n=n: loop.beats >= n, WAIT_S)
    assert [o.status for o in world.venue.open_orders()] == ["LIVE"]

    loop.stop()
    world.emu.advance(11)  # the dead-man switch fires on the next step
    assert world.venue.open_orders() == []
    assert world.venue.get_order(order("hb")[1]).status.endswith("CANCELED")


def test_market_channel_cache_matches_rest_after_updates(
    world: World, started: Stoppers
) -> None:
    emu, up = world.emu, world.market.up_token_id
    quote(emu, up, SimSide.BUY, "0.48", "30")
    quote(emu, up, SimSide.SELL, "0.53", "60")
    stream = MarketStream(
        channel_url(emu.env()["POLYMARKET_WS_URL"], "market"),
        emu.clock,
        assets=[up],
        rest=world.venue.client,
    )
    started.add(stream)

    def same_as_rest() -> bool:
        cached, rest = stream.cache.book(up), world.venue.book(up)
        return cached is not None and (
            cached.bids,
            cached.asks,
            cached.tick_size,
        ) == (rest.bids, rest.asks, rest.tick_size)

    assert stream.signal.wait_for(same_as_rest, WAIT_S)  # the initial dump
    quote(emu, up, SimSide.BUY, "0.50", "15")  # price_change
    quote(emu, up, SimSide.SELL, "0.52", "25")
    assert stream.signal.wait_for(
        lambda: same_as_rest() and stream.cache.book(up).best_ask == Decimal("0.52"),
        WAIT_S,
    )
    execute_trade_buy(world)  # a trade: last_trade_price, then a fresh book
    assert stream.signal.wait_for(
        lambda: (
            same_as_rest() and stream.cache.book(up).last_trade_price == Decimal("0.52")
        ),
        WAIT_S,
    )
    emu.venue.set_tick_size(up, "0.001")
    assert stream.signal.wait_for(
        lambda: same_as_rest() and stream.cache.book(up).tick_size == Decimal("0.001"),
        WAIT_S,
    )

    # staleness: after the clock moved on without updates, one REST batch refreshes
    seen = stream.cache.updated_at(up)
    emu.advance(30)
    books = stream.books([up], max_age_s=10)
    assert stream.cache.updated_at(up) == emu.clock.now() > seen
    assert books[up].asks == world.venue.book(up).asks

    emu.advance(world.market.resolves_at - emu.clock.now())
    assert stream.signal.wait_for(lambda: stream.cache.winner(up) is not None, WAIT_S)


def execute_trade_buy(world: World) -> None:
    """We take 10 at 0.52 with a FAK."""
    execute_trade(params(world, "taker", price="0.52", size="10"), context=world.ctx)
