"""Taker fees to the micro-unit: shares × rate × p × (1 − p), floored to 5 decimals."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from src.data.market_data.windows import WindowRef
from src.sim.venue import (
    FEE_COLLECTOR,
    FeeAsset,
    OrderRequest,
    Side,
    TradeStatus,
    VenueMarket,
)
from src.sim.venue.fees import fee_in_collateral, fee_in_shares, fee_rate_micro, taker_fee
from src.utils.money import AmountError
from tests.unit.sim.venue_support import WINDOW, limit, make_world, usd


@pytest.mark.parametrize(
    ("shares", "price", "rate", "collateral_fee", "share_fee"),
    [
        # The on-chain check from the reference: 108 @ 0.36, rate 0.07 → 1.741820.
        ("108", "0.36", "0.07", 1_741_820, 4_838_400),
        ("10", "0.50", "0.07", 175_000, 350_000),
        ("5", "0.50", "0.07", 87_500, 175_000),
        ("10", "0.52", "0.07", 174_720, 336_000),
        # 0.01 × 0.07 × 0.37 × 0.63 = 0.00016317 → floored to 0.00016.
        ("0.01", "0.37", "0.07", 160, 440),
        # 0.01 × 0.07 × 0.01 × 0.99 = 0.00000693 → below 0.00001: no fee.
        ("0.01", "0.01", "0.07", 0, 690),
        ("100", "0.999", "0.07", 6_990, 7_000),
        ("100", "0.50", "0", 0, 0),
        ("100", "0.50", "0.25", 6_250_000, 12_500_000),
    ],
)
def test_fee_table(
    shares: str, price: str, rate: str, collateral_fee: int, share_fee: int
) -> None:
    q, p, r = usd(shares), usd(price), fee_rate_micro(rate)
    assert fee_in_collateral(q, p, r) == collateral_fee
    assert fee_in_shares(q, p, r) == share_fee
    assert taker_fee(False, q, p, r) == collateral_fee
    assert taker_fee(True, q, p, r) == share_fee


@settings(max_examples=200, deadline=None)
@given(
    lots=st.integers(min_value=1, max_value=10**7),
    ticks=st.integers(min_value=1, max_value=999),
    rate=st.integers(min_value=0, max_value=1_000_000),
)
def test_fee_is_the_floored_exact_formula(lots: int, ticks: int, rate: int) -> None:
    shares, price = lots * 10_000, ticks * 1_000
    exact = Decimal(shares) * rate * price * (10**6 - price) / Decimal(10**18)
    fee = fee_in_collateral(shares, price, rate)
    assert fee % 10 == 0
    assert Decimal(fee) <= exact < Decimal(fee) + 10
    share_exact = Decimal(shares) * rate * (10**6 - price) / Decimal(10**12)
    share_fee = fee_in_shares(shares, price, rate)
    assert Decimal(share_fee) <= share_exact < Decimal(share_fee) + 10
    assert share_fee < shares or rate == 10**6


@pytest.mark.parametrize("bad", ["-0.01", "1.5", "0.0000001"])
def test_fee_rate_must_be_a_rate(bad: str) -> None:
    with pytest.raises(AmountError):
        fee_rate_micro(bad)


def test_taker_buy_pays_the_fee_in_shares_and_the_maker_pays_nothing() -> None:
    world = make_world()
    world.ask("mm", "0.52", "100")
    mm_before = world.venue.balance("mm").balance
    result = world.ok("alice", limit(world.up, Side.BUY, "0.52", "10"))
    world.venue.step()
    trade = world.venue.trade(result.trade_ids[0])
    assert trade is not None and trade.status is TradeStatus.CONFIRMED
    assert (trade.fee, trade.fee_asset) == (336_000, FeeAsset.SHARES)
    assert world.venue.position("alice", world.up).size == usd("9.664")
    assert world.venue.balance("alice").balance == usd("994.80")
    assert world.venue.position(FEE_COLLECTOR, world.up).size == usd("0.336")
    assert world.venue.balance("mm").balance - mm_before == usd("5.20")


def test_taker_sell_pays_the_fee_in_collateral() -> None:
    world = make_world()
    world.venue.mint("alice", world.market.condition_id, usd("10"))
    world.bid("mm", "0.48", "100")
    result = world.ok("alice", limit(world.up, Side.SELL, "0.48", "10"))
    world.venue.step()
    trade = world.venue.trade(result.trade_ids[0])
    assert trade is not None
    assert (trade.fee, trade.fee_asset) == (174_720, FeeAsset.COLLATERAL)
    # 990 after minting, + 4.80 − 0.17472.
    assert world.venue.balance("alice").balance == usd("994.62528")
    assert world.venue.balance(FEE_COLLECTOR).balance == usd("0.17472")
    assert world.venue.position("mm", world.up).size == usd("10")


def test_fee_is_summed_per_fill_across_levels() -> None:
    world = make_world()
    world.ask("mm", "0.50", "10")
    world.ask("mm", "0.60", "10")
    result = world.ok("alice", OrderRequest.market(world.up, Side.BUY, "11", "0.60"))
    trade = world.venue.trade(result.trade_ids[0])
    assert trade is not None
    # 10 @ 0.50 ($5) then 10 @ 0.60 ($6): fees 10×0.07×0.5 + 10×0.07×0.4 shares.
    assert (trade.size, trade.notional) == (usd("20"), usd("11"))
    assert trade.fee == usd("0.35") + usd("0.28")
    assert [f.price for f in trade.maker_fills] == [usd("0.50"), usd("0.60")]


def test_market_without_fees_charges_nothing() -> None:
    world = make_world()
    free = VenueMarket.for_window(WindowRef("ETH", WINDOW.start), fee_rate=Decimal(0))
    world.venue.register_market(free)
    world.ok("mm", limit(free.up_token_id, Side.SELL, "0.50", "10"))
    result = world.ok("alice", limit(free.up_token_id, Side.BUY, "0.50", "10"))
    trade = world.venue.trade(result.trade_ids[0])
    assert trade is not None and trade.fee == 0 and trade.fee_rate == 0
