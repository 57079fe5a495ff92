"""Confidence: two aggregation methods, always both computed, then the standards' safety rules.

Both methods start from the market — the Up token's mid is the prior, the best single
estimate available — and move it only on evidence. With no evidence the confidence is the
market's own probability, which can never beat the price paid after fees: the bot trades only
when its signals disagree with the market by enough.

- **additive** (directional voting, weighted aggregation): ``up = Σ wᵢsᵢ`` over UP signals,
  ``down`` likewise; the vote ``v = up − λ·down`` (or its mirror) is in [−1, 1] and moves the
  prior linearly by a share ``k·v`` of the room towards the voted side:
  ``P↑ = p + k·v·(1 − p)`` for v ≥ 0, ``P↑ = p·(1 + k·v)`` for v < 0.
- **bayesian** (log-odds accumulation): ``logit P↑ = logit p + L·Σ wᵢ·sign(dᵢ)·sᵢ``: each
  signal is a likelihood ratio of at most ``e^{L·wᵢ}``; NEUTRAL signals are skipped, weak
  signals are weak evidence *for* their side (never against it).

Each method computes P(Up) and P(Down) with the same function on mirrored inputs, so the
mirrored market gives the mirrored answer bit for bit. The confidence is the probability of
the favoured side; then the safety rules: cap (85%), multi-confirmation above
``extreme_confidence`` (several independent strong sources), price validation above
``price_validation_min_confidence`` (damp to the threshold, or refuse when severe).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from src.data.market_data.price_validation import ValidationResult
from src.trading.params import StrategyParams
from src.trading.signals.frozen import quick_init
from src.trading.signals.mathx import log_odds, sigmoid
from src.trading.signals.types import SIGNAL_SOURCE, Direction, SignalResult

_UP, _NEUTRAL = Direction.UP, Direction.NEUTRAL
# A result's fields before the safety rules: method, score, P(Up), P(Down), direction, the
# raw confidence and the confidence (the raw one, until the rules change it).
_Fields = tuple[str, float, float, float, Direction, float, float]


class ValidationAction(enum.Enum):
    """What price validation did to a confidence."""

    NOT_NEEDED = "not_needed"
    PASSED = "passed"
    DAMPED = "damped"
    REFUSED = "refused"


@quick_init
@dataclass(frozen=True, slots=True)
class ConfidenceResult:
    """One method's answer, before (``raw_confidence``) and after the safety rules."""

    method: str
    score: float
    p_up: float
    p_down: float
    direction: Direction
    raw_confidence: float
    confidence: float
    confirmations: int = 0
    capped: bool = False
    confirmation_limited: bool = False
    validation: ValidationAction = ValidationAction.NOT_NEEDED

    @property
    def refused(self) -> bool:
        """True when price validation refused this confidence outright."""
        return self.validation is ValidationAction.REFUSED


def directional_sums(
    signals: Sequence[SignalResult], weights: Sequence[float]
) -> tuple[float, float]:
    """``(Σ wᵢsᵢ over UP signals, Σ wᵢsᵢ over DOWN signals)``; NEUTRAL signals add nothing."""
    up = down = 0.0
    for signal, weight in zip(signals, weights, strict=True):
        direction, strength = signal.direction, signal.strength
        if direction is _NEUTRAL or strength <= 0.0:  # signal.is_neutral, inline
            continue
        if direction is _UP:
            up += weight * strength
        else:
            down += weight * strength
    return up, down


def additive_confidence(
    signals: Sequence[SignalResult],
    weights: Sequence[float],
    prior_up: float,
    prior_down: float,
    params: StrategyParams,
    sums: tuple[float, float] | None = None,
) -> ConfidenceResult:
    """Directional voting from the market prior (``prior_down`` is exactly ``1 − prior_up``).

    ``sums``: ``directional_sums(signals, weights)`` when the caller has it already.
    """
    up, down = directional_sums(signals, weights) if sums is None else sums
    return ConfidenceResult(*_additive(up, down, prior_up, prior_down, params))


def bayesian_confidence(
    signals: Sequence[SignalResult],
    weights: Sequence[float],
    prior_up: float,
    prior_down: float,
    params: StrategyParams,
    sums: tuple[float, float] | None = None,
    prior_odds: float | None = None,
) -> ConfidenceResult:
    """Log-odds accumulation from the market prior (``sums`` as for the additive one;
    ``prior_odds``: ``log_odds(prior_up, prior_down, params.prior_clip)``, if known)."""
    up, down = directional_sums(signals, weights) if sums is None else sums
    if prior_odds is None:
        prior_odds = log_odds(prior_up, prior_down, params.prior_clip)
    return ConfidenceResult(*_bayesian(up, down, prior_odds, params))


def safe_confidences(
    signals: Sequence[SignalResult],
    weights: Sequence[float],
    prior_up: float,
    prior_down: float,
    params: StrategyParams,
    validation: ValidationResult,
    prior_odds: float | None = None,
) -> tuple[ConfidenceResult, ConfidenceResult]:
    """Both methods after the safety rules — ``apply_safety`` of ``additive_confidence``
    and of ``bayesian_confidence`` — without the results before the rules, and with the
    confirmations counted once when both methods lean the same way."""
    up, down = directional_sums(signals, weights)
    if prior_odds is None:
        prior_odds = log_odds(prior_up, prior_down, params.prior_clip)
    additive = _additive(up, down, prior_up, prior_down, params)
    bayesian = _bayesian(up, down, prior_odds, params)
    threshold = params.strong_signal_threshold
    leans, other = additive[4], bayesian[4]
    counted = count_confirmations(signals, leans, threshold)  # 0 for NEUTRAL
    others = counted if other is leans else count_confirmations(signals, other, threshold)
    return (
        _safe(additive, counted, validation, params),
        _safe(bayesian, others, validation, params),
    )


def count_confirmations(
    signals: Sequence[SignalResult], direction: Direction, threshold: float
) -> int:
    """Independent sources with a strong signal (strength ≥ ``threshold``) for ``direction``."""
    if direction is Direction.NEUTRAL:
        return 0
    sources = {
        SIGNAL_SOURCE[s.name]
        for s in signals
        if s.direction is direction and s.strength >= threshold
    }
    return len(sources)


def apply_safety(
    result: ConfidenceResult,
    signals: Sequence[SignalResult],
    validation: ValidationResult,
    params: StrategyParams,
) -> ConfidenceResult:
    """The standards' rules, in order: cap, multi-confirmation, price validation."""
    if result.direction is Direction.NEUTRAL:
        return _with(
            result,
            min(0.5, params.confidence_cap),
            result.confirmations,
            result.capped,
            result.confirmation_limited,
            result.validation,
        )
    confirmations = count_confirmations(
        signals, result.direction, params.strong_signal_threshold
    )
    return _with(result, *_rules(result.raw_confidence, confirmations, validation, params))


def _rules(
    raw: float, confirmations: int, validation: ValidationResult, params: StrategyParams
) -> tuple[float, int, bool, bool, ValidationAction]:
    """The safety fields of a leaning confidence: ``(confidence, confirmations, capped,
    confirmation_limited, validation)``."""
    conf = raw
    capped = conf > params.confidence_cap
    conf = min(conf, params.confidence_cap)
    limited = False
    if (
        conf > params.extreme_confidence
        and confirmations < params.multi_confirmation_min_signals
    ):
        conf, limited = params.extreme_confidence, True
    action = ValidationAction.NOT_NEEDED
    threshold = params.price_validation_min_confidence
    if conf > threshold:
        if validation.flag_count >= params.validation_refuse_flags:
            conf, action = threshold, ValidationAction.REFUSED
        elif validation.suspicious:
            conf, action = threshold, ValidationAction.DAMPED
        else:
            action = ValidationAction.PASSED
    return conf, confirmations, capped, limited, action


def _additive(
    up: float, down: float, prior_up: float, prior_down: float, params: StrategyParams
) -> _Fields:
    """The additive result's fields (safety fields left at their defaults)."""
    vote = _vote(up, down, params.additive_opposition_penalty)
    shift = params.additive_max_shift
    p_up = _linear_pool(prior_up, prior_down, vote, shift)
    p_down = _linear_pool(prior_down, prior_up, -vote, shift)
    return _fields("additive", vote, p_up, p_down)


def _bayesian(up: float, down: float, prior_odds: float, params: StrategyParams) -> _Fields:
    """The Bayesian result's fields (safety fields left at their defaults)."""
    scale = params.bayes_llr_scale
    score = prior_odds + (scale * up - scale * down)
    return _fields("bayesian", score, sigmoid(score), sigmoid(-score))


def _safe(
    fields: _Fields,
    confirmations: int,
    validation: ValidationResult,
    params: StrategyParams,
) -> ConfidenceResult:
    """``apply_safety(ConfidenceResult(*fields), …)`` built once, from the strong
    sources confirming the result's direction (:func:`count_confirmations`)."""
    if fields[4] is Direction.NEUTRAL:
        # a fresh result's safety fields are the defaults: 0, False, False, NOT_NEEDED
        return ConfidenceResult(
            *fields[:6],
            min(0.5, params.confidence_cap),
            0,
            False,
            False,
            ValidationAction.NOT_NEEDED,
        )
    return ConfidenceResult(
        *fields[:6], *_rules(fields[5], confirmations, validation, params)
    )


def _with(
    result: ConfidenceResult,
    confidence: float,
    confirmations: int,
    capped: bool,
    limited: bool,
    validation: ValidationAction,
) -> ConfidenceResult:
    """``dataclasses.replace`` of the safety fields, without its per-call introspection."""
    return ConfidenceResult(
        result.method,
        result.score,
        result.p_up,
        result.p_down,
        result.direction,
        result.raw_confidence,
        confidence,
        confirmations,
        capped,
        limited,
        validation,
    )


def _vote(up: float, down: float, penalty: float) -> float:
    if up > down:
        return up - penalty * down
    if down > up:
        return -(down - penalty * up)
    return 0.0


def _linear_pool(p: float, p_complement: float, vote: float, shift: float) -> float:
    """Move ``p`` a share ``shift·|vote|`` of the way to 1 (vote > 0) or to 0 (vote < 0)."""
    if vote >= 0:
        return p + vote * shift * p_complement
    return p * (1.0 + vote * shift)


def _fields(method: str, score: float, p_up: float, p_down: float) -> _Fields:
    """A result's fields up to ``confidence`` (= the raw confidence, before the rules)."""
    if p_up > p_down:
        direction, raw = Direction.UP, p_up
    elif p_down > p_up:
        direction, raw = Direction.DOWN, p_down
    else:
        direction, raw = Direction.NEUTRAL, 0.5
    return method, score, p_up, p_down, direction, raw, raw
