"""The per-poll shortcuts give exactly what the plain computation gives.

A backtest decides every coin every few seconds, so the hot path remembers what changes
only once a minute (indicators, validation, their JSON) and writes the JSON of a decision
with fewer steps. Each shortcut is checked here against the plain computation it replaces
— kept below as the reference, as it was written before — on generated and hostile input:
the stored decisions of a backtest must not change by a single byte.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from src.data.market_data.indicators import (
    IndicatorState,
    compute_indicators,
    is_valid_kline,
)
from src.data.market_data.price_validation import (
    _FLAG_ORDER,
    PriceFlag,
    ValidationConfig,
    ValidationMemo,
    ValidationResult,
    validate_price_movement,
)
from src.sim.feeds.base import MINUTE_MS, Kline
from src.trading import logic
from src.trading.logic import AccountState, decide, decide_with_analysis
from src.trading.signals.confidence import (
    ConfidenceResult,
    additive_confidence,
    apply_safety,
    bayesian_confidence,
    directional_sums,
)
from src.trading.signals.directional import polymarket_momentum
from src.trading.signals.mathx import log_odds, student_t_cdf, student_t_cdf_pair
from src.trading.signals.types import Direction, SignalName, SignalResult
from src.trading.strategy import analyze
from tests.unit.strategy.builders import make_snapshot, random_walk
from tests.unit.strategy.test_properties import (
    DEFAULT,
    accounts,
    any_snapshot,
    klines_st,
    params_st,
)

FAST = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
T_END = 1_767_225_600_000

odd_numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([True, False, 0, 1, -1, 10**400, "1.0", None, Decimal("1.5")]),
)


# --- price validation -------------------------------------------------------------------


validation_configs = st.builds(
    ValidationConfig,
    lookback=st.integers(2, 20),
    recent=st.integers(1, 6),
    wick_min_sigma=st.sampled_from([1.0, 3.0]),
    volume_spike_ratio=st.sampled_from([2.0, 4.0]),
    reversal_short=st.integers(1, 4),
)
sigmas = st.one_of(
    st.none(), st.sampled_from([0.0, -1.0, math.nan, math.inf, 0.0002, 0.001, 0.004])
)


@FAST
@given(
    klines=klines_st(T_END, malformed=True, warm=False),
    calls=st.lists(st.tuples(sigmas, validation_configs), min_size=1, max_size=6),
)
def test_remembered_validation_is_the_validation(klines, calls) -> None:
    memo = ValidationMemo(size=3)
    for sigma, config in calls * 2:  # every call twice: the second may be remembered
        assert memo.validate(klines, sigma, config) == validate_price_movement(
            klines, sigma, config
        )


def test_validation_is_remembered_per_tuple_sigma_and_config() -> None:
    klines = tuple(
        Kline(T_END + i * MINUTE_MS, 100.0, 101.0, 99.0, 100.5, 5.0, 0, 0.0, 1, 2.0, 0.0)
        for i in range(15)
    )
    memo, config = ValidationMemo(), ValidationConfig()
    first = memo.validate(klines, 0.001, config)
    assert memo.validate(klines, 0.001, ValidationConfig()) is first  # an equal config
    assert memo.validate(tuple(klines), 0.001, config) is first  # tuple(t) is t
    assert memo.validate(klines[:], 0.001, config) is first
    other = memo.validate(klines, 0.002, config)  # another σ: validated again
    assert other != first and other == validate_price_movement(klines, 0.002, config)
    copy = tuple(list(klines))  # equal, but another tuple: validated again
    assert memo.validate(copy, 0.001, config) == first
    as_list = list(klines)  # a list may change: never remembered
    assert memo.validate(as_list, 0.001, config) is not memo.validate(
        as_list, 0.001, config
    )


def test_flag_count_is_the_flags_counted_one_by_one() -> None:
    assert set(_FLAG_ORDER) == set(PriceFlag) - {PriceFlag.NONE}
    for bits in range(2 ** len(_FLAG_ORDER)):  # every set of flags
        flags = PriceFlag(bits)
        result = ValidationResult(flags, "", 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        assert result.flag_count == sum(1 for f in _FLAG_ORDER if f in flags)


# --- kline checks and incremental indicators ---------------------------------------------


def reference_is_valid_kline(k: object) -> bool:
    """``is_valid_kline`` as it was before its loop was unrolled."""
    if not isinstance(k, Kline):
        return False
    try:
        numbers = (k.open, k.high, k.low, k.close, k.volume, k.taker_buy_volume)
        if any(isinstance(x, bool) or not math.isfinite(x) for x in numbers):
            return False
        if isinstance(k.open_time_ms, bool) or not isinstance(k.open_time_ms, int):
            return False
        if min(k.open, k.high, k.low, k.close) <= 0:
            return False
        if k.high < max(k.open, k.close, k.low) or k.low > min(k.open, k.close):
            return False
        if k.volume < 0 or k.taker_buy_volume < 0:
            return False
        return k.taker_buy_volume <= k.volume * (1 + 1e-9) + 1e-9
    except TypeError:
        return False


def outcome(f, *args):
    try:
        return ("value", f(*args))
    except Exception as exc:  # the same exception, where the reference raised
        return ("raised", type(exc))


@FAST
@given(
    fields=st.tuples(
        st.one_of(st.integers(0, 10**13), odd_numbers),
        *([st.one_of(st.floats(0.5, 2.0), odd_numbers)] * 5),
        st.one_of(st.floats(0, 3.0), odd_numbers),
    )
)
def test_kline_check_is_the_reference_check(fields) -> None:
    t, o, h, lo, c, v, buy = fields
    k = Kline(t, o, h, lo, c, v, 0, 0.0, 0, buy, 0.0)
    assert outcome(is_valid_kline, k) == outcome(reference_is_valid_kline, k)


@FAST
@given(klines=klines_st(T_END, malformed=True, warm=False), data=st.data())
def test_indicator_state_hands_out_the_same_objects_until_it_changes(klines, data) -> None:
    state = IndicatorState(DEFAULT.indicator_config())
    seen: list[Kline] = []
    extra = data.draw(st.sampled_from([(), klines[:1], klines[-1:]]))  # not newer: refused
    for k in (*klines, *extra):
        state.update(k)
        seen.append(k)
        recent, snapshot = state.recent_klines(), state.snapshot()
        assert state.recent_klines() is recent and state.snapshot() is snapshot
        fresh = compute_indicators(seen, DEFAULT.indicator_config())
        assert snapshot.bars == fresh.bars and snapshot.rejected == fresh.rejected
        assert repr(snapshot) == repr(fresh)  # NaN-safe equality
        assert recent == tuple(state._recent)


# --- signals and confidence --------------------------------------------------------------


def reference_polymarket_momentum(mid_now, history, now, params) -> SignalResult:
    """``polymarket_momentum`` as it was before its checks were inlined."""

    def usable_time(t):
        return isinstance(t, (int, float)) and not isinstance(t, bool) and math.isfinite(t)

    def usable_price(p):
        return isinstance(p, Decimal) and p.is_finite() and 0 < p < 1

    target = now - params.pm_lookback_s
    latest_allowed = now - params.pm_min_span_s
    reference, reference_t, oldest = None, -math.inf, None
    for t, price in history:
        if not (usable_time(t) and usable_price(price)) or t > latest_allowed:
            continue
        if t <= target and t > reference_t:
            reference, reference_t = price, t
        if oldest is None or t < oldest[0]:
            oldest = (t, price)
    if reference is None and oldest is not None:
        reference = oldest[1]
    if reference is None:
        return SignalResult(
            SignalName.POLYMARKET_MOMENTUM, Direction.NEUTRAL, 0.0, 0.0, "no mid history"
        )
    clip = params.prior_clip
    change = log_odds(float(mid_now), float(1 - mid_now), clip) - log_odds(
        float(reference), float(1 - reference), clip
    )
    from src.trading.signals.directional import graded

    return graded(SignalName.POLYMARKET_MOMENTUM, change, params.pm_scale, params)


NOW = 1_767_225_900.0
times = st.one_of(
    st.floats(NOW - 900, NOW + 30),
    st.sampled_from([NOW - 600, NOW - 600, NOW - 5.0, 1_767_225_300, math.nan, math.inf]),
    odd_numbers,
)
prices = st.one_of(
    st.integers(1, 999).map(lambda n: Decimal(n) / 1000),
    st.sampled_from([Decimal(0), Decimal(1), Decimal("NaN"), Decimal("-0.5"), 0.5, None]),
)


@FAST
@given(
    history=st.lists(st.tuples(times, prices), max_size=30),
    now=st.one_of(st.just(NOW), st.sampled_from([math.nan, math.inf, 1_767_225_900])),
    mid=st.integers(1, 999).map(lambda n: Decimal(n) / 1000),
)
def test_mid_momentum_is_the_reference_momentum(history, now, mid) -> None:
    assert outcome(polymarket_momentum, mid, history, now, DEFAULT) == outcome(
        reference_polymarket_momentum, mid, history, now, DEFAULT
    )


@FAST
@given(
    t=st.one_of(
        st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, -0.0])
    ),
    dof=st.sampled_from([1.0, 3.0, 4.0, 5.5, 30.0, 0.0, -1.0, math.nan]),
)
def test_both_tails_at_once_are_the_two_cdfs(t: float, dof: float) -> None:
    pair = student_t_cdf_pair(t, dof)
    expected = (student_t_cdf(t, dof), student_t_cdf(-t, dof))
    assert repr(pair) == repr(expected)  # bit for bit, NaN included


@FAST
@given(snapshot=any_snapshot, params=params_st)
def test_confidences_from_shared_sums_are_the_confidences(snapshot, params) -> None:
    a = analyze(snapshot, params)
    if not hasattr(a, "signals"):
        return
    sums = directional_sums(a.signals, params.weights)
    for method in (additive_confidence, bayesian_confidence):
        args = (a.signals, params.weights, 0.4, 0.6, params)
        assert method(*args, sums) == method(*args)


# --- the stored JSON ---------------------------------------------------------------------


def reference_texts(d: logic.Decision) -> tuple[str, str]:
    """What ``to_row`` stored before: ``json.dumps`` of the two payloads."""
    return (
        json.dumps(logic._signals_payload(d.analysis), sort_keys=True),
        json.dumps(d._inputs_payload(), sort_keys=True),
    )


def stored_texts(d: logic.Decision) -> tuple[str, str]:
    row = d.to_row()
    return row["signals_json"], row["inputs_json"]


@FAST
@given(snapshot=any_snapshot, account=accounts, params=params_st)
def test_stored_json_is_json_dumps(snapshot, account, params) -> None:
    d = decide(snapshot, account, params)
    assert stored_texts(d) == reference_texts(d)
    assert stored_texts(d) == reference_texts(d)  # remembered fragments: the same text


def _at(payload: object, path: str) -> object:
    """The value at a ``$.a.b`` JSON path (None where absent, as json_extract gives)."""
    for key in path.removeprefix("$.").split("."):
        payload = payload.get(key) if isinstance(payload, dict) else None
    return payload


@FAST
@given(snapshot=any_snapshot, account=accounts, params=params_st)
def test_a_lean_row_keeps_exactly_the_reports_inputs(snapshot, account, params) -> None:
    """What a backtest stores by default: the same columns, and the inputs the reports
    read with the values the full snapshot holds."""
    d = decide(snapshot, account, params)
    full, lean = d.to_row(), d.to_row(logic.DecisionAudit.LEAN)
    assert lean.pop("signals_json") is None
    full.pop("signals_json")
    full_inputs = json.loads(full.pop("inputs_json"))  # type: ignore[arg-type]
    lean_inputs = json.loads(lean.pop("inputs_json"))  # type: ignore[arg-type]
    assert lean == full
    for path in logic.LEAN_INPUT_PATHS:
        assert _at(lean_inputs, path) == _at(full_inputs, path), path
    assert len(json.dumps(lean_inputs)) < 400


def _analysis():
    """A warm market 7 minutes into its window, with mid history, and its analysis."""
    snapshot = make_snapshot(
        closes=random_walk(90, 51.0, 0.0008, 1),
        elapsed=420,
        mid_history=[(400.0, "0.40"), (130.0, "0.44"), (20.0, "0.47")],
    )
    a = analyze(snapshot, DEFAULT)
    assert hasattr(a, "signals"), a
    return snapshot, a


ACCOUNT = AccountState(Decimal(100), Decimal(100))


@pytest.mark.parametrize("method", ["indicators", "validation", "fair", "spot_used"])
def test_a_method_named_like_a_payload_key_still_stores_json_dumps(method: str) -> None:
    snapshot, a = _analysis()
    odd = replace(a, additive=replace(a.additive, method=method))
    d = decide_with_analysis(snapshot, odd, ACCOUNT, DEFAULT)
    assert d.analysis is odd
    assert stored_texts(d) == reference_texts(d)


@FAST
@given(
    note=st.one_of(st.text(), st.integers(), st.none()),
    strength=odd_numbers,
    value=st.floats(allow_nan=True, allow_infinity=True),
)
def test_signals_of_any_shape_store_json_dumps(note, strength, value) -> None:
    snapshot, a = _analysis()
    odd = SignalResult(SignalName.DIVERGENCE, Direction.UP, strength, value, note)
    changed = replace(a, signals=(*a.signals[:3], odd, a.signals[4]))
    d = decide_with_analysis(snapshot, changed, ACCOUNT, DEFAULT)
    assert outcome(stored_texts, d) == outcome(reference_texts, d)


def test_fragments_are_kept_only_for_frozen_primitive_payloads() -> None:
    _, a = _analysis()
    memo = logic._FragmentMemo(size=2)
    text = memo.json(a.indicators, logic._indicators_payload)
    assert memo.json(a.indicators, logic._indicators_payload) is text
    assert text == json.dumps(logic._indicators_payload(a.indicators), sort_keys=True)
    odd = replace(a.indicators, close=[1.0])  # a mutable value: never remembered
    memo.json(odd, logic._indicators_payload)
    assert id(odd) not in memo._entries
    for _ in range(3):  # more than it holds: it starts over, answers stay right
        other = replace(a.validation, reason="x")
        assert memo.json(other, logic._validation_payload) == json.dumps(
            logic._validation_payload(other), sort_keys=True
        )


@FAST
@given(snapshot=any_snapshot, params=params_st)
def test_safety_changes_only_the_safety_fields(snapshot, params) -> None:
    """apply_safety builds its result field by field (no dataclasses.replace)."""
    a = analyze(snapshot, params)
    if not hasattr(a, "signals"):
        return
    for method in (additive_confidence, bayesian_confidence):
        raw = method(a.signals, params.weights, a.market_p_up, 1 - a.market_p_up, params)
        safe = apply_safety(raw, a.signals, a.validation, params)
        assert isinstance(safe, ConfidenceResult)
        assert safe == replace(
            raw,
            confidence=safe.confidence,
            confirmations=safe.confirmations,
            capped=safe.capped,
            confirmation_limited=safe.confirmation_limited,
            validation=safe.validation,
        )
