"""The makers' view of a window: their fair value and the quote it implies, each second.

The makers see the feed ``maker_lag_s`` late, estimate volatility from the candles closed by
then, compute the fair value with the project's rule and add their own error, an AR(1)
process in logit space. The quote (best bid, best ask, tick) follows from that probability
by the pure rules of :mod:`src.sim.market_model.pricing`.

Everything the makers see is exogenous (the feed, the strike, their own error), so a
window's whole quote path is computed once when it opens; the driver then only looks up
the second it is in. Consecutive equal quotes are the *same* object, so "did the quote
change?" is an identity test.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np

from src.sim.feeds.base import PriceFeed
from src.sim.feeds.table import feed_prices
from src.sim.market_model.distributions import normal_cdf, unit_t_cdf
from src.sim.market_model.params import MarketModelParams
from src.sim.market_model.pricing import (
    COARSE_TICK,
    MICRO,
    fair_value_move_sd,
    half_spread,
    keeps_quote,
    logit,
    quote_top,
    sigmoid,
    tick_for,
)
from src.sim.market_model.volatility import SigmaByMinute
from src.trading.params import StrategyParams
from src.trading.signals.fair_value import effective_minutes

BP = 1e-4


@dataclass(frozen=True, slots=True)
class Quote:
    """The makers' top of book in Up space (micro-units) and the venue's tick.

    ``bid``/``ask`` are ``NO_BID``/``NO_ASK`` when that side is not quoted; the Down book
    mirrors it (Down bid = 1 − ask, Down ask = 1 − bid). ``grid`` is the step the makers
    quote on (the tick, or a coarser quoting grid).
    """

    bid: int
    ask: int
    tick: int
    grid: int


@dataclass(frozen=True, slots=True)
class QuotePath:
    """A window's quotes and the makers' probability of Up, one per second of it."""

    quotes: list[Quote]
    fairs: list[float]


@dataclass(frozen=True, slots=True)
class FairPath:
    """The fair value's ingredients for each second of a window (arrays of equal length)."""

    p_up: np.ndarray
    z: np.ndarray
    sigma_1m: np.ndarray
    total_sd: np.ndarray


def maker_probability(p_up: np.ndarray, noise_logit: np.ndarray) -> np.ndarray:
    """The makers' probability of Up: the fair value moved by their logit error."""
    return sigmoid(logit(p_up) + noise_logit)


def maker_quotes(
    fair: FairPath, p: np.ndarray, params: MarketModelParams
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Bid, ask, tick and quoting grid (micro arrays) of makers who believe ``p``; the
    spread follows the fair value's uncertainty."""
    move = fair_value_move_sd(
        fair.z, fair.sigma_1m, fair.total_sd, params.uncertainty_horizon_s
    )
    half = half_spread(move, params)
    tick = tick_for(p)
    grid = np.maximum(tick, round(params.quote_grid * MICRO))
    bid, ask = quote_top(p, half, grid)
    return bid, ask, tick, grid


def opening_quote(params: MarketModelParams) -> Quote:
    """The quote before the window starts: the strike is not known, Up and Down are even."""
    grid = max(COARSE_TICK, round(params.quote_grid * MICRO))
    bid, ask = quote_top(np.array([0.5]), np.array([params.base_half_spread]), grid)
    return Quote(int(bid[0]), int(ask[0]), COARSE_TICK, grid)


def ar1_path(rng: random.Random, count: int, sd: float, phi: float) -> np.ndarray:
    """``count`` values of a stationary AR(1) with standard deviation ``sd``, started in
    its stationary distribution."""
    if sd <= 0.0 or count <= 0:
        return np.zeros(max(count, 0))
    shocks = np.random.default_rng(rng.getrandbits(64)).standard_normal(count)
    shocks[0] *= sd
    shocks[1:] *= sd * math.sqrt(1.0 - phi * phi)
    values = shocks.tolist()
    value = values[0]
    for i in range(1, count):
        value = phi * value + values[i]
        values[i] = value
    return np.array(values)


@dataclass(frozen=True, slots=True)
class WindowInputs:
    """What the makers know of one window: its symbol, times and strike."""

    symbol: str
    start: int
    end: int
    strike: float


def fair_values(
    spot: np.ndarray,
    strike: float,
    sigma_1m: np.ndarray,
    time_left_s: np.ndarray,
    settings: StrategyParams,
) -> FairPath:
    """The project's fair-value rule for arrays of inputs.

    Element by element this is :func:`src.trading.signals.fair_value.fair_value` (the tests
    hold the two equal): the same volatility floor, effective time (its
    ``effective_minutes``), basis, and CDF (:mod:`src.sim.market_model.distributions`). A
    window's quote path needs 900 evaluations; this is the rule without 900 calls building
    900 result objects.
    """
    floor = settings.min_sigma_bp * BP
    sigma = np.where(np.isfinite(sigma_1m) & (sigma_1m > floor), sigma_1m, floor)
    twap = settings.settlement_twap_s
    if twap <= 0:
        tau_eff = np.maximum(time_left_s, 0.0) / 60.0
    else:
        tau_eff = np.array([effective_minutes(t, twap) for t in time_left_s.tolist()])
    basis = settings.basis_bp * BP
    total = np.sqrt(sigma * sigma * tau_eff + basis * basis)
    d = np.log(spot) - math.log(strike)
    known = total <= 0.0  # no time and no basis noise: the outcome is known (ties Up)
    z = np.where(known, np.where(d > 0, np.inf, np.where(d < 0, -np.inf, 0.0)), 0.0)
    live = ~known
    z[live] = d[live] / total[live]
    if settings.fair_value_model == "student_t":
        p_up = unit_t_cdf(z, settings.student_t_dof)
    else:
        p_up = normal_cdf(z)
    p_up[known] = np.where(d[known] >= 0, 1.0, 0.0)
    return FairPath(p_up, z, sigma, total)


def fair_path(
    feed: PriceFeed,
    window: WindowInputs,
    sigma: SigmaByMinute,
    settings: StrategyParams,
    lag_s: float,
    count: int,
    feed_first_s: float,
) -> FairPath:
    """The fair value seen ``lag_s`` late for each of the first ``count`` seconds of the
    window (a lagged look never reaches before ``feed_first_s``)."""
    times = window.start + np.arange(count, dtype=np.float64)
    return fair_path_at(feed, window, sigma, settings, lag_s, times, feed_first_s)


def fair_path_at(
    feed: PriceFeed,
    window: WindowInputs,
    sigma: SigmaByMinute,
    settings: StrategyParams,
    lag_s: float,
    times: np.ndarray,
    feed_first_s: float,
) -> FairPath:
    """The fair value seen ``lag_s`` late at each of ``times`` (see :func:`fair_path`)."""
    seen = np.maximum(feed_first_s, times - lag_s)
    spot = np.array(feed_prices(feed, window.symbol, seen.tolist()))
    return fair_values(
        spot, window.strike, sigma.at_many(seen), window.end - times, settings
    )


def build_quote_path(
    feed: PriceFeed,
    window: WindowInputs,
    sigma: SigmaByMinute,
    params: MarketModelParams,
    settings: StrategyParams,
    noise: np.ndarray,
    feed_first_s: float,
) -> QuotePath:
    """The makers' quote for every second of the window (index = seconds since start).

    ``noise`` holds their logit error for each second; ``feed_first_s`` is the first time
    the feed serves.
    """
    fair = fair_path(
        feed, window, sigma, settings, params.maker_lag_s, len(noise), feed_first_s
    )
    p = maker_probability(fair.p_up, noise)
    return QuotePath(held_quotes(fair, p, params), p.tolist())


def held_quotes(fair: FairPath, p: np.ndarray, params: MarketModelParams) -> list[Quote]:
    """The quote at each step of makers who believe ``p``: a new quote only when the
    makers would not keep the last one (:func:`~src.sim.market_model.pricing.
    keeps_quote`); an unchanged quote is the same object."""
    bids, asks, ticks, grids = maker_quotes(fair, p, params)
    fairs = p.tolist()
    margin = params.requote_margin
    quotes: list[Quote] = []
    last: Quote | None = None
    for bid, ask, tick, grid, belief in zip(
        bids.tolist(), asks.tolist(), ticks.tolist(), grids.tolist(), fairs, strict=True
    ):
        if (
            last is None
            or tick != last.tick
            or (
                (bid != last.bid or ask != last.ask)
                and not keeps_quote(last.bid, last.ask, bid, ask, belief, grid, margin)
            )
        ):
            last = Quote(bid, ask, tick, grid)
        quotes.append(last)  # an unchanged quote is the same object: an identity test
    return quotes


def change_points(quotes: list[Quote]) -> list[int]:
    """For each second, the index of the next second whose quote differs (or the length
    of the path): when the makers next need to act."""
    count = len(quotes)
    after = [count] * count
    for i in range(count - 2, -1, -1):
        after[i] = i + 1 if quotes[i + 1] is not quotes[i] else after[i + 1]
    return after
