"""Venue additions for the market model: ``reduce_orders``, ``watch_orders``,
``amend_orders``."""

from __future__ import annotations

from src.sim.venue import BookLevel, EventKind, OrderStatus, Side, SimVenue
from tests.unit.sim.venue_support import limit, make_world, order_of, usd


def test_reduce_keeps_the_queue_place_and_releases_the_reservation() -> None:
    world = make_world()
    venue = world.venue
    first = world.bid("alice", "0.40", "10")
    second = world.bid("bob", "0.40", "10")
    before = venue.balance("alice")
    assert venue.reduce_orders("alice", [(first.order_id, usd("4"))]) == [first.order_id]
    after = venue.balance("alice")
    assert after.reserved == before.reserved - usd("2.4")  # 6 shares × 0.40 released
    assert after.balance == before.balance
    assert venue.book(world.up).bids == (BookLevel(400_000, usd("14")),)
    # A seller meets alice's reduced order first: she kept the front of the queue.
    world.ok("mm", limit(world.up, Side.SELL, "0.40", "6"))
    assert order_of(world, first.order_id).status is OrderStatus.MATCHED
    assert order_of(world, second.order_id).matched == usd("2")
    totals = venue.totals()
    assert totals.deposited - totals.withdrawn == (
        totals.held + totals.in_escrow + totals.backing
    )


def test_reduce_a_sell_releases_shares_and_cancel_releases_the_rest() -> None:
    world = make_world()
    venue = world.venue
    venue.mint("alice", world.market.condition_id, usd("10"))
    ask = world.ask("alice", "0.60", "10")
    assert venue.reduce_orders("alice", [(ask.order_id, usd("3.5"))]) == [ask.order_id]
    position = venue.position("alice", world.up)
    assert (position.available, position.reserved) == (usd("6.5"), usd("3.5"))
    venue.cancel("alice", ask.order_id)
    position = venue.position("alice", world.up)
    assert (position.available, position.reserved) == (usd("10"), 0)


def test_invalid_reductions_are_skipped() -> None:
    world = make_world()
    venue = world.venue
    bid = world.bid("alice", "0.40", "10")
    requests = [
        (bid.order_id, usd("10")),  # not smaller
        (bid.order_id, 0),  # use cancel for that
        (bid.order_id, 5_001),  # not whole lots
        ("0xnope", usd("1")),  # unknown
    ]
    assert venue.reduce_orders("alice", requests) == []
    assert venue.reduce_orders("bob", [(bid.order_id, usd("5"))]) == []  # not bob's
    assert order_of(world, bid.order_id).remaining == usd("10")


def test_reduce_emits_an_order_update() -> None:
    world = make_world()
    venue = world.venue
    bid = world.bid("alice", "0.40", "10")
    seq = venue.last_event_seq
    venue.reduce_orders("alice", [(bid.order_id, usd("7"))])
    events = venue.events_since(seq)
    assert [(e.kind, e.order_id, e.remaining) for e in events] == [
        (EventKind.ORDER_UPDATED, bid.order_id, usd("7"))
    ]


def test_watch_orders_reports_fills_reductions_and_cancels_without_events() -> None:
    world = make_world()
    venue = world.venue
    seen: list[tuple[str, int]] = []
    unwatch = venue.watch_orders("alice", lambda oid, rem: seen.append((oid, rem)))
    bid = world.bid("alice", "0.40", "20")
    assert seen == []  # placing is not a change
    world.ok("mm", limit(world.up, Side.SELL, "0.40", "6"))
    venue.reduce_orders("alice", [(bid.order_id, usd("5"))])
    world.bid("bob", "0.41", "5")  # someone else's orders are not reported
    venue.cancel("alice", bid.order_id)
    assert seen == [(bid.order_id, usd("14")), (bid.order_id, usd("5")), (bid.order_id, 0)]
    unwatch()
    world.bid("alice", "0.39", "5")
    venue.cancel_all("alice")
    assert len(seen) == 3


def test_watch_orders_works_with_the_event_log_off() -> None:
    world = make_world()
    venue = SimVenue(world.clock, record_events=False)
    venue.register_market(world.market)
    venue.open_account("alice", usd("100"))
    venue.open_account("mm", auto_fund=True)
    seen: list[tuple[str, int]] = []
    venue.watch_orders("alice", lambda oid, rem: seen.append((oid, rem)))
    bid = venue.place("alice", limit(world.up, Side.BUY, "0.40", "10"))
    venue.place("mm", limit(world.up, Side.SELL, "0.40", "10"))
    assert seen == [(bid.order_id, 0)]
    assert venue.events_since(0) == []


def test_amend_orders_cancels_reduces_then_places_in_one_call() -> None:
    world = make_world()
    venue = world.venue
    stale = world.bid("alice", "0.40", "10")
    kept = world.bid("alice", "0.39", "10")
    results = venue.amend_orders(
        "alice",
        cancels=[stale.order_id, "0xunknown"],
        reductions=[(kept.order_id, usd("6"))],
        requests=[
            limit(world.up, Side.BUY, "0.41", "10"),
            limit(world.up, Side.BUY, "0.405", "10"),  # off the tick: refused as by place
        ],
    )
    assert [r.success for r in results] == [True, False]
    assert "breaks minimum tick size rule" in results[1].error
    assert order_of(world, stale.order_id).status is OrderStatus.CANCELED
    assert order_of(world, kept.order_id).remaining == usd("6")
    assert venue.book(world.up).bids == (
        BookLevel(410_000, usd("10")),
        BookLevel(390_000, usd("6")),
    )
