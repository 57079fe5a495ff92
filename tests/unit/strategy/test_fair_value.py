"""Fair value: hand-computed probabilities, basis and TWAP terms, monotonicity."""

import math
from dataclasses import replace

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from src.trading.params import StrategyParams
from src.trading.signals.fair_value import effective_minutes, fair_value

PLAIN = StrategyParams(fair_value_model="normal", basis_bp=0.0, settlement_twap_s=0.0)


def _phi(z: float) -> float:
    return 0.5 * (1 + math.erf(z / math.sqrt(2)))


def test_lognormal_by_hand() -> None:
    # 1 % above the strike, σ = 10 bp/min, 10 minutes left: z = ln 1.01 / (0.001·√10).
    fv = fair_value(101.0, 100.0, 0.001, 600.0, PLAIN)
    z = math.log(1.01) / (0.001 * math.sqrt(10))
    assert fv.z == pytest.approx(z, rel=1e-12)
    assert fv.p_up == pytest.approx(_phi(z), abs=1e-12)
    assert fv.p_up + fv.p_down == pytest.approx(1.0, abs=1e-15)
    assert fv.tau_eff_minutes == 10.0 and fv.model == "normal"


def test_at_the_strike_it_is_a_coin_flip() -> None:
    for params in (PLAIN, StrategyParams()):
        assert fair_value(100.0, 100.0, 0.001, 300.0, params).p_up == 0.5


def test_basis_pulls_toward_half_near_the_strike_at_the_end() -> None:
    basis = replace(PLAIN, basis_bp=1.0)
    # At the close, 0.5 bp above the strike: without basis noise Up is certain; with a 1 bp
    # basis it is Φ(0.5) — Binance cannot tell the outcome that close to the strike.
    spot = 100.0 * math.exp(0.00005)
    assert fair_value(spot, 100.0, 0.0005, 0.0, PLAIN).p_up == 1.0
    at_close = fair_value(spot, 100.0, 0.0005, 0.0, basis)
    assert at_close.p_up == pytest.approx(_phi(0.5), abs=1e-12)
    # 0.1 bp above with a second left: barely better than a coin flip.
    one_second = fair_value(100.001, 100.0, 0.0005, 1.0, basis)
    sd = math.sqrt(0.0005**2 / 60 + 1e-8)
    d = math.log(100.001) - math.log(100.0)
    assert one_second.p_up == pytest.approx(_phi(d / sd), abs=1e-12)
    assert 0.5 < one_second.p_up < 0.55
    # Far from the strike the basis hardly matters.
    assert fair_value(101.0, 100.0, 0.0005, 1.0, basis).p_up > 0.999999


def test_zero_variance_is_a_known_outcome_and_ties_go_up() -> None:
    assert fair_value(100.0, 100.0, 0.001, 0.0, PLAIN).p_up == 1.0
    assert fair_value(99.99, 100.0, 0.001, 0.0, PLAIN).p_up == 0.0
    assert fair_value(100.01, 100.0, 0.001, -5.0, PLAIN).p_up == 1.0


def test_twap_effective_minutes() -> None:
    assert effective_minutes(600, 0) == 10.0
    assert effective_minutes(600, 60) == pytest.approx((600 - 40) / 60)
    assert effective_minutes(30, 60) == pytest.approx(30**3 / (3 * 60**2) / 60)
    assert effective_minutes(60, 60) == pytest.approx(effective_minutes(60 - 1e-9, 60))
    assert effective_minutes(-3, 60) == 0.0


def test_student_t_by_hand() -> None:
    params = replace(PLAIN, fair_value_model="student_t", student_t_dof=4.0)
    fv = fair_value(100.3, 100.0, 0.001, 300.0, params)
    z = math.log(1.003) / (0.001 * math.sqrt(5))
    t = z * math.sqrt(2.0)  # unit variance: scale by √(ν / (ν − 2))
    u = t * t / 4
    expected = 0.5 + 0.375 * (t / math.sqrt(1 + u)) * (1 - u / (3 * (1 + u)))
    assert fv.p_up == pytest.approx(expected, abs=1e-13)


def test_fat_tails_keep_far_moves_uncertain() -> None:
    t_params = replace(PLAIN, fair_value_model="student_t")
    # 4 σ away: the normal is near-certain, the t leaves real doubt.
    normal = fair_value(100.0 * math.exp(0.004), 100.0, 0.001, 60.0, PLAIN).p_up
    fat = fair_value(100.0 * math.exp(0.004), 100.0, 0.001, 60.0, t_params).p_up
    assert normal > 0.9999 and fat < 0.999


def test_sigma_floor_and_nan_sigma() -> None:
    floor = StrategyParams().min_sigma_bp * 1e-4
    a = fair_value(100.01, 100.0, 0.0, 300.0, PLAIN)
    b = fair_value(100.01, 100.0, math.nan, 300.0, PLAIN)
    assert a.sigma_1m == floor and b.p_up == a.p_up


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf])
def test_invalid_prices_raise_value_error(bad: float) -> None:
    with pytest.raises(ValueError):
        fair_value(bad, 100.0, 0.001, 60.0, PLAIN)
    with pytest.raises(ValueError):
        fair_value(100.0, bad, 0.001, 60.0, PLAIN)


MODELS = st.sampled_from([PLAIN, StrategyParams(), replace(PLAIN, settlement_twap_s=60.0)])
MOVE = st.floats(-0.05, 0.05)


@given(MODELS, MOVE, MOVE, st.floats(1e-5, 0.01), st.floats(0, 900))
def test_monotone_in_price(params, a, b, sigma, left) -> None:
    lo, hi = sorted((a, b))
    p_lo = fair_value(100.0 * math.exp(lo), 100.0, sigma, left, params).p_up
    p_hi = fair_value(100.0 * math.exp(hi), 100.0, sigma, left, params).p_up
    assert 0.0 <= p_lo <= p_hi <= 1.0


@given(MODELS, MOVE, st.floats(1e-5, 0.01), st.floats(0, 900), st.floats(0, 900))
def test_more_time_means_less_certainty(params, move, sigma, t1, t2) -> None:
    short, long = sorted((t1, t2))
    spot = 100.0 * math.exp(move)
    p_short = fair_value(spot, 100.0, sigma, short, params).p_up
    p_long = fair_value(spot, 100.0, sigma, long, params).p_up
    # At or above the strike time can only hurt Up (ties go Up); below it, only help.
    if spot >= 100.0:
        assert p_long <= p_short + 1e-15
    else:
        assert p_long >= p_short - 1e-15
    assert abs(p_long - 0.5) <= abs(p_short - 0.5) + 1e-15


@given(MODELS, MOVE, st.floats(1e-5, 0.01), st.floats(0, 900))
def test_mirrored_price_mirrors_probability(params, move, sigma, left) -> None:
    # Exactly at the strike with no variance left the tie rule (Up) is the one asymmetry.
    # Far enough from the strike that exp(±move) rounding (1e-16 relative) is negligible.
    assume(abs(move) > 1e-9)
    up = fair_value(100.0 * math.exp(move), 100.0, sigma, left, params)
    down = fair_value(100.0 * math.exp(-move), 100.0, sigma, left, params)
    # exp(±move) round separately: agreement to float noise, not bit for bit. Near the
    # strike the CDF is steep (slope ~1/basis), so that noise shows at ~1e-9 in p.
    assert up.p_up == pytest.approx(down.p_down, abs=1e-8)
