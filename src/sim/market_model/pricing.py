"""Pure pricing rules of the simulated makers and takers: ticks, quotes, edges.

Prices the venue sees are ``int`` micro-units (0.52 → 520_000); the model's probabilities
are floats. Everything here is a pure function of its arguments. The makers' rules work on
numpy arrays (a window's whole second-by-second path at once; scalars work too); the
takers' rules are scalar.
"""

from __future__ import annotations

import math

import numpy as np

from src.sim.market_model.params import MarketModelParams

MICRO = 1_000_000
COARSE_TICK = 10_000
"""0.01: the normal tick."""
FINE_TICK = 1_000
"""0.001: the tick once the price is above 0.96 or below 0.04."""
FINE_TICK_ABOVE = 0.96
FINE_TICK_BELOW = 0.04
NO_BID = 0
"""Sentinel: no bid (prices are strictly inside (0, 1))."""
NO_ASK = MICRO
"""Sentinel: no ask."""

_EPS = 1e-9  # exact halves of a tick round up, whatever the float's last bit says
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_LOGIT_CLIP = 1e-9


def tick_for(price: np.ndarray) -> np.ndarray:
    """The venue's tick (micro) at each price: 0.001 above 0.96 or below 0.04, else 0.01."""
    fine = (price > FINE_TICK_ABOVE) | (price < FINE_TICK_BELOW)
    return np.where(fine, FINE_TICK, COARSE_TICK)


def logit(p: np.ndarray) -> np.ndarray:
    """ln(p / (1 − p)), with ``p`` clipped away from 0 and 1."""
    p = np.clip(p, _LOGIT_CLIP, 1.0 - _LOGIT_CLIP)
    return np.log(p / (1.0 - p))


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + e^−x), without overflow warnings for large |x|."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def fair_value_move_sd(
    z: np.ndarray, sigma_1m: np.ndarray, total_sd: np.ndarray, horizon_s: float
) -> np.ndarray:
    """Standard deviation of the fair value's change over the next ``horizon_s`` seconds.

    ``dP/dd = pdf(z) / total_sd`` and the log price moves ``σ·√(h/60)`` in ``h`` seconds,
    so ``u = pdf(z)·σ·√(h/60) / total_sd`` (0 where ``total_sd`` is 0: nothing is left to
    learn). It vanishes far from the money and grows as the window runs out: the single
    reason the spread widens.
    """
    ok = (total_sd > 0.0) & np.isfinite(z)
    safe_z = np.where(ok, z, 0.0)
    safe_total = np.where(ok, total_sd, 1.0)
    density = _INV_SQRT_2PI * np.exp(-0.5 * safe_z * safe_z)
    move = density * sigma_1m * math.sqrt(horizon_s / 60.0) / safe_total
    return np.where(ok, move, 0.0)


def half_spread(move_sd: np.ndarray, params: MarketModelParams) -> np.ndarray:
    """The makers' half-spread: base plus ``uncertainty_mult × move_sd``, capped."""
    return np.minimum(
        params.max_half_spread,
        params.base_half_spread + params.uncertainty_mult * move_sd,
    )


def quote_top(
    p: np.ndarray, half: np.ndarray, grid: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Best bid and ask (micro) around ``p`` with half-spread ``half`` on the ``grid``.

    Each side is ``p ∓ half`` rounded to the nearest grid point (halves away from ``p``),
    then widened if needed so that ``bid ≤ p ≤ ask`` and the ask is at least one step above
    the bid: a small half-spread gives the one-step spread around ``p``, a larger one a
    proportionally wider spread. A side that would fall at or beyond 0 or 1 is not quoted
    (``NO_BID`` / ``NO_ASK``): a near-certain outcome has an empty side, as recorded on the
    venue.
    """
    scale = MICRO / grid
    centre = p * scale
    bid_steps = np.minimum(
        np.floor((p - half) * scale + 0.5 - _EPS), np.floor(centre + _EPS)
    )
    ask_steps = np.maximum(
        np.maximum(np.floor((p + half) * scale + 0.5 + _EPS), bid_steps + 1),
        np.ceil(centre - _EPS),
    )
    top = MICRO // grid
    bid = np.where((bid_steps >= 1) & (bid_steps < top), bid_steps * grid, NO_BID)
    ask = np.where((ask_steps >= 1) & (ask_steps < top), ask_steps * grid, NO_ASK)
    return bid.astype(np.int64), ask.astype(np.int64)


def keeps_quote(
    bid: int, ask: int, new_bid: int, new_ask: int, p: float, grid: int, margin: float
) -> bool:
    """Whether makers holding ``bid``/``ask`` keep it rather than move to ``new_bid``/
    ``new_ask`` (all micro, same tick): they do while their probability ``p`` stays within
    ``margin`` grid steps of the quote, the same sides are quoted and the spread is within
    one step of the one they want. Makers do not chase sub-tick moves; the tolerance is far
    below the taker fee, so a kept quote is never worth picking off.
    """
    if (bid == NO_BID) != (new_bid == NO_BID) or (ask == NO_ASK) != (new_ask == NO_ASK):
        return False
    if ask - bid != new_ask - new_bid:
        return False
    slack = margin * grid
    price = p * MICRO
    return (bid == NO_BID or price >= bid - slack) and (
        ask == NO_ASK or price <= ask + slack
    )


def ladder_price(top: int, level: int, step: int, tick: int, is_bid: bool) -> int | None:
    """Price of the ``level``-th level (0 = top) of a ladder stepping ``step`` micro away
    from ``top``, on the ``tick`` grid; None when it would leave (0, 1)."""
    distance = -(-level * step // tick) * tick
    price = top - distance if is_bid else top + distance
    if 0 < price < MICRO:
        return price
    return None


def taker_cost(price: float, fee_rate: float) -> float:
    """What one share bought at ``price`` costs a taker, fee included: p + r·p·(1 − p)."""
    return price + fee_rate * price * (1.0 - price)


def max_taker_price(value: float, fee_rate: float, min_edge: float) -> float:
    """The highest price at which a share worth ``value`` still earns ``min_edge`` after
    the taker fee: the root of ``p + r·p·(1 − p) = value − min_edge`` in [0, 1]."""
    budget = value - min_edge
    if budget <= 0.0:
        return 0.0
    if budget >= 1.0:
        return 1.0
    b = 1.0 + fee_rate
    # r·p² − (1 + r)·p + budget = 0; the smaller root lies in [0, 1] (cost is increasing),
    # written so that it stays exact as r → 0 (then it is the budget itself).
    return 2.0 * budget / (b + math.sqrt(b * b - 4.0 * fee_rate * budget))


def floor_to_tick(price: float, tick: int) -> int:
    """``price`` rounded down to the tick grid, in micro-units."""
    return math.floor(price * MICRO / tick + _EPS) * tick


def ceil_to_tick(price: float, tick: int) -> int:
    """``price`` rounded up to the tick grid, in micro-units."""
    return math.ceil(price * MICRO / tick - _EPS) * tick
