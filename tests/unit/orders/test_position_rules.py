"""Position-manager rules: exit plan, scale-in, stop-loss, reversal (pure)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from src.config.profiles import PROFILES
from src.config.settings import load_settings
from src.trading.position_manager.rules import (
    ExitAction,
    PositionRules,
    PositionView,
    exit_plan,
    exit_price,
    reversal,
    scale_in,
    scale_in_window_s,
    stop_loss,
)

M = 1_000_000
RULES = PositionRules()


def view(**changes: object) -> PositionView:
    base = PositionView(
        outcome="UP",
        size_micro=10 * M,
        cost_micro=6 * M,
        best_bid=690_000,
        best_ask=700_000,
        tick_micro=10_000,
        time_left_s=200,
        confidence=0.70,
        fair_value=0.80,
    )
    return replace(base, **changes)


@pytest.mark.parametrize("profile", list(PROFILES))
def test_rules_from_every_profile(profile: str) -> None:
    rules = PositionRules.from_settings(
        load_settings(environ={}, env_file=None, profile=profile)
    )
    assert rules.stop_loss_price < rules.scale_in_min_price < rules.scale_in_max_price
    assert rules.exit_price_target <= rules.exit_high_confidence_price <= 999_000


def test_exit_price_uses_0999_only_when_the_tick_allows_and_confidence_is_high() -> None:
    assert exit_price(view(tick_micro=1_000, confidence=0.82), RULES) == 999_000
    assert exit_price(view(tick_micro=10_000, confidence=0.82), RULES) == 990_000
    assert exit_price(view(tick_micro=1_000, confidence=0.70), RULES) == 990_000


def test_an_exit_at_0999_stays_there_while_the_tick_allows() -> None:
    resting = view(
        tick_micro=1_000,
        confidence=0.60,  # confidence fell back below the threshold
        exit_order_size_micro=10 * M,
        exit_order_price=999_000,
    )
    assert exit_plan(resting, RULES) is None  # no back-and-forth: keeps its queue place
    coarse = replace(resting, tick_micro=10_000)
    moved = exit_plan(coarse, RULES)
    assert moved is not None and moved.price == 990_000


def test_exit_plan_follows_the_position() -> None:
    placed = exit_plan(view(size_micro=10_005_000), RULES)
    assert placed is not None and placed.action is ExitAction.PLACE
    assert (placed.price, placed.size_micro) == (990_000, 10 * M)  # whole lots only
    same = view(exit_order_size_micro=10 * M, exit_order_price=990_000)
    assert exit_plan(same, RULES) is None
    grown = exit_plan(replace(same, size_micro=15 * M), RULES)
    assert grown is not None and grown.action is ExitAction.REPLACE
    assert grown.size_micro == 15 * M
    gone = exit_plan(replace(same, size_micro=2 * M), RULES)
    assert gone is not None and gone.action is ExitAction.CANCEL
    assert exit_plan(view(), replace(RULES, enable_exit_plan=False)) is None


def test_scale_in_inside_band_late_and_with_edge() -> None:
    add = scale_in(view(), RULES)
    assert add is not None and add.price == 700_000 and add.size_micro == 5 * M
    kept = 1 - 0.07 * 0.3  # fee in shares at p = 0.70
    assert add.expected_value == pytest.approx(0.80 * kept - 0.70, abs=1e-5)


@pytest.mark.parametrize(
    "changes",
    [
        {"best_ask": 550_000},
        {"best_ask": 900_000},
        {"time_left_s": 500},
        {"fair_value": 0.72},
        {"best_ask": None},
        {"window_cost_micro": 98 * M},
        {"time_left_s": 0},
    ],
)
def test_scale_in_refused(changes: dict) -> None:
    assert scale_in(view(**changes), RULES) is None


def test_higher_confidence_scales_in_earlier() -> None:
    assert scale_in_window_s(0.5, RULES) == 300
    assert scale_in_window_s(0.85, RULES) == pytest.approx(600)
    assert scale_in(view(time_left_s=450, confidence=0.85), RULES) is not None
    assert scale_in(view(time_left_s=450, confidence=0.55), RULES) is None


def test_scale_in_respects_the_window_cap() -> None:
    add = scale_in(view(window_cost_micro=97 * M), RULES)
    assert add is None  # 3 dollars left buys 4 shares, under the 5-share minimum
    add = scale_in(view(window_cost_micro=95 * M), RULES)
    assert add is not None and add.size_micro == 5 * M


def test_stop_loss() -> None:
    assert stop_loss(view(), RULES) is None
    # bought at or below the trigger: selling there would not limit a loss
    assert stop_loss(view(best_bid=90_000, best_ask=110_000, cost_micro=M), RULES) is None
    hit = stop_loss(view(best_bid=280_000, best_ask=300_000), RULES)
    assert hit is not None and hit.size_micro == 10 * M and hit.floor_price == 280_000
    one_sided = stop_loss(view(best_bid=250_000, best_ask=None, time_left_s=20), RULES)
    assert one_sided is not None
    assert stop_loss(view(best_bid=None, best_ask=None), RULES) is None
    assert (
        stop_loss(
            view(best_bid=100_000, best_ask=120_000), replace(RULES, enable_stop_loss=False)
        )
        is None
    )


def test_reversal() -> None:
    on = replace(RULES, enable_reversal=True)
    assert reversal(view(), "DOWN", 0.75, on) is not None
    assert reversal(view(), "DOWN", 0.65, on) is None
    assert reversal(view(), "UP", 0.80, on) is None
    assert reversal(view(), "DOWN", 0.80, RULES) is None  # off by default


@given(
    st.integers(1, 99).map(lambda c: c * 10_000),
    st.floats(0.5, 0.99),
    st.floats(0.5, 0.85),
    st.floats(1, 900),
)
def test_a_scale_in_never_has_negative_edge(
    ask: int, fair: float, conf: float, left: float
) -> None:
    add = scale_in(
        view(
            best_ask=ask,
            best_bid=ask - 10_000,
            fair_value=fair,
            confidence=conf,
            time_left_s=left,
        ),
        RULES,
    )
    if add is not None:
        assert add.expected_value >= RULES.min_edge
        assert RULES.scale_in_min_price <= add.price <= RULES.scale_in_max_price
