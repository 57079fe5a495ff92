"""Both confidence methods by hand, NEUTRAL invariance, symmetry, and the safety rules."""

import math
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from src.data.market_data.price_validation import PriceFlag, ValidationResult
from src.trading.params import StrategyParams
from src.trading.signals.confidence import (
    ConfidenceResult,
    ValidationAction,
    additive_confidence,
    apply_safety,
    bayesian_confidence,
    count_confirmations,
)
from src.trading.signals.types import SIGNAL_ORDER, Direction, SignalName, SignalResult

# The hand computations use round scales; the calibrated defaults are tested elsewhere.
P = StrategyParams(bayes_llr_scale=1.6, additive_max_shift=0.7)
W = P.weights
UP, DOWN, NEUTRAL = Direction.UP, Direction.DOWN, Direction.NEUTRAL
CLEAN = ValidationResult(PriceFlag.NONE, "clean", 0.001, 0, 1, 0, 0, 0)
ONE_FLAG = replace(CLEAN, flags=PriceFlag.WICK, reason="wick")
TWO_FLAGS = replace(CLEAN, flags=PriceFlag.WICK | PriceFlag.GAP, reason="wick, gap")


def _signals(*spec: tuple[Direction, float]) -> tuple[SignalResult, ...]:
    return tuple(
        SignalResult(name, d, s, float(d.sign) * s)
        for name, (d, s) in zip(SIGNAL_ORDER, spec, strict=True)
    )


EXAMPLE = _signals((NEUTRAL, 0.0), (UP, 0.5), (DOWN, 0.25), (UP, 1.0), (NEUTRAL, 0.0))


def test_bayesian_by_hand() -> None:
    # up = 0.2·0.5 + 0.2·1.0 = 0.3, down = 0.2·0.25 = 0.05; prior 0.40.
    r = bayesian_confidence(EXAMPLE, W, 0.4, 0.6, P)
    score = math.log(0.4 / 0.6) + 1.6 * (0.3 - 0.05)
    assert r.score == pytest.approx(score)
    assert r.p_up == pytest.approx(1 / (1 + math.exp(-score)))
    assert r.direction is DOWN  # the evidence (+0.4) does not overturn the prior (−0.405)
    assert r.raw_confidence == pytest.approx(1 - r.p_up)


def test_additive_by_hand() -> None:
    r = additive_confidence(EXAMPLE, W, 0.4, 0.6, P)
    # vote = 0.3 − 1.0·0.05 = 0.25; P↑ = 0.4 + 0.25·0.7·(1 − 0.4) = 0.505.
    assert r.score == pytest.approx(0.25)
    assert r.p_up == pytest.approx(0.505)
    assert r.direction is UP and r.raw_confidence == pytest.approx(0.505)
    against = additive_confidence(
        _signals((DOWN, 1.0), (NEUTRAL, 0), (NEUTRAL, 0), (NEUTRAL, 0), (NEUTRAL, 0)),
        W,
        0.4,
        0.6,
        P,
    )
    # vote = −0.3: P↑ = 0.4·(1 − 0.3·0.7) = 0.316.
    assert against.p_up == pytest.approx(0.316) and against.direction is DOWN


def test_opposition_penalty() -> None:
    p = replace(P, additive_opposition_penalty=0.5)
    r = additive_confidence(EXAMPLE, W, 0.5, 0.5, p)
    assert r.score == pytest.approx(0.3 - 0.5 * 0.05)


def test_no_evidence_returns_the_market() -> None:
    quiet = _signals(*[(NEUTRAL, 0.0)] * 5)
    for fn in (additive_confidence, bayesian_confidence):
        r = fn(quiet, W, 0.62, 0.38, P)
        assert r.p_up == pytest.approx(0.62, abs=1e-12) and r.direction is UP
        flat = fn(quiet, W, 0.5, 0.5, P)
        assert flat.direction is NEUTRAL and flat.raw_confidence == 0.5


def _result(raw: float, direction: Direction = UP) -> ConfidenceResult:
    return ConfidenceResult("bayesian", 0.0, raw, 1 - raw, direction, raw, raw)


STRONG_ALL = _signals((UP, 0.9), (UP, 0.9), (UP, 0.9), (UP, 0.9), (UP, 0.9))


def test_cap_at_85_percent() -> None:
    r = apply_safety(_result(0.97), STRONG_ALL, CLEAN, P)
    assert r.confidence == 0.85 and r.capped and not r.confirmation_limited
    assert r.validation is ValidationAction.PASSED and r.confirmations == 4


def test_multi_confirmation_for_extreme_confidence() -> None:
    # Momentum and VWAP momentum are one source: 2 independent sources < 3 required.
    two_sources = _signals((UP, 0.9), (NEUTRAL, 0), (UP, 0.6), (NEUTRAL, 0), (UP, 0.9))
    assert count_confirmations(two_sources, UP, 0.5) == 2
    r = apply_safety(_result(0.84), two_sources, CLEAN, P)
    assert r.confidence == 0.80 and r.confirmation_limited
    # A weak third source (strength < 0.5) does not count either.
    weak = replace(two_sources[3], direction=UP, strength=0.4)
    assert count_confirmations((*two_sources[:3], weak, two_sources[4]), UP, 0.5) == 2
    # Below extreme confidence nothing is required.
    assert apply_safety(_result(0.79), two_sources, CLEAN, P).confidence == 0.79


def test_price_validation_damps_or_refuses_above_75_percent() -> None:
    damped = apply_safety(_result(0.78), STRONG_ALL, ONE_FLAG, P)
    assert damped.confidence == 0.75 and damped.validation is ValidationAction.DAMPED
    refused = apply_safety(_result(0.78), STRONG_ALL, TWO_FLAGS, P)
    assert refused.refused and refused.confidence == 0.75
    below = apply_safety(_result(0.74), STRONG_ALL, TWO_FLAGS, P)
    assert below.confidence == 0.74 and below.validation is ValidationAction.NOT_NEEDED


def test_down_side_rules_are_the_same() -> None:
    mirrored = tuple(replace(s, direction=s.direction.opposite()) for s in STRONG_ALL)
    up = apply_safety(_result(0.97), STRONG_ALL, ONE_FLAG, P)
    down = apply_safety(_result(0.97, DOWN), mirrored, ONE_FLAG, P)
    assert (up.confidence, up.confirmations, up.validation) == (
        down.confidence,
        down.confirmations,
        down.validation,
    )


_direction = st.sampled_from([UP, DOWN, NEUTRAL])
_signal_spec = st.tuples(_direction, st.floats(0, 1))
_signal_sets = st.lists(_signal_spec, min_size=5, max_size=5).map(lambda s: _signals(*s))
_prior = st.floats(0, 1)
_params = st.builds(
    lambda method, scale, shift: replace(
        P, confidence_method=method, bayes_llr_scale=scale, additive_max_shift=shift
    ),
    st.sampled_from(["additive", "bayesian"]),
    st.floats(0, 10),
    st.floats(0, 1),
)
_validation = st.sampled_from([CLEAN, ONE_FLAG, TWO_FLAGS])


@given(_signal_sets, _prior, _params, _validation)
def test_confidence_always_within_0_and_85_percent(
    signals, prior, params, validation
) -> None:
    for fn in (additive_confidence, bayesian_confidence):
        raw = fn(signals, params.weights, prior, 1 - prior, params)
        assert 0.0 <= raw.p_up <= 1.0 and 0.0 <= raw.p_down <= 1.0
        final = apply_safety(raw, signals, validation, params)
        assert 0.0 <= final.confidence <= 0.85
        assert final.confidence <= max(raw.raw_confidence, 0.5)


@given(_signal_sets, _prior, _params, _validation)
def test_mirrored_evidence_gives_the_mirrored_answer_exactly(
    signals, prior, params, validation
) -> None:
    mirrored = tuple(
        replace(s, direction=s.direction.opposite(), value=-s.value) for s in signals
    )
    for fn in (additive_confidence, bayesian_confidence):
        a = apply_safety(
            fn(signals, W, prior, 1 - prior, params), signals, validation, params
        )
        b = apply_safety(
            fn(mirrored, W, 1 - prior, prior, params), mirrored, validation, params
        )
        assert b.direction is a.direction.opposite()
        assert (b.p_up, b.p_down) == (a.p_down, a.p_up)
        assert b.confidence == a.confidence and b.confirmations == a.confirmations


@given(_signal_sets, _prior, st.lists(st.booleans(), min_size=5, max_size=5), _params)
def test_neutral_signals_never_move_the_posterior(signals, prior, mask, params) -> None:
    # Any signal turned NEUTRAL (whatever strength it claims) contributes exactly nothing:
    # the posterior equals the one computed with that signal's weight removed entirely.
    neutralised = tuple(
        replace(s, direction=NEUTRAL) if m else s
        for s, m in zip(signals, mask, strict=True)
    )
    zero_weights = tuple(0.0 if m else w for w, m in zip(W, mask, strict=True))
    for fn in (bayesian_confidence, additive_confidence):
        with_neutral = fn(neutralised, W, prior, 1 - prior, params)
        without = fn(signals, zero_weights, prior, 1 - prior, params)
        assert with_neutral.p_up == without.p_up
    only_neutral = tuple(replace(s, direction=NEUTRAL) for s in signals)
    r = bayesian_confidence(only_neutral, W, prior, 1 - prior, params)
    clip = params.prior_clip
    expected = min(max(prior, clip), 1 - clip)
    assert r.p_up == pytest.approx(expected, rel=1e-12)


@given(_signal_sets, _prior, st.integers(0, 4), st.floats(0, 1))
def test_more_evidence_for_a_side_never_lowers_it(signals, prior, index, extra) -> None:
    stronger = list(signals)
    s = stronger[index]
    stronger[index] = replace(s, direction=UP, strength=max(extra, s.strength))
    if s.direction is not UP:
        stronger[index] = replace(s, direction=UP, strength=extra)
    for fn in (bayesian_confidence, additive_confidence):
        before = fn(signals, W, prior, 1 - prior, P).p_up
        after = fn(tuple(stronger), W, prior, 1 - prior, P).p_up
        assert after >= before - 1e-12


def test_signal_names_follow_the_weight_order() -> None:
    assert SIGNAL_ORDER[0] is SignalName.PRICE_MOMENTUM
    assert SIGNAL_ORDER[4] is SignalName.VOLUME_MOMENTUM
