"""The analysis's per-tick shortcuts give exactly what the general path gives.

Each decision of a backtest (and of the live bot) analyses the same coin a few seconds
after the last time: the mid history grew by one point, the indicators and the parameters
did not change. :func:`~src.trading.strategy.analyze` therefore bisects a history it knows
is clean and ordered, remembers the signals read from the indicators, and applies the
safety rules to both confidences at once. Each shortcut is checked here against the plain
computation, on generated and hostile input.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from src.data.market_data.indicators import is_valid_kline
from src.data.market_data.price_validation import (
    _FLAG_ORDER,
    PriceFlag,
    _reason,
)
from src.sim.feeds.base import Kline
from src.trading import strategy
from src.trading.signals import directional
from src.trading.signals.confidence import (
    additive_confidence,
    apply_safety,
    bayesian_confidence,
    safe_confidences,
)
from src.trading.signals.mathx import regularized_beta
from src.trading.strategy import (
    CleanHistories,
    IdentityMemo,
    PricePoint,
    analyze,
    mid_momentum,
)
from tests.unit.strategy.test_fast_paths import outcome, reference_is_valid_kline
from tests.unit.strategy.test_properties import DEFAULT, any_snapshot, params_st

FAST = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
NOW = 1_767_225_900.0

# --- the mid history ---------------------------------------------------------------------


def reference_is_clean(history: object) -> bool:
    """What CleanHistories.is_clean promises, checked the slow way."""
    if type(history) is not tuple or not history:
        return False
    for p in history:
        if type(p) is not PricePoint or type(p.t) is not float or not math.isfinite(p.t):
            return False
        price = p.price
        if not (type(price) is Decimal and price.is_finite() and 0 < price < 1):
            return False
    return all(a.t <= b.t for a, b in itertools.pairwise(history))


def scanned(mid: Decimal, history: object, now: float, params) -> object:
    """The general path: every PricePoint of the history, scanned."""
    pairs = [(p.t, p.price) for p in history if isinstance(p, PricePoint)]  # type: ignore[attr-defined]
    return directional.polymarket_momentum(mid, pairs, now, params)


class Odd(PricePoint):
    """A PricePoint subclass: the scan takes it, the shortcut must not assume it."""


point_times = st.one_of(
    st.floats(-30, 30).map(lambda d: NOW - 600 + d),  # around the look-back
    st.floats(0, 900).map(lambda d: NOW - d),
    st.sampled_from([NOW - 600, NOW - 5.0, math.nan, math.inf, -math.inf]),
    st.sampled_from([1_767_225_300, True, None, "1.0", Decimal("1767225300")]),
)
point_prices = st.one_of(
    st.integers(1, 999).map(lambda n: Decimal(n) / 1000),
    st.sampled_from([Decimal(0), Decimal(1), Decimal("NaN"), Decimal("-0.5"), 0.5]),
)
clean_points = st.builds(
    PricePoint,
    st.floats(0, 900).map(lambda d: NOW - d),
    st.integers(1, 999).map(lambda n: Decimal(n) / 1000),
)
odd_points = st.one_of(
    st.builds(PricePoint, point_times, point_prices),
    st.builds(Odd, point_times, point_prices),
    st.sampled_from([None, (NOW - 600, Decimal("0.5"))]),
)
# What a poll does to a coin's history: add a point (clean as a rule), start a new window.
polls = st.lists(
    st.one_of(
        clean_points.map(lambda p: ("add", p)),
        clean_points.map(lambda p: ("add", p)),
        odd_points.map(lambda p: ("add", p)),
        st.just(("clear", None)),
        st.just(("again", None)),  # the same history, decided twice
    ),
    max_size=40,
)


@FAST
@given(
    polls=polls,
    kept=st.integers(1, 8),
    now=st.one_of(st.just(NOW), st.sampled_from([math.nan, math.inf, NOW - 400])),
    mid=st.integers(1, 999).map(lambda n: Decimal(n) / 1000),
    lookback=st.sampled_from([(600.0, 60.0), (120.0, 120.0), (30.0, 0.5)]),
)
def test_a_growing_history_gives_the_scanned_momentum(
    polls, kept, now, mid, lookback
) -> None:
    """Histories as the board hands them out — a new tuple of the same points each poll,
    the oldest dropped once full — in time order or not, with hostile points."""
    params = replace(DEFAULT, pm_lookback_s=lookback[0], pm_min_span_s=lookback[1])
    odds = directional.mid_log_odds(mid, params)
    mids: deque[object] = deque(maxlen=kept)
    memo = CleanHistories(size=3)  # small: it also starts over
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(strategy, "_CLEAN_MIDS", memo)
        for action, point in polls:
            if action == "add":
                mids.append(point)
            elif action == "clear":
                mids.clear()
            history = tuple(mids)
            clean = reference_is_clean(history)
            assert repr(outcome(mid_momentum, odds, history, now, params)) == repr(
                outcome(scanned, mid, history, now, params)
            )
            assert memo.is_clean(history) == clean


@FAST
@given(pool=st.lists(clean_points, min_size=1, max_size=12), data=st.data())
def test_any_mix_of_known_points_is_checked_for_order(pool, data) -> None:
    """Tuples of points already seen, in any order: only ordered ones are clean."""
    memo = CleanHistories(size=4)
    known = tuple(sorted(pool, key=lambda p: p.t))
    assert memo.is_clean(known)
    for _ in range(6):
        picks = data.draw(st.lists(st.sampled_from(pool), max_size=12))
        if data.draw(st.booleans()):
            picks = sorted(picks, key=lambda p: p.t)
        history = tuple(picks)
        assert memo.is_clean(history) == reference_is_clean(history)


def test_a_known_history_is_checked_from_its_new_points_only() -> None:
    points = [PricePoint(NOW - 100 + i, Decimal("0.5")) for i in range(5)]
    memo = CleanHistories()
    assert memo.is_clean(tuple(points[:3]))
    assert memo._known_prefix(tuple(points[:4])) == (3, id(points[2]))
    assert memo._known_prefix(tuple(points[1:4])) == (2, id(points[2]))  # the oldest gone
    assert memo._known_prefix(tuple(points[:2])) == (0, None)  # ends before: unknown
    bad = (*points[:3], PricePoint(math.nan, Decimal("0.5")))
    assert not memo.is_clean(bad)
    assert memo.is_clean(tuple(points)) and len(memo._known) == 1  # replaced, not added
    assert not memo.is_clean(list(points)) and not memo.is_clean(())


def test_the_leftmost_of_equal_times_is_the_reference() -> None:
    """The scan keeps the first point of the latest old-enough time; so does bisection."""
    t = NOW - 700
    history = (
        PricePoint(t - 10, Decimal("0.30")),
        PricePoint(t, Decimal("0.40")),
        PricePoint(t, Decimal("0.45")),
        PricePoint(NOW - 10, Decimal("0.60")),
    )
    found = directional.ordered_momentum_reference(history, NOW, DEFAULT)
    assert found == Decimal("0.40")
    assert found == directional.momentum_reference(
        [(p.t, p.price) for p in history], NOW, DEFAULT
    )


# --- what is remembered per indicator snapshot and per parameter set ----------------------


def test_an_identity_memo_answers_only_for_the_same_object() -> None:
    memo: IdentityMemo[tuple[int, ...], str] = IdentityMemo(size=2)
    key = (1, 2)
    memo.put(key, "a")
    assert memo.get(key) == "a"
    assert memo.get(tuple([1, 2])) is None  # equal, but another object
    memo.put((3,), "b")
    memo.put((4,), "c")  # full: it starts over
    assert memo.get(key) is None


def analysed(snapshot, params):
    """The analysis, or None: an input problem — or the ValueError a sum of squared
    returns rounded below zero raises in the indicators (a known issue of its own)."""
    try:
        a = analyze(snapshot, params)
    except ValueError:
        return None
    return a if hasattr(a, "signals") else None


@FAST
@given(snapshot=any_snapshot, params=params_st)
def test_remembered_indicator_signals_are_the_signals(snapshot, params) -> None:
    for p in (params, DEFAULT, params):  # the same indicators under other parameters
        a = analysed(snapshot, p)
        if a is None:
            return
        sigma = a.fair.sigma_1m
        ind = a.indicators
        assert a.signals[0] == directional.price_momentum(ind, sigma, p)
        assert a.signals[2] == directional.order_flow(ind, p)
        assert a.signals[4] == directional.volume_momentum(ind, sigma, p)
        assert strategy._derived(p) == (p.weights, p.validation_config())


@FAST
@given(snapshot=any_snapshot, params=params_st)
def test_both_safe_confidences_are_apply_safety_of_each(snapshot, params) -> None:
    a = analysed(snapshot, params)
    if a is None:
        return
    mid = snapshot.book.mid
    args = (a.signals, params.weights, float(mid), float(1 - mid), params)
    expected = (
        apply_safety(additive_confidence(*args), a.signals, a.validation, params),
        apply_safety(bayesian_confidence(*args), a.signals, a.validation, params),
    )
    assert safe_confidences(*args, a.validation) == expected
    assert (a.additive, a.bayesian) == expected


# --- kline checks and validation reasons --------------------------------------------------

edges = st.sampled_from([0.0, -0.0, 1e-12, -1e-9, math.inf, -math.inf, math.nan])


@FAST
@given(
    low=st.one_of(st.floats(0.5, 2.0), edges),
    rises=st.lists(st.one_of(st.floats(0, 0.1), edges), min_size=3, max_size=3),
    volume=st.one_of(st.floats(0, 10), edges),
    buy_share=st.one_of(st.floats(0, 1.0 + 2e-9), edges),
)
def test_plain_float_klines_are_checked_like_any_kline(
    low, rises, volume, buy_share
) -> None:
    """Prices built to be ordered (as real candles are), then pushed over every edge."""
    o, c, h = (low + r for r in rises)
    h = max(h, o, c) if math.isfinite(h) and not math.isnan(o + c) else h
    buy = volume * buy_share if math.isfinite(volume * buy_share) else buy_share
    k = Kline(1_767_225_600_000, o, h, low, c, volume, 0, 0.0, 0, buy, 0.0)
    assert outcome(is_valid_kline, k) == outcome(reference_is_valid_kline, k)


def test_every_set_of_flags_has_its_reason() -> None:
    for n in range(len(_FLAG_ORDER) + 1):
        for flags in itertools.combinations(_FLAG_ORDER, n):
            combined = PriceFlag.NONE
            for f in flags:
                combined |= f
            names = [f.name.lower().replace("_", " ") for f in flags if f.name]
            assert _reason(combined) == (", ".join(names) or "clean")


# --- the incomplete beta ------------------------------------------------------------------


def reference_regularized_beta(a: float, b: float, x: float, xc: float) -> float:
    """``regularized_beta`` as it was before its parts were shared and cached."""

    def fraction(a: float, b: float, x: float) -> float:
        qab, qap, qam = a + b, a + 1.0, a - 1.0
        c, d = 1.0, 1.0 - qab * x / qap
        d = 1.0 / (d if abs(d) > 1e-300 else 1e-300)
        h = d
        for m in range(1, 501):
            m2 = 2 * m
            aa = m * (b - m) * x / ((qam + m2) * (a + m2))
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > 1e-300 else 1e-300)
            c = 1.0 + aa / c
            c = c if abs(c) > 1e-300 else 1e-300
            h *= d * c
            aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > 1e-300 else 1e-300)
            c = 1.0 + aa / c
            c = c if abs(c) > 1e-300 else 1e-300
            step = d * c
            h *= step
            if abs(step - 1.0) < 1e-15:
                break
        return h

    if x <= 0.0:
        return 0.0
    if xc <= 0.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x)
    ) + b * math.log(xc)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * fraction(b, a, xc) / b


@FAST
@given(
    a=st.one_of(st.floats(0.01, 60), st.sampled_from([0.5, 1.0, 2.0, 2.75, 50.0])),
    b=st.one_of(st.floats(0.01, 60), st.just(0.5)),
    x=st.floats(0.0, 1.0),
)
def test_the_incomplete_beta_is_the_reference(a: float, b: float, x: float) -> None:
    expected = reference_regularized_beta(a, b, x, 1.0 - x)
    assert repr(regularized_beta(a, b, x)) == repr(expected)
    assert repr(regularized_beta(a, b, x)) == repr(expected)  # the front, remembered
