"""Numerical helpers: CDFs against closed forms, log-odds, graded strengths."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from src.trading.signals.mathx import (
    graded_strength,
    log_odds,
    norm_cdf,
    regularized_beta,
    sigmoid,
    student_t_cdf,
)

T_VALUES = [-30.0, -5.0, -2.0, -1.0, -0.3, 0.0, 0.3, 1.0, 2.0, 5.0, 30.0]


def test_norm_cdf_known_values() -> None:
    assert norm_cdf(0.0) == 0.5
    assert norm_cdf(1.959963984540054) == pytest.approx(0.975, abs=1e-15)
    assert norm_cdf(-1.0) == pytest.approx(0.15865525393145707, abs=1e-15)
    # Deep tail keeps its relative precision (erfc, not 1 − erf).
    assert norm_cdf(-10.0) == pytest.approx(7.619853024160527e-24, rel=1e-12)


@pytest.mark.parametrize("t", T_VALUES)
def test_student_t_matches_closed_forms(t: float) -> None:
    # ν = 1 (Cauchy), 2, 3 and 4 have elementary CDFs.
    cauchy = 0.5 + math.atan(t) / math.pi
    two = 0.5 + t / (2 * math.sqrt(2 + t * t))
    three = (
        0.5 + (t / (math.sqrt(3) * (1 + t * t / 3)) + math.atan(t / math.sqrt(3))) / math.pi
    )
    u = t * t / 4
    four = 0.5 + 0.375 * (t / math.sqrt(1 + u)) * (1 - u / (3 * (1 + u)))
    assert student_t_cdf(t, 1.0) == pytest.approx(cauchy, abs=1e-13)
    assert student_t_cdf(t, 2.0) == pytest.approx(two, abs=1e-13)
    assert student_t_cdf(t, 3.0) == pytest.approx(three, abs=1e-13)
    assert student_t_cdf(t, 4.0) == pytest.approx(four, abs=1e-13)


@pytest.mark.parametrize("t", T_VALUES)
def test_student_t_tends_to_normal(t: float) -> None:
    assert student_t_cdf(t, 1e7) == pytest.approx(norm_cdf(t), abs=1e-7)


def test_student_t_edges() -> None:
    assert student_t_cdf(math.inf, 4) == 1.0
    assert student_t_cdf(-math.inf, 4) == 0.0
    assert math.isnan(student_t_cdf(math.nan, 4))
    assert math.isnan(student_t_cdf(1.0, 0.0))


@given(st.floats(-50, 50), st.floats(2.1, 200))
def test_student_t_symmetric_and_bounded(t: float, dof: float) -> None:
    up, down = student_t_cdf(t, dof), student_t_cdf(-t, dof)
    assert 0.0 <= up <= 1.0
    assert up + down == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("x", [0.0, 0.01, 0.3, 0.5, 0.77, 0.999, 1.0])
def test_regularized_beta_closed_forms(x: float) -> None:
    assert regularized_beta(1.0, 1.0, x) == pytest.approx(x, abs=1e-14)
    assert regularized_beta(2.5, 1.0, x) == pytest.approx(x**2.5, abs=1e-14)
    assert regularized_beta(1.0, 3.0, x) == pytest.approx(1 - (1 - x) ** 3, abs=1e-14)


def test_sigmoid_and_log_odds() -> None:
    assert sigmoid(0.0) == 0.5
    assert sigmoid(math.log(3.0)) == pytest.approx(0.75, abs=1e-15)
    assert sigmoid(-800.0) == 0.0 and sigmoid(800.0) == 1.0
    assert log_odds(0.75, 0.25, 1e-4) == pytest.approx(math.log(3.0), abs=1e-15)
    assert log_odds(1.0, 0.0, 0.01) == pytest.approx(math.log(99.0), abs=1e-12)


@given(st.floats(0, 1), st.floats(1e-6, 0.1))
def test_log_odds_antisymmetric_exactly(p: float, clip: float) -> None:
    q = 1.0 - p
    assert log_odds(q, p, clip) == -log_odds(p, q, clip)


def test_graded_strength_hand_values() -> None:
    # tanh(1) = 0.76159…; with a 0.1 dead zone: (0.76159 − 0.1) / 0.9.
    assert graded_strength(1.5, 1.5, 0.0) == pytest.approx(math.tanh(1.0))
    assert graded_strength(-1.5, 1.5, 0.1) == pytest.approx((math.tanh(1.0) - 0.1) / 0.9)
    # Inside the dead zone: tanh(0.1) = 0.0997 < 0.1 → exactly 0.
    assert graded_strength(0.15, 1.5, 0.1) == 0.0
    assert graded_strength(math.nan, 1.0, 0.1) == 0.0
    assert graded_strength(math.inf, 1.0, 0.1) == 0.0


@given(st.floats(-100, 100), st.floats(-100, 100))
def test_graded_strength_monotone_continuous(a: float, b: float) -> None:
    sa, sb = graded_strength(a, 1.0, 0.1), graded_strength(b, 1.0, 0.1)
    assert 0.0 <= sa < 1.0 + 1e-12
    if abs(a) <= abs(b):
        assert sa <= sb
    # Lipschitz: the strength never jumps (slope ≤ 1 / ((1 − dz)·scale)).
    assert abs(sa - sb) <= abs(abs(a) - abs(b)) / 0.9 + 1e-12
