"""The five directional signals. Each returns a direction and a smooth strength in [0, 1].

Every input is standardised before it is graded, so a strength means the same thing for BTC
and XRP, in a calm hour and a wild one: price moves are measured in units of the 1-minute
volatility σ, probabilities in log-odds. A signal without the data it needs is NEUTRAL with a
note — NEUTRAL means "no evidence", never "evidence for DOWN".

Positive ``value`` always means "towards UP"; mirroring the market (Up ↔ Down, p ↔ 1 − p,
returns negated, taker buys ↔ sells) negates every value and keeps every strength.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from decimal import Decimal
from math import isfinite
from operator import attrgetter
from typing import Protocol

from src.data.market_data.indicators import Indicators
from src.trading.params import StrategyParams
from src.trading.signals.mathx import graded_strength, log_odds
from src.trading.signals.types import Direction, SignalName, SignalResult

_ZERO = Decimal(0)
_ONE = Decimal(1)


class TimedPrice(Protocol):
    """A point of the Up mid's history (``strategy.PricePoint``)."""

    @property
    def t(self) -> float: ...

    @property
    def price(self) -> Decimal: ...


_time_of = attrgetter("t")


def graded(
    name: SignalName, value: float, scale: float, params: StrategyParams
) -> SignalResult:
    """A signal from a signed standardised value: direction = sign, strength = graded |value|."""
    strength = graded_strength(value, scale, params.neutral_dead_zone)
    if strength <= 0.0:
        return SignalResult(name, Direction.NEUTRAL, 0.0, _finite_or_zero(value))
    direction = Direction.UP if value > 0 else Direction.DOWN
    return SignalResult(name, direction, strength, value)


def neutral(name: SignalName, note: str) -> SignalResult:
    """A NEUTRAL answer for lack of data."""
    return SignalResult(name, Direction.NEUTRAL, 0.0, 0.0, note)


def price_momentum(
    ind: Indicators, sigma_1m: float, params: StrategyParams
) -> SignalResult:
    """Binance price momentum (30%): velocity, acceleration and RSI, in σ units.

    ``z_v = ln(c_t / c_{t−L}) / (σ√L)``, ``z_a = [ln(c_t/c_{t−h}) − ln(c_{t−h}/c_{t−2h})] /
    (σ√(2h))`` with ``h = L // 2``, ``z_r = (RSI − 50) / rsi_scale``; the composite is their
    weighted mean over the components that exist, graded with ``momentum_scale``.
    """
    name = SignalName.PRICE_MOMENTUM
    lookback = params.momentum_lookback_minutes
    half = lookback // 2
    parts = (
        (params.momentum_velocity_weight, ind.velocity / (sigma_1m * math.sqrt(lookback))),
        (
            params.momentum_acceleration_weight,
            ind.acceleration / (sigma_1m * math.sqrt(2 * half)) if half else math.nan,
        ),
        (params.momentum_rsi_weight, ind.rsi_centered / params.rsi_scale),
    )
    if not math.isfinite(parts[0][1]):
        return neutral(name, "no velocity yet")
    used = [(w, z) for w, z in parts if w > 0 and math.isfinite(z)]
    total = sum(w for w, _ in used)
    if total <= 0:
        return neutral(name, "no momentum component")
    composite = sum(w * z for w, z in used) / total
    return graded(name, composite, params.momentum_scale, params)


def polymarket_momentum(
    mid_now: Decimal,
    history: Sequence[tuple[float, Decimal]],
    now: float,
    params: StrategyParams,
) -> SignalResult:
    """The Up token's own momentum (20%): change of its mid in log-odds over ``pm_lookback_s``.

    ``history`` holds ``(unix seconds, Up mid)`` points. The reference is the latest point at
    least ``pm_lookback_s`` old, else the oldest point at least ``pm_min_span_s`` old; with
    neither the signal is NEUTRAL. Log-odds make a move from 0.90 to 0.95 count like one from
    0.50 to 0.68: both double the odds.
    """
    reference = momentum_reference(history, now, params)
    if reference is None:
        return neutral(SignalName.POLYMARKET_MOMENTUM, "no mid history")
    return momentum_from_reference(mid_log_odds(mid_now, params), reference, params)


def momentum_reference(
    history: Sequence[tuple[float, Decimal]], now: float, params: StrategyParams
) -> Decimal | None:
    """The reference mid of :func:`polymarket_momentum` (None: no usable point)."""
    target = now - params.pm_lookback_s
    latest_allowed = now - params.pm_min_span_s
    reference: Decimal | None = None
    reference_t = -math.inf
    oldest: tuple[float, Decimal] | None = None
    for t, price in history:
        # A finite real time no later than the age limit, and a Decimal price in (0, 1).
        # Inline: this runs for every point of the window's history on every decision.
        if type(t) is float:
            if not isfinite(t) or t > latest_allowed:
                continue
        elif (
            isinstance(t, bool)
            or not isinstance(t, (int, float))
            or not isfinite(t)
            or t > latest_allowed
        ):
            continue
        if not (isinstance(price, Decimal) and price.is_finite() and _ZERO < price < _ONE):
            continue
        if t <= target and t > reference_t:
            reference, reference_t = price, t
        if oldest is None or t < oldest[0]:
            oldest = (t, price)
    if reference is None and oldest is not None:
        reference = oldest[1]
    return reference


def ordered_momentum_reference(
    points: Sequence[TimedPrice], now: float, params: StrategyParams
) -> Decimal | None:
    """:func:`momentum_reference` of points known clean (finite float times, Decimal
    prices in (0, 1)) and in time order: bisected, not scanned for."""
    target = now - params.pm_lookback_s
    latest_allowed = now - params.pm_min_span_s
    if math.isnan(target) or math.isnan(latest_allowed):
        # bisection reads a NaN bound as "after everything", the scan as "matches nothing"
        return momentum_reference([(p.t, p.price) for p in points], now, params)
    usable = bisect_right(points, latest_allowed, key=_time_of)  # old enough
    if not usable:
        return None
    below = bisect_right(points, target, 0, usable, key=_time_of)
    if not below:
        return points[0].price  # none old enough: the oldest, the first in order
    # the scan keeps the first of equal times: the leftmost point at the latest time
    latest = points[below - 1].t
    return points[bisect_left(points, latest, 0, below, key=_time_of)].price


def momentum_from_reference(
    mid_odds: float, reference: Decimal | None, params: StrategyParams
) -> SignalResult:
    """The momentum signal from the mid's log-odds (:func:`mid_log_odds`) and its
    reference mid (None: no usable history, NEUTRAL)."""
    name = SignalName.POLYMARKET_MOMENTUM
    if reference is None:
        return neutral(name, "no mid history")
    clip = params.prior_clip
    change = mid_odds - log_odds(float(reference), float(1 - reference), clip)
    return graded(name, change, params.pm_scale, params)


def mid_log_odds(mid: Decimal, params: StrategyParams) -> float:
    """The Up mid in log-odds, as the momentum and divergence signals and the Bayesian
    prior read it: ``ln(p / (1 − p))``, clipped."""
    return log_odds(float(mid), float(1 - mid), params.prior_clip)


def order_flow(ind: Indicators, params: StrategyParams) -> SignalResult:
    """Taker pressure (20%): ``(buy − sell) / (buy + sell)`` taker volume over the flow window."""
    name = SignalName.ORDER_FLOW
    if not math.isfinite(ind.taker_imbalance):
        return neutral(name, "no volume")
    return graded(name, ind.taker_imbalance, params.flow_scale, params)


def divergence(
    fair_up: float, fair_down: float, mid_up: Decimal, params: StrategyParams
) -> SignalResult:
    """Cross-exchange divergence (20%): fair value vs the Polymarket mid, in log-odds.

    ``value = logit(fair) − logit(mid)``: positive when Binance implies Up is under-priced.
    """
    return divergence_from_odds(fair_up, fair_down, mid_log_odds(mid_up, params), params)


def divergence_from_odds(
    fair_up: float, fair_down: float, mid_odds: float, params: StrategyParams
) -> SignalResult:
    """:func:`divergence` from the mid's log-odds (:func:`mid_log_odds`)."""
    gap = log_odds(fair_up, fair_down, params.prior_clip) - mid_odds
    return graded(SignalName.DIVERGENCE, gap, params.divergence_scale, params)


def volume_momentum(
    ind: Indicators, sigma_1m: float, params: StrategyParams
) -> SignalResult:
    """VWAP distance with volume quality (10%).

    ``z = ln(close / VWAP) / (σ·√(N/3))`` — the spread of a random walk's end around its own
    average over N minutes is σ√(N/3) — graded with ``vwm_scale``, then multiplied by the
    volume quality ``min(1, 2r / (1 + r))`` of the recent-to-average volume ratio r (thin
    volume, weak evidence; unknown volume counts as r = ⅓, quality ½).
    """
    name = SignalName.VOLUME_MOMENTUM
    if not math.isfinite(ind.vwap_distance):
        return neutral(name, "no VWAP yet")
    z = ind.vwap_distance / (sigma_1m * math.sqrt(params.vwap_lookback_minutes / 3.0))
    base = graded(name, z, params.vwm_scale, params)
    if base.direction is Direction.NEUTRAL:
        return base
    ratio = ind.volume_ratio if math.isfinite(ind.volume_ratio) else 1.0 / 3.0
    quality = min(1.0, 2.0 * ratio / (1.0 + ratio)) if ratio > 0 else 0.0
    strength = base.strength * quality
    if strength <= 0.0:
        return SignalResult(name, Direction.NEUTRAL, 0.0, z, "no volume")
    return SignalResult(name, base.direction, strength, z)


def _finite_or_zero(x: float) -> float:
    return x if math.isfinite(x) else 0.0
