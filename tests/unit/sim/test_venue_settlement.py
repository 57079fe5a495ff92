"""Two-phase fills: MATCHED, then CONFIRMED or FAILED with an exact rollback."""

from __future__ import annotations

from src.sim.venue import (
    BookLevel,
    CancelReason,
    EventKind,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    TradeStatus,
)
from tests.unit.sim.venue_support import World, limit, make_world, order_of, trade_of, usd


def _holdings(world: World, *accounts: str) -> dict[str, tuple[object, ...]]:
    return {a: (world.venue.balance(a), tuple(world.venue.positions(a))) for a in accounts}


def test_trade_waits_for_its_delay_and_credits_only_on_confirmation() -> None:
    world = make_world(confirm_delay=5)
    world.ask("mm", "0.50", "10")
    result = world.ok("alice", limit(world.up, Side.BUY, "0.50", "10"))
    trade_id = result.trade_ids[0]
    assert trade_of(world, trade_id).status is TradeStatus.MATCHED
    # Paid at once (in escrow), shares not yet delivered.
    assert world.venue.balance("alice").balance == usd("995")
    assert world.venue.positions("alice") == []
    assert world.venue.totals().in_escrow == usd("5")
    world.clock.advance(4.9)
    assert world.venue.step().confirmed_trade_ids == ()
    world.clock.advance(0.1)
    assert world.venue.step().confirmed_trade_ids == (trade_id,)
    assert trade_of(world, trade_id).status is TradeStatus.CONFIRMED
    assert world.venue.position("alice", world.up).size == usd("9.65")
    assert world.venue.totals().in_escrow == 0
    assert world.venue.pending_trade_count() == 0


def test_confirm_settles_named_trades_now() -> None:
    world = make_world(confirm_delay=3600)
    world.ask("mm", "0.50", "20")
    first = world.ok("alice", limit(world.up, Side.BUY, "0.50", "10")).trade_ids[0]
    second = world.ok("bob", limit(world.up, Side.BUY, "0.50", "10")).trade_ids[0]
    assert world.venue.confirm([second]).confirmed_trade_ids == (second,)
    assert trade_of(world, first).status is TradeStatus.MATCHED
    assert world.venue.confirm().confirmed_trade_ids == (first,)


def test_failed_trade_restores_balances_and_a_live_maker_in_place() -> None:
    world = make_world(failure_probability=1.0)
    world.venue.open_account("m2", auto_fund=True)
    front = world.ask("mm", "0.50", "30")
    behind = world.ask("m2", "0.50", "10")
    before = _holdings(world, "alice", "mm")
    result = world.ok("alice", limit(world.up, Side.BUY, "0.50", "10"))
    assert world.venue.book(world.up).asks == (BookLevel(usd("0.50"), usd("30")),)
    report = world.venue.step()
    assert report.failed_trade_ids == result.trade_ids
    trade = world.venue.trade(result.trade_ids[0])
    assert trade is not None and trade.status is TradeStatus.FAILED
    assert _holdings(world, "alice", "mm") == before
    maker = world.venue.order(front.order_id)
    assert maker is not None
    assert (maker.matched, maker.remaining, maker.status) == (
        0,
        usd("30"),
        OrderStatus.LIVE,
    )
    taker = world.venue.order(result.order_id)
    assert taker is not None
    assert (taker.matched, taker.status, taker.cancel_reason) == (
        0,
        OrderStatus.CANCELED,
        CancelReason.TRADE_FAILED,
    )
    assert world.venue.book(world.up).asks == (BookLevel(usd("0.50"), usd("40")),)
    assert world.venue.totals().in_escrow == 0
    # The restored maker kept the front of the queue.
    again = world.ok("bob", limit(world.up, Side.BUY, "0.50", "5"))
    fills = trade_of(world, again.trade_ids[0]).maker_fills
    assert [f.order_id for f in fills] == [front.order_id]
    assert behind.order_id != front.order_id


def test_failed_fill_of_a_fully_matched_maker_is_voided() -> None:
    world = make_world(failure_probability=1.0)
    world.venue.mint("bob", world.market.condition_id, usd("10"))
    maker = world.ask("bob", "0.50", "10")
    before = _holdings(world, "alice", "bob")
    world.ok("alice", limit(world.up, Side.BUY, "0.50", "10"))
    world.venue.step()
    assert _holdings(world, "alice", "bob") != before  # shares come back free, not reserved
    order = world.venue.order(maker.order_id)
    assert order is not None
    assert (order.matched, order.remaining, order.status, order.cancel_reason) == (
        0,
        0,
        OrderStatus.CANCELED,
        CancelReason.TRADE_FAILED,
    )
    position = world.venue.position("bob", world.up)
    assert (position.size, position.available, position.reserved) == (
        usd("10"),
        usd("10"),
        0,
    )
    assert world.venue.balance("alice") == before["alice"][0]
    assert world.venue.book(world.up).asks == ()


def test_failed_fill_of_a_maker_cancelled_meanwhile_goes_back_free() -> None:
    world = make_world(failure_probability=1.0)
    world.venue.mint("bob", world.market.condition_id, usd("30"))
    maker = world.ask("bob", "0.50", "30")
    world.ok("alice", limit(world.up, Side.BUY, "0.50", "10"))
    world.venue.cancel("bob", maker.order_id)
    world.venue.step()
    position = world.venue.position("bob", world.up)
    assert (position.available, position.reserved) == (usd("30"), 0)
    order = world.venue.order(maker.order_id)
    assert order is not None and (order.matched, order.status) == (0, OrderStatus.CANCELED)
    assert order.cancel_reason is CancelReason.USER


def test_failed_sell_rolls_back_collateral_to_a_live_bid() -> None:
    world = make_world(failure_probability=1.0)
    bid = world.bid("bob", "0.40", "20")
    world.venue.mint("alice", world.market.condition_id, usd("10"))
    before = _holdings(world, "alice", "bob")
    world.ok("alice", OrderRequest.market(world.up, Side.SELL, "10", "0.40", OrderType.FAK))
    assert world.venue.balance("bob").reserved == usd("4")
    world.venue.step()
    assert _holdings(world, "alice", "bob") == before
    assert world.venue.balance("bob").reserved == usd("8")
    assert order_of(world, bid.order_id).remaining == usd("20")


def test_resting_taker_remainder_keeps_resting_when_its_fill_fails() -> None:
    world = make_world(failure_probability=1.0)
    world.ask("mm", "0.50", "5")
    result = world.ok("alice", limit(world.up, Side.BUY, "0.55", "10.5"))
    world.venue.step()
    order = world.venue.order(result.order_id)
    assert order is not None
    assert (order.matched, order.remaining, order.status) == (
        0,
        usd("5.5"),
        OrderStatus.LIVE,
    )
    balance = world.venue.balance("alice")
    assert (balance.balance, balance.reserved) == (usd("1000"), usd("3.025"))


def test_failures_are_drawn_from_the_seed_at_match_time() -> None:
    def run(seed: int, step_every: int) -> list[tuple[str, TradeStatus]]:
        world = make_world(seed=seed, failure_probability=0.5, confirm_delay=1)
        for index in range(40):
            world.ask("mm", "0.50", "5")
            world.ok("alice", limit(world.up, Side.BUY, "0.50", "5"))
            world.clock.advance(1)
            if index % step_every == 0:
                world.venue.step()
        world.clock.advance(5)
        world.venue.step()
        return [(t.trade_id, t.status) for t in world.venue.trades("alice")]

    first = run(3, 1)
    assert first == run(3, 7)  # when step runs does not change which trades fail
    statuses = {status for _, status in first}
    assert statuses == {TradeStatus.CONFIRMED, TradeStatus.FAILED}
    assert first != run(4, 1)


def test_trade_events_follow_the_two_phases() -> None:
    world = make_world(confirm_delay=1)
    seen: list[tuple[EventKind, str]] = []
    world.venue.subscribe(lambda event: seen.append((event.kind, event.status)))
    world.ask("mm", "0.50", "10")
    world.ok("alice", limit(world.up, Side.BUY, "0.50", "10"))
    world.clock.advance(1)
    world.venue.step()
    assert seen == [
        (EventKind.ORDER_PLACED, "LIVE"),
        (EventKind.ORDER_PLACED, "LIVE"),
        (EventKind.ORDER_UPDATED, "MATCHED"),
        (EventKind.TRADE, "MATCHED"),
        (EventKind.ORDER_UPDATED, "MATCHED"),
        (EventKind.TRADE, "CONFIRMED"),
    ]
