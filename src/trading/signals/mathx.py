"""Small exact numerical helpers for the strategy (no scipy): CDFs, log-odds, strengths.

The Student-t CDF goes through the regularised incomplete beta function, evaluated with the
modified Lentz continued fraction (Numerical Recipes §6.4); the tests check it against the
closed forms for 1–4 degrees of freedom and against the normal limit.
"""

from __future__ import annotations

import functools
import math

_SQRT2 = math.sqrt(2.0)
_BETA_EPS = 1e-15
_BETA_TINY = 1e-300
_BETA_MAX_ITER = 500


def norm_cdf(x: float) -> float:
    """Standard normal CDF Φ(x), accurate in both tails (via erfc)."""
    return 0.5 * math.erfc(-x / _SQRT2)


def student_t_cdf(t: float, dof: float) -> float:
    """CDF of Student's t with ``dof`` > 0 degrees of freedom (standard, not rescaled)."""
    if math.isnan(t) or not dof > 0:
        return math.nan
    if math.isinf(t):
        return 1.0 if t > 0 else 0.0
    t2 = t * t
    # P(T > |t|) = ½ · I_x(ν/2, ½) with x = ν/(ν + t²); 1 − x is passed exactly.
    tail = 0.5 * regularized_beta(dof / 2.0, 0.5, dof / (dof + t2), t2 / (dof + t2))
    return 1.0 - tail if t > 0 else tail


def student_t_cdf_pair(t: float, dof: float) -> tuple[float, float]:
    """``(student_t_cdf(t, dof), student_t_cdf(-t, dof))`` with the tail computed once:
    ``(−t)² = t²`` bit for bit, so both sides share it (the fair value needs both)."""
    if math.isnan(t) or not dof > 0:
        return math.nan, math.nan
    if math.isinf(t):
        return (1.0, 0.0) if t > 0 else (0.0, 1.0)
    t2 = t * t
    tail = 0.5 * regularized_beta(dof / 2.0, 0.5, dof / (dof + t2), t2 / (dof + t2))
    if t > 0:
        return 1.0 - tail, tail
    if t < 0:
        return tail, 1.0 - tail
    return tail, tail  # ±0: neither side is positive


def regularized_beta(
    a: float, b: float, x: float, one_minus_x: float | None = None
) -> float:
    """Regularised incomplete beta I_x(a, b) for a, b > 0 and 0 ≤ x ≤ 1.

    ``one_minus_x`` may be given exactly when the caller knows it better than ``1 − x``.
    """
    xc = 1.0 - x if one_minus_x is None else one_minus_x
    if x <= 0.0:
        return 0.0
    if xc <= 0.0:
        return 1.0
    log_front = _log_beta_front(a, b) + a * math.log(x) + b * math.log(xc)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_fraction(b, a, xc) / b


@functools.lru_cache(maxsize=64)  # a few (a, b) pairs: the degrees of freedom in use
def _log_beta_front(a: float, b: float) -> float:
    """``ln Γ(a+b) − ln Γ(a) − ln Γ(b)``, the part of the front factor that depends on
    the parameters alone (evaluated left to right, as the whole sum is)."""
    return math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)


def _beta_fraction(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta (modified Lentz).

    Each step's sums are computed once and reused (the same floats as writing them out
    twice); the constants are locals: this loop runs for every fair value.
    """
    tiny, eps = _BETA_TINY, _BETA_EPS
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, _BETA_MAX_ITER + 1):
        m2 = 2 * m
        a_m2 = a + m2
        aa = m * (b - m) * x / ((qam + m2) * a_m2)
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / (a_m2 * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        step = d * c
        h *= step
        if abs(step - 1.0) < eps:
            break
    return h


def sigmoid(x: float) -> float:
    """Logistic function, overflow-free."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def log_odds(p: float, q: float, clip: float) -> float:
    """ln(p / q) for complementary probabilities ``p`` and ``q = 1 − p``, each clipped.

    Passing both (rather than computing ``1 − p``) makes ``log_odds(q, p) == −log_odds(p, q)``
    exactly, which is what makes the confidence mirror-symmetric to the last bit.
    """
    low, high = clip, 1.0 - clip
    return math.log(min(max(p, low), high)) - math.log(min(max(q, low), high))


def graded_strength(x: float, scale: float, dead_zone: float) -> float:
    """Smooth strength in [0, 1) of a standardised value: tanh(|x|/scale) with a soft dead zone.

    ``(tanh(|x|/scale) − dead_zone) / (1 − dead_zone)``, floored at 0: continuous, 0 inside the
    dead zone (NEUTRAL), close to linear for small values and only approaching 1 for moves of
    several scales — not the original bot's ``min(|x| / tiny, 1)`` coin-flip.
    """
    if not math.isfinite(x):
        return 0.0
    raw = math.tanh(abs(x) / scale)
    return max(0.0, raw - dead_zone) / (1.0 - dead_zone)
