"""Taker flow: routing across the two books, noise and informed decisions, valid orders,
and Poisson arrivals."""

from __future__ import annotations

import math
import random

import pytest

from src.data.market_data.windows import WindowRef
from src.sim.market_model import MarketModelParams
from src.sim.market_model.pricing import COARSE_TICK, FINE_TICK, MICRO, NO_ASK, NO_BID
from src.sim.market_model.takers import (
    TakerFlow,
    TakerOrder,
    TakerStats,
    TopOfBook,
    best_route,
    informed_order,
    noise_order,
    order_request,
)
from src.sim.venue import OrderRequest, OrderType, Side, SimVenue, VenueMarket
from src.utils.clock import SimClock

MIN = 5 * MICRO
BOOK = TopOfBook(up_bid=500_000, up_ask=510_000, down_bid=490_000, down_ask=500_000)


def test_routes_to_the_cheaper_book_and_prefers_the_direct_one_on_a_tie() -> None:
    route = best_route(True, BOOK)
    assert route is not None and route.direct and route.price == 510_000
    # The bot's Down bid at 0.495 makes selling Down the cheaper way to get Up.
    better = TopOfBook(500_000, 510_000, 495_000, 500_000)
    route = best_route(True, better)
    assert route is not None and not route.direct and route.price == 505_000
    assert best_route(True, TopOfBook(NO_BID, NO_ASK, NO_BID, NO_ASK)) is None


def test_noise_taker_goes_up_to_its_slippage() -> None:
    order = noise_order(True, 20 * MICRO, BOOK, COARSE_TICK, 0.02)
    assert order == TakerOrder(True, Side.BUY, 530_000, 20 * MICRO)
    # Routed to the Down book, the limit is a floor on the Down bid.
    better = TopOfBook(500_000, 510_000, 495_000, 500_000)
    order = noise_order(True, 20 * MICRO, better, FINE_TICK, 0.02)
    assert order == TakerOrder(False, Side.SELL, 475_000, 20 * MICRO)


def test_informed_taker_trades_only_when_the_edge_beats_the_fee() -> None:
    fee = 0.07
    # Fair 0.53 against an ask of 0.51: 2 c of edge less a 1.75 c fee → below 0.5 c.
    assert informed_order(0.53, 20 * MICRO, BOOK, COARSE_TICK, fee, 0.005) is None
    order = informed_order(0.56, 20 * MICRO, BOOK, COARSE_TICK, fee, 0.005)
    assert order is not None and order.up_book and order.side is Side.BUY
    # It goes up to the last price still worth 0.5 c after the fee, and no further.
    limit = order.limit / MICRO
    assert 0.56 - (limit + fee * limit * (1 - limit)) >= 0.005
    nxt = limit + 0.01
    assert 0.56 - (nxt + fee * nxt * (1 - nxt)) < 0.005
    # Fair 0.44: Down is worth 0.56 and the Down ask is 0.50 → buy Down.
    order = informed_order(0.44, 20 * MICRO, BOOK, COARSE_TICK, fee, 0.005)
    assert order is not None and not order.up_book and order.side is Side.BUY


@pytest.mark.parametrize(
    ("side", "limit", "shares"),
    [
        (Side.BUY, 510_000, 20 * MICRO),
        (Side.BUY, 30_000, 6 * MICRO),  # needs more than the minimum for $1
        (Side.BUY, 973_000, 5 * MICRO),  # fine tick
        (Side.SELL, 490_000, 7 * MICRO),
        (Side.SELL, 5_000, 5 * MICRO),
    ],
)
def test_order_requests_pass_the_venue_rules(side: Side, limit: int, shares: int) -> None:
    window = WindowRef("BTC", 1_767_225_600)
    clock = SimClock(window.start + 60)
    venue = SimVenue(clock)
    market = VenueMarket.for_window(window)
    venue.register_market(market)
    tick = FINE_TICK if limit % COARSE_TICK else COARSE_TICK
    if tick == FINE_TICK:
        venue.set_tick_size(market.up_token_id, "0.001")
    venue.open_liquidity_account("maker")
    venue.open_liquidity_account("taker")
    resting = Side.SELL if side is Side.BUY else Side.BUY
    venue.place(
        "maker",
        OrderRequest(
            market.up_token_id, resting, limit, 500 * MICRO, 500 * limit, OrderType.GTC
        ),
    )
    request = order_request(TakerOrder(True, side, limit, shares), market.up_token_id, MIN)
    assert request is not None and request.order_type is OrderType.FAK
    result = venue.place("taker", request)
    assert result.success, result.error
    assert result.trade_ids


def _flow(seed: int) -> TakerFlow:
    window = WindowRef("BTC", 1_767_225_600)
    venue = SimVenue(SimClock(window.start))
    return TakerFlow(
        venue,
        "taker",
        "up",
        "down",
        MarketModelParams(),
        random.Random(seed),
        TakerStats(),
        MIN,
        float(window.start),
    )


def test_arrivals_are_poisson_and_do_not_depend_on_the_tick_resolution() -> None:
    flow = _flow(3)
    flow.arrivals(0.0, 0.5)
    total = sum(flow.arrivals(float(t), 0.5) for t in range(1, 20_001))
    assert total == pytest.approx(10_000, abs=4 * math.sqrt(10_000))
    coarse, fine = _flow(9), _flow(9)
    coarse.arrivals(0.0, 0.5)
    fine.arrivals(0.0, 0.5)
    by_ten = [coarse.arrivals(float(t), 0.5) for t in range(10, 1_001, 10)]
    by_one = [fine.arrivals(float(t), 0.5) for t in range(1, 1_001)]
    assert sum(by_ten) == sum(by_one)
    assert by_ten == [sum(by_one[k : k + 10]) for k in range(0, 1_000, 10)]


def test_a_rate_change_applies_from_the_call_that_announces_it() -> None:
    flow = _flow(5)
    flow.arrivals(0.0, 0.0)  # nothing arrives at rate 0, however long
    assert flow.arrivals(1_000.0, 0.0) == 0
    assert flow.next_time == math.inf
    flow.arrivals(1_000.0, 2.0)
    assert flow.arrivals(2_000.0, 2.0) > 1_000
