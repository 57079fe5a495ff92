"""Price-time priority, partial fills, GTC/GTD/FOK/FAK, post-only and book snapshots."""

from __future__ import annotations

import pytest

from src.sim.venue import (
    BookLevel,
    CancelReason,
    OrderRequest,
    OrderStatus,
    OrderType,
    PlacementStatus,
    RejectCode,
    Side,
    SimVenue,
)
from tests.unit.sim.venue_support import limit, make_world, order_of, usd


def _open_makers(venue: SimVenue, names: list[str]) -> None:
    for name in names:
        venue.open_account(name, auto_fund=True)


def test_time_priority_within_a_level() -> None:
    world = make_world()
    _open_makers(world.venue, ["m1", "m2", "m3"])
    first = world.ask("m1", "0.52", "10")
    second = world.ask("m2", "0.52", "10")
    third = world.ask("m3", "0.52", "10")
    world.ok("alice", limit(world.up, Side.BUY, "0.52", "15"))
    orders = {o.order_id: o for o in world.venue.orders()}
    assert orders[first.order_id].status is OrderStatus.MATCHED
    assert (orders[second.order_id].matched, orders[second.order_id].remaining) == (
        usd("5"),
        usd("5"),
    )
    assert orders[third.order_id].matched == 0
    # The partly filled order keeps the front of the queue.
    world.ok("bob", limit(world.up, Side.BUY, "0.52", "6"))
    orders = {o.order_id: o for o in world.venue.orders()}
    assert orders[second.order_id].status is OrderStatus.MATCHED
    assert orders[third.order_id].matched == usd("1")


def test_price_priority_beats_time() -> None:
    world = make_world()
    _open_makers(world.venue, ["m1", "m2"])
    world.ask("m1", "0.53", "10")
    better = world.ask("m2", "0.52", "10")
    result = world.ok("alice", limit(world.up, Side.BUY, "0.53", "10"))
    trade = world.venue.trade(result.trade_ids[0])
    assert trade is not None
    assert [(f.order_id, f.price) for f in trade.maker_fills] == [
        (better.order_id, usd("0.52"))
    ]


def test_cancelled_order_loses_its_place_and_the_next_one_fills() -> None:
    world = make_world()
    _open_makers(world.venue, ["m1", "m2"])
    gone = world.ask("m1", "0.52", "10")
    kept = world.ask("m2", "0.52", "10")
    assert world.venue.cancel("m1", gone.order_id).canceled == (gone.order_id,)
    result = world.ok("alice", limit(world.up, Side.BUY, "0.52", "10"))
    trade = world.venue.trade(result.trade_ids[0])
    assert trade is not None and [f.order_id for f in trade.maker_fills] == [kept.order_id]
    assert order_of(world, gone.order_id).matched == 0


def test_taker_walks_levels_and_gets_the_makers_prices() -> None:
    world = make_world()
    world.ask("mm", "0.50", "10")
    world.ask("mm", "0.51", "10")
    world.ask("mm", "0.53", "10")
    result = world.ok("alice", limit(world.up, Side.BUY, "0.52", "25"))
    assert result.status is PlacementStatus.MATCHED
    assert (result.making_amount, result.taking_amount) == (usd("10.10"), usd("20"))
    order = result.order
    assert order is not None
    assert (order.matched, order.remaining, order.status) == (
        usd("20"),
        usd("5"),
        OrderStatus.LIVE,
    )
    # The rest rests at the limit price, reserving 5 × 0.52; 10.10 went to escrow.
    balance = world.venue.balance("alice")
    assert (balance.reserved, balance.available) == (usd("2.60"), usd("987.30"))
    book = world.venue.book(world.up)
    assert book.bids == (BookLevel(usd("0.52"), usd("5")),)
    assert book.asks == (BookLevel(usd("0.53"), usd("10")),)
    assert (book.best_bid, book.best_ask, book.midpoint, book.spread) == (
        usd("0.52"),
        usd("0.53"),
        usd("0.525"),
        usd("0.01"),
    )
    assert book.last_trade_price == usd("0.51") and book.last_trade_side is Side.BUY


def test_taker_sell_walks_bids_best_first() -> None:
    world = make_world()
    world.bid("mm", "0.48", "10")
    world.bid("mm", "0.47", "10")
    world.bid("mm", "0.49", "10")
    world.venue.mint("alice", world.market.condition_id, usd("30"))
    result = world.ok("alice", limit(world.up, Side.SELL, "0.47", "25"))
    trade = world.venue.trade(result.trade_ids[0])
    assert trade is not None
    assert [(f.price, f.size) for f in trade.maker_fills] == [
        (usd("0.49"), usd("10")),
        (usd("0.48"), usd("10")),
        (usd("0.47"), usd("5")),
    ]
    assert trade.notional == usd("12.05")
    assert result.order is not None and result.order.status is OrderStatus.MATCHED


def test_book_snapshot_is_aggregated_best_first_with_depth() -> None:
    world = make_world()
    world.bid("mm", "0.40", "10")
    world.bid("mm", "0.45", "10")
    world.bid("mm", "0.45", "7")
    world.ask("mm", "0.55", "5")
    world.ask("mm", "0.60", "8")
    book = world.venue.book(world.up)
    assert book.bids == (
        BookLevel(usd("0.45"), usd("17")),
        BookLevel(usd("0.40"), usd("10")),
    )
    assert book.asks == (BookLevel(usd("0.55"), usd("5")), BookLevel(usd("0.60"), usd("8")))
    assert world.venue.book(world.up, depth=1).bids == (BookLevel(usd("0.45"), usd("17")),)
    assert (book.tick_size, book.min_order_size, book.neg_risk) == (
        usd("0.01"),
        usd("5"),
        False,
    )
    assert book.last_trade_price is None and book.midpoint == usd("0.50")
    assert world.venue.best_bid_ask(world.up) == (usd("0.45"), usd("0.55"))
    assert world.venue.level_size(world.up, Side.BUY, usd("0.45")) == usd("17")
    empty = world.venue.book(world.down)
    assert (empty.best_bid, empty.best_ask, empty.midpoint, empty.spread) == (None,) * 4


def test_fok_kill_leaves_everything_untouched() -> None:
    world = make_world()
    world.ask("mm", "0.50", "8")
    result = world.venue.place(
        "alice", OrderRequest.market(world.up, Side.BUY, "5", "0.50")
    )
    assert result.code is RejectCode.FOK_NOT_FILLED
    assert world.venue.book(world.up).asks == (BookLevel(usd("0.50"), usd("8")),)
    assert world.venue.balance("alice").available == usd("1000")
    killed = world.venue.order(result.order_id)
    assert killed is not None
    assert (killed.status, killed.cancel_reason) == (
        OrderStatus.CANCELED,
        CancelReason.FOK_KILLED,
    )


def test_fok_fills_completely_when_the_book_allows() -> None:
    world = make_world()
    world.ask("mm", "0.50", "8")
    world.ask("mm", "0.52", "100")
    result = world.ok("alice", OrderRequest.market(world.up, Side.BUY, "10", "0.52"))
    # 8 @ 0.50 = 4.00, then 6.00 buys 11.53 @ 0.52 = 5.9956 (whole 0.01-share lots).
    assert (result.making_amount, result.taking_amount) == (usd("9.9956"), usd("19.53"))
    assert result.order is not None and result.order.status is OrderStatus.MATCHED
    assert result.order.cancel_reason is None


def test_fak_takes_what_there_is_and_cancels_the_rest() -> None:
    world = make_world()
    world.ask("mm", "0.50", "8")
    world.ask("mm", "0.56", "100")
    result = world.ok(
        "alice", OrderRequest.market(world.up, Side.BUY, "10", "0.55", OrderType.FAK)
    )
    assert (result.making_amount, result.taking_amount) == (usd("4"), usd("8"))
    order = result.order
    assert order is not None
    assert (order.status, order.cancel_reason) == (
        OrderStatus.MATCHED,
        CancelReason.FAK_REMAINDER,
    )
    assert world.venue.open_orders("alice") == []
    assert world.venue.balance("alice").available == usd("996")


def test_fak_sell_partial() -> None:
    world = make_world()
    world.bid("mm", "0.50", "6")
    world.venue.mint("alice", world.market.condition_id, usd("20"))
    result = world.ok(
        "alice", OrderRequest.market(world.up, Side.SELL, "20", "0.45", OrderType.FAK)
    )
    assert (result.making_amount, result.taking_amount) == (usd("6"), usd("3"))
    assert world.venue.position("alice", world.up).available == usd("14")


def test_market_buy_gets_price_improvement_in_shares() -> None:
    world = make_world()
    world.ask("mm", "0.40", "100")
    result = world.ok("alice", OrderRequest.market(world.up, Side.BUY, "5", "0.55"))
    assert (result.making_amount, result.taking_amount) == (usd("5"), usd("12.5"))
    assert result.order is not None and result.order.size == usd("9.0909")


def test_post_only_rests_when_it_does_not_cross() -> None:
    world = make_world()
    world.ask("mm", "0.52", "10")
    result = world.ok("alice", limit(world.up, Side.BUY, "0.51", "10", post_only=True))
    assert result.status is PlacementStatus.LIVE and result.trade_ids == ()
    assert world.venue.book(world.up).best_bid == usd("0.51")


def test_gtd_expires_on_the_sim_clock_and_releases_its_reservation() -> None:
    world = make_world()
    now = int(world.clock.now())
    result = world.ok(
        "alice",
        limit(world.up, Side.BUY, "0.40", "10", OrderType.GTD, expiration=now + 120),
    )
    assert world.venue.balance("alice").reserved == usd("4")
    world.clock.advance(119)
    assert world.venue.step().expired_order_ids == ()
    assert world.venue.open_orders("alice")[0].order_id == result.order_id
    world.clock.advance(1)
    report = world.venue.step()
    assert report.expired_order_ids == (result.order_id,)
    order = world.venue.order(result.order_id)
    assert order is not None
    assert (order.status, order.cancel_reason) == (
        OrderStatus.CANCELED,
        CancelReason.EXPIRED,
    )
    assert world.venue.balance("alice").reserved == 0
    assert world.venue.book(world.up).bids == ()


def test_expired_gtd_never_fills_even_before_a_step() -> None:
    world = make_world()
    now = int(world.clock.now())
    world.ok(
        "mm", limit(world.up, Side.SELL, "0.50", "10", OrderType.GTD, expiration=now + 61)
    )
    world.ask("mm", "0.51", "10")
    world.clock.advance(61)
    result = world.ok("alice", limit(world.up, Side.BUY, "0.51", "10"))
    trade = world.venue.trade(result.trade_ids[0])
    assert trade is not None and [f.price for f in trade.maker_fills] == [usd("0.51")]


def test_gtc_fully_matched_on_entry_does_not_rest() -> None:
    world = make_world()
    world.ask("mm", "0.50", "10")
    result = world.ok("alice", limit(world.up, Side.BUY, "0.60", "10"))
    assert result.order is not None and result.order.status is OrderStatus.MATCHED
    assert world.venue.open_orders("alice") == []
    # Price improvement on a limit BUY: it paid the maker's 0.50, not its own 0.60.
    assert world.venue.balance("alice").available == usd("995")


def test_self_trade_is_allowed_and_conserves_value() -> None:
    world = make_world()
    world.venue.mint("alice", world.market.condition_id, usd("10"))
    world.ask("alice", "0.50", "10")
    world.ok("alice", limit(world.up, Side.BUY, "0.50", "10"))
    world.venue.step()
    assert world.venue.position("alice", world.up).size == usd("10") - usd("0.35")


@pytest.mark.parametrize("order_type", [OrderType.GTC, OrderType.GTD])
def test_resting_sell_reserves_shares(order_type: OrderType) -> None:
    world = make_world()
    world.venue.mint("alice", world.market.condition_id, usd("10"))
    expiration = int(world.clock.now()) + 600 if order_type is OrderType.GTD else 0
    world.ok(
        "alice",
        limit(world.up, Side.SELL, "0.60", "7", order_type, expiration=expiration),
    )
    position = world.venue.position("alice", world.up)
    assert (position.size, position.available, position.reserved) == (
        usd("10"),
        usd("3"),
        usd("7"),
    )
    refused = world.venue.place("alice", limit(world.up, Side.SELL, "0.60", "5"))
    assert refused.code is RejectCode.NOT_ENOUGH_BALANCE
