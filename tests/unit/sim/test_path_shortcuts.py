"""The minute path's shortcuts (two slots ordered in Python, a shared sample index, clip
as its two ufuncs) against the general code they replace: bit for bit."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from src.sim.feeds.path import build_minute_path


def general_path(
    open_: float,
    high: float,
    low: float,
    close: float,
    n: int,
    rng: np.random.Generator,
    roughness: float,
) -> np.ndarray:
    """build_minute_path as first written: np.sort, a fresh arange, np.clip."""
    width = high - low
    if width <= 0.0:
        return np.full(n, open_)
    high_first = rng.random() < 0.5 - (close - open_) / (2.0 * width)
    need_high = open_ != high and close != high
    need_low = open_ != low and close != low
    slots = np.sort(rng.choice(n - 2, size=2, replace=False) + 1)
    pins_i = [0]
    pins_v = [open_]
    order = [(high, need_high), (low, need_low)]
    if not high_first:
        order.reverse()
    for slot, (value, needed) in zip(slots.tolist(), order, strict=True):
        if needed:
            pins_i.append(slot)
            pins_v.append(value)
    pins_i.append(n - 1)
    pins_v.append(close)
    idx = np.arange(n, dtype=np.float64)
    anchors = np.asarray(pins_i, dtype=np.float64)
    path = np.interp(idx, anchors, pins_v)
    if roughness > 0.0:
        walk = np.empty(n)
        walk[0] = 0.0
        np.cumsum(rng.standard_normal(n - 1), out=walk[1:])
        walk *= roughness * width / math.sqrt(n)
        path += walk - np.interp(idx, anchors, walk[pins_i])
        folded = np.mod(path - low, 2.0 * width)
        path = low + np.where(folded > width, 2.0 * width - folded, folded)
        np.clip(path, low, high, out=path)
        path[pins_i] = pins_v
    return path


@st.composite
def candles(draw: st.DrawFn) -> tuple[float, float, float, float]:
    low = draw(st.floats(1e-4, 1e6))
    width = draw(st.sampled_from([0.0, low * 1e-9, low * 1e-4, low * 0.01, low]))
    high = low + width
    inside = st.sampled_from([low, high]) | st.floats(low, high)
    return draw(inside), high, low, draw(inside)


@settings(max_examples=200, deadline=None)
@given(
    candles(),
    st.sampled_from([4, 5, 6, 12, 60]),
    st.sampled_from([0.0, 0.5, 3.0]),
    st.integers(0, 2**32 - 1),
)
def test_build_equals_the_general_path(
    candle: tuple[float, float, float, float], n: int, roughness: float, seed: int
) -> None:
    open_, high, low, close = candle
    fast = build_minute_path(
        open_, high, low, close, n, np.random.default_rng(seed), roughness
    )
    general = general_path(
        open_, high, low, close, n, np.random.default_rng(seed), roughness
    )
    assert fast.tobytes() == general.tobytes()


def test_the_shared_index_cannot_be_written() -> None:
    from src.sim.feeds.path import _sample_index

    idx = _sample_index(60)
    assert idx.tobytes() == np.arange(60, dtype=np.float64).tobytes()
    assert not idx.flags.writeable
