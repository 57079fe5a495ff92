"""Every way SimVenue refuses an order, with the venue's exact text."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from src.sim.venue import (
    BatchTooLargeError,
    OrderRequest,
    OrderType,
    RejectCode,
    Side,
    UnknownAccountError,
    VenueMarket,
)
from tests.unit.sim.venue_support import WINDOW, World, limit, make_world, usd

OID = "0xfeed"


@dataclass(frozen=True)
class Case:
    """One refusal: how to set the scene, the order, and the exact answer."""

    name: str
    request: Callable[[World], OrderRequest]
    code: RejectCode
    message: str
    account: str = "alice"
    setup: Callable[[World], None] = lambda world: None


def _ask(price: str, size: str = "50") -> Callable[[World], None]:
    def setup(world: World) -> None:
        world.ask("mm", price, size)

    return setup


def _bid(price: str, size: str = "50") -> Callable[[World], None]:
    def setup(world: World) -> None:
        world.bid("mm", price, size)

    return setup


def _after_end(world: World) -> None:
    world.clock.set(world.market.end_time)


def _tick_001(world: World) -> None:
    world.venue.set_tick_size(world.up, "0.001")


def _reserve_most(world: World) -> None:
    # 1000 funded; a resting BUY of 1800 @ 0.50 reserves 900, leaving 100 available.
    world.bid("alice", "0.50", "1800")


CASES = [
    Case(
        "unknown token",
        lambda w: limit("123", Side.BUY, "0.50", "10", order_id=OID),
        RejectCode.ORDERBOOK_MISSING,
        "the orderbook 123 does not exist",
    ),
    Case(
        "market closed (window over)",
        lambda w: limit(w.up, Side.BUY, "0.50", "10", order_id=OID),
        RejectCode.MARKET_NOT_READY,
        "the market is not yet ready to process new orders",
        setup=_after_end,
    ),
    Case(
        "post-only FOK",
        lambda w: OrderRequest(
            w.up, Side.BUY, 500_000, 10_000_000, 5_000_000, OrderType.FOK, 0, True
        ),
        RejectCode.POST_ONLY_TYPE,
        "invalid post-only order: only GTC and GTD order types are allowed",
    ),
    Case(
        "post-only FAK",
        lambda w: OrderRequest(
            w.up, Side.SELL, 500_000, 10_000_000, 5_000_000, OrderType.FAK, 0, True
        ),
        RejectCode.POST_ONLY_TYPE,
        "invalid post-only order: only GTC and GTD order types are allowed",
    ),
    Case(
        "price off the 0.01 tick",
        lambda w: limit(w.up, Side.BUY, "0.505", "10", order_id=OID),
        RejectCode.MIN_TICK_SIZE,
        f"order {OID} is invalid. Price (0.505) breaks minimum tick size rule: 0.01",
    ),
    Case(
        "price off the 0.001 tick",
        lambda w: limit(w.up, Side.BUY, "0.9705", "10", order_id=OID),
        RejectCode.MIN_TICK_SIZE,
        f"order {OID} is invalid. Price (0.9705) breaks minimum tick size rule: 0.001",
        setup=_tick_001,
    ),
    Case(
        "price zero",
        lambda w: limit(w.up, Side.BUY, "0", "10", order_id=OID),
        RejectCode.MIN_TICK_SIZE,
        f"order {OID} is invalid. Price (0) breaks minimum tick size rule: 0.01",
    ),
    Case(
        "price one",
        lambda w: limit(w.up, Side.SELL, "1", "10", order_id=OID),
        RejectCode.MIN_TICK_SIZE,
        f"order {OID} is invalid. Price (1) breaks minimum tick size rule: 0.01",
    ),
    Case(
        "market BUY maker amount with 3 decimals",
        lambda w: OrderRequest.market(w.up, Side.BUY, "5.005", "0.50"),
        RejectCode.MARKET_PRECISION,
        "invalid amounts, the market buy orders maker amount supports a max accuracy of "
        "2 decimals, taker amount a max of 4 decimals",
        setup=_ask("0.50"),
    ),
    Case(
        "FOK BUY from a limit whose notional has 4 decimals",
        lambda w: limit(w.up, Side.BUY, "0.55", "10.01", OrderType.FOK),
        RejectCode.MARKET_PRECISION,
        "invalid amounts, the market buy orders maker amount supports a max accuracy of "
        "2 decimals, taker amount a max of 4 decimals",
        setup=_ask("0.55"),
    ),
    Case(
        "market BUY taker amount with 5 decimals",
        lambda w: OrderRequest(
            w.up, Side.BUY, 500_000, 10_000_010, 5_000_000, OrderType.FAK
        ),
        RejectCode.MARKET_PRECISION,
        "invalid amounts, the market buy orders maker amount supports a max accuracy of "
        "2 decimals, taker amount a max of 4 decimals",
    ),
    Case(
        "market SELL maker amount with 3 decimals",
        lambda w: OrderRequest.market(w.up, Side.SELL, "10.001", "0.50", OrderType.FAK),
        RejectCode.MARKET_PRECISION,
        "invalid amounts, the sell orders maker amount supports a max accuracy of "
        "2 decimals, taker amount a max of 4 decimals",
        account="mm",
        setup=_bid("0.50"),
    ),
    Case(
        "market SELL taker amount with 5 decimals",
        lambda w: OrderRequest(
            w.up, Side.SELL, 500_000, 10_000_000, 5_000_010, OrderType.FOK
        ),
        RejectCode.MARKET_PRECISION,
        "invalid amounts, the sell orders maker amount supports a max accuracy of "
        "2 decimals, taker amount a max of 4 decimals",
        account="mm",
    ),
    Case(
        "limit size finer than 0.01 share",
        lambda w: limit(w.up, Side.BUY, "0.50", "10.005", order_id=OID),
        RejectCode.INVALID_PAYLOAD,
        "Invalid order payload",
    ),
    Case(
        "size below the minimum",
        lambda w: limit(w.up, Side.BUY, "0.50", "4.99", order_id=OID),
        RejectCode.MIN_SIZE,
        f"order {OID} is invalid. Size (4.99) lower than the minimum: 5",
    ),
    Case(
        "market BUY whose share amount is below the minimum",
        lambda w: OrderRequest.market(w.up, Side.BUY, "2", "0.50", order_id=OID),
        RejectCode.MIN_SIZE,
        f"order {OID} is invalid. Size (4) lower than the minimum: 5",
        setup=_ask("0.50"),
    ),
    Case(
        "GTD expiring exactly at the 60 s threshold",
        lambda w: limit(
            w.up, Side.BUY, "0.40", "10", OrderType.GTD, expiration=int(w.clock.now()) + 60
        ),
        RejectCode.EXPIRATION,
        "invalid expiration",
    ),
    Case(
        "GTD already expired",
        lambda w: limit(w.up, Side.BUY, "0.40", "10", OrderType.GTD, expiration=1),
        RejectCode.EXPIRATION,
        "invalid expiration",
    ),
    Case(
        "BUY beyond the collateral",
        lambda w: limit(w.up, Side.BUY, "0.50", "2001"),
        RejectCode.NOT_ENOUGH_BALANCE,
        "not enough balance / allowance",
    ),
    Case(
        "BUY beyond the collateral left after reservations",
        lambda w: limit(w.up, Side.BUY, "0.50", "201"),
        RejectCode.NOT_ENOUGH_BALANCE,
        "not enough balance / allowance",
        setup=_reserve_most,
    ),
    Case(
        "SELL of shares not held",
        lambda w: limit(w.up, Side.SELL, "0.50", "10"),
        RejectCode.NOT_ENOUGH_BALANCE,
        "not enough balance / allowance",
    ),
    Case(
        "market BUY beyond the collateral",
        lambda w: OrderRequest.market(w.up, Side.BUY, "1000.01", "0.50"),
        RejectCode.NOT_ENOUGH_BALANCE,
        "not enough balance / allowance",
        setup=_ask("0.50"),
    ),
    Case(
        "post-only BUY that would cross",
        lambda w: limit(w.up, Side.BUY, "0.52", "10", post_only=True),
        RejectCode.POST_ONLY_CROSSES,
        "invalid post-only order: order crosses book",
        setup=_ask("0.52"),
    ),
    Case(
        "post-only GTD SELL that would cross",
        lambda w: limit(
            w.up,
            Side.SELL,
            "0.47",
            "10",
            OrderType.GTD,
            expiration=int(w.clock.now()) + 600,
            post_only=True,
        ),
        RejectCode.POST_ONLY_CROSSES,
        "invalid post-only order: order crosses book",
        account="mm",
        setup=_bid("0.48"),
    ),
    Case(
        "marketable limit BUY under $1",
        lambda w: limit(w.up, Side.BUY, "0.19", "5"),
        RejectCode.MARKETABLE_BUY_MIN,
        "invalid amount for a marketable BUY order ($0.95), min size: $1",
        setup=_ask("0.19"),
    ),
    Case(
        "market BUY under $1",
        lambda w: OrderRequest.market(w.up, Side.BUY, "0.99", "0.19"),
        RejectCode.MARKETABLE_BUY_MIN,
        "invalid amount for a marketable BUY order ($0.99), min size: $1",
        setup=_ask("0.19"),
    ),
    Case(
        "FOK BUY the book cannot fill",
        lambda w: OrderRequest.market(w.up, Side.BUY, "30", "0.55"),
        RejectCode.FOK_NOT_FILLED,
        "order couldn't be fully filled. FOK orders are fully filled or killed.",
        setup=_ask("0.50", "20"),
    ),
    Case(
        "FOK SELL the book cannot fill",
        lambda w: OrderRequest.market(w.up, Side.SELL, "30", "0.45"),
        RejectCode.FOK_NOT_FILLED,
        "order couldn't be fully filled. FOK orders are fully filled or killed.",
        account="mm",
        setup=_bid("0.50", "20"),
    ),
    Case(
        "FOK on an empty book",
        lambda w: OrderRequest.market(w.up, Side.BUY, "5", "0.99"),
        RejectCode.FOK_NOT_FILLED,
        "order couldn't be fully filled. FOK orders are fully filled or killed.",
    ),
    Case(
        "FAK with nothing at an acceptable price",
        lambda w: OrderRequest.market(w.up, Side.BUY, "5", "0.49", OrderType.FAK),
        RejectCode.FAK_NOT_FILLED,
        "no orders found to match with FAK order. "
        "FAK orders are partially filled or killed if no match is found.",
        setup=_ask("0.50"),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_refusal_has_the_venue_text(case: Case) -> None:
    world = make_world()
    case.setup(world)
    before = world.venue.balance(case.account)
    book_before = world.venue.book(world.up)
    result = world.venue.place(case.account, case.request(world))
    assert not result.success
    assert result.code is case.code
    assert result.error == case.message
    assert result.status is None and result.trade_ids == ()
    # A refusal changes nothing: balances and the book are as before.
    assert world.venue.balance(case.account) == before
    after = world.venue.book(world.up)
    assert (after.bids, after.asks) == (book_before.bids, book_before.asks)


def test_duplicate_order_id_is_refused() -> None:
    world = make_world()
    world.ok("alice", limit(world.up, Side.BUY, "0.40", "10", order_id=OID))
    again = world.venue.place(
        "alice", limit(world.up, Side.BUY, "0.41", "10", order_id=OID)
    )
    assert again.code is RejectCode.DUPLICATED
    assert again.error == f"order {OID} is invalid. Duplicated."


def test_market_not_yet_accepting_orders() -> None:
    world = make_world()
    later = WINDOW.next().next()
    future = VenueMarket.for_window(later, listing_lead=600)
    world.venue.register_market(future)
    early = world.venue.place("alice", limit(future.up_token_id, Side.BUY, "0.50", "10"))
    assert early.error == "the market is not yet ready to process new orders"
    world.clock.set(later.start - 600)
    assert world.venue.place(
        "alice", limit(future.up_token_id, Side.BUY, "0.50", "10")
    ).success


def test_market_registered_not_accepting() -> None:
    world = make_world()
    spec = VenueMarket.for_window(WINDOW.next(), listing_lead=None)
    paused = VenueMarket(
        spec.condition_id,
        spec.slug,
        spec.question,
        spec.up_token_id,
        spec.down_token_id,
        spec.end_time,
        accepting_orders=False,
    )
    world.venue.register_market(paused)
    result = world.venue.place("alice", limit(paused.up_token_id, Side.BUY, "0.50", "10"))
    assert result.code is RejectCode.MARKET_NOT_READY


def test_gtd_one_second_past_the_threshold_is_accepted() -> None:
    world = make_world()
    expiration = int(world.clock.now()) + 61
    result = world.ok(
        "alice",
        limit(world.up, Side.BUY, "0.40", "10", OrderType.GTD, expiration=expiration),
    )
    assert result.order is not None and result.order.expiration == expiration


def test_marketable_buy_of_exactly_one_dollar_passes() -> None:
    world = make_world()
    world.ask("mm", "0.20", "50")
    assert world.venue.place("alice", limit(world.up, Side.BUY, "0.20", "5")).success


def test_resting_buy_under_one_dollar_is_fine() -> None:
    world = make_world()
    world.ask("mm", "0.30", "50")
    assert world.venue.place("alice", limit(world.up, Side.BUY, "0.10", "5")).success


def test_finer_tick_accepts_finer_prices_and_coarser_tick_refuses_them() -> None:
    world = make_world()
    world.venue.set_tick_size(world.up, "0.001")
    assert world.venue.place("alice", limit(world.up, Side.BUY, "0.035", "10")).success
    world.venue.set_tick_size(world.up, "0.01")
    refused = world.venue.place("alice", limit(world.up, Side.BUY, "0.035", "10"))
    assert refused.code is RejectCode.MIN_TICK_SIZE
    assert world.venue.tick_size(world.down) == usd("0.01")


def test_batch_over_fifteen_fails_as_a_whole() -> None:
    world = make_world()
    requests = [limit(world.up, Side.BUY, "0.40", "5") for _ in range(16)]
    with pytest.raises(
        BatchTooLargeError, match=r"^Too many orders in payload: 16, max allowed: 15$"
    ):
        world.venue.place_batch("alice", requests)
    assert world.venue.open_orders("alice") == []


def test_batch_validates_each_order_on_its_own() -> None:
    world = make_world(alice="10")
    requests = [
        limit(world.up, Side.BUY, "0.50", "10"),  # reserves 5.00
        limit(world.up, Side.BUY, "0.505", "10", order_id=OID),  # off tick
        limit(world.up, Side.BUY, "0.50", "12"),  # 6.00 > 5.00 left
        limit(world.up, Side.BUY, "0.40", "10"),  # 4.00 fits
    ]
    results = world.venue.place_batch("alice", requests)
    assert [r.success for r in results] == [True, False, False, True]
    assert (
        results[1].error
        == f"order {OID} is invalid. Price (0.505) breaks minimum tick size rule: 0.01"
    )
    assert results[2].error == "not enough balance / allowance"
    assert world.venue.balance("alice").reserved == usd("9")
    assert len(world.venue.place_batch("alice", requests[3:] * 15)) == 15


def test_unknown_account_is_a_programming_error() -> None:
    world = make_world()
    with pytest.raises(UnknownAccountError):
        world.venue.place("nobody", limit(world.up, Side.BUY, "0.50", "10"))
