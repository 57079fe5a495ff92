"""Pure pricing rules: ticks, quotes on the grid, the requote tolerance, taker edges."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from src.sim.market_model import MarketModelParams, MarketModelParamsError
from src.sim.market_model.pricing import (
    COARSE_TICK,
    FINE_TICK,
    MICRO,
    NO_ASK,
    NO_BID,
    ceil_to_tick,
    floor_to_tick,
    keeps_quote,
    ladder_price,
    max_taker_price,
    quote_top,
    taker_cost,
    tick_for,
)


def _top(p: float, half: float, grid: int) -> tuple[int, int]:
    bid, ask = quote_top(np.array([p]), np.array([half]), np.array([grid]))
    return int(bid[0]), int(ask[0])


def test_tick_switches_beyond_096_and_004() -> None:
    prices = np.array([0.03999, 0.04, 0.5, 0.96, 0.96001, 0.999])
    assert tick_for(prices).tolist() == [
        FINE_TICK,
        COARSE_TICK,
        COARSE_TICK,
        COARSE_TICK,
        FINE_TICK,
        FINE_TICK,
    ]


def test_small_half_spread_gives_the_one_tick_quote_around_p() -> None:
    assert _top(0.503, 0.003, COARSE_TICK) == (500_000, 510_000)
    assert _top(0.509, 0.003, COARSE_TICK) == (500_000, 510_000)
    assert _top(0.5, 0.003, COARSE_TICK) == (500_000, 510_000)
    # A wider half-spread widens the quote symmetrically around p.
    assert _top(0.505, 0.0151, COARSE_TICK) == (490_000, 520_000)


def test_sides_beyond_zero_or_one_are_not_quoted() -> None:
    assert _top(0.997, 0.003, COARSE_TICK) == (990_000, NO_ASK)
    assert _top(0.002, 0.003, COARSE_TICK) == (NO_BID, 10_000)
    # On the fine grid the same probability keeps both sides.
    assert _top(0.9965, 0.0015, FINE_TICK) == (995_000, 998_000)


@given(
    p=st.floats(0.0005, 0.9995),
    half=st.floats(0.0, 0.1),
    grid=st.sampled_from([COARSE_TICK, FINE_TICK]),
)
def test_quotes_are_on_the_grid_inside_zero_one_and_contain_p(
    p: float, half: float, grid: int
) -> None:
    bid, ask = _top(p, half, grid)
    if bid != NO_BID:
        assert 0 < bid < MICRO and bid % grid == 0
        assert bid <= p * MICRO + 1e-6
    if ask != NO_ASK:
        assert 0 < ask < MICRO and ask % grid == 0
        assert ask >= p * MICRO - 1e-6
    if bid != NO_BID and ask != NO_ASK:
        assert ask - bid >= grid


def test_keeps_quote_within_the_margin_only() -> None:
    grid = COARSE_TICK
    # Held 0.50/0.51; the makers now want 0.51/0.52 because p crept to 0.512.
    assert keeps_quote(500_000, 510_000, 510_000, 520_000, 0.512, grid, 0.25)
    assert not keeps_quote(500_000, 510_000, 510_000, 520_000, 0.513, grid, 0.25)
    # A different spread, or a side appearing, always moves the quote.
    assert not keeps_quote(500_000, 510_000, 500_000, 520_000, 0.505, grid, 0.25)
    assert not keeps_quote(980_000, 990_000, 990_000, NO_ASK, 0.99, grid, 0.25)


def test_ladder_prices_step_away_and_stop_at_the_edges() -> None:
    assert ladder_price(500_000, 2, 10_000, COARSE_TICK, True) == 480_000
    assert ladder_price(500_000, 2, 10_000, COARSE_TICK, False) == 520_000
    assert ladder_price(10_000, 1, 10_000, COARSE_TICK, True) is None
    assert ladder_price(990_000, 1, 10_000, COARSE_TICK, False) is None


@given(value=st.floats(0.0, 1.0), rate=st.floats(0.0, 0.25), edge=st.floats(0.0, 0.1))
def test_max_taker_price_leaves_exactly_the_required_edge(
    value: float, rate: float, edge: float
) -> None:
    price = max_taker_price(value, rate, edge)
    assert 0.0 <= price <= 1.0
    if 0.0 < price < 1.0:
        assert value - taker_cost(price, rate) == pytest.approx(edge, abs=1e-9)


def test_taker_cost_is_price_plus_fee() -> None:
    assert taker_cost(0.5, 0.07) == pytest.approx(0.5175)
    assert taker_cost(0.36, 0.07) == pytest.approx(0.36 + 0.07 * 0.36 * 0.64)


def test_rounding_to_ticks() -> None:
    assert floor_to_tick(0.52 - 1e-13, COARSE_TICK) == 520_000  # float dust, not a price
    assert floor_to_tick(0.5251, COARSE_TICK) == 520_000
    assert ceil_to_tick(0.5201, COARSE_TICK) == 530_000
    assert ceil_to_tick(0.973, FINE_TICK) == 973_000


def test_params_are_checked() -> None:
    params = MarketModelParams()
    assert params.noise_persistence == pytest.approx(0.5 ** (1 / 20))
    assert params.noise_innovation_sd < 0.025  # the recordings' bound
    with pytest.raises(MarketModelParamsError, match="levels"):
        MarketModelParams(levels=0)
    with pytest.raises(MarketModelParamsError, match="min_levels"):
        MarketModelParams(levels=2, min_levels=3)
    with pytest.raises(MarketModelParamsError, match="quote_grid"):
        MarketModelParams(quote_grid=0.005)
    with pytest.raises(MarketModelParamsError, match="informed_share"):
        MarketModelParams(informed_share=1.5)
