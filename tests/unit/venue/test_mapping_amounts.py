"""Market BUY amounts the venue accepts: cents, and shares with at most 4 decimals."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from src.trading.ledger.accounting import Side
from src.trading.venue.mapping import market_amount_micro
from src.trading.venue.port import OrderSpec, OrderType

CENT = 10_000


def spec(price_micro: int, size_micro: int) -> OrderSpec:
    return OrderSpec("c", "t", Side.BUY, OrderType.FAK, price_micro, size_micro)


def test_on_the_fine_tick_the_amount_is_cut_to_whole_four_decimal_shares() -> None:
    amount = market_amount_micro(spec(87_000, 257_126_400))  # $22.37 at 0.087
    assert amount == 21_750_000  # 250 shares exactly
    assert amount * 10_000 % 87_000 == 0


def test_on_the_coarse_tick_the_amount_is_only_floored_to_cents() -> None:
    assert market_amount_micro(spec(540_000, 41_430_000)) == 22_370_000
    assert market_amount_micro(spec(540_000, 41_430_000), 10_000) == 22_370_000


def test_a_cent_price_on_the_fine_tick_is_cut_too() -> None:
    # the client signs 5-decimal shares on the 0.001 tick whatever the price: $22.37 at
    # 0.86 would be 26.01162 shares; $22.36 is 26 exactly
    assert market_amount_micro(spec(860_000, 26_020_000)) == 22_370_000  # tick unknown
    assert market_amount_micro(spec(860_000, 26_020_000), 1_000) == 22_360_000


@given(st.integers(1, 999), st.integers(5_000_000, 500_000_000))
def test_market_buy_amounts_are_cents_with_four_decimal_shares(
    thousandths: int, size_micro: int
) -> None:
    price = thousandths * 1_000
    amount = market_amount_micro(spec(price, size_micro))
    assert amount % CENT == 0
    assert 0 <= amount <= size_micro * price // 1_000_000
    # shares = amount / price, to 4 decimals exactly
    assert amount * 10_000 % price == 0 or price % 10_000 == 0
    fine = market_amount_micro(spec(price, size_micro), 1_000)
    assert fine % CENT == 0 and fine * 10_000 % price == 0  # on 0.001, always
    assert fine <= amount  # and the largest such:
    assert all(a * 10_000 % price for a in range(fine + CENT, amount + 1, CENT))
