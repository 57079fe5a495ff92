"""Technical indicators over Binance 1-minute klines: incremental, from scratch, and naive.

Three ways to the same numbers:

- :class:`IndicatorState` — the production path. ``update(kline)`` is O(1): running sums over
  fixed windows (re-summed exactly every *window* updates so float drift cannot build up) and
  Wilder's exponential averages for the RSI. A new minute never recomputes the history.
- :func:`compute_indicators` — the same state fed from scratch with a list of klines (pure,
  O(n)); what the strategy uses when the caller has no state.
- :func:`naive_indicators` — pandas and ``ta`` over the whole history, used by the tests (the
  two paths must agree within float tolerance) and by the benchmark as the baseline.

Malformed klines (non-finite or non-positive prices, high below low, negative volume, taker
volume above total volume) and klines that do not move time forward are ignored and counted;
they never raise.

Conventions: everything is computed on **log prices**, so the mirrored market (prices
reflected through the strike, ``x → K²/x``, which is how a Down holder sees an Up market)
gives exactly mirrored indicators — the symmetry the strategy is tested for. The RSI is
Wilder's RSI of log-price changes (``ta``'s RSI applied to ``ln close``) and the VWAP is the
volume-weighted geometric mean of the typical price ``(h·l·c)^⅓``; for 1-minute moves both
differ from the arithmetic textbook versions only at second order (relative ~1e-4). The
realised volatility is the root mean square of 1-minute log returns (zero mean: over minutes
the drift is noise, and subtracting a sample mean under-states the volatility of a trending
hour), with a return that spans a data gap of ``g`` minutes counted as ``r² / g``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from src.sim.feeds.base import MINUTE_MS, Kline

_NAN = float("nan")
_isfinite = math.isfinite
# A taker-buy volume a rounding hair above the total is clamped, not rejected.
_TAKER_TOLERANCE = 1e-9


@dataclass(frozen=True, slots=True)
class IndicatorConfig:
    """Window lengths, in klines (1 minute each)."""

    rsi_window: int = 14
    momentum_lookback: int = 15
    vwap_lookback: int = 15
    flow_lookback: int = 5
    vol_lookback: int = 60
    volume_short: int = 5
    keep_klines: int = 32

    def __post_init__(self) -> None:
        for name in (
            "rsi_window",
            "momentum_lookback",
            "vwap_lookback",
            "flow_lookback",
            "vol_lookback",
            "volume_short",
            "keep_klines",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"IndicatorConfig.{name} must be a positive int, got {value!r}"
                )
        if self.momentum_lookback < 2:
            raise ValueError("IndicatorConfig.momentum_lookback must be at least 2")

    @property
    def acceleration_half(self) -> int:
        """Half-window ``h`` of the acceleration (two consecutive ``h``-minute returns)."""
        return self.momentum_lookback // 2


@dataclass(frozen=True, slots=True)
class Indicators:
    """Indicator values after the latest accepted kline. ``nan`` means "not enough data"."""

    bars: int
    rejected: int
    last_open_time_ms: int
    last_close_time_ms: int
    close: float
    sigma_1m: float
    sigma_returns: int
    velocity: float
    acceleration: float
    rsi: float
    rsi_centered: float
    vwap: float
    vwap_distance: float
    taker_imbalance: float
    volume_ratio: float

    @staticmethod
    def empty() -> Indicators:
        """The value before any kline was accepted."""
        nan = _NAN
        return Indicators(0, 0, 0, 0, nan, nan, 0, nan, nan, nan, nan, nan, nan, nan, nan)


def is_valid_kline(k: object) -> bool:
    """True when ``k`` is a :class:`Kline` whose numbers can be trusted in signal math."""
    if not isinstance(k, Kline):
        return False
    o, h, lo, c = k.open, k.high, k.low, k.close
    v, buy = k.volume, k.taker_buy_volume
    if (
        type(o) is float
        and type(h) is float
        and type(lo) is float
        and type(c) is float
        and type(v) is float
        and type(buy) is float
        and type(k.open_time_ms) is int
    ):
        # Plain floats, the rule: no bool, no TypeError, and once finite no NaN, so the
        # checks below reduce to comparisons (low ≤ open, close ≤ high; low > 0 makes
        # every price positive).
        return (
            _isfinite(o)
            and _isfinite(h)
            and _isfinite(lo)
            and _isfinite(c)
            and _isfinite(v)
            and _isfinite(buy)
            and 0 < lo <= o <= h
            and lo <= c <= h
            and v >= 0
            and buy >= 0
            and buy <= v * (1 + _TAKER_TOLERANCE) + _TAKER_TOLERANCE
        )
    return _is_valid_kline_any(k)


def _is_valid_kline_any(k: Kline) -> bool:
    """:func:`is_valid_kline` for a kline holding anything (bools, ints, strings...)."""
    try:
        for x in (k.open, k.high, k.low, k.close, k.volume, k.taker_buy_volume):
            if isinstance(x, bool) or not _isfinite(x):
                return False
        if isinstance(k.open_time_ms, bool) or not isinstance(k.open_time_ms, int):
            return False
        if min(k.open, k.high, k.low, k.close) <= 0:
            return False
        if k.high < max(k.open, k.close, k.low) or k.low > min(k.open, k.close):
            return False
        if k.volume < 0 or k.taker_buy_volume < 0:
            return False
        return k.taker_buy_volume <= k.volume * (1 + _TAKER_TOLERANCE) + _TAKER_TOLERANCE
    except TypeError:
        return False


class _RollingSum:
    """Sum of the last ``size`` values, O(1) per push, exactly re-summed every ``size``."""

    __slots__ = ("_since", "_sum", "_values")

    def __init__(self, size: int) -> None:
        self._values: deque[float] = deque(maxlen=size)
        self._sum = 0.0
        self._since = 0

    def push(self, value: float) -> None:
        values = self._values
        if len(values) == values.maxlen:
            self._sum -= values[0]
        values.append(value)
        self._sum += value
        self._since += 1
        if self._since >= len(values):
            # Add-and-subtract drifts; an exact re-sum every window keeps it amortised O(1).
            self._sum = math.fsum(values)
            self._since = 0

    @property
    def total(self) -> float:
        return self._sum

    @property
    def count(self) -> int:
        return len(self._values)

    @property
    def full(self) -> bool:
        return len(self._values) == self._values.maxlen


class IndicatorState:
    """Incremental indicators for one symbol: feed closed klines in time order.

    Not thread-safe: one state per symbol, owned by the thread that feeds it.
    """

    __slots__ = (
        "_bars",
        "_closes",
        "_config",
        "_ema_down",
        "_ema_up",
        "_flow_buy",
        "_flow_volume",
        "_last",
        "_recent",
        "_recent_tuple",
        "_rejected",
        "_snapshot",
        "_sq_returns",
        "_volume_long",
        "_volume_short",
        "_vwap_pv",
        "_vwap_volume",
    )

    def __init__(self, config: IndicatorConfig | None = None) -> None:
        self._config = config or IndicatorConfig()
        cfg = self._config
        self._closes: deque[float] = deque(maxlen=cfg.momentum_lookback + 1)
        self._recent: deque[Kline] = deque(maxlen=cfg.keep_klines)
        self._sq_returns = _RollingSum(cfg.vol_lookback)
        self._vwap_pv = _RollingSum(cfg.vwap_lookback)
        self._vwap_volume = _RollingSum(cfg.vwap_lookback)
        self._flow_buy = _RollingSum(cfg.flow_lookback)
        self._flow_volume = _RollingSum(cfg.flow_lookback)
        self._volume_short = _RollingSum(cfg.volume_short)
        self._volume_long = _RollingSum(cfg.vol_lookback)
        self._ema_up = 0.0
        self._ema_down = 0.0
        self._bars = 0
        self._rejected = 0
        self._last: Kline | None = None
        # What recent_klines() and snapshot() answered since the last update: the same
        # objects until a kline is folded in (callers may memoise on their identity).
        self._recent_tuple: tuple[Kline, ...] | None = None
        self._snapshot: Indicators | None = None

    @property
    def config(self) -> IndicatorConfig:
        """The windows this state was built with."""
        return self._config

    @property
    def bars(self) -> int:
        """Klines accepted so far."""
        return self._bars

    def update(self, kline: Kline) -> bool:
        """Fold one closed kline in; False (and no change) if it is malformed or not newer."""
        self._snapshot = None  # even a rejected kline changes the count
        last = self._last
        if not is_valid_kline(kline) or (
            last is not None and kline.open_time_ms <= last.open_time_ms
        ):
            self._rejected += 1
            return False
        close = kline.close
        volume = kline.volume
        taker_buy = min(kline.taker_buy_volume, volume)
        if last is not None:
            diff = math.log(close) - math.log(last.close)
            minutes = max(1.0, (kline.open_time_ms - last.open_time_ms) / MINUTE_MS)
            self._sq_returns.push(diff * diff / minutes)
            alpha = 1.0 / self._config.rsi_window
            # Wilder's smoothing exactly as ``ta`` (pandas ewm, adjust=False, from 0).
            self._ema_up = (1.0 - alpha) * self._ema_up + alpha * (
                diff if diff > 0 else 0.0
            )
            self._ema_down = (1.0 - alpha) * self._ema_down + alpha * (
                -diff if diff < 0 else 0.0
            )
        log_typical = (math.log(kline.high) + math.log(kline.low) + math.log(close)) / 3.0
        self._vwap_pv.push(log_typical * volume)
        self._vwap_volume.push(volume)
        self._flow_buy.push(taker_buy)
        self._flow_volume.push(volume)
        self._volume_short.push(volume)
        self._volume_long.push(volume)
        self._closes.append(close)
        self._recent.append(kline)
        self._recent_tuple = None
        self._last = kline
        self._bars += 1
        return True

    def update_many(self, klines: Iterable[Kline]) -> int:
        """Fold klines in order; returns how many were accepted."""
        return sum(1 for k in klines if self.update(k))

    def recent_klines(self) -> tuple[Kline, ...]:
        """The last ``config.keep_klines`` accepted klines, oldest first (the same tuple
        until the next accepted kline)."""
        recent = self._recent_tuple
        if recent is None:
            recent = self._recent_tuple = tuple(self._recent)
        return recent

    def snapshot(self) -> Indicators:
        """The current indicator values (O(1); the same object until the next update)."""
        snapshot = self._snapshot
        if snapshot is None:
            snapshot = self._snapshot = self._compute()
        return snapshot

    def _compute(self) -> Indicators:
        last = self._last
        if last is None:
            return replace(Indicators.empty(), rejected=self._rejected)
        cfg = self._config
        close = last.close
        closes = self._closes
        velocity = _NAN
        acceleration = _NAN
        if len(closes) == closes.maxlen:
            velocity = math.log(close / closes[0])
        half = cfg.acceleration_half
        if half >= 1 and len(closes) >= 2 * half + 1:
            mid = closes[-1 - half]
            acceleration = math.log(close / mid) - math.log(mid / closes[-1 - 2 * half])
        sq = self._sq_returns
        # a sum of squares: add-and-subtract can leave it a hair below zero, never above
        sigma = math.sqrt(max(sq.total, 0.0) / sq.count) if sq.count else _NAN
        rsi = rsi_centered = _NAN
        if self._bars >= cfg.rsi_window:
            up, down = self._ema_up, self._ema_down
            rsi = 100.0 if down == 0 else 100.0 - 100.0 / (1.0 + up / down)
            total = up + down
            rsi_centered = 0.0 if total == 0 else 50.0 * (up - down) / total
        vwap = distance = _NAN
        if self._vwap_volume.full and self._vwap_volume.total > 0:
            log_vwap = self._vwap_pv.total / self._vwap_volume.total
            vwap = math.exp(log_vwap)
            distance = math.log(close) - log_vwap
        imbalance = _NAN
        if self._flow_volume.full and self._flow_volume.total > 0:
            imbalance = (2.0 * self._flow_buy.total - self._flow_volume.total) / (
                self._flow_volume.total
            )
        ratio = _NAN
        long_mean = self._volume_long.total / self._volume_long.count
        if self._volume_short.full and long_mean > 0:
            ratio = (self._volume_short.total / self._volume_short.count) / long_mean
        return Indicators(
            bars=self._bars,
            rejected=self._rejected,
            last_open_time_ms=last.open_time_ms,
            last_close_time_ms=last.close_time_ms,
            close=close,
            sigma_1m=sigma,
            sigma_returns=sq.count,
            velocity=velocity,
            acceleration=acceleration,
            rsi=rsi,
            rsi_centered=rsi_centered,
            vwap=vwap,
            vwap_distance=distance,
            taker_imbalance=imbalance,
            volume_ratio=ratio,
        )


def compute_indicators(
    klines: Sequence[Kline], config: IndicatorConfig | None = None
) -> Indicators:
    """Indicators of ``klines`` (oldest first) computed from scratch, purely."""
    state = IndicatorState(config)
    state.update_many(klines)
    return state.snapshot()


def accepted_klines(klines: Iterable[Kline]) -> list[Kline]:
    """The klines :class:`IndicatorState` would accept, in order (valid, time moving forward)."""
    out: list[Kline] = []
    for k in klines:
        if is_valid_kline(k) and (not out or k.open_time_ms > out[-1].open_time_ms):
            out.append(k)
    return out


def naive_indicators(
    klines: Sequence[Kline], config: IndicatorConfig | None = None
) -> Indicators:
    """The same values with pandas and ``ta`` over the whole history (tests, benchmark).

    Both apply ``ta`` to log prices (see the module notes). Difference by design: where both
    RSI averages are zero (a perfectly flat history) ``ta`` says 100 and ``rsi_centered`` here
    is 0 (no movement is no momentum).
    """
    import numpy as np
    import pandas as pd
    from ta.momentum import RSIIndicator
    from ta.volume import VolumeWeightedAveragePrice

    cfg = config or IndicatorConfig()
    accepted = accepted_klines(klines)
    rejected = len(klines) - len(accepted)
    if not accepted:
        return replace(Indicators.empty(), rejected=rejected)
    frame = pd.DataFrame(
        {
            "t": [k.open_time_ms for k in accepted],
            "high": [k.high for k in accepted],
            "low": [k.low for k in accepted],
            "close": [k.close for k in accepted],
            "volume": [k.volume for k in accepted],
            "buy": [min(k.taker_buy_volume, k.volume) for k in accepted],
        }
    )
    close = frame["close"]
    log_close = np.log(close)
    minutes = (frame["t"].diff() / MINUTE_MS).clip(lower=1.0)
    sq = log_close.diff() ** 2 / minutes
    sq_window = sq.rolling(cfg.vol_lookback, min_periods=1)
    lookback, half = cfg.momentum_lookback, cfg.acceleration_half
    velocity = log_close - log_close.shift(lookback)
    acceleration = (log_close - log_close.shift(half)) - (
        log_close.shift(half) - log_close.shift(2 * half)
    )
    rsi = RSIIndicator(log_close, window=cfg.rsi_window).rsi()
    # ta's VWAP of log prices is the log of the volume-weighted geometric mean.
    log_vwap = VolumeWeightedAveragePrice(
        np.log(frame["high"]),
        np.log(frame["low"]),
        log_close,
        frame["volume"],
        window=cfg.vwap_lookback,
    ).volume_weighted_average_price()
    flow_buy = frame["buy"].rolling(cfg.flow_lookback).sum()
    flow_volume = frame["volume"].rolling(cfg.flow_lookback).sum()
    imbalance = (2.0 * flow_buy - flow_volume) / flow_volume.where(flow_volume > 0)
    short_mean = frame["volume"].rolling(cfg.volume_short).mean()
    long_mean = frame["volume"].rolling(cfg.vol_lookback, min_periods=1).mean()
    ratio = short_mean / long_mean.where(long_mean > 0)

    def last(series: pd.Series) -> float:
        value = float(series.iloc[-1])
        return value if math.isfinite(value) else _NAN

    last_rsi = last(rsi)
    centered = _NAN if math.isnan(last_rsi) else last_rsi - 50.0
    traded = frame["volume"].rolling(cfg.vwap_lookback).sum() > 0
    last_log_vwap = last(log_vwap.where(traded))
    k = accepted[-1]
    return Indicators(
        bars=len(accepted),
        rejected=rejected,
        last_open_time_ms=k.open_time_ms,
        last_close_time_ms=k.close_time_ms,
        close=k.close,
        sigma_1m=math.sqrt(last(sq_window.mean())) if len(accepted) > 1 else _NAN,
        sigma_returns=int(sq_window.count().iloc[-1]),
        velocity=last(velocity),
        acceleration=last(acceleration) if half >= 1 else _NAN,
        rsi=last_rsi,
        rsi_centered=centered,
        vwap=math.exp(last_log_vwap),
        vwap_distance=math.log(k.close) - last_log_vwap,
        taker_imbalance=last(imbalance),
        volume_ratio=last(ratio),
    )
