"""Per-minute statistics of a kline table: how generated data is compared with real data."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from src.sim.feeds.table import KlineTable

BP = 1e4


@dataclass(frozen=True, slots=True)
class ReturnStats:
    """Statistics of 1-minute close-to-close log returns and of the taker flow.

    Attributes:
        minutes: number of returns.
        mean_bp: mean log return, basis points.
        std_bp: standard deviation of log returns, basis points.
        excess_kurtosis: fourth standardised moment minus 3 (fat tails: > 0).
        acf1: lag-1 autocorrelation of returns (≈ 0: no predictability).
        abs_acf1: lag-1 autocorrelation of absolute returns (> 0: volatility clustering).
        abs_acf10: mean autocorrelation of absolute returns over lags 1..10 (persistence).
        taker_corr: correlation of the taker-buy share with the same minute's
            open-to-close log return (minutes with volume only).
        taker_lead_corr: correlation of the taker-buy share with the *next* minute's
            return (≈ 0: taker flow does not predict).
        range_ratio: mean ``log(high / low)`` over ``std_bp`` (candle range vs. return
            size).
        volume_abs_corr: correlation of ``log volume`` with ``log |return|`` (non-zero
            moves with volume only).
        log_volume_std: standard deviation of ``log volume`` (minutes with volume).
        log_volume_acf1: lag-1 autocorrelation of ``log volume`` (persistent activity).
        trades_volume_corr: correlation of ``log trades`` with ``log volume``.
    """

    minutes: int
    mean_bp: float
    std_bp: float
    excess_kurtosis: float
    acf1: float
    abs_acf1: float
    abs_acf10: float
    taker_corr: float
    taker_lead_corr: float
    range_ratio: float
    volume_abs_corr: float
    log_volume_std: float
    log_volume_acf1: float
    trades_volume_corr: float


def autocorrelation(x: np.ndarray, lag: int) -> float:
    """Sample autocorrelation of ``x`` at ``lag`` (Pearson, series against its shift)."""
    return float(np.corrcoef(x[:-lag], x[lag:])[0, 1])


def return_stats(table: KlineTable) -> ReturnStats:
    """The :class:`ReturnStats` of ``table`` (a few hundred minutes at least)."""
    close = table.close
    r = np.diff(np.log(close))
    centred = r - r.mean()
    std = float(centred.std())
    kurt = float((centred**4).mean() / std**4 - 3.0)
    a = np.abs(r)
    traded = table.volume > 0
    share = table.taker_buy_volume[traded] / table.volume[traded]
    body = np.log(table.close / table.open)[traded]
    # The next minute's return for each traded minute (the last one has none).
    next_r = np.append(r, np.nan)[traded]
    lead = ~np.isnan(next_r)
    moved = (a > 0) & traded[1:]
    log_volume = np.log(table.volume[traded])
    return ReturnStats(
        minutes=len(r),
        mean_bp=float(r.mean() * BP),
        std_bp=std * BP,
        excess_kurtosis=kurt,
        acf1=autocorrelation(r, 1),
        abs_acf1=autocorrelation(a, 1),
        abs_acf10=float(np.mean([autocorrelation(a, lag) for lag in range(1, 11)])),
        taker_corr=float(np.corrcoef(share, body)[0, 1]),
        taker_lead_corr=float(np.corrcoef(share[lead], next_r[lead])[0, 1]),
        range_ratio=float(np.log(table.high / table.low).mean() / std),
        volume_abs_corr=float(
            np.corrcoef(np.log(table.volume[1:][moved]), np.log(a[moved]))[0, 1]
        ),
        log_volume_std=float(log_volume.std()),
        log_volume_acf1=autocorrelation(log_volume, 1),
        trades_volume_corr=float(
            np.corrcoef(np.log(table.trades[traded]), log_volume)[0, 1]
        ),
    )
