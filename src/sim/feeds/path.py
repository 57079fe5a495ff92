"""The sub-minute price path: a seeded Brownian bridge through each candle's OHLC.

A minute of ``n = 60 / resolution_s`` samples is built as follows (see
``docs/SIMULATOR.md`` ("Price feeds")):

* pins: sample 0 is the open, sample ``n - 1`` the close (the last trade of the minute);
  the high and the low are pinned at two distinct interior samples, unless the open or
  the close already is that extreme;
* order of the extremes: high first with probability ``1/2 - (close - open) / (2 (high -
  low))`` — a falling candle usually makes its high first, a rising one its low — which is 1
  or 0 when the open sits on one extreme and the close on the other;
* between pins: a Brownian bridge whose per-sample noise is ``roughness * (high - low) /
  sqrt(n)``;
* the path is folded (reflected) into ``[low, high]``; the pins, already inside, stay
  put, so the path starts at the open, ends at the close and touches both extremes.

The randomness of a minute comes from ``(seed, symbol, minute)`` only, so a path does not
depend on which minutes were asked for before.
"""

from __future__ import annotations

import functools
import math
import threading
import zlib
from dataclasses import dataclass

import numpy as np

# Distinguishes the path's random stream from the generator's for the same seed.
PATH_STREAM = 0x9A7B


@dataclass(frozen=True, slots=True)
class PathParams:
    """How sub-minute paths are built.

    Attributes:
        resolution_s: seconds between samples; must divide 60 into at least 4 samples.
            1 s matches the market model's step.
        roughness: bridge noise per sample as a fraction of ``(high - low) / sqrt(n)``.
            0 gives straight lines between the pins; 0.5 wanders visibly without folding
            against the extremes most of the time.
        cache_minutes: minutes kept in the cache (all symbols together); at 60 samples a
            minute, 20,000 minutes are about 10 MB of Python floats.
    """

    resolution_s: float = 1.0
    roughness: float = 0.5
    cache_minutes: int = 20_000

    def __post_init__(self) -> None:
        n = 60.0 / self.resolution_s if self.resolution_s > 0 else 0.0
        if self.resolution_s <= 0 or abs(n - round(n)) > 1e-9 or round(n) < 4:
            raise ValueError(
                f"resolution_s must divide 60 s into at least 4 samples, "
                f"got {self.resolution_s}"
            )
        if self.roughness < 0:
            raise ValueError(f"roughness must be >= 0, got {self.roughness}")
        if self.cache_minutes < 1:
            raise ValueError(f"cache_minutes must be >= 1, got {self.cache_minutes}")

    @property
    def points(self) -> int:
        """Samples per minute."""
        return round(60.0 / self.resolution_s)


def symbol_key(symbol: str) -> int:
    """A stable integer for a symbol (Python's ``hash`` changes between runs)."""
    return zlib.crc32(symbol.encode())


@functools.lru_cache(maxsize=16)  # one resolution a run, seldom more
def _sample_index(n: int) -> np.ndarray:
    """``np.arange(n, dtype=np.float64)``, read-only: shared by every build."""
    idx = np.arange(n, dtype=np.float64)
    idx.flags.writeable = False
    return idx


def build_minute_path(
    open_: float,
    high: float,
    low: float,
    close: float,
    n: int,
    rng: np.random.Generator,
    roughness: float = 0.5,
) -> np.ndarray:
    """``n`` prices from ``open_`` to ``close`` inside ``[low, high]``, touching both.

    The caller guarantees ``low <= open_, close <= high`` (a valid candle).
    """
    if n < 4:
        raise ValueError(f"a minute path needs at least 4 samples, got {n}")
    width = high - low
    if width <= 0.0:
        return np.full(n, open_)
    high_first = rng.random() < 0.5 - (close - open_) / (2.0 * width)
    # Which extremes still need an interior pin: an open or close on an extreme touches it.
    need_high = open_ != high and close != high
    need_low = open_ != low and close != low
    # two distinct interior slots, in order (sorted here: np.sort of two costs more)
    first, second = rng.choice(n - 2, size=2, replace=False).tolist()
    slots = (first + 1, second + 1) if first < second else (second + 1, first + 1)
    pins_i = [0]
    pins_v = [open_]
    order = [(high, need_high), (low, need_low)]
    if not high_first:
        order.reverse()
    for slot, (value, needed) in zip(slots, order, strict=True):
        if needed:
            pins_i.append(slot)
            pins_v.append(value)
    pins_i.append(n - 1)
    pins_v.append(close)
    idx = _sample_index(n)
    anchors = np.asarray(pins_i, dtype=np.float64)
    path = np.interp(idx, anchors, pins_v)
    if roughness > 0.0:
        walk = np.empty(n)
        walk[0] = 0.0
        np.cumsum(rng.standard_normal(n - 1), out=walk[1:])
        walk *= roughness * width / math.sqrt(n)
        # Turning the walk into bridges between consecutive pins: subtract its value at the
        # pins, interpolated, so the noise is zero at every pin.
        path += walk - np.interp(idx, anchors, walk[pins_i])
        # Folding into [low, high] keeps pin values (already inside) and the walk's texture,
        # where clipping would leave flat stretches at the extremes.
        folded = np.mod(path - low, 2.0 * width)
        path = low + np.where(folded > width, 2.0 * width - folded, folded)
        # low + (high - low) can round one ulp past high. (np.clip's value, from the two
        # ufuncs it stands for without its dispatch overhead.)
        np.minimum(np.maximum(path, low, out=path), high, out=path)
        path[pins_i] = pins_v
    return path


class MinutePaths:
    """Builds and caches the sub-minute path of each ``(symbol, minute)``."""

    def __init__(self, seed: int = 0, params: PathParams | None = None) -> None:
        if seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        self._seed = seed
        self._params = params or PathParams()
        self._n = self._params.points
        self.points_per_second = 1.0 / self._params.resolution_s
        self._cache: dict[tuple[str, int], list[float]] = {}
        self._lock = threading.Lock()

    @property
    def params(self) -> PathParams:
        """The path parameters."""
        return self._params

    @property
    def points(self) -> int:
        """Samples per minute."""
        return self._n

    def cached(self, symbol: str, minute_ms: int) -> list[float] | None:
        """The minute's path if it is already built."""
        return self._cache.get((symbol, minute_ms))

    def path(
        self,
        symbol: str,
        minute_ms: int,
        open_: float,
        high: float,
        low: float,
        close: float,
    ) -> list[float]:
        """The minute's path (built once, then served from the cache)."""
        key = (symbol, minute_ms)
        found = self._cache.get(key)
        if found is not None:
            return found
        rng = np.random.default_rng(
            [self._seed, PATH_STREAM, symbol_key(symbol), minute_ms // 60_000]
        )
        built = build_minute_path(
            open_, high, low, close, self._n, rng, self._params.roughness
        ).tolist()
        with self._lock:
            if len(self._cache) >= self._params.cache_minutes:
                # Oldest first: the simulation walks forward in time.
                del self._cache[next(iter(self._cache))]
            # Two threads building the same minute build the same path: keep the first.
            return self._cache.setdefault(key, built)
