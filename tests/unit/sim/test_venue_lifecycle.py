"""Markets over time (close, resolve, redeem), complete sets, cancels, queries, events."""

from __future__ import annotations

import pytest

from src.data.market_data.windows import WindowRef
from src.sim.venue import (
    CancelReason,
    DuplicateMarketError,
    EventKind,
    InsufficientFundsError,
    MarketStateError,
    OrderStatus,
    Outcome,
    RejectCode,
    Side,
    TradeStatus,
    UnknownMarketError,
    VenueMarket,
    window_question,
)
from src.utils.money import AmountError
from tests.unit.sim.venue_support import (
    WINDOW,
    World,
    limit,
    make_world,
    order_of,
    usd,
)


def _conserved(world: World) -> None:
    totals = world.venue.totals()
    assert (
        totals.deposited - totals.withdrawn
        == totals.held + totals.in_escrow + totals.backing
    )


def test_market_for_window_uses_the_window_arithmetic() -> None:
    market = VenueMarket.for_window(WindowRef("BTC", 1_789_326_900))
    assert market.slug == "btc-updown-15m-1789326900"
    assert market.question == "Bitcoin Up or Down - September 13, 3:15PM-3:30PM ET"
    assert market.end_time == 1_789_326_900 + 900
    assert market.condition_id.startswith("0x") and len(market.condition_id) == 66
    assert market.up_token_id.isdigit() and market.up_token_id != market.down_token_id
    assert VenueMarket.for_window(WindowRef("btc", 1_789_326_900)) == market
    assert market.outcome_of(market.down_token_id) is Outcome.DOWN
    assert window_question(WindowRef("ETH", 1_769_405_400)).startswith(
        "Ethereum Up or Down - January 26, 12:30AM-12:45AM"
    )


def test_registering_twice_is_refused() -> None:
    world = make_world()
    with pytest.raises(DuplicateMarketError):
        world.venue.register_market(world.market)
    with pytest.raises(UnknownMarketError):
        world.venue.market("0xnope")
    assert world.venue.market_for_token(world.down) == world.market
    assert world.venue.markets() == [world.market]


def test_window_end_closes_the_market_and_cancels_resting_orders() -> None:
    world = make_world()
    bid = world.bid("alice", "0.40", "10")
    world.clock.set(world.market.end_time)
    assert world.venue.market_status(world.market.condition_id).accepting_orders is False
    report = world.venue.step()
    assert report.closed_markets == ()  # already swept by the status query
    order = world.venue.order(bid.order_id)
    assert order is not None
    assert (order.status, order.cancel_reason) == (
        OrderStatus.CANCELED_MARKET_RESOLVED,
        CancelReason.MARKET_CLOSED,
    )
    assert world.venue.balance("alice").reserved == 0
    refused = world.venue.place("alice", limit(world.up, Side.BUY, "0.40", "10"))
    assert refused.code is RejectCode.MARKET_NOT_READY


def test_close_market_by_hand() -> None:
    world = make_world()
    bid = world.bid("alice", "0.40", "10")
    assert world.venue.close_market(world.market.condition_id) == [bid.order_id]
    status = world.venue.market_status(world.market.condition_id)
    assert (status.accepting_orders, status.closed, status.resolved) == (False, True, False)


def test_resolution_and_redemption_pay_one_per_winning_share() -> None:
    world = make_world(confirm_delay=600)
    world.ask("mm", "0.60", "100")
    world.venue.mint("bob", world.market.condition_id, usd("10"))
    world.ok("alice", limit(world.up, Side.BUY, "0.60", "20"))
    assert world.venue.pending_trade_count() == 1
    resolution = world.venue.resolve_market(world.market.condition_id, Outcome.UP)
    assert resolution.winning_token_id == world.up
    assert world.venue.pending_trade_count() == 0  # settled before resolving
    assert world.venue.trades("alice")[0].status is TradeStatus.CONFIRMED
    shares = world.venue.position("alice", world.up).size
    assert shares == usd("20") - usd("0.56")
    paid = world.venue.redeem("alice", world.market.condition_id)
    assert (paid.paid, paid.winning_burned, paid.losing_burned) == (shares, shares, 0)
    assert world.venue.balance("alice").balance == usd("1000") - usd("12") + shares
    bob = world.venue.redeem("bob", world.market.condition_id)
    assert (bob.paid, bob.losing_burned) == (usd("10"), usd("10"))
    assert world.venue.redeem("bob", world.market.condition_id).paid == 0
    assert world.venue.positions("alice") == []
    _conserved(world)
    with pytest.raises(MarketStateError):
        world.venue.resolve_market(world.market.condition_id, Outcome.DOWN)
    with pytest.raises(MarketStateError):
        world.venue.mint("bob", world.market.condition_id, usd("1"))


def test_losing_side_redeems_for_nothing() -> None:
    world = make_world()
    world.venue.mint("alice", world.market.condition_id, usd("10"))
    world.venue.merge("alice", world.market.condition_id, usd("4"))
    world.venue.resolve_market(world.market.condition_id, Outcome.DOWN)
    result = world.venue.redeem("alice", world.market.condition_id)
    assert (result.winner, result.paid, result.losing_burned) == (
        Outcome.DOWN,
        usd("6"),
        usd("6"),
    )
    # 1000 − 10 minted + 4 merged + 6 redeemed.
    assert world.venue.balance("alice").balance == usd("1000")
    _conserved(world)


def test_redeem_before_resolution_is_refused() -> None:
    world = make_world()
    with pytest.raises(MarketStateError):
        world.venue.redeem("alice", world.market.condition_id)


def test_complete_sets_keep_supply_equal_to_backing() -> None:
    world = make_world()
    world.venue.mint("alice", world.market.condition_id, usd("50"))
    world.venue.merge("alice", world.market.condition_id, usd("20"))
    status = world.venue.market_status(world.market.condition_id)
    assert status.backing == usd("30")
    assert world.venue.supply(world.up) == world.venue.supply(world.down) == usd("30")
    with pytest.raises(InsufficientFundsError):
        world.venue.merge("alice", world.market.condition_id, usd("31"))
    with pytest.raises(InsufficientFundsError):
        world.venue.mint("alice", world.market.condition_id, usd("971"))
    with pytest.raises(InsufficientFundsError):
        world.venue.withdraw("alice", usd("971"))
    world.venue.withdraw("alice", usd("970"))
    _conserved(world)


def test_auto_fund_account_tops_up_only_for_accepted_orders() -> None:
    world = make_world()
    world.ask("mm", "0.50", "10")
    assert world.venue.position("mm", world.up).reserved == usd("10")
    assert world.venue.position("mm", world.down).available == usd("10")
    refused = world.venue.place("mm", limit(world.up, Side.SELL, "0.505", "1000"))
    assert not refused.success
    assert world.venue.totals().deposited == usd("2010")
    _conserved(world)


def test_cancel_variants_and_their_reasons() -> None:
    world = make_world()
    other = VenueMarket.for_window(WindowRef("ETH", WINDOW.start))
    world.venue.register_market(other)
    a = world.bid("alice", "0.40", "10")
    b = world.bid("alice", "0.41", "10")
    c = world.ok("alice", limit(other.up_token_id, Side.BUY, "0.30", "10"))
    d = world.ok("alice", limit(world.down, Side.BUY, "0.20", "10"))
    bobs = world.bid("bob", "0.39", "10")
    one = world.venue.cancel("alice", a.order_id)
    assert (one.canceled, one.not_canceled) == ((a.order_id,), {})
    again = world.venue.cancel("alice", a.order_id)
    assert again.not_canceled == {a.order_id: "already canceled or matched"}
    assert world.venue.cancel("alice", bobs.order_id).not_canceled == {
        bobs.order_id: "order not found"
    }
    assert world.venue.cancel("alice", "0xnothing").not_canceled == {
        "0xnothing": "order not found"
    }
    by_token = world.venue.cancel_market_orders("alice", token_id=world.down)
    assert by_token.canceled == (d.order_id,)
    by_market = world.venue.cancel_market_orders(
        "alice", condition_id=world.market.condition_id
    )
    assert by_market.canceled == (b.order_id,)
    rest = world.venue.cancel_all("alice")
    assert rest.canceled == (c.order_id,)
    assert world.venue.balance("alice").reserved == 0
    assert [o.order_id for o in world.venue.open_orders()] == [bobs.order_id]
    many = world.venue.cancel_orders("bob", [bobs.order_id, a.order_id])
    assert many.canceled == (bobs.order_id,)
    assert many.not_canceled == {a.order_id: "order not found"}


def test_order_and_trade_queries() -> None:
    world = make_world()
    other = VenueMarket.for_window(WindowRef("ETH", WINDOW.start))
    world.venue.register_market(other)
    world.ask("mm", "0.50", "100")
    world.ok("mm", limit(other.up_token_id, Side.SELL, "0.30", "100"))
    t1 = world.ok("alice", limit(world.up, Side.BUY, "0.50", "10"))
    t2 = world.ok("alice", limit(other.up_token_id, Side.BUY, "0.30", "10"))
    rest = world.bid("alice", "0.20", "10")
    assert [o.order_id for o in world.venue.orders("alice")] == [
        t1.order_id,
        t2.order_id,
        rest.order_id,
    ]
    assert [o.order_id for o in world.venue.orders("alice", token_id=world.up)] == [
        t1.order_id,
        rest.order_id,
    ]
    assert [
        o.order_id for o in world.venue.orders("alice", condition_id=other.condition_id)
    ] == [t2.order_id]
    assert [o.order_id for o in world.venue.open_orders("alice")] == [rest.order_id]
    assert [t.trade_id for t in world.venue.trades("alice")] == [
        *t1.trade_ids,
        *t2.trade_ids,
    ]
    assert [
        t.trade_id for t in world.venue.trades("mm", condition_id=other.condition_id)
    ] == [*t2.trade_ids]
    assert world.venue.trades("alice", status=TradeStatus.CONFIRMED) == []
    world.venue.step()
    assert len(world.venue.trades(token_id=world.up, status=TradeStatus.CONFIRMED)) == 1
    trade = world.venue.trade(t1.trade_ids[0])
    assert trade is not None and trade.taker_order_id == t1.order_id
    assert world.venue.trade("nope") is None and world.venue.order("nope") is None
    # Snapshots: changing one changes nothing at the venue.
    snapshot = world.venue.order(rest.order_id)
    assert snapshot is not None
    snapshot.remaining = 0
    assert order_of(world, rest.order_id).remaining == usd("10")


def test_liquidity_accounts_keep_no_history() -> None:
    world = make_world()
    world.venue.open_liquidity_account("lp")
    quote = world.ok("lp", limit(world.up, Side.SELL, "0.50", "10"))
    assert world.venue.order(quote.order_id) is not None  # findable while it lives
    result = world.ok("alice", limit(world.up, Side.BUY, "0.50", "10"))
    assert world.venue.trades("lp") == []
    assert world.venue.trade(result.trade_ids[0]) is not None  # alice keeps hers
    world.venue.step()
    assert world.venue.order(quote.order_id) is None


def test_event_log_and_listener() -> None:
    world = make_world()
    start = world.venue.last_event_seq
    received = []
    unsubscribe = world.venue.subscribe(received.append)
    bid = world.bid("alice", "0.40", "10")
    world.venue.cancel("alice", bid.order_id)
    world.venue.set_tick_size(world.up, "0.001")
    world.venue.resolve_market(world.market.condition_id, Outcome.UP)
    unsubscribe()
    events = world.venue.events_since(start)
    assert events == received
    assert [e.kind for e in events] == [
        EventKind.ORDER_PLACED,
        EventKind.ORDER_CANCELED,
        EventKind.TICK_SIZE_CHANGED,
        EventKind.MARKET_CLOSED,
        EventKind.MARKET_RESOLVED,
    ]
    assert [e.seq for e in events] == list(range(start + 1, start + 6))
    placed, canceled = events[0], events[1]
    assert (placed.order_id, placed.remaining, placed.price) == (
        bid.order_id,
        usd("10"),
        usd("0.40"),
    )
    assert (canceled.status, canceled.detail) == ("CANCELED", "user")
    assert events[2].detail == str(usd("0.001"))
    assert events[4].detail == world.up
    assert world.venue.events_since(world.venue.last_event_seq) == []


def test_bad_tick_size_is_refused() -> None:
    world = make_world()
    with pytest.raises(AmountError):
        world.venue.set_tick_size(world.up, "0.02")
