"""The backtest report's computations on examples worked out by hand: calibration buckets,
the baselines (taker fee in shares included), equity and drawdown, the group tables, the
decision rows read from the ledger, and the figure."""

from __future__ import annotations

import json
import math
import struct
from dataclasses import replace
from pathlib import Path

import pytest

from src.backtest.report import (
    DEFAULT_BASELINE_STAKE_MICRO,
    BaselineRules,
    DecisionRow,
    HeldTrade,
    TradeRow,
    baseline_stake,
    baselines,
    bucket_index,
    calibration,
    calibration_json,
    decision_row,
    drawdown_curve,
    entry_points,
    equity_curve,
    fair_value_side,
    favourite_side,
    group_by,
    hold_to_settlement,
    max_drawdown,
)
from src.data.stats import CalibrationBucket
from src.reports.backtest_plot import write_backtest_png

M = 1_000_000
USD10 = 10 * M


def decision(
    conf_a: float | None = None,
    dir_a: str | None = None,
    conf_b: float | None = None,
    dir_b: str | None = None,
    outcome: str | None = "UP",
) -> DecisionRow:
    return DecisionRow(
        symbol="BTC",
        decided_ms=0,
        action="PASS",
        reason="low_confidence",
        outcome=outcome,
        confidence_additive=conf_a,
        direction_additive=dir_a,
        confidence_bayesian=conf_b,
        direction_bayesian=dir_b,
    )


# --- Calibration -------------------------------------------------------------------------


def test_bucket_edges_belong_to_the_upper_bucket_and_the_cap_to_the_last() -> None:
    assert bucket_index(0.5) == 0
    assert bucket_index(0.5499) == 0
    assert bucket_index(0.55) == 1  # [0.55, 0.60)
    assert bucket_index(0.8499) == 6  # 0.80-0.85
    assert bucket_index(0.85) == 7  # the cap: 0.85-1.00, closed
    assert bucket_index(1.0) == 7
    for outside in (0.4999, 1.0001, math.nan):
        assert bucket_index(outside) is None


def test_calibration_buckets_on_a_constructed_example() -> None:
    rows = [
        # additive: 0.50-0.55 gets three decisions, one of whose side won
        decision(0.52, "UP", 0.61, "DOWN", outcome="UP"),  # additive right, bayesian wrong
        decision(0.54, "DOWN", 0.62, "UP", outcome="UP"),  # additive wrong, bayesian right
        decision(0.549, "UP", outcome="DOWN"),
        decision(0.55, "UP", outcome="UP"),  # a lower edge opens the next bucket
        decision(0.80, "UP", outcome="DOWN"),
        decision(0.85, "DOWN", outcome="DOWN"),  # the cap
        # never counted:
        decision(0.70, "NEUTRAL", outcome="UP"),  # no side
        decision(0.70, "UP", outcome=None),  # no outcome yet
        decision(None, "UP", outcome="UP"),  # no confidence
        decision(0.49, "UP", outcome="UP"),  # below 0.50: not a side's confidence
    ]
    additive = calibration(rows, "additive")
    assert [(b.low, b.high, b.count) for b in additive] == [
        (0.50, 0.55, 3),
        (0.55, 0.60, 1),
        (0.80, 0.85, 1),
        (0.85, 1.00, 1),
    ]
    assert additive[0].mean_confidence == pytest.approx((0.52 + 0.54 + 0.549) / 3)
    assert additive[0].hit_rate == pytest.approx(1 / 3)
    assert [b.hit_rate for b in additive[1:]] == [1.0, 0.0, 1.0]
    assert [b.mean_confidence for b in additive[1:]] == pytest.approx([0.55, 0.80, 0.85])

    # Each method is judged on the side *it* points to.
    assert calibration(rows, "bayesian") == (
        CalibrationBucket("bayesian", 0.60, 0.65, 2, pytest.approx(0.615), 0.5),
    )
    assert calibration_json(additive)[0] == {
        "bucket": "0.50-0.55",
        "n": 3,
        "mean_confidence": 0.536333,
        "win_rate": 0.333333,
    }
    assert calibration([], "additive") == ()


# --- Baselines ---------------------------------------------------------------------------


def book(
    symbol: str,
    start: int,
    bid: float | None,
    ask: float | None,
    fair: float,
    outcome: str | None,
    elapsed: float = 60.0,
) -> DecisionRow:
    return DecisionRow(
        symbol=symbol,
        decided_ms=(start + int(elapsed)) * 1000,
        action="PASS",
        reason="edge_too_small",
        outcome=outcome,
        window_start=start,
        fair_value=fair,
        elapsed_s=elapsed,
        up_bid_micro=None if bid is None else round(bid * M),
        up_ask_micro=None if ask is None else round(ask * M),
        fee_rate_micro=70_000,  # 0.07
    )


RULES = BaselineRules(seed=3, min_edge=0.03, losing_side_min_edge=0.06)
DECISIONS = [
    book("BTC", 0, 0.10, 0.12, 0.5, "UP", elapsed=30),  # too early: ignored
    book("BTC", 0, 0.58, 0.60, 0.70, "UP"),  # A: the entry point
    book("BTC", 0, 0.20, 0.22, 0.10, "UP", elapsed=70),  # not the first: ignored
    book("ETH", 0, 0.30, 0.32, 0.62, "DOWN"),  # B
    book("XRP", 0, 0.49, 0.51, 0.50, "UP"),  # D: mid exactly 0.50, no favourite
    book("BTC", 900, 0.59, None, 0.62, "DOWN"),  # one-sided book: ignored
    book("BTC", 900, 0.59, 0.60, 0.62, "DOWN", elapsed=70),  # C
    book("SOL", 0, 0.40, 0.42, 0.9, None),  # no outcome: ignored
    book("SOL", 900, 0.40, 0.42, 0.9, "UP", elapsed=790),  # too late: ignored
]


def test_entry_points_are_each_windows_first_decision_in_the_entry_period() -> None:
    points = entry_points(DECISIONS, RULES)
    assert [(p.symbol, p.window_start, p.up_ask_micro) for p in points] == [
        ("BTC", 0, 600_000),
        ("ETH", 0, 320_000),
        ("XRP", 0, 510_000),
        ("BTC", 900, 600_000),
    ]


def test_a_taker_buy_held_to_settlement_pays_the_fee_in_shares() -> None:
    # $10 at 0.60 buys 16.66 shares (whole lots of 0.01) for 9.996; the venue keeps
    # 16.66 × 0.07 × (1 − 0.60) = 0.46648 shares as the fee (worth 0.279888 at 0.60).
    won = hold_to_settlement("UP", 600_000, 70_000, USD10, won=True)
    assert won == HeldTrade("UP", 16_660_000, 9_996_000, 279_888, 16_193_520 - 9_996_000)
    lost = hold_to_settlement("UP", 600_000, 70_000, USD10, won=False)
    assert lost is not None and lost.pnl_micro == -9_996_000
    free = hold_to_settlement("UP", 600_000, 0, USD10, won=True)
    assert free is not None and free.fee_micro == 0 and free.pnl_micro == 6_664_000
    assert hold_to_settlement("UP", 600_000, 70_000, 5_000, won=True) is None  # < 1 lot


def test_favourite_and_fair_value_sides() -> None:
    a, b, d, c = entry_points(DECISIONS, RULES)
    assert [favourite_side(x) for x in (a, b, d, c)] == ["UP", "DOWN", None, "UP"]
    # A: 0.70 × (1 − 0.07 × 0.40) − 0.60 = 0.0804 ≥ 0.03.
    assert fair_value_side(a, RULES) == "UP"
    # B: Up at 0.32 is the cheaper side: 0.62 × (1 − 0.07 × 0.68) − 0.32 = 0.2705 ≥ 0.06.
    assert fair_value_side(b, RULES) == "UP"
    # C: fair 0.62 is above the 0.60 ask, but 0.62 × 0.972 − 0.60 = 0.0026 < 0.03.
    assert fair_value_side(c, RULES) is None
    assert fair_value_side(c, replace(RULES, min_edge=0.002)) == "UP"
    assert fair_value_side(d, RULES) is None
    assert fair_value_side(replace(a, fair_value=None), RULES) is None


def test_baselines_on_constructed_windows_worked_by_hand() -> None:
    results = {g.key: g for g in baselines(entry_points(DECISIONS, RULES), RULES, USD10)}
    assert list(results) == ["favourite", "fair_value", "random"]

    # Favourite: A Up at 0.60 won (+6.19752), B Down at 1 − 0.30 = 0.70 won: 14.28
    # shares for 9.996, fee 14.28 × 0.07 × 0.30 = 0.29988 shares → +3.98412; C Up at
    # 0.60 lost (−9.996); D has no favourite.
    fav = results["favourite"]
    assert (fav.positions, fav.wins) == (3, 2)
    assert fav.cost_micro == 3 * 9_996_000
    assert fav.pnl_micro == 6_197_520 + 3_984_120 - 9_996_000  # +0.18564
    assert fav.fees_micro == 279_888 + 209_916 + 279_888
    assert fav.roi == pytest.approx(185_640 / 29_988_000)

    # Fair value: A won as above; B bought Up at 0.32 (31.25 shares for exactly $10,
    # fee 1.4875 shares worth 0.476) and lost.
    fair = results["fair_value"]
    assert (fair.positions, fair.wins) == (2, 1)
    assert fair.pnl_micro == 6_197_520 - 10_000_000
    assert fair.fees_micro == 279_888 + 476_000
    assert fair.win_rate == 0.5

    # Random: a side in every window, the same for the same seed.
    rand = results["random"]
    assert rand.positions == 4
    again = baselines(entry_points(DECISIONS, RULES), RULES, USD10)[2]
    assert again == rand
    by_seed = {
        baselines(entry_points(DECISIONS, RULES), replace(RULES, seed=s), USD10)[2]
        for s in range(12)
    }
    assert len(by_seed) > 1  # the seed matters


def test_the_stake_is_the_median_entry_cost_or_ten_dollars() -> None:
    trades = [trade("BTC", c, 0, 1) for c in (10 * M, 30 * M, 20 * M, 40 * M)]
    assert baseline_stake(trades) == 20 * M  # the lower middle of an even count
    assert baseline_stake([]) == DEFAULT_BASELINE_STAKE_MICRO == USD10


# --- Equity, drawdown, groups ------------------------------------------------------------


def trade(
    symbol: str,
    cost: int,
    pnl: int,
    closed_ms: int | None,
    reason: str = "settlement",
) -> TradeRow:
    return TradeRow(
        symbol=symbol,
        window_start=0,
        side="UP",
        entry_price_micro=500_000,
        size_micro=2 * cost,
        cost_micro=cost,
        fees_micro=cost // 100,
        exit_reason=reason,
        pnl_micro=pnl,
        closed_ms=closed_ms,
        confidence_additive=None,
        confidence_bayesian=None,
        fair_value=None,
    )


TRADES = [
    trade("BTC", 10 * M, -8 * M, 2000, "stop_loss"),
    trade("BTC", 10 * M, 5 * M, 1000),
    trade("ETH", 20 * M, -4 * M, 4000, "stop_loss"),
    trade("ETH", 20 * M, 2 * M, 3000, "exit_plan"),
    trade("SOL", 10 * M, 50 * M, None, "open"),  # not realised: not on the curve
]


def test_equity_and_drawdown_on_a_constructed_trade_list() -> None:
    start = 100 * M
    curve = equity_curve(TRADES, start)
    # By close time: +5 → 105, −8 → 97, +2 → 99, −4 → 95.
    assert curve == [(1000, 105 * M), (2000, 97 * M), (3000, 99 * M), (4000, 95 * M)]
    assert drawdown_curve(curve, start) == [
        (1000, 0),
        (2000, 8 * M),
        (3000, 6 * M),
        (4000, 10 * M),
    ]
    assert max_drawdown(curve, start) == 10 * M
    # A new high resets the fall; a first loss counts from the starting balance.
    assert drawdown_curve([*curve, (5000, 115 * M)], start)[-1] == (5000, 0)
    assert max_drawdown([(1, 97 * M)], start) == 3 * M
    assert max_drawdown([], start) == 0


def test_per_symbol_and_exit_reason_tables() -> None:
    closed = [t for t in TRADES if t.closed_ms is not None]
    by_symbol = {g.key: g for g in group_by(closed, lambda t: t.symbol)}
    assert list(by_symbol) == ["BTC", "ETH"]
    btc = by_symbol["BTC"]
    assert (btc.positions, btc.wins, btc.pnl_micro, btc.cost_micro) == (
        2,
        1,
        -3 * M,
        20 * M,
    )
    assert btc.fees_micro == 2 * 100_000 and btc.roi == pytest.approx(-0.15)
    reasons = {g.key: g for g in group_by(closed, lambda t: t.exit_reason)}
    assert {k: (g.positions, g.wins, g.pnl_micro) for k, g in reasons.items()} == {
        "exit_plan": (1, 1, 2 * M),
        "settlement": (1, 1, 5 * M),
        "stop_loss": (2, 0, -12 * M),
    }


# --- Reading decisions, drawing ----------------------------------------------------------


def test_a_ledger_row_becomes_a_decision_row() -> None:
    inputs = json.dumps(["UP", 0.66, "DOWN", 0.44, 60.0, "0.640000", "0.650000", "0.07"])
    row = ("XRP", 1_000, "PASS", "edge_too_small", 0.66, 0.56, 0.6641, 640_000, 0, 0.01)
    parsed = decision_row((*row, "UP", 900_000, inputs))
    assert (parsed.direction("additive"), parsed.p_up("additive")) == ("UP", 0.66)
    assert (parsed.direction("bayesian"), parsed.confidence("bayesian")) == ("DOWN", 0.56)
    assert (parsed.up_bid_micro, parsed.up_ask_micro, parsed.fee_rate_micro) == (
        640_000,
        650_000,
        70_000,
    )
    assert (parsed.window_start, parsed.elapsed_s, parsed.outcome) == (900, 60.0, "UP")
    # No snapshot (or a broken one) and no outcome yet: nothing invented.
    for broken in (None, "not json", "[1, 2]"):
        empty = decision_row((*row, None, None, broken))
        assert empty.outcome is None and empty.window_start is None
        assert empty.direction("additive") is None and empty.up_ask_micro is None


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_the_figure_draws_with_data_and_without(tmp_path: Path) -> None:
    start = 100 * M
    curve = equity_curve(TRADES, start)
    closed = [t for t in TRADES if t.closed_ms is not None]
    buckets = calibration([decision(0.6, "UP", 0.7, "UP")], "additive")
    full = write_backtest_png(
        tmp_path / "a" / "report.png",
        start,
        curve,
        drawdown_curve(curve, start),
        buckets,
        group_by(closed, lambda t: t.exit_reason),
        "title",
    )
    assert png_size(full) == (1300, 1200)
    empty = write_backtest_png(tmp_path / "b.png", start, [], [], (), (), "nothing")
    assert png_size(empty) == (1300, 1200)
