"""Engine modes the emulator's faults switch at run time: post-only mode, trade failures,
and the account listing the emulator's ledger view reads."""

from __future__ import annotations

import pytest

from src.sim.venue import FEE_COLLECTOR, OrderRequest, OrderType, RejectCode, Side
from src.sim.venue.errors import POST_ONLY_MODE
from src.sim.venue.types import TradeStatus
from tests.unit.sim.venue_support import limit, make_world


def test_post_only_mode_refuses_every_order_without_post_only() -> None:
    world = make_world()
    world.ask("mm", "0.55", "50")
    world.venue.set_post_only_mode(True)
    assert world.venue.post_only_mode
    crossing = world.venue.place("alice", limit(world.up, Side.BUY, "0.55", "10"))
    resting = world.venue.place("alice", limit(world.up, Side.BUY, "0.50", "10"))
    market = world.venue.place(
        "alice",
        OrderRequest.market(world.up, Side.BUY, "5", "0.55", OrderType.FAK),
    )
    for result in (crossing, resting, market):
        assert not result.success
        assert result.code is RejectCode.POST_ONLY_MODE
        assert result.error == POST_ONLY_MODE
    assert world.venue.open_orders("alice") == []


def test_post_only_mode_accepts_post_only_orders_and_cancels() -> None:
    world = make_world()
    resting = world.bid("alice", "0.50", "10")
    world.venue.set_post_only_mode(True)
    post_only = world.bid("alice", "0.49", "10", post_only=True)
    assert post_only.success
    canceled = world.venue.cancel("alice", resting.order_id)
    assert canceled.canceled == (resting.order_id,)
    world.venue.set_post_only_mode(False)
    assert world.venue.place("alice", limit(world.up, Side.BUY, "0.48", "10")).success


def test_post_only_mode_still_refuses_a_crossing_post_only_order() -> None:
    world = make_world()
    world.ask("mm", "0.55", "50")
    world.venue.set_post_only_mode(True)
    result = world.venue.place(
        "alice", limit(world.up, Side.BUY, "0.55", "10", post_only=True)
    )
    assert result.code is RejectCode.POST_ONLY_CROSSES


def test_failure_probability_can_change_at_run_time() -> None:
    world = make_world()
    world.venue.set_failure_probability(1.0)
    assert world.venue.failure_probability == 1.0
    world.ask("mm", "0.50", "50")
    taken = world.bid("alice", "0.50", "10")
    world.venue.step()
    trade = world.venue.trade(taken.trade_ids[0])
    assert trade is not None and trade.status is TradeStatus.FAILED
    with pytest.raises(ValueError):
        world.venue.set_failure_probability(1.5)


def test_accounts_lists_traders_and_the_fee_collector_not_liquidity() -> None:
    world = make_world()
    world.venue.open_liquidity_account("maker")
    accounts = world.venue.accounts()
    assert {"alice", "bob", "mm", FEE_COLLECTOR} <= set(accounts)
    assert "maker" not in accounts
    assert accounts == sorted(accounts)
    assert world.venue.has_account("maker")
    assert not world.venue.has_account("nobody")
