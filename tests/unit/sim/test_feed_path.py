"""The sub-minute path: inside the candle, through its extremes, deterministic, cached."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from src.sim.feeds.path import MinutePaths, PathParams, build_minute_path

MINUTE = 29_454_000 * 60_000


@st.composite
def candles(draw: st.DrawFn) -> tuple[float, float, float, float]:
    """Valid OHLC, with open or close often sitting on an extreme, and flat candles."""
    base = draw(st.floats(1e-4, 1e6))
    width = draw(st.sampled_from([0.0, 1e-9, 1e-3, 0.02, 0.3])) * base
    low, high = base, base + width
    spots = st.one_of(st.sampled_from([low, high]), st.floats(low, high))
    return draw(spots), high, low, draw(spots)


@settings(max_examples=400, deadline=None)
@given(
    candle=candles(),
    n=st.integers(4, 240),
    seed=st.integers(0, 2**32),
    roughness=st.sampled_from([0.0, 0.5, 3.0]),
)
def test_path_is_consistent_with_its_candle(
    candle: tuple[float, float, float, float], n: int, seed: int, roughness: float
) -> None:
    o, h, lo, c = candle
    path = build_minute_path(o, h, lo, c, n, np.random.default_rng(seed), roughness)
    assert len(path) == n
    assert path[0] == o
    assert path[-1] == c
    assert path.min() == lo
    assert path.max() == h
    assert np.all(np.isfinite(path))


@settings(max_examples=100, deadline=None)
@given(
    base=st.floats(1e-4, 1e6),
    width=st.floats(1e-3, 0.3),
    fractions=st.tuples(st.floats(0.01, 0.99), st.floats(0.01, 0.99)),
    seed=st.integers(0, 2**32),
)
def test_extremes_are_touched_inside_the_minute_when_open_and_close_are_not_on_them(
    base: float, width: float, fractions: tuple[float, float], seed: int
) -> None:
    lo, h = base, base * (1 + width)
    o, c = (lo + f * (h - lo) for f in fractions)
    path = build_minute_path(o, h, lo, c, 60, np.random.default_rng(seed))
    assert 0 < int(np.argmax(path)) < 59
    assert 0 < int(np.argmin(path)) < 59


def first_extreme_is_high(o: float, c: float, seeds: range) -> float:
    hits = 0
    for seed in seeds:
        path = build_minute_path(o, 2.0, 1.0, c, 60, np.random.default_rng(seed), 0.0)
        hits += int(np.argmax(path) < np.argmin(path))
    return hits / len(seeds)


def test_order_of_extremes_follows_the_candle() -> None:
    # Open on the high, close on the low: the high comes first, always; and the reverse.
    assert first_extreme_is_high(2.0, 1.0, range(50)) == 1.0
    assert first_extreme_is_high(1.0, 2.0, range(50)) == 0.0
    # A doji in the middle: either order, about evenly (binomial, 400 draws: ±0.1 is 4 sd).
    assert abs(first_extreme_is_high(1.5, 1.5, range(400)) - 0.5) < 0.1
    # A rising candle makes its low first more often (P(high first) = 0.25 here).
    assert abs(first_extreme_is_high(1.25, 1.75, range(400)) - 0.25) < 0.1


def test_paths_are_deterministic_per_seed_symbol_and_minute() -> None:
    candle = (100.0, 101.0, 99.0, 100.5)
    a = MinutePaths(seed=7)
    b = MinutePaths(seed=7)
    # Asked in a different order, the same minute gets the same path.
    b.path("BTCUSDT", MINUTE + 60_000, *candle)
    b.path("ETHUSDT", MINUTE, *candle)
    assert a.path("BTCUSDT", MINUTE, *candle) == b.path("BTCUSDT", MINUTE, *candle)
    assert a.path("BTCUSDT", MINUTE, *candle) != a.path("ETHUSDT", MINUTE, *candle)
    assert a.path("BTCUSDT", MINUTE, *candle) != a.path("BTCUSDT", MINUTE + 60_000, *candle)
    assert a.path("BTCUSDT", MINUTE, *candle) != MinutePaths(seed=8).path(
        "BTCUSDT", MINUTE, *candle
    )


def test_cache_returns_the_built_path_and_stays_bounded() -> None:
    paths = MinutePaths(seed=1, params=PathParams(cache_minutes=2))
    first = paths.path("X", MINUTE, 1.0, 2.0, 1.0, 2.0)
    assert paths.path("X", MINUTE, 1.0, 2.0, 1.0, 2.0) is first
    assert paths.cached("X", MINUTE) is first
    paths.path("X", MINUTE + 60_000, 1.0, 2.0, 1.0, 2.0)
    paths.path("X", MINUTE + 120_000, 1.0, 2.0, 1.0, 2.0)
    assert paths.cached("X", MINUTE) is None
    # Rebuilt after eviction, identical.
    assert paths.path("X", MINUTE, 1.0, 2.0, 1.0, 2.0) == first


@pytest.mark.parametrize(("resolution", "points"), [(1.0, 60), (0.5, 120), (15.0, 4)])
def test_resolution_sets_the_number_of_samples(resolution: float, points: int) -> None:
    paths = MinutePaths(params=PathParams(resolution_s=resolution))
    assert paths.points == points
    assert len(paths.path("X", MINUTE, 1.0, 2.0, 1.0, 1.5)) == points


@pytest.mark.parametrize(
    "kwargs",
    [
        {"resolution_s": 7.0},
        {"resolution_s": 20.0},
        {"resolution_s": 0.0},
        {"resolution_s": -1.0},
        {"roughness": -0.1},
        {"cache_minutes": 0},
    ],
)
def test_bad_path_params_are_rejected(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        PathParams(**kwargs)


def test_negative_seed_is_rejected() -> None:
    with pytest.raises(ValueError, match="seed"):
        MinutePaths(seed=-1)


def test_too_few_samples_are_rejected() -> None:
    with pytest.raises(ValueError, match="at least 4"):
        build_minute_path(1.0, 2.0, 1.0, 2.0, 3, np.random.default_rng(0))
