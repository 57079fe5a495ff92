"""Accounting of fills: hand-computed cases and invariants."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from src.trading.ledger.accounting import (
    FeeAsset,
    FillAmounts,
    LedgerError,
    PositionTotals,
    Side,
    apply_fill,
    fold_fills,
    settle,
)

M = 1_000_000


def buy(
    price: float, size: float, fee: int = 0, asset: FeeAsset = FeeAsset.SHARES
) -> FillAmounts:
    return FillAmounts(Side.BUY, round(price * M), round(size * M), fee, asset)


def sell(price: float, size: float, fee: int = 0) -> FillAmounts:
    return FillAmounts(
        Side.SELL, round(price * M), round(size * M), fee, FeeAsset.COLLATERAL
    )


def test_taker_buy_pays_the_fee_in_shares() -> None:
    # 108 @ 0.36, rate 0.07: fee 1.741820 collateral = 4.838388 shares (venue example)
    fill = buy(0.36, 108, fee=4_838_380)
    assert fill.notional_micro == 38_880_000
    assert fill.cash_flows() == [("trade", -38_880_000)]
    assert fill.share_delta_micro == 108_000_000 - 4_838_380
    assert fill.fee_value_micro == 1_741_816  # valued at the fill price
    totals = apply_fill(PositionTotals(), fill)
    assert totals.size_micro == 103_161_620 and totals.cost_micro == 38_880_000


def test_taker_sell_pays_the_fee_in_collateral() -> None:
    fill = sell(0.60, 10, fee=168_000)
    assert fill.cash_flows() == [("trade", 6_000_000), ("fee", -168_000)]
    assert fill.cash_delta_micro == 5_832_000


def test_round_trip_pnl_is_net_cash() -> None:
    totals = fold_fills([buy(0.50, 10), buy(0.60, 10), sell(0.70, 5, fee=100)])
    # cost 5 + 6 = 11 for 20 shares; selling 5 releases 11 × 5/20 = 2.75
    assert totals.size_micro == 15 * M
    assert totals.cost_micro == 8_250_000
    assert totals.realized_pnl_micro == 3_500_000 - 100 - 2_750_000
    done = fold_fills([sell(0.40, 15)], totals)
    assert done.size_micro == 0 and done.cost_micro == 0
    assert done.realized_pnl_micro == 3_500_000 - 100 + 6_000_000 - 11_000_000


def test_settlement_win_and_loss() -> None:
    totals = fold_fills([buy(0.55, 10)])
    won = settle(totals, won=True)
    assert won.payout_micro == 10 * M and won.pnl_micro == 4_500_000
    assert won.totals.size_micro == 0 and won.totals.realized_pnl_micro == 4_500_000
    lost = settle(totals, won=False)
    assert lost.payout_micro == 0 and lost.pnl_micro == -5_500_000


def test_cannot_sell_more_than_held() -> None:
    with pytest.raises(LedgerError):
        fold_fills([buy(0.5, 5), sell(0.5, 6)])


@pytest.mark.parametrize(
    "args",
    [
        (Side.BUY, 0, M, 0, FeeAsset.COLLATERAL),
        (Side.BUY, M, M, 0, FeeAsset.COLLATERAL),
        (Side.BUY, 500_000, 0, 0, FeeAsset.COLLATERAL),
        (Side.BUY, 500_000, M, -1, FeeAsset.COLLATERAL),
        (Side.BUY, 500_000, M, M, FeeAsset.SHARES),
    ],
)
def test_impossible_fills_are_refused(args: tuple) -> None:
    with pytest.raises(LedgerError):
        FillAmounts(*args)


lots = st.integers(1, 2000).map(lambda n: n * 10_000)
prices = st.integers(1, 999).map(lambda n: n * 1_000)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.booleans(), prices, lots, st.integers(0, 5000)), max_size=30),
    st.booleans(),
)
def test_pnl_equals_net_cash_once_flat(trades: list, won: bool) -> None:
    """Whatever the order of buys and sells, once settled the realised PnL is exactly the
    net cash that moved (including fees and the payout)."""
    totals, cash = PositionTotals(), 0
    for is_buy, price, size, fee in trades:
        if is_buy:
            fill = FillAmounts(Side.BUY, price, size, min(fee, size - 1), FeeAsset.SHARES)
        else:
            if totals.size_micro == 0:
                continue
            size = min(size, totals.size_micro)
            fill = FillAmounts(Side.SELL, price, size, fee, FeeAsset.COLLATERAL)
        totals = apply_fill(totals, fill)
        cash += fill.cash_delta_micro
        assert totals.size_micro >= 0 and totals.cost_micro >= 0
    result = settle(totals, won)
    assert result.totals.realized_pnl_micro == cash + result.payout_micro


def test_reported_collateral_wins_over_a_rounded_average_price() -> None:
    # 10 @ 0.51 + 7 @ 0.52 = 8.74 for 17 shares: the average 0.514117… is floored
    fill = FillAmounts(Side.BUY, 514_117, 17 * M, 0, FeeAsset.SHARES, 8_740_000)
    assert fill.notional_micro == 8_740_000
    assert fill.cash_flows() == [("trade", -8_740_000)]
    with pytest.raises(LedgerError):
        FillAmounts(Side.BUY, 500_000, 1 * M, 0, FeeAsset.SHARES, 2 * M)
