"""Realised 1-minute volatility as the makers (and informed takers) see it.

Only closed candles count: at time ``t`` the candles that opened before the minute holding
``t``. The estimator is the strategy's: the zero-mean root mean square of the last
``lookback`` 1-minute log returns (fewer at the start of the feed; ``default`` with none).
"""

from __future__ import annotations

import numpy as np

from src.sim.feeds.base import MINUTE_MS, PriceFeed


class SigmaByMinute:
    """The realised volatility seen at any time within ``[start_s, end_s)`` of one symbol.

    Built once per window from one ``klines`` request covering the lookback and the window
    (future candles are fetched but only ever used once they have closed).
    """

    __slots__ = ("_first_minute", "_sigmas")

    def __init__(
        self,
        feed: PriceFeed,
        symbol: str,
        start_s: float,
        end_s: float,
        lookback: int,
        default: float,
    ) -> None:
        first_minute = int(start_s // 60)
        last_minute = int(end_s // 60)
        candles = feed.klines(
            symbol,
            (first_minute - lookback - 1) * MINUTE_MS,
            (last_minute + 1) * MINUTE_MS,
        )
        opens = np.array([k.open_time_ms // MINUTE_MS for k in candles], dtype=np.int64)
        closes = np.array([k.close for k in candles], dtype=np.float64)
        # cum[j] = sum of the first j squared log returns; a minute sees the candles that
        # opened before it, i.e. the returns between its first ``seen`` closes.
        squared = np.diff(np.log(closes)) ** 2 if len(closes) > 1 else np.zeros(0)
        cum = np.concatenate(([0.0], np.cumsum(squared)))
        minutes = np.arange(first_minute, last_minute + 1, dtype=np.int64)
        seen = np.searchsorted(opens, minutes, side="left")
        returns = np.maximum(seen - 1, 0)
        window = np.minimum(returns, lookback)
        total = cum[returns] - cum[returns - window]
        with np.errstate(invalid="ignore", divide="ignore"):
            sigmas = np.sqrt(total / window)
        usable = (window >= 1) & np.isfinite(sigmas) & (sigmas > 0)
        self._first_minute = first_minute
        self._sigmas = np.where(usable, sigmas, default)

    def at_many(self, times: np.ndarray) -> np.ndarray:
        """:meth:`at` for an array of times."""
        index = np.floor_divide(times, 60).astype(np.int64) - self._first_minute
        return self._sigmas[np.clip(index, 0, len(self._sigmas) - 1)]

    def at(self, t: float) -> float:
        """Volatility from the candles closed before the minute holding ``t``."""
        index = int(t // 60) - self._first_minute
        last = len(self._sigmas) - 1
        return float(self._sigmas[0 if index < 0 else min(index, last)])
