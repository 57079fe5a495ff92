"""Unit rules: micro-units, ticks, lots, signed amounts and requests built from them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from src.sim.venue import OrderRequest, OrderType, RejectCode, Side
from src.sim.venue.amounts import (
    affordable_lots,
    decimal_of,
    exact_micro,
    is_on_tick,
    lot_cost,
    market_precision_ok,
    micro_text,
    price_from_amounts,
    tick_micro,
)
from src.utils.money import AmountError
from tests.unit.sim.venue_support import make_world, usd


def test_client_worked_examples() -> None:
    # Reference §2.2: BUY 10 @ 0.50 → 5000000 / 10000000; market BUY $5 @ 0.52 → 9615300.
    limit = OrderRequest.limit("t", Side.BUY, "0.50", "10")
    assert (limit.amount, limit.size) == (5_000_000, 10_000_000)
    market = OrderRequest.market("t", Side.BUY, "5", "0.52")
    assert (market.amount, market.size, market.order_type) == (
        5_000_000,
        9_615_300,
        OrderType.FOK,
    )
    sell = OrderRequest.market("t", Side.SELL, "10", "0.457", OrderType.FAK)
    assert (sell.size, sell.amount) == (10_000_000, 4_570_000)


@pytest.mark.parametrize(
    ("side", "maker", "taker", "tick", "order_type", "price", "size", "amount"),
    [
        (
            Side.BUY,
            5_000_000,
            10_000_000,
            10_000,
            OrderType.GTC,
            500_000,
            10_000_000,
            5_000_000,
        ),
        (
            Side.SELL,
            10_000_000,
            5_200_000,
            10_000,
            OrderType.GTC,
            520_000,
            10_000_000,
            5_200_000,
        ),
        (
            Side.BUY,
            5_000_000,
            9_615_300,
            10_000,
            OrderType.FOK,
            520_000,
            9_615_300,
            5_000_000,
        ),
        (Side.SELL, 1_230_000, 562_100, 1_000, OrderType.FAK, 457_000, 1_230_000, 562_100),
        (
            Side.BUY,
            5_050_000,
            10_000_000,
            10_000,
            OrderType.GTC,
            505_000,
            10_000_000,
            5_050_000,
        ),
        (Side.BUY, 1, 3, 10_000, OrderType.GTC, 333_334, 3, 1),
    ],
)
def test_request_from_signed_amounts(
    side: Side,
    maker: int,
    taker: int,
    tick: int,
    order_type: OrderType,
    price: int,
    size: int,
    amount: int,
) -> None:
    request = OrderRequest.from_amounts("t", side, maker, taker, tick, order_type)
    assert (request.price, request.size, request.amount) == (price, size, amount)


def test_signed_limit_off_the_tick_is_refused_by_the_venue() -> None:
    world = make_world()
    request = OrderRequest.from_amounts(
        world.up, Side.BUY, 5_050_000, 10_000_000, 10_000, order_id="0xab"
    )
    result = world.venue.place("alice", request)
    assert result.code is RejectCode.MIN_TICK_SIZE
    assert (
        result.error
        == "order 0xab is invalid. Price (0.505) breaks minimum tick size rule: 0.01"
    )


def test_price_from_amounts_rejects_empty_amounts() -> None:
    with pytest.raises(AmountError):
        price_from_amounts(True, 0, 10, 10_000)


def test_exact_micro_never_rounds() -> None:
    assert exact_micro("0.000001") == 1
    assert exact_micro(Decimal("12.34")) == 12_340_000
    with pytest.raises(AmountError):
        exact_micro("0.0000001")
    with pytest.raises(AmountError):
        exact_micro(5)


@pytest.mark.parametrize(
    ("tick", "micro"),
    [
        ("0.1", 100_000),
        ("0.01", 10_000),
        ("0.001", 1_000),
        (Decimal("0.0001"), 100),
        (10_000, 10_000),
    ],
)
def test_tick_sizes(tick: object, micro: int) -> None:
    assert tick_micro(tick) == micro


@pytest.mark.parametrize("tick", ["0.02", "0.005", 3, "1"])
def test_unsupported_ticks(tick: object) -> None:
    with pytest.raises(AmountError):
        tick_micro(tick)


def test_small_rules() -> None:
    assert is_on_tick(510_000, 10_000) and not is_on_tick(505_000, 10_000)
    assert not is_on_tick(0, 10_000) and not is_on_tick(1_000_000, 10_000)
    assert lot_cost(520_000) == 5_200 and affordable_lots(usd("6"), 520_000) == usd("11.53")
    assert market_precision_ok(5_000_000, 9_615_300)
    assert not market_precision_ok(5_005_000, 9_615_300)
    assert not market_precision_ok(5_000_000, 9_615_301)
    assert micro_text(1_730_000) == "1.73" and micro_text(5_000_000) == "5"
    assert decimal_of(520_000) == Decimal("0.52")
