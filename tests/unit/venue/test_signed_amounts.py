"""Signed amounts: what the official client signs for an order equals the intended
decimals exactly — price, size, amounts — on both ticks, through ``signed_amounts`` (the
in-process venue) and through ``ClobVenue`` with the real client (offline here)."""

from __future__ import annotations

import math
from typing import Any

import pytest
from eth_account import Account
from hypothesis import given, settings
from hypothesis import strategies as st
from py_clob_client_v2 import ApiCreds, ClobClient
from py_clob_client_v2.order_builder.helpers import round_down

from src.sim.venue.amounts import market_precision_ok, price_from_amounts
from src.trading.ledger.accounting import Side
from src.trading.venue.clob import ClobVenue
from src.trading.venue.mapping import (
    floor_proof,
    market_amount_micro,
    signed_amounts,
    signed_shares,
)
from src.trading.venue.port import OrderSpec, OrderType
from src.utils.money import MICRO, micro_str

CENT_TICK, FINE_TICK = 10_000, 1_000
LOT = 10_000
TOKEN = "7"
KEY = Account.create().key.hex()


def spec(side: Side, kind: OrderType, price: int, size: int) -> OrderSpec:
    return OrderSpec("c", TOKEN, side, kind, price, size)


def intended(order: OrderSpec, tick: int) -> tuple[int, int]:
    """The amounts the order means, by the rules alone (integers, no client): a limit
    order ``size × price`` for its size floored to 0.01; a market order its amount
    (:func:`market_amount_micro`) and, for a BUY, ``amount / price`` floored to the
    tick's amount decimals (4 on 0.01, 5 on 0.001), for a SELL ``shares × price``."""
    if order.order_type in (OrderType.FOK, OrderType.FAK):
        amount = market_amount_micro(order, tick)
        if order.side is Side.SELL:
            return amount, amount * order.price_micro // MICRO
        quantum = 100 if tick == CENT_TICK else 10
        shares = amount * MICRO // order.price_micro
        return amount, shares - shares % quantum
    size = order.size_micro - order.size_micro % LOT
    cash = size * order.price_micro // MICRO
    return (cash, size) if order.side is Side.BUY else (size, cash)


# --- the two cases the client's float flooring got wrong ------------------------------


def test_a_limit_buy_of_70_96_shares_signs_70_96() -> None:
    # float(70.96) * 100 = 7095.99…: handed as is, the client signed 70.95 shares
    order = spec(Side.BUY, OrderType.GTC, 530_000, 70_960_000)
    assert signed_amounts(order, CENT_TICK) == (37_608_800, 70_960_000)
    assert signed_shares(order, 37_608_800, 70_960_000) == 70_960_000


def test_a_market_buy_at_0_58_signs_0_58() -> None:
    # float(0.58) * 100 = 57.99…: handed as is, the client signed the price as 0.57
    maker, taker = signed_amounts(
        spec(Side.BUY, OrderType.FAK, 580_000, 49_280_000), CENT_TICK
    )
    assert (maker, taker) == (28_580_000, 49_275_800)  # $28.58 / 0.58, 4 decimals
    assert price_from_amounts(True, maker, taker, CENT_TICK) == 580_000


def test_the_handed_floats_survive_the_clients_floor() -> None:
    assert round_down(70.96, 2) == 70.95  # the client's own rounding, as it is
    assert round_down(floor_proof(70_960_000, 2), 2) == 70.96
    assert round_down(floor_proof(580_000, 2), 2) == 0.58
    assert round_down(floor_proof(70_965_000, 2), 2) == 70.96  # more decimals: floored


# --- examples ---------------------------------------------------------------------------


def test_a_limit_sell_signs_shares_as_maker_amount() -> None:
    order = spec(Side.SELL, OrderType.GTD, 420_000, 10_000_000)
    maker, taker = signed_amounts(order, CENT_TICK)
    assert (maker, taker) == (10_000_000, 4_200_000)
    assert signed_shares(order, maker, taker) == 10_000_000


def test_a_market_buy_signs_cents_and_four_decimal_shares() -> None:
    maker, taker = signed_amounts(
        spec(Side.BUY, OrderType.FAK, 540_000, 41_430_000), CENT_TICK
    )
    assert (maker, taker) == (22_370_000, 41_425_900)
    assert price_from_amounts(True, maker, taker, CENT_TICK) == 540_000


def test_on_the_fine_tick_amounts_carry_the_fine_tick_decimals() -> None:
    maker, taker = signed_amounts(
        spec(Side.BUY, OrderType.GTC, 955_000, 10_010_000), FINE_TICK
    )
    assert (maker, taker) == (9_559_550, 10_010_000)


def test_a_market_buy_at_a_cent_price_on_the_fine_tick_signs_four_decimal_shares() -> None:
    # $22.37 at 0.86 is 26.011627… shares: 5 decimals on the fine tick, which the venue
    # refuses; the amount is cut to $22.36 = 26 shares exactly
    maker, taker = signed_amounts(
        spec(Side.BUY, OrderType.FAK, 860_000, 26_020_000), FINE_TICK
    )
    assert (maker, taker) == (22_360_000, 26_000_000)
    assert market_precision_ok(maker, taker)


def test_a_market_buy_below_a_cent_signs_nothing() -> None:
    order = spec(Side.BUY, OrderType.FOK, 1_000, 5_000_000)
    assert signed_amounts(order, FINE_TICK) == (0, 0)


# --- properties ---------------------------------------------------------------------------


@st.composite
def orders(draw: st.DrawFn, lots_only: bool = True) -> tuple[OrderSpec, int]:
    tick = draw(st.sampled_from((CENT_TICK, FINE_TICK)))
    price = draw(st.integers(1, MICRO // tick - 1)) * tick
    if lots_only:
        size = draw(st.integers(1, 10_000_000)) * LOT  # 0.01 … 100,000 shares
    else:
        size = draw(st.integers(LOT, 100_000 * MICRO))  # any micro size
    side = draw(st.sampled_from((Side.BUY, Side.SELL)))
    kind = draw(st.sampled_from(tuple(OrderType)))
    return OrderSpec("c", TOKEN, side, kind, price, size), tick


@given(orders(lots_only=False))
def test_signed_amounts_are_the_intended_ones_exactly(case: tuple[OrderSpec, int]) -> None:
    order, tick = case
    maker, taker = signed_amounts(order, tick)
    assert (maker, taker) == intended(order, tick)
    if order.order_type in (OrderType.GTC, OrderType.GTD):
        shares, cash = (taker, maker) if order.side is Side.BUY else (maker, taker)
        assert shares == order.size_micro - order.size_micro % LOT
        assert cash * MICRO == shares * order.price_micro  # the price, exactly


@given(orders())
def test_market_orders_sign_their_price_and_venue_valid_buys(
    case: tuple[OrderSpec, int],
) -> None:
    order, tick = case
    if order.order_type not in (OrderType.FOK, OrderType.FAK):
        return
    maker, taker = signed_amounts(order, tick)
    is_buy = order.side is Side.BUY
    if is_buy and maker >= MICRO:  # a marketable BUY commits at least $1
        assert market_precision_ok(maker, taker)  # cents, ≤ 4-decimal shares
        assert price_from_amounts(True, maker, taker, tick) == order.price_micro
    if not is_buy and maker:
        assert price_from_amounts(False, maker, taker, tick) == order.price_micro


@given(st.integers(0, 10**12), st.sampled_from((2, 3)))
def test_floor_proof_floats_floor_onto_their_decimal(value: int, digits: int) -> None:
    units = value * 10**digits // MICRO
    x = floor_proof(value, digits)
    nearest = units / 10**digits  # the float nearest the decimal
    assert round_down(x, digits) == nearest
    assert 0 <= x - nearest <= 4 * math.ulp(nearest)  # a few ulps above, never more


# --- ClobVenue with the real client, offline ------------------------------------------


class OfflineMarket:
    """The reads the client and ClobVenue make before signing, answered in memory."""

    def __init__(self, tick: int) -> None:
        self.tick = tick

    def get(self, endpoint: str, headers: Any = None, params: Any = None) -> Any:
        tick = micro_str(self.tick)
        if endpoint.endswith("/version"):
            return {"version": 2}
        if "/book" in endpoint:
            return {"market": "0xc", "asset_id": TOKEN, "tick_size": tick}
        if "/clob-markets/" in endpoint:
            return {"t": [{"t": TOKEN}], "mts": tick, "nr": False}
        if "/markets-by-token/" in endpoint:
            return {"condition_id": "0xc"}
        if "/tick-size" in endpoint:
            return {"minimum_tick_size": tick}
        if "/neg-risk" in endpoint:
            return {"neg_risk": False}
        raise AssertionError(f"unexpected read {endpoint}")


def offline_venue(market: OfflineMarket) -> ClobVenue:
    client = ClobClient("http://127.0.0.1:9", chain_id=137, key=KEY, signature_type=0)
    client.set_api_creds(ApiCreds("key", "c2VjcmV0", "pass"))
    client._get = market.get  # type: ignore[method-assign]  # no network in unit tests
    return ClobVenue(client, data_url="http://127.0.0.1:9", rate_per_s=1e9)


VENUES: dict[int, ClobVenue] = {}


@settings(max_examples=150)
@given(orders())
def test_clob_venue_signs_exactly_what_signed_amounts_says(
    case: tuple[OrderSpec, int],
) -> None:
    order, tick = case
    venue = VENUES.get(tick) or VENUES.setdefault(tick, offline_venue(OfflineMarket(tick)))
    prepared = venue.prepare(order)
    signed = prepared.payload
    amounts = (int(signed.makerAmount), int(signed.takerAmount))  # type: ignore[attr-defined]
    assert amounts == signed_amounts(order, tick) == intended(order, tick)
    if 0 not in amounts:
        assert prepared.spec.size_micro == signed_shares(order, *amounts)


@pytest.mark.parametrize(
    ("cached", "book"), [(FINE_TICK, CENT_TICK), (CENT_TICK, FINE_TICK)]
)
def test_clob_venue_signs_on_the_books_tick_whatever_the_client_cached(
    cached: int, book: int
) -> None:
    market = OfflineMarket(cached)
    venue = offline_venue(market)
    assert venue.client.get_tick_size(TOKEN) == micro_str(cached)  # cached for good
    market.tick = book
    order = spec(Side.BUY, OrderType.FAK, 860_000, 26_020_000)
    signed = venue.prepare(order).payload
    amounts = (int(signed.makerAmount), int(signed.takerAmount))  # type: ignore[attr-defined]
    assert amounts == intended(order, book)  # $22.37 → 26.0116 on 0.01; $22.36 → 26
