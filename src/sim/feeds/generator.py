"""A seeded generator of realistic 1-minute klines for BTC, ETH, SOL and XRP.

Model, per coin and minute ``t`` (details and calibration in ``docs/SIMULATOR.md`` ("Price feeds")):

* shocks ``z_t``: standardised multivariate Student-t — a market factor and a coin's own
  normal mixed with weight ``correlation``, scaled by one chi-square draw per minute shared
  by all coins (crypto coins jump together). Symmetric and independent over time, so nothing
  observable before minute ``t`` tells the sign of its return;
* volatility: GARCH(1,1), ``s2_t = omega + alpha * s2_{t-1} * min(z_{t-1}^2, cap^2) + beta *
  s2_{t-1}`` with ``omega`` set so the long-run per-minute volatility is the coin's
  ``minute_vol``; the cap keeps one 30-sigma minute from multiplying the volatility of the
  following hours by ten, which plain GARCH-t does and real markets do not;
* log return ``r_t = season_t * s_t * z_t`` with zero drift: ``season_t`` is the intraday
  volatility profile (UTC), normalised to mean square 1 over a day;
* high and low: the maximum and minimum of a Brownian bridge from 0 to ``r_t`` with
  volatility ``range_scale * season_t * s_t`` (sampled exactly from their distributions);
* volume: intraday volume profile times ``(s_t / minute_vol) ** volume_vol_elasticity``
  times ``(1 + |z_t|) ** volume_shock_loading`` (scaled to mean 1) times a slow AR(1)
  log-normal activity factor times the minute's own log-normal noise;
* taker-buy share: ``logistic(taker_return_loading * z_t + taker_noise * n_t)``, moving with
  the same minute's shock only;
* trade count: volume over a log-normally varying mean trade size.

Prices are rounded to the coin's tick, volumes to its lot; the unrounded log price carries
on, so rounding adds no drift. Each block of ``block_minutes`` draws its random numbers from
``(seed, coin, block)`` (and ``(seed, market, block)`` for the shared factor), so a coin's
path depends on the seed, the start time and its own parameters only.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from src.sim.feeds.base import MINUTE_MS
from src.sim.feeds.binance_csv import CsvDecimals
from src.sim.feeds.errors import UnknownSymbolError
from src.sim.feeds.path import MinutePaths, PathParams, symbol_key
from src.sim.feeds.table import KlineTable, TableFeed

# Keeps the generator's random streams apart from the path's for the same seed.
GENERATOR_STREAM = 0x6E31
MARKET_FACTOR_KEY = 0
MINUTES_PER_DAY = 1440
# 2026-01-01 00:00 UTC: the default start of a generated feed.
DEFAULT_START_MS = 1_767_225_600_000


@dataclass(frozen=True, slots=True)
class CoinParams:
    """One generated coin.

    Attributes:
        symbol: Binance symbol served, e.g. ``"BTCUSDT"``.
        start_price: price at the first minute's open.
        minute_vol: long-run standard deviation of 1-minute log returns (fraction).
        price_decimals: decimals of the price tick (BTCUSDT futures: 1, i.e. 0.1).
        volume_decimals: decimals of the quantity lot.
        base_volume: base-asset volume of a minute at the daily-average hour, at the
            long-run volatility and average activity (the realised daily mean is about
            0.8 of it at the default parameters: volatility is usually below its
            long-run level, which heavy-tailed bursts pull up).
        mean_trade_size: typical base-asset size of one trade.
    """

    symbol: str
    start_price: float
    minute_vol: float
    price_decimals: int
    volume_decimals: int
    base_volume: float
    mean_trade_size: float

    def __post_init__(self) -> None:
        if self.start_price <= 0 or self.minute_vol <= 0:
            raise ValueError(f"{self.symbol}: start_price and minute_vol must be > 0")
        if self.base_volume <= 0 or self.mean_trade_size <= 0:
            raise ValueError(f"{self.symbol}: base_volume and mean_trade_size must be > 0")

    def csv_decimals(self) -> CsvDecimals:
        """The decimals Binance would write for this coin's klines."""
        return CsvDecimals(
            price=self.price_decimals,
            volume=self.volume_decimals,
            quote_volume=self.quote_decimals,
        )

    @property
    def quote_decimals(self) -> int:
        """Decimals of quote volumes: a price times a quantity needs both."""
        return self.price_decimals + self.volume_decimals


# Early-2026 levels. minute_vol from typical annualised volatility (BTC ≈ 45 %, ETH ≈ 65 %,
# SOL and XRP ≈ 80 %) over 525,960 minutes a year; volumes and trade sizes are the order
# of magnitude of Binance USD-M perpetuals.
DEFAULT_COINS = (
    CoinParams("BTCUSDT", 90_000.0, 6.2e-4, 1, 3, 120.0, 0.06),
    CoinParams("ETHUSDT", 3_100.0, 9.0e-4, 2, 3, 2_500.0, 1.2),
    CoinParams("SOLUSDT", 135.0, 1.1e-3, 2, 2, 20_000.0, 12.0),
    CoinParams("XRPUSDT", 2.0, 1.1e-3, 4, 1, 1_000_000.0, 700.0),
)

# Mean volume by UTC hour, relative: quiet Asian night, the US open (14:30 UTC) busiest;
# the shape of the real files in ../shared/data, smoothed.
DEFAULT_HOURLY_VOLUME = (
    1.20, 1.05, 0.85, 0.80, 0.70, 0.65, 0.80, 0.80, 0.78, 0.75, 0.72, 0.80,
    1.00, 1.10, 1.50, 1.90, 1.65, 1.20, 1.15, 0.95, 1.00, 0.85, 0.75, 0.80,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class GeneratorParams:
    """Parameters of the kline generator (defaults calibrated on ``../shared/data``).

    Attributes:
        coins: the coins generated.
        garch_alpha: reaction of variance to the last shock.
        garch_beta: persistence of variance; ``alpha + beta`` close to 1 gives the slow
            decay of volatility seen in 1-minute crypto returns.
        garch_shock_cap: largest shock, in standard deviations, that feeds the variance
            in full (bigger shocks feed it as if they were this big).
        garch_vol_ceiling: highest conditional volatility, as a multiple of the long-run
            one. With the cap, it stops the rare runs of big shocks from compounding into
            hours of 5 %-a-minute moves.
        t_dof: Student-t degrees of freedom of the shocks (fat tails; must exceed 2).
        correlation: correlation of the coins' shocks through the market factor.
        hourly_volume: mean volume by UTC hour (24 values, any scale: normalised).
        volatility_season_exponent: intraday volatility follows ``hourly_volume`` to this
            power (volume swings more than volatility over a day).
        range_scale: volatility of the bridge that sets high and low, relative to the
            minute's volatility (below 1: fat tails make the return's standard deviation
            larger than a typical minute's).
        volume_vol_elasticity: volume grows with volatility to this power.
        volume_shock_loading: volume grows as ``(1 + |z|)`` to this power (big moves trade
            more); a power, not an exponential, keeps the mean finite under fat tails.
        volume_noise: standard deviation of the minute's own log-normal volume noise.
        activity_persistence: per-minute AR(1) coefficient of the log trading activity, a
            slow factor of volume beyond volatility (real volume is far more persistent
            than volatility alone explains).
        activity_noise: stationary standard deviation of the log activity.
        trade_size_noise: standard deviation of the log-normal noise of the trade size.
        taker_return_loading: log-odds of the taker-buy share per unit shock.
        taker_noise: standard deviation of the share's log-odds noise.
        block_minutes: minutes generated at a time (part of the random stream: changing it
            changes the data).
    """

    coins: tuple[CoinParams, ...] = DEFAULT_COINS
    garch_alpha: float = 0.12
    garch_beta: float = 0.87
    garch_shock_cap: float = 5.0
    garch_vol_ceiling: float = 8.0
    t_dof: float = 4.5
    correlation: float = 0.9
    hourly_volume: tuple[float, ...] = DEFAULT_HOURLY_VOLUME
    volatility_season_exponent: float = 0.7
    range_scale: float = 0.65
    volume_vol_elasticity: float = 1.0
    volume_shock_loading: float = 1.25
    volume_noise: float = 0.5
    activity_persistence: float = 0.97
    activity_noise: float = 0.65
    trade_size_noise: float = 0.4
    taker_return_loading: float = 0.5
    taker_noise: float = 0.8
    block_minutes: int = MINUTES_PER_DAY

    def __post_init__(self) -> None:
        if not self.coins or len({c.symbol for c in self.coins}) != len(self.coins):
            raise ValueError("coins must be non-empty with distinct symbols")
        if not (self.garch_alpha >= 0 and self.garch_beta >= 0):
            raise ValueError("garch_alpha and garch_beta must be >= 0")
        if self.t_dof <= 2:
            raise ValueError("t_dof must be > 2 (finite variance)")
        if self.garch_shock_cap <= 0 or self.garch_vol_ceiling <= 1:
            raise ValueError("garch_shock_cap must be > 0 and garch_vol_ceiling > 1")
        if self.persistence() >= 1:
            raise ValueError("garch_alpha * E[min(z², cap²)] + garch_beta must be < 1")
        if not 0 <= self.correlation < 1:
            raise ValueError("correlation must be in [0, 1)")
        if len(self.hourly_volume) != 24 or min(self.hourly_volume) <= 0:
            raise ValueError("hourly_volume needs 24 positive values")
        if not 0 <= self.activity_persistence < 1:
            raise ValueError("activity_persistence must be in [0, 1)")
        if self.block_minutes < 1:
            raise ValueError("block_minutes must be >= 1")

    def persistence(self) -> float:
        """How much of today's variance survives to the next minute, on average."""
        cap2 = self.garch_shock_cap**2
        feedback = t_expectation(lambda a: np.minimum(a * a, cap2), self.t_dof)
        return self.garch_alpha * feedback + self.garch_beta

    def coin(self, symbol: str) -> CoinParams:
        """The parameters of ``symbol``."""
        for c in self.coins:
            if c.symbol == symbol:
                return c
        raise UnknownSymbolError(symbol, tuple(c.symbol for c in self.coins))


@dataclass(slots=True)
class _CoinState:
    """What carries over from one block to the next."""

    log_price: float
    variance: float
    log_activity: float
    last_close: float
    blocks: list[KlineTable] = field(default_factory=list)
    table: KlineTable | None = None


def seasonal_profiles(
    params: GeneratorParams, open_ms: np.ndarray
) -> tuple[np.ndarray, ...]:
    """``(volume_factor, volatility_factor)`` for minutes opening at ``open_ms``.

    The hourly profile is placed at each hour's middle and interpolated linearly around the
    clock; the volume factor averages 1 and the volatility factor's square averages 1 over
    a day.
    """
    hourly = np.asarray(params.hourly_volume, dtype=np.float64)
    day = np.arange(MINUTES_PER_DAY, dtype=np.float64)
    centres = np.arange(24) * 60.0 + 30.0
    volume_day = np.interp(day, centres, hourly, period=MINUTES_PER_DAY)
    volume_day /= volume_day.mean()
    vol_day = volume_day**params.volatility_season_exponent
    vol_day /= math.sqrt(float((vol_day**2).mean()))
    minute_of_day = (open_ms // MINUTE_MS) % MINUTES_PER_DAY
    return volume_day[minute_of_day], vol_day[minute_of_day]


def t_expectation(func: Callable[[np.ndarray], np.ndarray], dof: float) -> float:
    """``E[func(|z|)]`` for a Student-t ``z`` with ``dof`` degrees of freedom, variance 1.

    Numerical integration on a grid fine near 0 and geometric in the tail, accurate to
    about 1e-6 for functions growing slower than ``|z| ** (dof - 1)``.
    """
    x = np.concatenate([np.linspace(0.0, 1.0, 4001), np.geomspace(1.0, 1e7, 40001)[1:]])
    log_norm = (
        math.lgamma((dof + 1) / 2)
        - math.lgamma(dof / 2)
        - 0.5 * math.log(math.pi * (dof - 2))
    )
    density = 2.0 * np.exp(log_norm - (dof + 1) / 2 * np.log1p(x * x / (dof - 2)))
    y = func(x) * density
    return float(np.sum((y[1:] + y[:-1]) * np.diff(x)) / 2.0)


def _garch_sigma(
    feedback: np.ndarray,
    variance: float,
    omega: float,
    alpha: float,
    beta: float,
    ceiling: float,
) -> tuple[np.ndarray, float]:
    """Conditional sigma per minute given each minute's squared (capped) shock, and the
    variance after the last one."""
    sig2 = np.empty(len(feedback))
    v = variance
    # A plain loop over Python floats: the recursion is sequential, and this is faster than
    # per-element numpy for a few thousand steps.
    for i, z2 in enumerate(feedback.tolist()):
        sig2[i] = v
        v = min(omega + (alpha * z2 + beta) * v, ceiling)
    return np.sqrt(sig2), v


def _ar1(innovations: np.ndarray, last: float, phi: float) -> tuple[np.ndarray, float]:
    """``x_t = phi * x_{t-1} + e_t`` from ``x_{-1} = last``: the series, its last value."""
    out = np.empty(len(innovations))
    x = last
    for i, e in enumerate(innovations.tolist()):
        x = phi * x + e
        out[i] = x
    return out, x


class KlineGenerator:
    """Generates contiguous blocks of klines for all coins, lazily and deterministically."""

    def __init__(
        self, seed: int, start_ms: int, params: GeneratorParams | None = None
    ) -> None:
        if seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        if start_ms % MINUTE_MS:
            raise ValueError(f"start_ms must be a whole minute, got {start_ms}")
        self.seed = seed
        self.start_ms = start_ms
        self.params = params or GeneratorParams()
        self._lock = threading.Lock()
        self._blocks_done = 0
        # Constants of the model, computed once (each is a numerical integral).
        self._persistence = self.params.persistence()
        loading = self.params.volume_shock_loading
        self._shock_norm = t_expectation(lambda a: (1.0 + a) ** loading, self.params.t_dof)
        self._states = {
            c.symbol: _CoinState(
                log_price=math.log(c.start_price),
                variance=c.minute_vol**2,
                log_activity=0.0,
                last_close=round(c.start_price, c.price_decimals),
            )
            for c in self.params.coins
        }

    @property
    def symbols(self) -> tuple[str, ...]:
        """Symbols generated."""
        return tuple(c.symbol for c in self.params.coins)

    def table(self, symbol: str, end_ms: int) -> KlineTable:
        """All candles from the start through at least the minute before ``end_ms``."""
        state = self._states.get(symbol)
        if state is None:
            raise UnknownSymbolError(symbol, self.symbols)
        needed = max(1, -(-(end_ms - self.start_ms) // MINUTE_MS))
        table = state.table
        if table is not None and len(table) >= needed:
            return table
        with self._lock:
            blocks = -(-needed // self.params.block_minutes)
            while self._blocks_done < blocks:
                self._generate_block(self._blocks_done)
                self._blocks_done += 1
            # Another symbol's request may have generated blocks this table lacks.
            if state.table is None or len(state.table) < needed:
                state.table = KlineTable.concat(state.blocks)
            return state.table

    def _rng(self, key: int, block: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, GENERATOR_STREAM, key, block])

    def _generate_block(self, block: int) -> None:
        p = self.params
        n = p.block_minutes
        open_ms = self.start_ms + (block * n + np.arange(n, dtype=np.int64)) * MINUTE_MS
        volume_season, vol_season = seasonal_profiles(p, open_ms)
        market = self._rng(MARKET_FACTOR_KEY, block)
        factor = market.standard_normal(n)
        # One chi-square per minute for all coins: a multivariate t, so tails are shared.
        tail_scale = np.sqrt((p.t_dof - 2.0) / market.chisquare(p.t_dof, n))
        market_weight = math.sqrt(p.correlation)
        own_weight = math.sqrt(1.0 - p.correlation)
        for coin in p.coins:
            own = self._rng(symbol_key(coin.symbol), block)
            z = (market_weight * factor + own_weight * own.standard_normal(n)) * tail_scale
            state = self._states[coin.symbol]
            state.blocks.append(
                self._coin_block(coin, state, open_ms, z, volume_season, vol_season, own)
            )

    def _coin_block(
        self,
        coin: CoinParams,
        state: _CoinState,
        open_ms: np.ndarray,
        z: np.ndarray,
        volume_season: np.ndarray,
        vol_season: np.ndarray,
        rng: np.random.Generator,
    ) -> KlineTable:
        p = self.params
        n = len(z)
        omega = coin.minute_vol**2 * (1.0 - self._persistence)
        feedback = np.minimum(z * z, p.garch_shock_cap**2)
        sigma, state.variance = _garch_sigma(
            feedback,
            state.variance,
            omega,
            p.garch_alpha,
            p.garch_beta,
            (p.garch_vol_ceiling * coin.minute_vol) ** 2,
        )
        minute_sigma = vol_season * sigma
        r = minute_sigma * z
        log_close = state.log_price + np.cumsum(r)
        log_open = log_close - r
        state.log_price = float(log_close[-1])
        # Extremes of a Brownian bridge from 0 to r: P(max > m) = exp(-2 m (m - r) / s^2).
        bridge_var = (p.range_scale * minute_sigma) ** 2
        up = -np.log1p(-rng.random(n))
        down = -np.log1p(-rng.random(n))
        top = 0.5 * (r + np.sqrt(r * r + 2.0 * bridge_var * up))
        bottom = 0.5 * (r - np.sqrt(r * r + 2.0 * bridge_var * down))
        d = coin.price_decimals
        close = np.round(np.exp(log_close), d)
        open_ = np.empty(n)
        open_[0] = state.last_close
        open_[1:] = close[:-1]
        state.last_close = float(close[-1])
        high = np.maximum(np.round(np.exp(log_open + top), d), np.maximum(open_, close))
        low = np.minimum(np.round(np.exp(log_open + bottom), d), np.minimum(open_, close))

        phi = p.activity_persistence
        activity, state.log_activity = _ar1(
            math.sqrt(1.0 - phi * phi) * p.activity_noise * rng.standard_normal(n),
            state.log_activity,
            phi,
        )
        log_volume = (
            math.log(coin.base_volume)
            + np.log(volume_season)
            + p.volume_vol_elasticity * np.log(sigma / coin.minute_vol)
            + p.volume_shock_loading * np.log1p(np.abs(z))
            - math.log(self._shock_norm)
            + activity
            + p.volume_noise * rng.standard_normal(n)
            - 0.5 * (p.volume_noise**2 + p.activity_noise**2)
        )
        lot = 10.0**-coin.volume_decimals
        volume = np.maximum(np.round(np.exp(log_volume), coin.volume_decimals), lot)
        share = 1.0 / (
            1.0
            + np.exp(-(p.taker_return_loading * z + p.taker_noise * rng.standard_normal(n)))
        )
        taker = np.minimum(np.round(share * volume, coin.volume_decimals), volume)
        trade_size = coin.mean_trade_size * np.exp(
            p.trade_size_noise * rng.standard_normal(n) - 0.5 * p.trade_size_noise**2
        )
        trades = np.maximum(np.rint(volume / trade_size), 1).astype(np.int64)
        # Quote volume at the candle's typical price; decimals as price times quantity.
        typical = (open_ + high + low + close) / 4.0
        quote_decimals = coin.quote_decimals
        return KlineTable(
            open_time_ms=open_ms,
            open=open_,
            high=high,
            low=low,
            close=close,
            volume=volume,
            quote_volume=np.round(volume * typical, quote_decimals),
            trades=trades,
            taker_buy_volume=taker,
            taker_buy_quote_volume=np.round(taker * typical, quote_decimals),
        )


class GeneratedFeed(TableFeed):
    """A :class:`~src.sim.feeds.base.PriceFeed` of generated klines, built lazily.

    Serves ``minutes`` minutes from ``start_ms`` (a whole minute, UTC) for every coin of
    ``params``. The same ``seed``, ``start_ms`` and parameters always give the same candles
    and the same sub-minute paths, whatever order they are asked in.
    """

    def __init__(
        self,
        seed: int = 0,
        *,
        start_ms: int = DEFAULT_START_MS,
        minutes: int = 30 * MINUTES_PER_DAY,
        params: GeneratorParams | None = None,
        path_params: PathParams | None = None,
    ) -> None:
        if minutes < 1:
            raise ValueError(f"minutes must be >= 1, got {minutes}")
        self._generator = KlineGenerator(seed, start_ms, params)
        self._end_ms = start_ms + minutes * MINUTE_MS
        super().__init__(self._generator.symbols, MinutePaths(seed, path_params))

    @property
    def params(self) -> GeneratorParams:
        """The generator's parameters."""
        return self._generator.params

    def time_range(self) -> tuple[int, int]:
        """``(start_ms, start_ms + minutes * 60_000)``."""
        return self._generator.start_ms, self._end_ms

    def _table(self, symbol: str, end_ms: int) -> KlineTable:
        return self._generator.table(symbol, min(end_ms, self._end_ms))


def generate_tables(
    seed: int,
    start_ms: int,
    minutes: int,
    params: GeneratorParams | None = None,
    symbols: Sequence[str] | None = None,
) -> dict[str, KlineTable]:
    """``minutes`` generated candles from ``start_ms`` per symbol (all coins by default)."""
    generator = KlineGenerator(seed, start_ms, params)
    end_ms = start_ms + minutes * MINUTE_MS
    return {
        s: generator.table(s, end_ms).take(0, minutes) for s in symbols or generator.symbols
    }
