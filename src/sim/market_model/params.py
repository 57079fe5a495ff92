"""Every number of the market model, in one frozen object with its documented default.

The defaults come from the real recordings in ``../shared/data/polymarket/`` (68 BTC
15-minute windows polled about once a second, 2025-12-26/29) and from the reference's venue
facts; ``docs/SIMULATOR.md`` ("Market model") gives the measurement behind each one. The
book parameters (lag, spread, requote margin) are ``polyflup calibrate``'s fit on those
recordings with the makers' error held (:data:`src.sim.market_model.calibration.SHIPPED_HOLD`),
rounded to :data:`~src.sim.market_model.calibration.ROUNDING`; a test holds them to that fit.
Where the recordings cannot tell (depth and taker flow: they hold only the best bid and ask;
how much of the quotes' disagreement with the fair value is the makers' error), the default
is a stated assumption.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal


class MarketModelParamsError(ValueError):
    """A market-model parameter outside its allowed range."""


@dataclass(frozen=True, slots=True)
class MarketModelParams:
    """Makers, takers and reference price of the simulated Up/Down markets.

    Makers' view of fair value (computed on a 1-second grid):
        maker_lag_s: seconds the makers' view of the underlying lags the feed. 0, fitted:
            the cross-correlation of the recorded mid's one-minute changes with the fair
            value's peaks 1.5 s *before* the minute mark (the quotes lead Binance's klines
            slightly; simulated with no lag it peaks at −0.5 s), real makers react in well
            under a second, and any lag hands the bot — which reads the same feed and
            trades at once — a latency edge it does not have on the venue (1 s of lag
            multiplies the oracle's edge twelvefold; see docs/SIMULATOR.md). Raise it to
            stress a strategy against slow quotes.
        noise_sd_logit: stationary standard deviation of the makers' error, an AR(1)
            process in logit space (0.05 ≈ 1.25 cents at p = 0.5). *Assumed*: the recorded
            mid disagrees with the project's fair value by 0.27 logit (robust sd at the
            minute marks) for minutes on end (autocorrelation 0.70 at 60 s), and a fit of
            this error to all of it gives 0.27 with a 184-s half-life — but that
            disagreement is as much the fair value's error (a different reference price,
            volatility and sub-minute path) as the makers': the market's mid scores as
            well against the outcomes as the fair value does, and simulated makers that
            wrong would hand an oracle ≈ $16 a window per share-second. Small, so that
            mispricings worth more than the fee stay rare.
        noise_half_life_s: half-life of that error; per-second persistence
            ``φ = 0.5 ** (1 / half_life)`` (*assumed*, as its level). The recordings bound
            the per-second innovation ``sd·√(1 − φ²)`` below ≈ 0.025 logit; the default
            gives 0.013.
        fair_value_model / student_t_dof: the distribution of the standardised move in the
            project's fair-value rule: the strategy's default unit-variance Student-t with
            4 degrees of freedom. On generated (fat-tailed) windows it scores better than
            the normal (Brier 0.1626 vs 0.1635 over 380 windows).
        vol_lookback_min: realised volatility window (1-minute log returns, zero-mean RMS,
            closed candles only), as in the recordings' analysis and the strategy.
        default_sigma_bp: 1-minute volatility used before any candle history exists.
        min_sigma_bp: floor on the 1-minute volatility (the strategy's default).

    Quotes:
        base_half_spread / uncertainty_mult / uncertainty_horizon_s: the half-spread is
            ``base + mult × u``, ``u`` the standard deviation of the fair value's move over
            the horizon, rounded out to the quoting grid (never less than one step). This
            one rule widens the spread near the money and near the end. Fitted (0.0035,
            0.18; the horizon is fixed: only ``mult·√horizon`` is identified) to the
            recorded mean spread by time left × distance to the strike: at the money
            1.25 c with > 10 min left (u ≈ 1.6 c), 1.55 c at 2–5 min, 2.0 c at 1–2 min,
            3.5 c at 30–60 s, 4.5 c at 10–30 s, 10 c in the last 10 s (u ≈ 18 c); far from
            the money they stay near 1 c.
        max_half_spread: cap on the half-spread.
        quote_grid: the grid the makers quote on. Whole cents even where the venue's tick
            is 0.001: 99.7 % of the recorded best prices are whole cents, extremes included.
        requote_margin: makers keep their quote while their probability stays within
            this many grid steps outside it (and the spread they want is the same): they do
            not chase sub-cent moves. Fitted: 0.25 brings the share of seconds in which the
            simulated top of book changes to the recorded 51 %.
        levels: price levels quoted per side (Up space; mirrored on Down).
        level_step: price distance between levels.
        min_levels / max_levels: the ladder may hold between these many levels before
            deep levels are added (back up to ``levels``) or the deepest dropped, so a
            one-cent move costs one order placed and one cancelled per book instead of a
            full re-ladder.
        depth_shares: median size of the top level, in shares (assumed: the recordings
            hold prices only).
        depth_growth: each deeper level's median size is this many times the one above.
        depth_log_sd: log-normal dispersion of level sizes.
        replenish_delay_s: seconds after a level is hit before the makers top it up.
        replenish_below: a level is topped up once it holds less than this fraction of
            its target size.

    Takers (per market, Poisson arrivals):
        taker_rate_per_s: arrivals per second while the window runs (assumed: fewer,
            larger orders than the real flow; the volume through a price is what fills a
            resting order).
        pre_window_rate_factor: arrivals before the window starts, as a fraction.
        taker_size_median: median taker size in shares (log-normal; assumed).
        taker_size_log_sd: log-normal dispersion of taker sizes.
        informed_share: fraction of takers who know the current (unlagged) fair value and
            trade only when the edge beats the fee by ``informed_min_edge``.
        informed_min_edge: edge per share, beyond the fee, an informed taker demands.
        noise_slippage: how far beyond the best price a noise taker is willing to trade.

    Reference price and fees:
        basis_bp: standard deviation, in basis points, of the resolution reference
            (Chainlink) around the feed's price, drawn independently at the start and at
            the end of each window. Fitted to the measured fact that every disagreement
            between Binance and the real outcome (6 of 265 windows) was a move under 1 bp.
        settlement_twap_s: 0 resolves on the reference price at the end (the markets of
            the recordings and of the issue); 60 mimics the TWAP used since 2026-08.
        fee_rate: taker fee rate of every market (crypto: 0.07, exponent 1).
    """

    maker_lag_s: float = 0.0
    noise_sd_logit: float = 0.05
    noise_half_life_s: float = 20.0
    fair_value_model: str = "student_t"
    student_t_dof: float = 4.0
    vol_lookback_min: int = 60
    default_sigma_bp: float = 5.0
    min_sigma_bp: float = 0.5

    base_half_spread: float = 0.0035
    uncertainty_mult: float = 0.18
    uncertainty_horizon_s: float = 1.0
    max_half_spread: float = 0.10
    quote_grid: float = 0.01
    requote_margin: float = 0.25
    levels: int = 3
    level_step: float = 0.01
    min_levels: int = 2
    max_levels: int = 15
    depth_shares: float = 150.0
    depth_growth: float = 1.5
    depth_log_sd: float = 0.5
    replenish_delay_s: float = 2.0
    replenish_below: float = 0.5

    taker_rate_per_s: float = 0.15
    pre_window_rate_factor: float = 0.05
    taker_size_median: float = 30.0
    taker_size_log_sd: float = 1.0
    informed_share: float = 0.3
    informed_min_edge: float = 0.005
    noise_slippage: float = 0.02

    basis_bp: float = 0.6
    settlement_twap_s: float = 0.0
    fee_rate: Decimal = Decimal("0.07")

    def __post_init__(self) -> None:
        _check(self.maker_lag_s >= 0, "maker_lag_s must be >= 0")
        _check(self.noise_sd_logit >= 0, "noise_sd_logit must be >= 0")
        _check(self.noise_half_life_s > 0, "noise_half_life_s must be > 0")
        _check(
            self.fair_value_model in ("normal", "student_t"),
            "fair_value_model must be 'normal' or 'student_t'",
        )
        _check(self.student_t_dof > 2, "student_t_dof must be > 2 (finite variance)")
        _check(self.vol_lookback_min >= 2, "vol_lookback_min must be >= 2")
        _check(self.default_sigma_bp > 0, "default_sigma_bp must be > 0")
        _check(self.min_sigma_bp > 0, "min_sigma_bp must be > 0")
        _check(0 < self.base_half_spread < 0.5, "base_half_spread must be in (0, 0.5)")
        _check(self.uncertainty_mult >= 0, "uncertainty_mult must be >= 0")
        _check(self.uncertainty_horizon_s > 0, "uncertainty_horizon_s must be > 0")
        _check(
            self.base_half_spread <= self.max_half_spread < 0.5,
            "max_half_spread must be in [base_half_spread, 0.5)",
        )
        _check(
            self.quote_grid in (0.01, 0.001), "quote_grid must be 0.01 or 0.001 (a tick)"
        )
        _check(0 <= self.requote_margin <= 1, "requote_margin must be in [0, 1]")
        _check(1 <= self.levels <= 20, "levels must be in [1, 20]")
        _check(
            1 <= self.min_levels <= self.levels <= self.max_levels,
            "levels must satisfy 1 <= min_levels <= levels <= max_levels",
        )
        _check(0.001 <= self.level_step <= 0.1, "level_step must be in [0.001, 0.1]")
        _check(self.depth_shares >= 5, "depth_shares must be >= 5 (the minimum order)")
        _check(self.depth_growth > 0, "depth_growth must be > 0")
        _check(self.depth_log_sd >= 0, "depth_log_sd must be >= 0")
        _check(self.replenish_delay_s >= 0, "replenish_delay_s must be >= 0")
        _check(0 < self.replenish_below <= 1, "replenish_below must be in (0, 1]")
        _check(self.taker_rate_per_s >= 0, "taker_rate_per_s must be >= 0")
        _check(0 <= self.pre_window_rate_factor <= 1, "pre_window_rate_factor in [0, 1]")
        _check(self.taker_size_median >= 5, "taker_size_median must be >= 5")
        _check(self.taker_size_log_sd >= 0, "taker_size_log_sd must be >= 0")
        _check(0 <= self.informed_share <= 1, "informed_share must be in [0, 1]")
        _check(self.informed_min_edge >= 0, "informed_min_edge must be >= 0")
        _check(0 <= self.noise_slippage < 1, "noise_slippage must be in [0, 1)")
        _check(self.basis_bp >= 0, "basis_bp must be >= 0")
        _check(0 <= self.settlement_twap_s <= 900, "settlement_twap_s in [0, 900]")
        _check(0 <= self.fee_rate <= 1, "fee_rate must be in [0, 1]")

    @property
    def noise_persistence(self) -> float:
        """Per-second AR(1) coefficient of the makers' logit error."""
        return 0.5 ** (1.0 / self.noise_half_life_s)

    @property
    def noise_innovation_sd(self) -> float:
        """Standard deviation of the per-second innovation of the makers' logit error."""
        phi = self.noise_persistence
        return self.noise_sd_logit * math.sqrt(1.0 - phi * phi)


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise MarketModelParamsError(message)
