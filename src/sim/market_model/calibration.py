"""Fit the makers' book parameters to recorded Polymarket quotes (``polyflup calibrate``).

The recordings hold the best bid and ask of real windows about once a second; the klines
hold the underlying's minutes. For every recorded second the calibration computes the
project's fair value from the klines (:func:`src.sim.market_model.view.fair_values`, with
the strategy's fair-value settings of :func:`src.sim.market_model.fair.fair_value_settings`)
and fits the book parameters by *simulated moments*: it builds the simulated makers' books
for the same windows and seconds with candidate parameters and matches each statistic of
the recorded books with the same statistic of the simulated ones.

=========================================  =============================================
parameter                                  statistic it is fitted to
=========================================  =============================================
``maker_lag_s``                            cross-correlation of the mid's one-minute
                                           changes with the fair value's, −10…+10 s
``noise_sd_logit``, ``noise_half_life_s``  robust sd and autocorrelation (1–300 s) of
                                           ``logit(mid) − logit(fair)`` at the minute marks
``base_half_spread``, ``uncertainty_mult`` mean spread by time left × distance to strike
``requote_margin``                         share of seconds the top of book changes
=========================================  =============================================

The klines do not hold the path inside a minute: the feeds fill it in with a seeded bridge
through each candle. The calibration's own fair value uses one draw of that path and the
simulated makers other, independent draws (they coincide at the minute marks, where the
price is known), so the simulated recording differs from the calibration's fair value the
way the real one does; statistics that need the exact price are taken at the marks. The
simulated makers' error uses common random numbers for every candidate, so the objectives
are smooth in the parameters.

Everything here is pure (numpy only) and deterministic for a seed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from src.data.market_data.windows import WINDOW_SECONDS
from src.data.quotes import RecordedWindow
from src.sim.feeds.replay import Alignment, ReplayFeed
from src.sim.feeds.table import KlineTable
from src.sim.market_model.fair import fair_value_settings
from src.sim.market_model.params import MarketModelParams
from src.sim.market_model.pricing import MICRO, NO_ASK, NO_BID, logit
from src.sim.market_model.view import (
    FairPath,
    fair_values,
    maker_probability,
    maker_quotes,
)
from src.sim.market_model.volatility import SigmaByMinute
from src.trading.params import StrategyParams

SECONDS = WINDOW_SECONDS
MAX_LAG_S = 10
LAGS = tuple(range(-MAX_LAG_S, MAX_LAG_S + 1))
"""Lags of the cross-correlation: negative = the fair value seen early."""
_SECOND_OF_MINUTE = np.arange(WINDOW_SECONDS) % 60
EXACT_SECONDS = (_SECOND_OF_MINUTE == 0) | (_SECOND_OF_MINUTE == 59)
"""The seconds whose price the klines hold: each minute's open (its second 0) and close
(its second 59). In between, the feeds draw a path; the residual's statistics are taken
here, where that draw adds no error."""
XCORR_MARKS = np.arange(120, WINDOW_SECONDS - MAX_LAG_S, 60)
"""Minute marks whose one-minute fair-value change enters the cross-correlation (each
mark's change is exact; the mid's change over the same minute is taken ``lag`` s later)."""
ACF_LAGS = (1, 60, 120, 180, 300)
"""Lags (s) of the residual's autocorrelation (pairs of :data:`EXACT_SECONDS`)."""
TIME_LEFT_BINS: tuple[tuple[int, int, str], ...] = (
    (600, 900, "> 10 min"),
    (300, 600, "5–10 min"),
    (120, 300, "2–5 min"),
    (60, 120, "1–2 min"),
    (30, 60, "30–60 s"),
    (10, 30, "10–30 s"),
    (0, 10, "< 10 s"),
)
"""Time left ``t``: ``low < t ≤ high`` seconds."""
Z_BINS = (0.0, 0.25, 0.5, 1.0, 2.0, math.inf)
"""Distance to the strike, ``|z|`` of the fair value (standardised log distance)."""
BRIER_MINUTES = (1, 3, 5, 7, 10, 12, 13, 14)
ATM_LOW, ATM_HIGH = 0.4, 0.6
"""An observation is at the money when its mid lies within these."""
RESIDUAL_BAND = 0.05
"""Residual statistics use seconds whose fair value and mid lie in [band, 1 − band]."""
CENT = 10_000
FITTED = (
    "maker_lag_s",
    "noise_sd_logit",
    "noise_half_life_s",
    "base_half_spread",
    "uncertainty_mult",
    "requote_margin",
)
"""The parameters the calibration fits; all others are kept as given."""
SHIPPED_HOLD = ("noise_sd_logit", "noise_half_life_s")
"""Held at their documented assumptions when the defaults were fitted: the recorded mid's
disagreement with the fair value cannot be told apart from the fair value's own error, and
simulated makers that wrong would be easy money (see ``params.py``, ``docs/SIMULATOR.md``)."""
ROUNDING: Mapping[str, float] = {
    "maker_lag_s": 1.0,
    "noise_sd_logit": 0.01,
    "noise_half_life_s": 1.0,
    "base_half_spread": 0.0005,
    "uncertainty_mult": 0.01,
    "requote_margin": 0.05,
}
"""The step each fitted value is rounded to when it becomes a shipped default."""

Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``, called as the fit moves on."""


class CalibrationError(ValueError):
    """Recordings and klines that cannot be calibrated on (says why)."""


# --- the data --------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class WindowSet:
    """Recorded windows on a common grid of seconds, with the fair value of each second.

    Rows are windows, columns the window's seconds (0 … 899). Prices are micro-units of
    the Up book; ``NO_BID``/``NO_ASK`` mark an empty side; ``observed`` marks the seconds
    the recording holds.

    Attributes:
        slugs: the windows, one per row.
        bid, ask: recorded best bid and ask (int64).
        observed: which seconds hold an observation.
        outcome: 1.0 Up, 0.0 Down, NaN unknown.
        seen: fair value (probability of Up) the calibration sees at each lag of
            :data:`LAGS` (the price ``lag`` seconds before; negative: after).
        seen_z: standardised distance to the strike of ``seen[0]``.
        truth: the fair value the simulated makers see ``lag`` seconds late (lags 0 …
            :data:`MAX_LAG_S`) on ``draws`` independent draws of the sub-minute path
            (rows: draw by draw, each draw every window).
        draws: number of those draws.
        skipped: windows the klines do not cover.
    """

    slugs: tuple[str, ...]
    bid: np.ndarray
    ask: np.ndarray
    observed: np.ndarray
    outcome: np.ndarray
    seen: Mapping[int, np.ndarray]
    seen_z: np.ndarray
    truth: Mapping[int, FairPath]
    draws: int = 1
    skipped: tuple[str, ...] = ()

    @property
    def windows(self) -> int:
        """Number of windows (rows)."""
        return len(self.slugs)

    @property
    def observations(self) -> int:
        """Number of observed seconds."""
        return int(self.observed.sum())


def kline_segments(tables: Sequence[KlineTable]) -> list[KlineTable]:
    """Tables of one symbol joined into contiguous runs (overlaps dropped, gaps split)."""
    runs: list[KlineTable] = []
    for table in sorted((t for t in tables if len(t)), key=lambda t: t.first_open_ms):
        if runs and table.first_open_ms <= runs[-1].end_ms:
            tail = table.between(runs[-1].end_ms, table.end_ms)
            if len(tail):
                runs[-1] = KlineTable.concat([runs[-1], tail])
            continue
        runs.append(table)
    return runs


def prepare_windows(
    recordings: Sequence[RecordedWindow],
    klines: Mapping[str, Sequence[KlineTable]],
    params: MarketModelParams | None = None,
    seed: int = 0,
    draws: int = 2,
) -> WindowSet:
    """Line the recorded windows up with the fair value computed from ``klines``.

    ``klines`` maps a Binance symbol (``BTCUSDT``) to its tables; a window of coin ``BTC``
    reads ``BTCUSDT``. A window the klines do not cover (with ``MAX_LAG_S`` to spare at its
    start) is skipped. The Up book is what is compared (the Down book mirrors it). The
    calibration's view of the sub-minute path is the draw seeded ``seed``; the simulated
    makers see ``draws`` others (seeds ``seed + 1`` …). Raises :class:`CalibrationError`
    when no window is left.
    """
    if draws < 1:
        raise ValueError(f"draws must be >= 1, got {draws}")
    params = params or MarketModelParams()
    settings = fair_value_settings(params)
    feeds: dict[str, list[list[ReplayFeed]]] = {}
    for symbol, tables in klines.items():
        name = symbol.upper()
        feeds[name] = [
            [
                ReplayFeed({name: run}, alignment=Alignment.ACTUAL, seed=seed + d)
                for d in range(draws + 1)
            ]
            for run in kline_segments(tables)
        ]
    rows: list[_Row] = []
    skipped: list[str] = []
    for window in recordings:
        symbol = f"{window.coin}USDT"
        covering = _covering(feeds.get(symbol, []), window.window_start)
        if covering is None:
            skipped.append(window.slug)
            continue
        rows.append(_row(window, symbol, covering, params, settings))
    if not rows:
        raise CalibrationError(
            f"none of the {len(recordings)} recorded windows is covered by the klines "
            f"(symbols {', '.join(sorted(feeds)) or 'none'})"
        )
    return WindowSet(
        slugs=tuple(r.slug for r in rows),
        bid=np.array([r.bid for r in rows]),
        ask=np.array([r.ask for r in rows]),
        observed=np.array([r.observed for r in rows]),
        outcome=np.array([r.outcome for r in rows]),
        seen={lag: np.array([r.seen[lag] for r in rows]) for lag in LAGS},
        seen_z=np.array([r.seen_z for r in rows]),
        truth={
            lag: FairPath(
                *(
                    np.array(
                        [getattr(r.truth[d][lag], name) for d in range(draws) for r in rows]
                    )
                    for name in ("p_up", "z", "sigma_1m", "total_sd")
                )
            )
            for lag in range(MAX_LAG_S + 1)
        },
        draws=draws,
        skipped=tuple(skipped),
    )


@dataclass
class _Row:
    slug: str
    bid: np.ndarray
    ask: np.ndarray
    observed: np.ndarray
    outcome: float
    seen: dict[int, np.ndarray]
    seen_z: np.ndarray
    truth: list[dict[int, FairPath]]


def _covering(runs: Sequence[list[ReplayFeed]], start: int) -> list[ReplayFeed] | None:
    for feeds in runs:
        first, end = feeds[0].time_range()
        if first / 1000 <= start - MAX_LAG_S and start + SECONDS <= end / 1000:
            return feeds
    return None


def _row(
    window: RecordedWindow,
    symbol: str,
    feeds: Sequence[ReplayFeed],
    params: MarketModelParams,
    settings: StrategyParams,
) -> _Row:
    start = window.window_start
    bid = np.full(SECONDS, NO_BID, dtype=np.int64)
    ask = np.full(SECONDS, NO_ASK, dtype=np.int64)
    observed = np.zeros(SECONDS, dtype=bool)
    for row in window.rows:
        k = round(row.t_s - start)
        if 0 <= k < SECONDS:
            observed[k] = True
            bid[k] = NO_BID if row.up_bid is None else int(row.up_bid * MICRO)
            ask[k] = NO_ASK if row.up_ask is None else int(row.up_ask * MICRO)
    outcome = {"UP": 1.0, "DOWN": 0.0}.get(window.outcome or "", math.nan)
    seen_feed = feeds[0]
    first_ms, end_ms = seen_feed.time_range()
    times = start + np.arange(-MAX_LAG_S, SECONDS + MAX_LAG_S, dtype=np.float64)
    looked = np.clip(times, first_ms / 1000, end_ms / 1000 - 1)
    sigma = SigmaByMinute(
        seen_feed,
        symbol,
        float(looked[0]),
        float(start + SECONDS),
        params.vol_lookback_min,
        params.default_sigma_bp * 1e-4,
    )
    sigmas = sigma.at_many(looked)
    strike = seen_feed.price_at(symbol, start)
    time_left = start + SECONDS - times[MAX_LAG_S : MAX_LAG_S + SECONDS]

    def at_lag(feed: ReplayFeed, lags: Sequence[int]) -> dict[int, FairPath]:
        spot = np.array([feed.price_at(symbol, t) for t in looked.tolist()])
        out = {}
        for lag in lags:
            i = MAX_LAG_S - lag
            out[lag] = fair_values(
                spot[i : i + SECONDS], strike, sigmas[i : i + SECONDS], time_left, settings
            )
        return out

    seen = at_lag(seen_feed, LAGS)
    return _Row(
        slug=window.slug,
        bid=bid,
        ask=ask,
        observed=observed,
        outcome=outcome,
        seen={lag: path.p_up for lag, path in seen.items()},
        seen_z=seen[0].z,
        truth=[at_lag(feed, range(MAX_LAG_S + 1)) for feed in feeds[1:]],
    )


# --- the simulated books ----------------------------------------------------------------


def ar1_paths(units: np.ndarray, sd: float, phi: float) -> np.ndarray:
    """Stationary AR(1) paths along the last axis from unit normal ``units`` (one path a
    row): ``x₀ = sd·u₀``, ``xₜ = φ·xₜ₋₁ + sd·√(1 − φ²)·uₜ`` (as
    :func:`src.sim.market_model.view.ar1_path`)."""
    out = np.empty_like(units)
    if sd <= 0.0:
        out[:] = 0.0
        return out
    scale = sd * math.sqrt(max(0.0, 1.0 - phi * phi))
    out[:, 0] = sd * units[:, 0]
    for t in range(1, units.shape[1]):
        out[:, t] = phi * out[:, t - 1] + scale * units[:, t]
    return out


def held_quote_arrays(
    bids: np.ndarray,
    asks: np.ndarray,
    ticks: np.ndarray,
    grids: np.ndarray,
    beliefs: np.ndarray,
    margin: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The quotes shown each second (rows: windows) when the makers keep a quote as
    :func:`src.sim.market_model.view.build_quote_path` does: a new quote replaces the last
    one when the tick changes, or when it differs and
    :func:`src.sim.market_model.pricing.keeps_quote` would not keep the last (same sides,
    same spread, belief within ``margin`` grid steps). The rule on arrays; the tests hold
    it equal to the path builder."""
    shown_bid = np.empty_like(bids)
    shown_ask = np.empty_like(asks)
    last_bid = bids[:, 0].copy()
    last_ask = asks[:, 0].copy()
    last_tick = ticks[:, 0].copy()
    shown_bid[:, 0] = last_bid
    shown_ask[:, 0] = last_ask
    for t in range(1, bids.shape[1]):
        bid, ask, tick = bids[:, t], asks[:, t], ticks[:, t]
        slack = margin * grids[:, t]
        price = beliefs[:, t] * MICRO
        last_no_bid = last_bid == NO_BID
        last_no_ask = last_ask == NO_ASK
        keeps = (
            (last_no_bid == (bid == NO_BID))
            & (last_no_ask == (ask == NO_ASK))
            & (last_ask - last_bid == ask - bid)
            & (last_no_bid | (price >= last_bid - slack))
            & (last_no_ask | (price <= last_ask + slack))
        )
        same = (bid == last_bid) & (ask == last_ask)
        replace_ = (tick != last_tick) | (~same & ~keeps)
        last_bid = np.where(replace_, bid, last_bid)
        last_ask = np.where(replace_, ask, last_ask)
        last_tick = np.where(replace_, tick, last_tick)
        shown_bid[:, t] = last_bid
        shown_ask[:, t] = last_ask
    return shown_bid, shown_ask


@dataclass(eq=False)
class Simulator:
    """Simulated books for a :class:`WindowSet`, ``replications`` draws a window.

    Replication ``r`` runs on the data's sub-minute path draw ``r mod draws`` with its own
    makers' error; the error uses the same unit innovations for every parameter set
    (common random numbers). Rows are the windows repeated ``replications`` times; the
    data's observed seconds, fair values and outcomes are repeated alike (:attr:`view`).
    """

    data: WindowSet
    replications: int = 2
    seed: int = 0
    units: np.ndarray = field(init=False, repr=False)
    view: WindowSet = field(init=False, repr=False)
    _truth: dict[int, FairPath] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        rng = np.random.default_rng([self.seed, 0xCA1B])
        rows = self.data.windows * self.replications
        self.units = rng.standard_normal((rows, SECONDS))
        data = self.data
        self.view = replace(
            data,
            slugs=data.slugs * self.replications,
            observed=self.tiled(data.observed),
            outcome=self.tiled(data.outcome),
            seen={lag: self.tiled(v) for lag, v in data.seen.items()},
            seen_z=self.tiled(data.seen_z),
        )

    def tiled(self, values: np.ndarray) -> np.ndarray:
        """``values`` (one row per window, or one value per window) repeated per draw."""
        reps = (self.replications,) + (1,) * (values.ndim - 1)
        return np.tile(values, reps)

    def beliefs(self, params: MarketModelParams) -> tuple[FairPath, np.ndarray]:
        """The fair value the makers see with ``params`` and their belief, each second."""
        fair = self.fair(maker_lag(params))
        noise = ar1_paths(self.units, params.noise_sd_logit, params.noise_persistence)
        return fair, maker_probability(fair.p_up, noise)

    def books(self, params: MarketModelParams) -> tuple[np.ndarray, np.ndarray]:
        """Best bid and ask the simulated makers show every second with ``params``."""
        fair, p = self.beliefs(params)
        bids, asks, ticks, grids = maker_quotes(fair, p, params)
        return held_quote_arrays(bids, asks, ticks, grids, p, params.requote_margin)

    def stats(self, params: MarketModelParams) -> BookStats:
        """:func:`book_stats` of the simulated books."""
        bid, ask = self.books(params)
        view = self.view
        return book_stats(bid, ask, view.observed, view.seen, view.seen_z, view.outcome)

    def fair(self, lag: int) -> FairPath:
        """The truth fair value seen ``lag`` s late, one row per simulated window."""
        cached = self._truth.get(lag)
        if cached is None:
            path = self.data.truth[lag]
            n, draws = self.data.windows, self.data.draws
            rows = np.concatenate(
                [(r % draws) * n + np.arange(n) for r in range(self.replications)]
            )
            cached = FairPath(
                path.p_up[rows], path.z[rows], path.sigma_1m[rows], path.total_sd[rows]
            )
            self._truth[lag] = cached
        return cached


def maker_lag(params: MarketModelParams) -> int:
    """The makers' lag in whole seconds as quotes sampled each second see it (a look
    ``0.4 s`` back reads the previous second's price), at most :data:`MAX_LAG_S`."""
    return min(MAX_LAG_S, math.ceil(params.maker_lag_s - 1e-9))


# --- statistics of a set of books -------------------------------------------------------


@dataclass(frozen=True)
class BookStats:
    """What the calibration measures on a set of books (recorded or simulated).

    Shares are fractions; spreads are in cents; ``nan`` where nothing was observed.
    """

    change_share: float
    spread_cents: tuple[float, float, float]
    atm_spread: tuple[float, ...]
    one_side_empty: tuple[float, ...]
    brier: tuple[float, ...]
    fair_brier: tuple[float, ...]
    residual_mean: float
    residual_sd: float
    residual_sd_all: float
    residual_acf: tuple[float, ...]
    xcorr: tuple[float, ...]
    spread_cells: np.ndarray
    cell_counts: np.ndarray

    @property
    def xcorr_peak(self) -> float:
        """Lag (s) of the cross-correlation's peak, interpolated (negative: the quotes
        lead the klines' fair value)."""
        c = np.nan_to_num(np.array(self.xcorr), nan=-np.inf)
        i = int(np.argmax(c))
        if 0 < i < len(c) - 1 and np.all(np.isfinite(c[i - 1 : i + 2])):
            a, b, d = c[i - 1], c[i], c[i + 1]
            den = a - 2 * b + d
            shift = 0.5 * (a - d) / den if den < 0 else 0.0
            return float(LAGS[i] + shift)
        return float(LAGS[i])


def book_stats(
    bid: np.ndarray,
    ask: np.ndarray,
    observed: np.ndarray,
    seen: Mapping[int, np.ndarray],
    seen_z: np.ndarray,
    outcome: np.ndarray,
) -> BookStats:
    """Every statistic of the books ``bid``/``ask`` (rows: windows) at the ``observed``
    seconds; ``seen``/``seen_z``/``outcome`` as in :class:`WindowSet`."""
    has_bid = bid != NO_BID
    has_ask = ask != NO_ASK
    both = observed & has_bid & has_ask
    spread = np.where(both, ask - bid, 0) / CENT
    mid = np.where(both, (bid + ask) / (2 * MICRO), np.nan)
    left = SECONDS - np.arange(SECONDS)
    bins = [(left > lo) & (left <= hi) for lo, hi, _ in TIME_LEFT_BINS]

    pairs = observed[:, 1:] & observed[:, :-1]
    moved = (bid[:, 1:] != bid[:, :-1]) | (ask[:, 1:] != ask[:, :-1])
    change_share = _share(moved, pairs)
    cents = np.rint(spread)
    spread_cents = tuple(_share(cents == k, both) for k in (1, 2, 3))
    atm = both & (mid >= ATM_LOW) & (mid <= ATM_HIGH)
    atm_spread = tuple(_mean(spread, atm & b) for b in bins)
    one_side = observed & (has_bid != has_ask)
    one_side_empty = tuple(_share(one_side, observed & b) for b in bins)

    book_mid = np.where(
        has_bid & has_ask,
        (bid + ask) / (2 * MICRO),
        np.where(has_bid, (bid + MICRO) / (2 * MICRO), ask / (2 * MICRO)),
    )
    book_mid = np.where(has_bid | has_ask, book_mid, np.nan)
    brier, fair_brier = _brier(book_mid, observed, seen[0], outcome)

    fair0 = seen[0]
    usable = (
        both
        & (fair0 >= RESIDUAL_BAND)
        & (fair0 <= 1 - RESIDUAL_BAND)
        & (mid >= RESIDUAL_BAND)
        & (mid <= 1 - RESIDUAL_BAND)
    )
    log_mid = np.where(usable, logit(np.nan_to_num(mid, nan=0.5)), np.nan)
    log_fair = np.where(
        (fair0 >= RESIDUAL_BAND) & (fair0 <= 1 - RESIDUAL_BAND), logit(fair0), np.nan
    )
    residual = log_mid - log_fair
    values = residual[np.isfinite(residual)]
    residual_mean = float(values.mean()) if values.size else math.nan
    residual_sd_all = float(values.std()) if values.size > 1 else math.nan
    exact = np.where(EXACT_SECONDS, residual, np.nan)
    exact_values = exact[np.isfinite(exact)]
    residual_sd = robust_sd(exact_values)
    residual_acf = tuple(_lag_corr(exact, exact, k) for k in ACF_LAGS)

    marks = XCORR_MARKS
    fair_moves = log_fair[:, marks] - log_fair[:, marks - 60]
    xcorr = tuple(
        _corr(log_mid[:, marks + lag] - log_mid[:, marks - 60 + lag], fair_moves)
        for lag in LAGS
    )

    z_index = np.digitize(np.abs(np.nan_to_num(seen_z, nan=np.inf)), Z_BINS[1:-1])
    cells = np.full((len(TIME_LEFT_BINS), len(Z_BINS) - 1), np.nan)
    counts = np.zeros(cells.shape, dtype=np.int64)
    for i, b in enumerate(bins):
        for j in range(cells.shape[1]):
            inside = both & b & (z_index == j)
            counts[i, j] = int(inside.sum())
            cells[i, j] = _mean(spread, inside)
    return BookStats(
        change_share=change_share,
        spread_cents=spread_cents,  # type: ignore[arg-type]
        atm_spread=atm_spread,
        one_side_empty=one_side_empty,
        brier=brier,
        fair_brier=fair_brier,
        residual_mean=residual_mean,
        residual_sd=residual_sd,
        residual_sd_all=residual_sd_all,
        residual_acf=residual_acf,
        xcorr=xcorr,
        spread_cells=cells,
        cell_counts=counts,
    )


def robust_sd(values: np.ndarray) -> float:
    """1.4826 × the median absolute deviation: the standard deviation of a normal sample,
    unmoved by the few large errors of a jumpy minute."""
    if values.size < 2:
        return math.nan
    return float(1.4826 * np.median(np.abs(values - np.median(values))))


def _share(hit: np.ndarray, among: np.ndarray) -> float:
    total = int(among.sum())
    return float((hit & among).sum() / total) if total else math.nan


def _mean(values: np.ndarray, where: np.ndarray) -> float:
    return float(values[where].mean()) if where.any() else math.nan


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3:
        return math.nan
    x, y = a[ok], b[ok]
    x = x - x.mean()
    y = y - y.mean()
    den = math.sqrt(float((x * x).sum() * (y * y).sum()))
    return float((x * y).sum() / den) if den > 0 else math.nan


def _lag_corr(a: np.ndarray, b: np.ndarray, k: int) -> float:
    return _corr(a[:, :-k], b[:, k:])


def _brier(
    book_mid: np.ndarray, observed: np.ndarray, fair: np.ndarray, outcome: np.ndarray
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Brier score of the book's mid (an empty side counts as its bound) and of the fair
    value at each minute of :data:`BRIER_MINUTES`: the first observation within 5 s."""
    known = np.isfinite(outcome)
    scores: list[float] = []
    fair_scores: list[float] = []
    for minute in BRIER_MINUTES:
        s = 60 * minute
        take = np.full(len(outcome), -1)
        for k in range(s + 5, s - 1, -1):  # the first observed second wins
            ok = observed[:, k] & np.isfinite(book_mid[:, k])
            take = np.where(ok, k, take)
        rows = np.nonzero(known & (take >= 0))[0]
        if not rows.size:
            scores.append(math.nan)
            fair_scores.append(math.nan)
            continue
        cols = take[rows]
        won = outcome[rows]
        scores.append(float(np.mean((book_mid[rows, cols] - won) ** 2)))
        fair_scores.append(float(np.mean((fair[rows, cols] - won) ** 2)))
    return tuple(scores), tuple(fair_scores)


# --- the fit ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FitRow:
    """One measure of the goodness-of-fit table."""

    measure: str
    recorded: float
    simulated: float
    unit: str = ""
    floor: float = 0.05
    """Relative errors are taken against ``max(|recorded|, floor)``."""

    @property
    def error(self) -> float:
        """``|simulated − recorded| / max(|recorded|, floor)`` (NaN if either is)."""
        if not (math.isfinite(self.recorded) and math.isfinite(self.simulated)):
            return math.nan
        return abs(self.simulated - self.recorded) / max(abs(self.recorded), self.floor)


@dataclass(frozen=True)
class Calibration:
    """The fitted parameters, what they were fitted to and how well they fit.

    Attributes:
        params: the input parameters with :data:`FITTED` replaced by the fit.
        recorded: statistics of the recorded books.
        simulated: statistics of books simulated with ``params`` (fresh draws).
        rows: the goodness-of-fit table.
        score: mean relative error of the table's rows (0 is a perfect fit).
        windows, observations, skipped: what the fit used and left out.
        rounds: block-coordinate rounds run.
        held: fitted parameters kept at their given values.
    """

    params: MarketModelParams
    recorded: BookStats
    simulated: BookStats
    rows: tuple[FitRow, ...]
    score: float
    windows: int
    observations: int
    skipped: tuple[str, ...]
    rounds: int
    held: tuple[str, ...] = ()

    def fitted(self) -> dict[str, float]:
        """The fitted values by name."""
        return {name: float(getattr(self.params, name)) for name in FITTED}

    def report(self) -> dict[str, object]:
        """A JSON-ready summary (the parameter file's header and ``--json``)."""
        return {
            "windows": self.windows,
            "observations": self.observations,
            "skipped_windows": list(self.skipped),
            "rounds": self.rounds,
            "held": list(self.held),
            "fitted": self.fitted(),
            "score": _finite(self.score),
            "recorded_xcorr_peak_s": _finite(self.recorded.xcorr_peak),
            "recorded_residual_mean_logit": _finite(self.recorded.residual_mean),
            "goodness_of_fit": [
                {
                    "measure": row.measure,
                    "unit": row.unit,
                    "recorded": _finite(row.recorded),
                    "simulated": _finite(row.simulated),
                }
                for row in self.rows
            ],
        }


def _finite(value: float) -> float | None:
    return round(float(value), 6) if math.isfinite(value) else None


STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("lag", ("maker_lag_s",)),
    ("spread", ("base_half_spread", "uncertainty_mult")),
    ("makers' error", ("noise_sd_logit", "noise_half_life_s")),
    ("requote margin", ("requote_margin",)),
)
"""The fit's stages, in order, and the parameters each one fits."""


def calibrate(
    data: WindowSet,
    params: MarketModelParams | None = None,
    *,
    hold: Collection[str] = (),
    seed: int = 0,
    replications: int = 2,
    check_replications: int = 4,
    max_rounds: int = 3,
    progress: Progress | None = None,
) -> Calibration:
    """Fit :data:`FITTED` (except those named in ``hold``, kept as given) to ``data``.

    Block-coordinate rounds, each fitting in turn: the lag (the integer lag whose simulated
    cross-correlation curve is closest to the recorded one), the spread (grid, then finer
    grids, on the mean spread by time left × distance), the makers' error (Nelder–Mead on
    the residual's sd and autocorrelation) and the requote margin (bisection on the share
    of seconds the top changes), each with the others at their latest values; the rounds
    stop when a round moves no parameter by half its :data:`ROUNDING` step.
    ``replications`` draws per window are simulated while fitting, ``check_replications``
    fresh ones for the table.
    """
    params = params or MarketModelParams()
    unknown = sorted(set(hold) - set(FITTED))
    if unknown:
        raise CalibrationError(
            f"cannot hold {', '.join(unknown)}: not a fitted parameter "
            f"({', '.join(FITTED)})"
        )
    fits: dict[str, Callable[..., MarketModelParams]] = {
        "lag": _fit_lag,
        "spread": _fit_spread,
        "makers' error": _fit_noise,
        "requote margin": _fit_margin,
    }
    stages = [
        (name, free)
        for name, names in STAGES
        if (free := tuple(n for n in names if n not in hold))
    ]
    report = progress or (lambda _stage, _done, _total: None)
    total = max_rounds * len(stages) + 1
    recorded = book_stats(
        data.bid, data.ask, data.observed, data.seen, data.seen_z, data.outcome
    )
    sim = Simulator(data, replications, seed)
    current = params
    rounds = 0
    done = 0
    for rounds in range(1, max_rounds + 1):
        before = tuple(getattr(current, name) for name in FITTED)
        for name, free in stages:
            report(f"round {rounds}: {name}", done, total)
            current = fits[name](sim, recorded, current, free)
            done += 1
        if all(
            abs(getattr(current, name) - old) < ROUNDING[name] / 2
            for name, old in zip(FITTED, before, strict=True)
        ):
            break
    report("goodness of fit", total - 1, total)
    check = Simulator(data, check_replications, seed + 1)
    simulated = check.stats(current)
    rows = fit_rows(recorded, simulated)
    errors = [row.error for row in rows if math.isfinite(row.error)]
    report("done", total, total)
    return Calibration(
        params=current,
        recorded=recorded,
        simulated=simulated,
        rows=rows,
        score=float(np.mean(errors)) if errors else math.nan,
        windows=data.windows,
        observations=data.observations,
        skipped=data.skipped,
        rounds=rounds,
        held=tuple(n for n in FITTED if n in hold),
    )


def _fit_lag(
    sim: Simulator,
    recorded: BookStats,
    params: MarketModelParams,
    free: Sequence[str] = ("maker_lag_s",),
) -> MarketModelParams:
    """The integer lag whose simulated cross-correlation (normalised to its peak) is
    closest to the recorded one."""
    target = _normalised(recorded.xcorr)
    best, best_cost = params, math.inf
    for lag in range(MAX_LAG_S + 1):
        candidate = replace(params, maker_lag_s=float(lag))
        curve = _normalised(sim.stats(candidate).xcorr)
        cost = float(np.nansum((curve - target) ** 2))
        if cost < best_cost - 1e-12:
            best, best_cost = candidate, cost
    return best


def _normalised(curve: Sequence[float]) -> np.ndarray:
    values = np.array(curve, dtype=np.float64)
    peak = np.nanmax(values) if np.isfinite(values).any() else math.nan
    return values / peak if peak and math.isfinite(peak) and peak > 0 else values


def spread_cost(recorded: BookStats, simulated: BookStats) -> float:
    """Mean squared difference (cents²) of the mean spread per cell, weighted by the square
    root of the recorded count (the few late, wide cells still count)."""
    weights = np.sqrt(recorded.cell_counts.astype(np.float64))
    diff = simulated.spread_cells - recorded.spread_cells
    ok = np.isfinite(diff) & (weights > 0)
    if not ok.any():
        return math.inf
    return float((weights[ok] * diff[ok] ** 2).sum() / weights[ok].sum())


SPREAD_BASE_RANGE = (0.0005, 0.0205)
SPREAD_MULT_RANGE = (0.0, 1.5)
SPREAD_GRIDS = ((17, 11), (7, 7), (7, 7))
"""Points per axis of the spread fit's successive grids."""


def _fit_spread(
    sim: Simulator,
    recorded: BookStats,
    params: MarketModelParams,
    free: Sequence[str] = ("base_half_spread", "uncertainty_mult"),
) -> MarketModelParams:
    """Grid over the free ones of (base, mult) (:data:`SPREAD_GRIDS`: the ranges, then
    finer grids one step around the best point so far; the start values play no part).

    A quote's spread does not depend on whether the makers kept it (a kept quote has the
    spread they want), so the books are built without the requote loop here.
    """
    fair, p = sim.beliefs(params)
    view = sim.view

    def cost(base: float, mult: float) -> float:
        trial = replace(params, base_half_spread=base, uncertainty_mult=mult)
        bids, asks, _, _ = maker_quotes(fair, p, trial)
        stats = _spread_stats(bids, asks, view.observed, view.seen_z)
        return spread_cost(recorded, stats)

    base_lo, base_hi = SPREAD_BASE_RANGE
    base_hi = min(base_hi, params.max_half_spread)
    mult_lo, mult_hi = SPREAD_MULT_RANGE
    best = (params.base_half_spread, params.uncertainty_mult)
    best_cost = math.inf
    fit_base = "base_half_spread" in free
    fit_mult = "uncertainty_mult" in free
    for n_base, n_mult in SPREAD_GRIDS:
        bases = np.linspace(base_lo, base_hi, n_base) if fit_base else [best[0]]
        mults = np.linspace(mult_lo, mult_hi, n_mult) if fit_mult else [best[1]]
        for base in bases:
            for mult in mults:
                c = cost(float(base), float(mult))
                if c < best_cost - 1e-12:
                    best, best_cost = (float(base), float(mult)), c
        base_step = (base_hi - base_lo) / (n_base - 1)
        mult_step = (mult_hi - mult_lo) / (n_mult - 1)
        base_lo = max(SPREAD_BASE_RANGE[0] / 5, best[0] - base_step)
        base_hi = min(params.max_half_spread, best[0] + base_step)
        mult_lo, mult_hi = max(0.0, best[1] - mult_step), best[1] + mult_step
    return replace(params, base_half_spread=best[0], uncertainty_mult=best[1])


def _spread_stats(
    bid: np.ndarray, ask: np.ndarray, observed: np.ndarray, seen_z: np.ndarray
) -> BookStats:
    """Only the spread cells of :func:`book_stats` (the rest is left empty)."""
    both = observed & (bid != NO_BID) & (ask != NO_ASK)
    spread = np.where(both, ask - bid, 0) / CENT
    left = SECONDS - np.arange(SECONDS)
    z_index = np.digitize(np.abs(np.nan_to_num(seen_z, nan=np.inf)), Z_BINS[1:-1])
    cells = np.full((len(TIME_LEFT_BINS), len(Z_BINS) - 1), np.nan)
    counts = np.zeros(cells.shape, dtype=np.int64)
    for i, (lo, hi, _) in enumerate(TIME_LEFT_BINS):
        in_bin = both & ((left > lo) & (left <= hi))
        for j in range(cells.shape[1]):
            inside = in_bin & (z_index == j)
            counts[i, j] = int(inside.sum())
            cells[i, j] = _mean(spread, inside)
    nan = math.nan
    return BookStats(
        nan, (nan, nan, nan), (), (), (), (), nan, nan, nan, (), (), cells, counts
    )


NOISE_WEIGHTS = (1 / 0.02**2, 1 / 0.1**2) + (1 / 0.03**2,) * (len(ACF_LAGS) - 1)
"""Weights of the residual's sd (logit) and autocorrelations (by :data:`ACF_LAGS`) in the
error objective: the 1-second autocorrelation mostly reflects the grid and the lag, and
counts less than the slower ones that tell the half-life."""


def noise_cost(recorded: BookStats, simulated: BookStats) -> float:
    """Weighted squared distance of the residual's sd and autocorrelations."""
    a = np.array((recorded.residual_sd, *recorded.residual_acf))
    b = np.array((simulated.residual_sd, *simulated.residual_acf))
    ok = np.isfinite(a) & np.isfinite(b)
    if not ok.any():
        return math.inf
    return float((np.array(NOISE_WEIGHTS)[ok] * (a[ok] - b[ok]) ** 2).sum())


NOISE_SD_RANGE = (0.001, 3.0)
HALF_LIFE_RANGE = (0.5, 3600.0)


def _fit_noise(
    sim: Simulator,
    recorded: BookStats,
    params: MarketModelParams,
    free: Sequence[str] = ("noise_sd_logit", "noise_half_life_s"),
) -> MarketModelParams:
    """Nelder–Mead over the logarithms of the free ones of (sd, half-life) on
    :func:`noise_cost`."""
    ranges = {"noise_sd_logit": NOISE_SD_RANGE, "noise_half_life_s": HALF_LIFE_RANGE}
    steps = {"noise_sd_logit": 0.5, "noise_half_life_s": 0.7}

    def unpack(x: np.ndarray) -> MarketModelParams:
        values = {
            name: float(np.clip(math.exp(v), *ranges[name]))
            for name, v in zip(free, x, strict=True)
        }
        return replace(params, **values)

    def cost(x: np.ndarray) -> float:
        return noise_cost(recorded, sim.stats(unpack(x)))

    start = np.array([math.log(max(getattr(params, name), 0.01)) for name in free])
    step = np.array([steps[name] for name in free])
    best = nelder_mead(cost, start, step, max_evals=30 * len(free), tolerance=1e-3)
    return unpack(best)


def nelder_mead(
    f: Callable[[np.ndarray], float],
    x0: np.ndarray,
    steps: np.ndarray,
    *,
    max_evals: int = 100,
    tolerance: float = 1e-4,
) -> np.ndarray:
    """Minimise ``f`` from ``x0`` (initial simplex ``x0 + steps`` along each axis) with the
    Nelder–Mead simplex method; stops after ``max_evals`` evaluations or when the simplex's
    values span less than ``tolerance``."""
    n = len(x0)
    simplex = [np.array(x0, dtype=np.float64)]
    for i in range(n):
        point = simplex[0].copy()
        point[i] += steps[i]
        simplex.append(point)
    values = [f(p) for p in simplex]
    evals = n + 1
    while evals < max_evals:
        order = np.argsort(values)
        simplex = [simplex[i] for i in order]
        values = [values[i] for i in order]
        if values[-1] - values[0] < tolerance:
            break
        centroid = np.mean(simplex[:-1], axis=0)
        worst = simplex[-1]
        reflected = centroid + (centroid - worst)
        fr = f(reflected)
        evals += 1
        if fr < values[0]:
            expanded = centroid + 2.0 * (centroid - worst)
            fe = f(expanded)
            evals += 1
            simplex[-1], values[-1] = (expanded, fe) if fe < fr else (reflected, fr)
        elif fr < values[-2]:
            simplex[-1], values[-1] = reflected, fr
        else:
            inside = fr >= values[-1]
            contracted = centroid + (0.5 if not inside else -0.5) * (centroid - worst)
            fc = f(contracted)
            evals += 1
            if fc < min(fr, values[-1]):
                simplex[-1], values[-1] = contracted, fc
            else:
                best = simplex[0]
                simplex = [best] + [best + 0.5 * (p - best) for p in simplex[1:]]
                values = [values[0]] + [f(p) for p in simplex[1:]]
                evals += n
    return simplex[int(np.argmin(values))]


def _fit_margin(
    sim: Simulator,
    recorded: BookStats,
    params: MarketModelParams,
    free: Sequence[str] = ("requote_margin",),
) -> MarketModelParams:
    """Bisection on the share of seconds the top of book changes (it falls as the margin
    grows), within the parameter's range [0, 1]."""
    target = recorded.change_share

    def share(margin: float) -> float:
        return sim.stats(replace(params, requote_margin=margin)).change_share

    lo, hi = 0.0, 1.0
    if not math.isfinite(target) or share(lo) <= target:
        return replace(params, requote_margin=lo)
    if share(hi) >= target:
        return replace(params, requote_margin=hi)
    for _ in range(10):
        mid = 0.5 * (lo + hi)
        if share(mid) > target:
            lo = mid
        else:
            hi = mid
    return replace(params, requote_margin=round(0.5 * (lo + hi), 4))


# --- the goodness-of-fit table ----------------------------------------------------------


def fit_rows(recorded: BookStats, simulated: BookStats) -> tuple[FitRow, ...]:
    """The table comparing recorded and simulated books, measure by measure."""
    rows = [
        FitRow("top of book changes", recorded.change_share, simulated.change_share, "%")
    ]
    for k, (r, s) in enumerate(
        zip(recorded.spread_cents, simulated.spread_cents, strict=True), start=1
    ):
        rows.append(FitRow(f"spread {k} c", r, s, "%", floor=0.05))
    for (_, _, label), r, s in zip(
        TIME_LEFT_BINS, recorded.atm_spread, simulated.atm_spread, strict=True
    ):
        rows.append(FitRow(f"at-the-money spread, {label} left", r, s, "c", floor=1.0))
    for (_, _, label), r, s in zip(
        TIME_LEFT_BINS, recorded.one_side_empty, simulated.one_side_empty, strict=True
    ):
        rows.append(FitRow(f"one side empty, {label} left", r, s, "%", floor=0.05))
    for minute, r, s in zip(BRIER_MINUTES, recorded.brier, simulated.brier, strict=True):
        rows.append(FitRow(f"Brier of the mid, minute {minute}", r, s, "", floor=0.05))
    rows.append(
        FitRow(
            "residual logit(mid) − logit(fair): sd at the minute marks",
            recorded.residual_sd,
            simulated.residual_sd,
            "logit",
            floor=0.05,
        )
    )
    rows.append(
        FitRow(
            "residual: sd over every second",
            recorded.residual_sd_all,
            simulated.residual_sd_all,
            "logit",
            floor=0.05,
        )
    )
    for lag, r, s in zip(
        ACF_LAGS, recorded.residual_acf, simulated.residual_acf, strict=True
    ):
        if lag in (1, 60, 120):
            rows.append(FitRow(f"residual autocorrelation, {lag} s", r, s, "", floor=0.1))
    rows.append(
        FitRow(
            "cross-correlation peak (lag of the quotes)",
            recorded.xcorr_peak,
            simulated.xcorr_peak,
            "s",
            floor=1.0,
        )
    )
    return tuple(rows)


def rounded(params: MarketModelParams) -> MarketModelParams:
    """``params`` with each fitted value rounded to its :data:`ROUNDING` step (what a
    shipped default looks like)."""
    changes = {}
    for name, step in ROUNDING.items():
        value = round(getattr(params, name) / step) * step
        changes[name] = float(round(value, 6))
    if changes["noise_half_life_s"] <= 0:
        changes["noise_half_life_s"] = ROUNDING["noise_half_life_s"]
    if changes["base_half_spread"] <= 0:
        changes["base_half_spread"] = ROUNDING["base_half_spread"]
    return replace(params, **changes)
