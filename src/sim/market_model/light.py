"""The light market: the makers' quotes as tapes, without a simulated order flow.

For long backtests the full market model (a ladder of maker orders re-quoted every second,
Poisson takers trading through it) costs more than the bot itself. The light market keeps
what the bot sees and meets — the makers' best bid and ask, computed by the same rules and
parameters as the full model (:mod:`src.sim.market_model.view`: fair value from the feed,
the makers' AR(1) error, the uncertainty spread, the requote tolerance), sampled every
``sample_s`` seconds — and replays it as a quote tape
(:class:`~src.sim.emulator.recorded.TapeMarketSource`): the same fills as a recording
(taker orders at the quote up to the depth, resting orders when the quote reaches through
them), the same strike, basis and outcome as the full model for the seed.

What it leaves out: the takers (a resting order at the best price fills only when the quote
moves through it, not when someone trades at it), depth beyond the top level
(``depth_shares`` there), and the fine tick near 0 and 1 (quotes stay on the quoting grid).
"""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np

from src.data.market_data.windows import WINDOW_SECONDS
from src.sim.calendar import MarketCalendar, SimMarket, resolve_outcome
from src.sim.emulator.config import EmulatorConfig
from src.sim.emulator.recorded import (
    NONE,
    Listing,
    ReplayRules,
    Tape,
    TapeMarketSource,
)
from src.sim.emulator.world import ListedMarket, MarketSource
from src.sim.feeds.base import PriceFeed
from src.sim.market_model.fair import fair_value_settings
from src.sim.market_model.params import MarketModelParams
from src.sim.market_model.pricing import MICRO, NO_ASK, NO_BID
from src.sim.market_model.reference import (
    draw_basis,
    end_feed_price,
    reference_price,
    stream_rng,
)
from src.sim.market_model.view import (
    WindowInputs,
    fair_path_at,
    held_quotes,
    maker_probability,
)
from src.sim.market_model.volatility import SigmaByMinute
from src.sim.venue import Outcome, SimVenue
from src.trading.params import StrategyParams

DEFAULT_SAMPLE_S = 5.0


def light_tape(
    feed: PriceFeed,
    market: SimMarket,
    params: MarketModelParams,
    settings: StrategyParams,
    seed: int,
    sample_s: float = DEFAULT_SAMPLE_S,
) -> Tape:
    """The makers' quotes of one window every ``sample_s`` seconds, and its outcome.

    The strike, the basis draws and the outcome are the full model's for the same seed
    (same per-market random streams); the makers' error is the same AR(1) process, its
    persistence taken to the sampling step.
    """
    window = market.window
    symbol = market.symbol
    key = market.condition_id
    basis = stream_rng(seed, key, "basis")
    strike = reference_price(
        feed.price_at(symbol, window.start), draw_basis(basis, params.basis_bp)
    )
    end_basis = draw_basis(basis, params.basis_bp)
    sigma = SigmaByMinute(
        feed,
        symbol,
        window.start - params.maker_lag_s,
        window.end,
        params.vol_lookback_min,
        params.default_sigma_bp * 1e-4,
    )
    count = max(1, math.ceil(WINDOW_SECONDS / sample_s))
    times = window.start + np.arange(count, dtype=np.float64) * sample_s
    first_s = feed.time_range()[0] / 1000
    fair = fair_path_at(
        feed,
        WindowInputs(symbol, window.start, window.end, strike),
        sigma,
        settings,
        params.maker_lag_s,
        times,
        first_s,
    )
    noise = _noise(stream_rng(seed, key, "noise"), count, params, sample_s)
    quotes = held_quotes(fair, maker_probability(fair.p_up, noise), params)
    depth = int(params.depth_shares) * MICRO
    up_bid = [NONE if q.bid == NO_BID else q.bid for q in quotes]
    up_ask = [NONE if q.ask == NO_ASK else q.ask for q in quotes]
    final = reference_price(
        end_feed_price(feed, symbol, window.end, params.settlement_twap_s), end_basis
    )
    won = resolve_outcome(strike, final) == "UP"
    return Tape(
        times=times.tolist(),
        up_bid=up_bid,
        up_ask=up_ask,
        down_bid=[NONE if a == NONE else MICRO - a for a in up_ask],
        down_ask=[NONE if b == NONE else MICRO - b for b in up_bid],
        sizes=[(depth, depth, depth, depth)] * count,
        outcome=Outcome.UP if won else Outcome.DOWN,
    )


def _noise(rng: object, count: int, params: MarketModelParams, step_s: float) -> np.ndarray:
    """The makers' logit error at each sample: a stationary AR(1) whose per-second
    persistence is ``params.noise_persistence``."""
    sd = params.noise_sd_logit
    if sd <= 0:
        return np.zeros(count)
    phi = params.noise_persistence**step_s
    shocks = np.random.default_rng(rng.getrandbits(64)).standard_normal(count)  # type: ignore[attr-defined]
    innovation = sd * math.sqrt(1.0 - phi * phi)
    # the recursion in Python floats: the same IEEE doubles as numpy's scalars, without
    # an array read and write per step
    value = shocks[0].item() * sd
    values = [value]
    for shock in shocks[1:].tolist():
        value = phi * value + innovation * shock
        values.append(value)
    return np.array(values)


class LightListings:
    """The calendar's markets for the coins the feed serves, each with its light tape."""

    def __init__(
        self,
        feed: PriceFeed,
        calendar: MarketCalendar,
        params: MarketModelParams,
        seed: int,
        sample_s: float,
    ) -> None:
        self._feed = feed
        self._calendar = calendar
        self._params = params
        self._settings = fair_value_settings(params)
        self._seed = seed
        self._sample_s = sample_s
        self._seen: set[str] = set()
        served = {s.upper() for s in feed.symbols}
        self._coins = {c for c in calendar.coins if f"{c}USDT" in served}
        first, end = feed.time_range()
        history = params.maker_lag_s + params.vol_lookback_min * 60
        self._first = first / 1000 + history
        self._end = end / 1000
        self._next_look = -math.inf

    def due(self, t: float) -> list[Listing]:
        """Markets listed by ``t`` whose whole window the feed serves."""
        if t < self._next_look:
            return []
        self._next_look = self._calendar.next_listing(t)
        due = []
        for market in self._calendar.live_markets(t):
            key = market.condition_id
            if key in self._seen or market.window.coin not in self._coins:
                continue
            self._seen.add(key)
            window = market.window
            if window.start < self._first or window.end > self._end:
                continue
            listed = ListedMarket.from_calendar(market, fee_rate=self._params.fee_rate)
            due.append(Listing(listed, self._loader(market)))
        if len(self._seen) > 4_096:  # forget long-resolved markets
            live = {m.condition_id for m in self._calendar.live_markets(t)}
            self._seen &= live
        return due

    def _loader(self, market: SimMarket):  # type: ignore[no-untyped-def]
        def load() -> Tape:
            return light_tape(
                self._feed, market, self._params, self._settings, self._seed, self._sample_s
            )

        return load

    def next_time(self) -> float | None:
        """Markets keep coming: the next window's listing is always due soon."""
        return None


def light_source(
    venue: SimVenue,
    feed: PriceFeed,
    calendar: MarketCalendar,
    config: EmulatorConfig,
    params: MarketModelParams | None = None,
    sample_s: float = DEFAULT_SAMPLE_S,
) -> MarketSource:
    """The light market behind the :class:`MarketSource` protocol (an emulator
    ``source_factory``)."""
    params = params or config.market_params or MarketModelParams()
    listings = LightListings(feed, calendar, params, config.seed, sample_s)
    rules = ReplayRules(
        depth_shares=Decimal(int(params.depth_shares)), fee_rate=params.fee_rate
    )
    return TapeMarketSource(venue, feed, listings, rules)
