"""The light market: the makers' quotes as tapes, resolved like the full model."""

from __future__ import annotations

import dataclasses
import math
import random

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from src.data.market_data.windows import WindowRef
from src.sim.calendar import MarketCalendar
from src.sim.emulator.config import EmulatorConfig
from src.sim.emulator.recorded import NONE, TapeMarketSource
from src.sim.feeds.generator import DEFAULT_START_MS, GeneratedFeed
from src.sim.market_model import SimExchange
from src.sim.market_model.fair import fair_value_settings
from src.sim.market_model.light import LightListings, _noise, light_source, light_tape
from src.sim.market_model.params import MarketModelParams
from src.sim.market_model.pricing import MICRO
from src.sim.venue import SimVenue
from src.utils.clock import SimClock

SEED = 4
START = DEFAULT_START_MS // 1000 + 86_400


def _feed() -> GeneratedFeed:
    return GeneratedFeed(SEED, start_ms=DEFAULT_START_MS, minutes=3 * 1440)


def test_windows_resolve_as_the_full_model_resolves_them() -> None:
    feed = _feed()
    clock = SimClock(start=START, speed=None)
    venue = SimVenue(clock, seed=SEED, record_events=False)
    calendar = MarketCalendar(("BTC", "ETH"), seed=SEED)
    exchange = SimExchange(clock, feed, calendar, venue, MarketModelParams(), seed=SEED)
    exchange.run_until(START + 4 * 3600, 10.0)
    resolved = exchange.resolved_markets()
    assert len(resolved) >= 20
    params = MarketModelParams()
    settings = fair_value_settings(params)
    outcomes = set()
    for state in resolved:
        tape = light_tape(feed, state.market, params, settings, SEED, 10.0)
        assert str(tape.outcome).upper() == str(state.outcome).upper(), state.market.slug
        outcomes.add(tape.outcome)
    assert len(outcomes) == 2


def test_a_tape_is_sampled_on_the_grid_with_mirrored_books() -> None:
    feed = _feed()
    market = MarketCalendar(("BTC",), seed=SEED).market(WindowRef("BTC", START))
    params = MarketModelParams()
    tape = light_tape(feed, market, params, fair_value_settings(params), SEED, 5.0)
    assert tape.times == [float(START + 5 * k) for k in range(180)]
    grid = round(params.quote_grid * MICRO)
    for bid, ask, down_bid, down_ask in zip(
        tape.up_bid, tape.up_ask, tape.down_bid, tape.down_ask, strict=True
    ):
        if bid != NONE and ask != NONE:
            assert 0 < bid < ask < MICRO
        assert bid == NONE or bid % grid == 0
        assert down_bid == (NONE if ask == NONE else MICRO - ask)
        assert down_ask == (NONE if bid == NONE else MICRO - bid)
    assert tape.sizes[0] == (int(params.depth_shares) * MICRO,) * 4


def test_the_same_seed_gives_the_same_tape() -> None:
    feed = _feed()
    market = MarketCalendar(("BTC",), seed=SEED).market(WindowRef("BTC", START))
    params = MarketModelParams()
    settings = fair_value_settings(params)
    first = light_tape(feed, market, params, settings, SEED, 10.0)
    assert first == light_tape(_feed(), market, params, settings, SEED, 10.0)
    other = light_tape(feed, market, params, settings, SEED + 1, 10.0)
    assert first.up_bid != other.up_bid  # the makers' error is seeded


def test_listings_cover_only_windows_the_feed_serves_and_list_each_once() -> None:
    feed = GeneratedFeed(SEED, start_ms=DEFAULT_START_MS, minutes=180)
    calendar = MarketCalendar(("BTC", "DOGE"), seed=SEED)
    listings = LightListings(feed, calendar, MarketModelParams(), SEED, 10.0)
    first_ok = DEFAULT_START_MS // 1000 + 3600  # an hour of candles for the volatility
    seen = []
    for t in range(DEFAULT_START_MS // 1000, DEFAULT_START_MS // 1000 + 3 * 3600, 60):
        seen += [listing.market for listing in listings.due(t)]
    assert seen, "nothing listed"
    assert len({m.condition_id for m in seen}) == len(seen)
    assert {m.coin for m in seen} == {"BTC"}
    assert all(m.start >= first_ok and m.end <= first_ok + 2 * 3600 for m in seen)
    assert listings.next_time() is None


def test_the_light_source_shows_quotes_without_resting_orders() -> None:
    feed = _feed()
    clock = SimClock(start=START - 600, speed=None)
    venue = SimVenue(clock, seed=SEED, record_events=False)
    calendar = MarketCalendar(("BTC",), seed=SEED)
    source = light_source(venue, feed, calendar, EmulatorConfig(seed=SEED), sample_s=10.0)
    assert isinstance(source, TapeMarketSource)
    source.advance_to(START + 60)
    market = source.by_slug(WindowRef("BTC", START).slug)
    assert market is not None
    bid, ask = venue.best_bid_ask(market.up_token_id)
    assert bid is not None and ask is not None and bid < ask
    assert not venue.has_live_orders(market.condition_id)  # virtual: nothing rests


def noise_in_numpy(
    rng: random.Random, count: int, params: MarketModelParams, step_s: float
) -> np.ndarray:
    """``_noise`` as first written: the recursion over numpy's array and scalars."""
    sd = params.noise_sd_logit
    if sd <= 0:
        return np.zeros(count)
    phi = params.noise_persistence**step_s
    shocks = np.random.default_rng(rng.getrandbits(64)).standard_normal(count)
    values = np.empty(count)
    values[0] = shocks[0] * sd
    innovation = sd * math.sqrt(1.0 - phi * phi)
    for i in range(1, count):
        values[i] = phi * values[i - 1] + innovation * shocks[i]
    return values


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    count=st.integers(1, 400),
    sd=st.sampled_from([0.0, 0.05, 0.3, 1.7]),
    half_life_s=st.floats(0.5, 3_600),
    step_s=st.sampled_from([1.0, 5.0, 10.0, 2.5]),
)
def test_noise_in_python_floats_is_the_numpy_recursion(
    seed: int, count: int, sd: float, half_life_s: float, step_s: float
) -> None:
    """Bit for bit, and the generator left in the same state."""
    params = dataclasses.replace(
        MarketModelParams(), noise_sd_logit=sd, noise_half_life_s=half_life_s
    )
    ours, theirs = random.Random(seed), random.Random(seed)
    got = _noise(ours, count, params, step_s)
    want = noise_in_numpy(theirs, count, params, step_s)
    assert got.dtype == want.dtype and got.tobytes() == want.tobytes()
    assert ours.getstate() == theirs.getstate()
