"""The makers' view: the fair-value rule on arrays, volatility, noise and the quote path."""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import replace

import numpy as np
import pytest

from src.sim.market_model import MarketModelParams, fair_value_settings
from src.sim.market_model.distributions import unit_t, unit_t_cdf
from src.sim.market_model.pricing import MICRO, NO_ASK, NO_BID
from src.sim.market_model.view import (
    WindowInputs,
    ar1_path,
    build_quote_path,
    change_points,
    fair_values,
    opening_quote,
)
from src.sim.market_model.volatility import SigmaByMinute
from src.trading.signals.fair_value import fair_value
from tests.unit.market_model.support import START, generated_feed, stepped_feed


@pytest.mark.parametrize(
    ("model", "twap", "tolerance"),
    [("normal", 0.0, 1e-12), ("normal", 60.0, 1e-12), ("student_t", 0.0, 5e-7)],
)
def test_fair_values_is_the_strategy_rule_element_by_element(
    model: str, twap: float, tolerance: float
) -> None:
    settings = replace(
        fair_value_settings(MarketModelParams()),
        fair_value_model=model,
        settlement_twap_s=twap,
    )
    rng = np.random.default_rng(4)
    spot = 100.0 * np.exp(rng.normal(0.0, 0.002, 500))
    sigma = rng.uniform(0.0, 0.001, 500)
    sigma[:5] = [np.nan, 0.0, 1e-9, 0.0005, 0.002]  # floors and a NaN
    time_left = rng.uniform(0.0, 900.0, 500)
    time_left[:3] = [0.0, 0.0, 30.0]
    spot[0] = 100.0  # at the strike with no time left: a tie goes Up
    got = fair_values(spot, 100.0, sigma, time_left, settings)
    for i in range(500):
        want = fair_value(float(spot[i]), 100.0, float(sigma[i]), time_left[i], settings)
        assert got.p_up[i] == pytest.approx(want.p_up, rel=1e-12, abs=tolerance)
        assert got.total_sd[i] == pytest.approx(want.total_sd, rel=1e-12)
        assert got.sigma_1m[i] == want.sigma_1m


def test_fair_values_with_nothing_left_to_learn_is_certain() -> None:
    settings = replace(fair_value_settings(MarketModelParams()), basis_bp=0.0)
    got = fair_values(
        np.array([100.0, 100.0, 99.0]), 100.0, np.full(3, 0.001), np.zeros(3), settings
    )
    assert got.p_up.tolist() == [1.0, 1.0, 0.0]


def test_the_student_t_table_matches_the_strategy_function() -> None:
    z = np.concatenate([np.linspace(-50.0, 50.0, 4001), [0.0, 1e-9, -1e-9]])
    got = unit_t_cdf(z, 4.0)
    want = np.array([unit_t(x, 4.0) for x in z.tolist()])
    assert np.max(np.abs(got - want)) < 5e-7
    assert got[0] < 1e-5 and got[-4] > 1 - 1e-5


def test_sigma_uses_closed_candles_only() -> None:
    prices = [100.0 * (1.001 if i % 2 else 1.0) for i in range(120)] + [100.0] * 60
    feed = stepped_feed(prices, first=START - 7200)
    sigma = SigmaByMinute(feed, "BTCUSDT", START - 3600, START, 60, default=0.0005)
    # Before START − 3600 + 60 the candle of START − 3600 has not closed yet.
    closes = prices[:60]
    returns = [math.log(b / a) for a, b in itertools.pairwise(closes)]
    want = math.sqrt(sum(r * r for r in returns[-60:]) / len(returns[-60:]))
    assert sigma.at(START - 3600 + 30) == pytest.approx(want, rel=1e-12)
    late = prices[: 60 + 59]
    returns = [math.log(b / a) for a, b in itertools.pairwise(late)][-60:]
    want = math.sqrt(sum(r * r for r in returns) / 60)
    assert sigma.at(START - 1) == pytest.approx(want, rel=1e-12)


def test_sigma_falls_back_to_the_default_without_history() -> None:
    feed = stepped_feed([100.0] * 30, first=START)
    sigma = SigmaByMinute(feed, "BTCUSDT", START, START + 900, 60, default=0.0005)
    assert sigma.at(START + 10) == 0.0005  # no candle closed yet
    assert sigma.at(START + 200) == 0.0005  # flat candles: zero volatility, floored


def test_noise_is_a_stationary_ar1_with_the_documented_moments() -> None:
    params = MarketModelParams()
    phi = params.noise_persistence
    values = np.concatenate(
        [ar1_path(random.Random(k), 900, params.noise_sd_logit, phi) for k in range(60)]
    )
    assert values.std() == pytest.approx(params.noise_sd_logit, rel=0.1)
    paths = values.reshape(60, 900)
    lag1 = np.mean(
        [np.corrcoef(path[:-1], path[1:])[0, 1] for path in paths]  # per-window
    )
    assert lag1 == pytest.approx(phi, abs=0.02)
    same = ar1_path(random.Random(7), 900, 0.05, phi)
    assert np.array_equal(same, ar1_path(random.Random(7), 900, 0.05, phi))


def _path(seed: int) -> list:
    feed = generated_feed(seed, hours=1.0)
    params = MarketModelParams()
    settings = fair_value_settings(params)
    sigma = SigmaByMinute(feed, "BTCUSDT", START - 1, START + 900, 60, 0.0005)
    strike = feed.price_at("BTCUSDT", START)
    noise = ar1_path(random.Random(seed), 900, 0.05, params.noise_persistence)
    first = feed.time_range()[0] / 1000
    return build_quote_path(
        feed,
        WindowInputs("BTCUSDT", START, START + 900, strike),
        sigma,
        params,
        settings,
        noise,
        first,
    ).quotes


def test_quote_path_is_on_the_grid_inside_zero_one_and_interned() -> None:
    quotes = _path(3)
    assert len(quotes) == 900
    for quote in quotes:
        grid = quote.grid
        assert grid % quote.tick == 0
        if quote.bid != NO_BID:
            assert 0 < quote.bid < MICRO and quote.bid % grid == 0
        if quote.ask != NO_ASK:
            assert 0 < quote.ask < MICRO and quote.ask % grid == 0
        if quote.bid != NO_BID and quote.ask != NO_ASK:
            assert quote.ask > quote.bid
    # Equal consecutive quotes are one object, so "unchanged" is an identity test.
    for before, after in itertools.pairwise(quotes):
        same = (before.bid, before.ask, before.tick) == (after.bid, after.ask, after.tick)
        assert same == (before is after)
    changes = change_points(quotes)
    for i, nxt in enumerate(changes):
        assert all(quotes[j] is quotes[i] for j in range(i, nxt))
        assert nxt == len(quotes) or quotes[nxt] is not quotes[i]


def test_opening_quote_is_even_odds_on_the_cent_grid() -> None:
    quote = opening_quote(MarketModelParams())
    assert (quote.bid, quote.ask, quote.tick) == (500_000, 510_000, 10_000)
