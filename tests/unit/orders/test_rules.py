"""Order rules before sending: rounding the safe way, the venue's own rejection texts."""

from __future__ import annotations

from decimal import Decimal

import pytest

from src.data.market_data.windows import WindowRef
from src.sim.venue.markets import VenueMarket
from src.sim.venue.venue import SimVenue
from src.trading.ledger.accounting import Side
from src.trading.orders.rules import order_problem, round_price, round_size
from src.trading.venue.in_process import InProcessVenue
from src.trading.venue.port import OrderSpec, OrderType, PlaceStatus
from src.utils.clock import SimClock

M = 1_000_000


@pytest.mark.parametrize(
    ("price", "tick", "side", "expected"),
    [
        (523_400, 10_000, Side.BUY, 520_000),
        (523_400, 10_000, Side.SELL, 530_000),
        (520_000, 10_000, Side.BUY, 520_000),
        (999_500, 1_000, Side.SELL, 999_000),
        (400, 1_000, Side.BUY, 1_000),
        (985_500, 1_000, Side.BUY, 985_000),
    ],
)
def test_round_price(price: int, tick: int, side: Side, expected: int) -> None:
    assert round_price(price, tick, side) == expected


def test_round_size() -> None:
    assert round_size(12_345_678) == 12_340_000


def spec(**changes: object) -> OrderSpec:
    base = {
        "client_order_id": "c-1",
        "token_id": "t",
        "side": Side.BUY,
        "order_type": OrderType.GTC,
        "price_micro": 500_000,
        "size_micro": 10 * M,
    }
    base.update(changes)
    return OrderSpec(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "changes",
    [
        {"price_micro": 505_000},
        {"size_micro": 4 * M},
        {"order_type": OrderType.FOK, "post_only": True},
        {"order_type": OrderType.FAK, "size_micro": 5 * M, "price_micro": 150_000},
    ],
)
def test_problems_match_what_the_venue_says(changes: dict) -> None:
    """Whatever our pre-check refuses, the simulated venue refuses with the same text.

    (A size with more than two decimals is not among them: the official client floors it
    to 0.01 when signing, and the in-process venue signs as the client does.)"""
    clock = SimClock(start=1_767_225_660)
    venue = SimVenue(clock)
    market = VenueMarket.for_window(WindowRef("BTC", 1_767_225_600))
    venue.register_market(market)
    venue.open_account("0xbot", 100 * M)
    port = InProcessVenue(venue, "0xbot")
    order = spec(token_id=market.up_token_id, **changes)
    prepared = port.prepare(order)
    ours = order_problem(order, 10_000, 5 * M)
    reply = port.submit(prepared)
    assert ours is not None and reply.status is PlaceStatus.REJECTED
    assert ours.replace("c-1", prepared.venue_order_id) == reply.error


def test_a_good_order_has_no_problem() -> None:
    assert order_problem(spec(), 10_000, 5 * M) is None
    assert (
        order_problem(spec(order_type=OrderType.FOK, price_micro=200_000), 10_000, 5 * M)
        is None
    )


def test_decimal_views() -> None:
    assert Decimal(round_price(123_456, 1_000, Side.SELL)) / M == Decimal("0.124")
