"""The Chainlink reference in the pure core (docs/STRATEGY.md §4): near the strike, when
fresh, the fair value is computed from Chainlink's spot and window-start value with
Chainlink's own (smaller) noise; otherwise the Binance path, unchanged."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from src.trading.logic import decide
from src.trading.params import StrategyParams
from src.trading.signals.fair_value import fair_value
from src.trading.strategy import Analysis, MarketSnapshot, analyze, reference_pair
from tests.unit.strategy.builders import account, make_snapshot, random_walk

P = StrategyParams()
BP = 1e-4
CLOSES = random_walk(120, 50_000.0, 0.0008, 5)
SPOT = CLOSES[-1]
REF = 49_950.0  # Chainlink's level: a few bp off Binance, as the USD/USDT basis is


def near(
    offset_bp: float, elapsed: float = 600.0, **reference: float | None
) -> MarketSnapshot:
    """Binance ``offset_bp`` above its strike, with the given reference fields."""
    snapshot = make_snapshot(
        closes=CLOSES, strike=SPOT * math.exp(-offset_bp * BP), elapsed=elapsed
    )
    fields = {f"reference_{k}": v for k, v in reference.items()}
    return replace(snapshot, **fields)


def analysed(snapshot: MarketSnapshot, params: StrategyParams = P) -> Analysis:
    result = analyze(snapshot, params)
    assert isinstance(result, Analysis), result
    return result


def fresh(snapshot: MarketSnapshot, spot: float, strike: float | None) -> MarketSnapshot:
    return replace(
        snapshot, reference_spot=spot, reference_strike=strike, reference_time=snapshot.now
    )


@pytest.mark.parametrize("offset_bp", [-4.9, -2.0, -0.3, 0.0, 0.8, 3.0, 4.9])
@pytest.mark.parametrize("elapsed", [120.0, 600.0, 899.0])
def test_a_reference_at_its_strike_is_a_coin_flip_whatever_binance_says_near_it(
    offset_bp: float, elapsed: float
) -> None:
    snapshot = near(offset_bp, elapsed)
    a = analysed(fresh(snapshot, REF, REF))
    assert a.reference_used and a.fair.p_up == 0.5 and a.fair.p_down == 0.5
    if abs(offset_bp) >= 0.8:  # Binance alone leans the way it moved
        binance = analysed(snapshot).fair.p_up
        assert (binance > 0.5) == (offset_bp > 0) and binance != 0.5


def test_the_reference_gives_spot_strike_and_its_own_smaller_basis() -> None:
    snapshot = near(2.0, 840.0)
    ref_spot, ref_strike = REF * math.exp(-0.5 * BP), REF
    a = analysed(fresh(snapshot, ref_spot, ref_strike))
    sigma = a.indicators.sigma_1m
    expected = fair_value(
        ref_spot, ref_strike, sigma, 60.0, P, basis_bp=P.chainlink_basis_bp
    )
    assert a.fair == expected
    assert a.fair.basis_sd == pytest.approx(P.chainlink_basis_bp * BP)
    assert P.chainlink_basis_bp < P.basis_bp
    # Binance says 2 bp above; the settlement's own reference says 0.5 bp below
    assert analysed(snapshot).fair.p_up > 0.5 > a.fair.p_up
    assert a.spot == SPOT  # the signals still read Binance


def test_at_the_close_the_reference_decides_what_binance_cannot() -> None:
    snapshot = near(0.6, 900.0)  # no time left: only the basis term remains
    binance = analysed(snapshot).fair.p_up
    below = analysed(fresh(snapshot, REF * math.exp(-1 * BP), REF)).fair.p_up
    above = analysed(fresh(snapshot, REF * math.exp(1 * BP), REF)).fair.p_up
    assert 0.5 < binance < 0.9  # 0.6 bp with a 1 bp basis: Binance cannot tell
    assert below < 0.01 and above > 0.99  # 1 bp with Chainlink's 0.3 bp noise: it can


@pytest.mark.parametrize("age", [P.chainlink_max_age_sec + 0.5, 60.0, -30.0])
def test_a_stale_or_future_reference_is_ignored(age: float) -> None:
    snapshot = near(1.0)
    stale = replace(
        snapshot,
        reference_spot=REF,
        reference_strike=REF,
        reference_time=snapshot.now - age,
    )
    a = analysed(stale)
    assert not a.reference_used and a.fair == analysed(snapshot).fair
    assert reference_pair(stale, SPOT, P) is None


def test_a_reference_exactly_max_age_old_is_still_used() -> None:
    snapshot = near(1.0)
    aged = replace(
        fresh(snapshot, REF, REF), reference_time=snapshot.now - P.chainlink_max_age_sec
    )
    assert analysed(aged).reference_used
    tighter = replace(P, chainlink_max_age_sec=P.chainlink_max_age_sec - 1)
    assert not analysed(aged, tighter).reference_used


@pytest.mark.parametrize("offset_bp", [-30.0, -5.2, 5.2, 40.0])
def test_away_from_the_strike_binance_decides_unchanged(offset_bp: float) -> None:
    snapshot = near(offset_bp)
    a = analysed(fresh(snapshot, REF, REF))
    assert not a.reference_used and a.fair == analysed(snapshot).fair
    wider = replace(P, chainlink_band_bp=50.0)
    assert analysed(fresh(snapshot, REF, REF), wider).fair.p_up == 0.5


@pytest.mark.parametrize(
    ("spot", "strike", "at"),
    [
        (REF, None, 0.0),  # the window's start value was not seen
        (None, REF, 0.0),
        (math.nan, REF, 0.0),
        (REF, math.inf, 0.0),
        (0.0, REF, 0.0),
        (REF, -REF, 0.0),
        (REF, REF, None),
        (REF, REF, math.nan),
        (True, REF, 0.0),
        ("49950", REF, 0.0),
    ],
)
def test_an_incomplete_or_malformed_reference_leaves_the_binance_path(
    spot: object, strike: object, at: float | None
) -> None:
    snapshot = near(1.0)
    odd = replace(
        snapshot,
        reference_spot=spot,
        reference_strike=strike,
        reference_time=None if at is None else snapshot.now + at,
    )
    a = analysed(odd)
    assert not a.reference_used and a.fair == analysed(snapshot).fair
    decision = decide(odd, account(), P)
    assert decision.reason.value != "internal_error"
    json.loads(decision.to_row()["inputs_json"])  # type: ignore[arg-type]


def test_the_inputs_record_the_reference_only_when_one_was_offered() -> None:
    snapshot = near(1.0)
    plain = json.loads(decide(snapshot, account(), P).to_row()["inputs_json"])  # type: ignore[arg-type]
    assert "reference" not in plain and not any(k.startswith("reference") for k in plain)

    used = json.loads(
        decide(fresh(snapshot, REF, REF), account(), P).to_row()["inputs_json"]  # type: ignore[arg-type]
    )
    assert used["reference"] == {
        "spot": REF,
        "strike": REF,
        "time": snapshot.now,
        "used": True,
    }
    assert used["fair"]["log_moneyness"] == 0.0 and used["spot_used"] == SPOT

    stale = replace(fresh(snapshot, REF, None), reference_time=snapshot.now - 60)
    unused = json.loads(decide(stale, account(), P).to_row()["inputs_json"])  # type: ignore[arg-type]
    assert unused["reference"] == {
        "spot": REF,
        "strike": None,
        "time": snapshot.now - 60,
        "used": False,
    }


def test_the_basis_override_replaces_only_the_basis() -> None:
    default = fair_value(100.01, 100.0, 0.0005, 30.0, P)
    override = fair_value(100.01, 100.0, 0.0005, 30.0, P, basis_bp=P.basis_bp)
    assert override == default
    smaller = fair_value(100.01, 100.0, 0.0005, 30.0, P, basis_bp=0.1)
    assert smaller.basis_sd == pytest.approx(0.1 * BP) and smaller.p_up > default.p_up


anything = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**30), 10**30),
    st.booleans(),
)


@settings(max_examples=200, deadline=None)
@given(spot=anything, strike=anything, age=anything, offset=st.floats(-10.0, 10.0))
def test_any_reference_values_give_a_stored_decision_never_an_error(
    spot: object, strike: object, age: object, offset: float
) -> None:
    snapshot = near(offset)
    at = (
        snapshot.now - age
        if isinstance(age, (int, float)) and not isinstance(age, bool)
        else age
    )
    odd = replace(snapshot, reference_spot=spot, reference_strike=strike, reference_time=at)
    decision = decide(odd, account(), P)
    assert decision.reason.value != "internal_error", decision.detail
    row = decision.to_row()
    json.loads(row["inputs_json"])  # type: ignore[arg-type]
    a = decision.analysis
    assert a is not None and 0.0 <= a.fair.p_up <= 1.0
