"""Brier score by minute: each forecaster of P(Up) scored at each minute mark."""

from __future__ import annotations

import pytest

from src.backtest.report import BrierByMinute, DecisionRow, MinuteBrier, forecasts

MICRO = 1_000_000


def _row(
    window: int,
    elapsed: float,
    outcome: str | None,
    bid: float | None = 0.40,
    ask: float | None = 0.44,
    fair: float | None = 0.30,
    additive: float | None = 0.35,
    bayesian: float | None = 0.36,
    symbol: str = "BTC",
) -> DecisionRow:
    return DecisionRow(
        symbol=symbol,
        decided_ms=int((window + elapsed) * 1000),
        action="PASS",
        reason="edge_too_small",
        outcome=outcome,
        window_start=window,
        p_up_additive=additive,
        p_up_bayesian=bayesian,
        fair_value=fair,
        elapsed_s=elapsed,
        up_bid_micro=None if bid is None else round(bid * MICRO),
        up_ask_micro=None if ask is None else round(ask * MICRO),
    )


def test_the_table_matches_a_hand_computation() -> None:
    tally = BrierByMinute()
    rows = [
        # window 0 (Up): minute 1 scored from its first decision only
        _row(0, 60, "UP", bid=0.60, ask=0.62, fair=0.70, additive=0.65, bayesian=0.66),
        _row(0, 70, "UP", bid=0.10, ask=0.12, fair=0.10, additive=0.10, bayesian=0.10),
        _row(0, 120, "UP", bid=0.70, ask=0.74, fair=0.80, additive=0.75, bayesian=0.90),
        # window 900 (Down): minute 1 with a one-sided book (no market mid)
        _row(900, 65, "DOWN", bid=None, ask=0.30, fair=0.20, additive=0.25, bayesian=0.30),
        # ignored: no outcome, before minute 1, after minute 14
        _row(1800, 60, None),
        _row(2700, 59.9, "UP"),
        _row(2700, 900, "UP"),
    ]
    for row in rows:
        tally.add(row)
    table = tally.table()
    assert [r.minute for r in table] == [1, 2]
    one, two = table
    assert one.windows == 2
    assert one.market == pytest.approx((0.61 - 1) ** 2)  # only window 0 had a mid
    assert one.fair_value == pytest.approx(((0.70 - 1) ** 2 + 0.20**2) / 2)
    assert one.additive == pytest.approx(((0.65 - 1) ** 2 + 0.25**2) / 2)
    assert one.bayesian == pytest.approx(((0.66 - 1) ** 2 + 0.30**2) / 2)
    assert two == MinuteBrier(
        2,
        1,
        pytest.approx((0.72 - 1) ** 2),  # type: ignore[arg-type]
        pytest.approx(0.04),  # type: ignore[arg-type]
        pytest.approx(0.0625),  # type: ignore[arg-type]
        pytest.approx(0.01),  # type: ignore[arg-type]
    )


def test_symbols_are_separate_windows() -> None:
    tally = BrierByMinute()
    tally.add(_row(0, 60, "UP", symbol="BTC"))
    tally.add(_row(0, 61, "UP", symbol="ETH"))
    (minute,) = tally.table()
    assert minute.windows == 2


def test_forecasts_read_the_mid_only_from_a_two_sided_book() -> None:
    assert forecasts(_row(0, 60, "UP", bid=0.40, ask=0.44))["market"] == pytest.approx(0.42)
    assert forecasts(_row(0, 60, "UP", bid=None))["market"] is None


def test_an_empty_tally_has_no_rows() -> None:
    assert BrierByMinute().table() == ()
