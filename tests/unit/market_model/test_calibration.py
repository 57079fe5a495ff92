"""The calibration of the book parameters: each statistic on constructed books, each fit
stage on books the simulator made with known parameters, the whole fit recovering known
parameters from a simulated recording, and the shipped defaults being the fit on the
shared real recordings."""

from __future__ import annotations

import functools
import math
import random
import warnings
from dataclasses import replace

import numpy as np
import pytest

from src.data.quotes import load_recordings
from src.sim.feeds import read_klines_csv
from src.sim.feeds.table import KlineTable
from src.sim.market_model import MarketModelParams, fair_value_settings
from src.sim.market_model.calibration import (
    ACF_LAGS,
    BRIER_MINUTES,
    FITTED,
    LAGS,
    ROUNDING,
    SHIPPED_HOLD,
    CalibrationError,
    FitRow,
    Simulator,
    WindowSet,
    _fit_lag,
    _fit_margin,
    _fit_noise,
    _fit_spread,
    ar1_paths,
    book_stats,
    calibrate,
    held_quote_arrays,
    kline_segments,
    nelder_mead,
    prepare_windows,
    robust_sd,
    rounded,
)
from src.sim.market_model.pricing import MICRO, NO_BID, sigmoid
from src.sim.market_model.view import (
    WindowInputs,
    ar1_path,
    build_quote_path,
    fair_path,
    maker_probability,
    maker_quotes,
)
from src.sim.market_model.volatility import SigmaByMinute
from tests.conftest import shared_path
from tests.unit.market_model.calibration_support import START, SYMBOL, simulated_recording
from tests.unit.market_model.support import stepped_table

SECONDS = 900
KNOWN = replace(
    MarketModelParams(),
    maker_lag_s=3.0,
    noise_sd_logit=0.12,
    noise_half_life_s=40.0,
    base_half_spread=0.005,
    uncertainty_mult=0.35,
    requote_margin=0.5,
)
"""Non-default book parameters the fit must find again."""


def _books(n: int = 2) -> dict[str, np.ndarray]:
    """Empty constructed books: every second observed, both sides at 0.49/0.51."""
    return {
        "bid": np.full((n, SECONDS), 490_000, dtype=np.int64),
        "ask": np.full((n, SECONDS), 510_000, dtype=np.int64),
        "observed": np.ones((n, SECONDS), dtype=bool),
        "fair": np.full((n, SECONDS), 0.5),
        "outcome": np.array([1.0] * n),
    }


def _stats(b: dict[str, np.ndarray], seen: dict[int, np.ndarray] | None = None) -> object:
    seen = seen or {lag: b["fair"] for lag in LAGS}
    z = np.zeros_like(b["fair"])
    return book_stats(b["bid"], b["ask"], b["observed"], seen, z, b["outcome"])


# --- building blocks --------------------------------------------------------------------


def test_ar1_paths_are_stationary_with_the_given_sd_and_persistence() -> None:
    units = np.random.default_rng(1).standard_normal((400, SECONDS))
    phi = 0.5 ** (1 / 20)
    paths = ar1_paths(units, 0.2, phi)
    assert paths[:, 0].std() == pytest.approx(0.2, rel=0.1)
    assert paths[:, -1].std() == pytest.approx(0.2, rel=0.1)
    lag1 = np.corrcoef(paths[:, 1:].ravel(), paths[:, :-1].ravel())[0, 1]
    assert lag1 == pytest.approx(phi, abs=0.01)
    assert not ar1_paths(units, 0.0, phi).any()


@pytest.mark.parametrize("margin", [0.0, 0.25, 1.0])
def test_held_quote_arrays_are_the_quote_path_builders_rule(margin: float) -> None:
    recording = simulated_recording(MarketModelParams(), 1, seed=5)
    feed = recording.feed
    params = replace(MarketModelParams(), requote_margin=margin, noise_sd_logit=0.2)
    settings = fair_value_settings(params)
    sigma = SigmaByMinute(feed, SYMBOL, START, START + SECONDS, 60, 5e-4)
    window = WindowInputs(SYMBOL, START, START + SECONDS, feed.price_at(SYMBOL, START))
    noise = ar1_path(random.Random(3), SECONDS, 0.2, params.noise_persistence)
    first = feed.time_range()[0] / 1000
    path = build_quote_path(feed, window, sigma, params, settings, noise, first)
    fair = fair_path(feed, window, sigma, settings, 0.0, SECONDS, first)
    p = maker_probability(fair.p_up, noise)
    bids, asks, ticks, grids = maker_quotes(fair, p, params)
    shown_bid, shown_ask = held_quote_arrays(
        bids[None, :], asks[None, :], ticks[None, :], grids[None, :], p[None, :], margin
    )
    assert shown_bid[0].tolist() == [q.bid for q in path.quotes]
    assert shown_ask[0].tolist() == [q.ask for q in path.quotes]


def test_kline_segments_join_overlaps_and_split_at_gaps() -> None:
    first = START * 1000
    a = stepped_table(first, [1.0] * 10)
    b = stepped_table(first + 5 * 60_000, [1.0] * 10)  # overlaps a by 5 minutes
    c = stepped_table(first + 60 * 60_000, [1.0] * 3)  # after a gap
    runs = kline_segments([c, b, a])
    assert [(r.first_open_ms, len(r)) for r in runs] == [(first, 15), (c.first_open_ms, 3)]


def test_nelder_mead_finds_the_minimum_of_a_bowl() -> None:
    best = nelder_mead(
        lambda x: float((x[0] - 1.5) ** 2 + 3 * (x[1] + 0.5) ** 2),
        np.array([0.0, 0.0]),
        np.array([0.5, 0.5]),
        max_evals=200,
        tolerance=1e-10,
    )
    assert best == pytest.approx([1.5, -0.5], abs=1e-3)


def test_robust_sd_is_the_sd_of_a_normal_sample_and_ignores_outliers() -> None:
    values = np.random.default_rng(2).normal(0, 0.3, 20_000)
    assert robust_sd(values) == pytest.approx(0.3, rel=0.03)
    values[:200] = 50.0
    assert robust_sd(values) == pytest.approx(0.3, rel=0.05)
    assert math.isnan(robust_sd(np.array([1.0])))


def test_rounding_and_the_relative_error_of_a_table_row() -> None:
    fitted = replace(
        MarketModelParams(),
        maker_lag_s=0.4,
        noise_sd_logit=0.0512,
        noise_half_life_s=19.6,
        base_half_spread=0.00341,
        uncertainty_mult=0.1833,
        requote_margin=0.2622,
    )
    shipped = rounded(fitted)
    assert (shipped.maker_lag_s, shipped.noise_sd_logit, shipped.noise_half_life_s) == (
        0.0,
        0.05,
        20.0,
    )
    assert (shipped.base_half_spread, shipped.uncertainty_mult) == (0.0035, 0.18)
    assert shipped.requote_margin == 0.25
    assert FitRow("x", 0.5, 0.55).error == pytest.approx(0.1)
    assert FitRow("x", 0.0, 0.01, floor=0.05).error == pytest.approx(0.2)
    assert math.isnan(FitRow("x", math.nan, 0.1).error)


# --- statistics on constructed books ------------------------------------------------------


def test_change_share_counts_moves_between_consecutive_observed_seconds() -> None:
    b = _books(1)
    b["bid"][0, 100:] = 480_000  # one move at 99 → 100
    b["ask"][0, 500:] = 520_000  # one at 499 → 500
    b["observed"][0, 300] = False  # two pairs lost, no move among them
    stats = _stats(b)
    assert stats.change_share == pytest.approx(2 / (899 - 2))
    b["observed"][0, 100] = False  # the first move is no longer seen
    assert _stats(b).change_share == pytest.approx(1 / (899 - 4))


def test_spread_shares_at_the_money_spread_and_one_side_empty() -> None:
    b = _books(1)
    b["ask"][0, :300] = 520_000  # 3 c for the first 300 s (> 10 min left … )
    b["bid"][0, 890:] = NO_BID  # the last 10 s: the bid side is empty
    stats = _stats(b)
    assert stats.spread_cents == pytest.approx((0.0, 590 / 890, 300 / 890))
    assert stats.atm_spread[0] == pytest.approx(3.0)  # > 10 min left: seconds 0…299
    assert stats.atm_spread[1] == pytest.approx(2.0)
    assert stats.one_side_empty[-1] == pytest.approx(1.0)  # the last bin: 10 s left
    assert stats.one_side_empty[0] == 0.0
    assert math.isnan(stats.atm_spread[-1])  # no two-sided book in the last 10 s


def test_brier_by_minute_counts_an_empty_side_as_its_bound() -> None:
    b = _books(2)
    b["outcome"] = np.array([1.0, 0.0])
    b["bid"][1, :] = NO_BID  # window 2: ask only at 0.51 → mid 0.255
    stats = _stats(b)
    assert len(stats.brier) == len(BRIER_MINUTES)
    expected = ((0.5 - 1.0) ** 2 + (0.255 - 0.0) ** 2) / 2
    assert stats.brier[0] == pytest.approx(expected)
    assert stats.fair_brier[0] == pytest.approx(0.25)


def _random_walk(n: int, seed: int) -> np.ndarray:
    steps = np.random.default_rng(seed).normal(0, 0.02, (n, SECONDS))
    return np.cumsum(steps, axis=1)


def _as_books(log_odds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A book whose mid is exactly ``sigmoid(log_odds)`` (1-micro resolution)."""
    mid = np.rint(sigmoid(log_odds) * MICRO).astype(np.int64)
    return mid - 5_000, mid + 5_000


def test_residual_level_and_persistence_at_the_exact_seconds() -> None:
    n = 300
    fair_logit = _random_walk(n, 3) * 0.3
    phi = 0.5 ** (1 / 60)
    noise = ar1_paths(np.random.default_rng(4).standard_normal((n, SECONDS)), 0.2, phi)
    b = _books(n)
    b["bid"], b["ask"] = _as_books(fair_logit + noise)
    b["fair"] = sigmoid(fair_logit)
    b["outcome"] = np.ones(n)
    stats = _stats(b)
    assert stats.residual_sd == pytest.approx(0.2, rel=0.08)
    assert stats.residual_mean == pytest.approx(0.0, abs=0.02)
    for lag, acf in zip(ACF_LAGS, stats.residual_acf, strict=True):
        assert acf == pytest.approx(phi**lag, abs=0.06), lag


@pytest.mark.parametrize("lag", [0, 3, -2])
def test_the_cross_correlation_peaks_at_the_quotes_lag(lag: int) -> None:
    n = 120
    fair_logit = _random_walk(n, 5)
    padded = np.pad(fair_logit, ((0, 0), (12, 12)), mode="edge")
    seen = {k: sigmoid(padded[:, 12 - k : 12 - k + SECONDS]) for k in LAGS}
    b = _books(n)
    b["bid"], b["ask"] = _as_books(padded[:, 12 - lag : 12 - lag + SECONDS])
    b["fair"] = seen[0]
    b["outcome"] = np.ones(n)
    assert _stats(b, seen).xcorr_peak == pytest.approx(lag, abs=0.5)


# --- each fit stage on books simulated with known parameters ------------------------------


@functools.lru_cache(maxsize=1)
def _known_data() -> WindowSet:
    """24 simulated windows prepared for the fit, their books replaced by books the
    calibration's own simulator made with :data:`KNOWN` (a draw the fit does not use)."""
    recording = simulated_recording(MarketModelParams(), 24, seed=11)
    data = prepare_windows(recording.windows, {SYMBOL: [recording.klines]})
    bid, ask = Simulator(data, replications=1, seed=99).books(KNOWN)
    return replace(data, bid=bid, ask=ask, observed=np.ones_like(data.observed))


def _recorded(data: WindowSet) -> object:
    return book_stats(
        data.bid, data.ask, data.observed, data.seen, data.seen_z, data.outcome
    )


def test_the_lag_stage_finds_the_lag() -> None:
    data = _known_data()
    fitted = _fit_lag(Simulator(data), _recorded(data), replace(KNOWN, maker_lag_s=0.0))
    assert fitted.maker_lag_s == pytest.approx(KNOWN.maker_lag_s, abs=1)


def test_the_spread_stage_finds_base_and_multiplier() -> None:
    data = _known_data()
    start = replace(KNOWN, base_half_spread=0.003, uncertainty_mult=0.2)
    fitted = _fit_spread(Simulator(data), _recorded(data), start)
    assert fitted.base_half_spread == pytest.approx(KNOWN.base_half_spread, abs=0.001)
    assert fitted.uncertainty_mult == pytest.approx(KNOWN.uncertainty_mult, abs=0.06)


def test_the_spread_stage_fits_only_what_is_free() -> None:
    data = _known_data()
    start = replace(KNOWN, base_half_spread=0.003)
    fitted = _fit_spread(Simulator(data), _recorded(data), start, ("uncertainty_mult",))
    assert fitted.base_half_spread == 0.003


def test_the_noise_stage_finds_the_makers_error() -> None:
    data = _known_data()
    start = replace(KNOWN, noise_sd_logit=0.05, noise_half_life_s=10.0)
    fitted = _fit_noise(Simulator(data), _recorded(data), start)
    assert fitted.noise_sd_logit == pytest.approx(KNOWN.noise_sd_logit, rel=0.3)
    assert KNOWN.noise_half_life_s / 2.5 < fitted.noise_half_life_s
    assert fitted.noise_half_life_s < KNOWN.noise_half_life_s * 2.5


def test_the_margin_stage_matches_the_share_of_changes() -> None:
    data = _known_data()
    recorded = _recorded(data)
    sim = Simulator(data)
    fitted = _fit_margin(sim, recorded, replace(KNOWN, requote_margin=0.0))
    assert fitted.requote_margin == pytest.approx(KNOWN.requote_margin, abs=0.15)
    assert sim.stats(fitted).change_share == pytest.approx(recorded.change_share, abs=0.01)


def test_prepare_windows_lines_up_seconds_and_skips_uncovered_windows() -> None:
    recording = simulated_recording(MarketModelParams(), 3, seed=11)
    late = recording.klines.between(START * 1000 + 60_000, recording.klines.end_ms)
    data = prepare_windows(recording.windows, {SYMBOL: [recording.klines]})
    assert data.windows == 3 and data.draws == 2 and data.skipped == ()
    row = recording.windows[1].rows[10]
    k = round(row.t_s - recording.windows[1].window_start)
    assert data.observed[1, k]
    assert data.bid[1, k] == int(row.up_bid * MICRO) if row.up_bid else NO_BID
    assert data.observed.sum() == sum(len(w.rows) for w in recording.windows)
    assert data.truth[0].p_up.shape == (2 * 3, SECONDS)
    # at the minute marks every draw of the sub-minute path sees the candle's open
    marks = np.arange(0, SECONDS, 60)
    assert np.allclose(data.truth[0].p_up[:3, marks], data.seen[0][:, marks])
    assert np.allclose(data.truth[0].p_up[3:, marks], data.seen[0][:, marks])
    partial = prepare_windows(recording.windows, {SYMBOL: [late]})
    assert partial.skipped == (recording.windows[0].slug,)
    with pytest.raises(CalibrationError, match="none of the 3 recorded windows"):
        prepare_windows(recording.windows, {"ETHUSDT": [recording.klines]})


def test_calibrate_holds_what_it_is_told_and_refuses_unknown_names() -> None:
    data = _known_data()
    with pytest.raises(CalibrationError, match="levels"):
        calibrate(data, hold=("levels",))
    start = replace(KNOWN, base_half_spread=0.003, uncertainty_mult=0.2)
    held = tuple(n for n in FITTED if n not in ("base_half_spread", "uncertainty_mult"))
    stages: list[str] = []
    result = calibrate(
        data, start, hold=held, max_rounds=1, progress=lambda s, d, t: stages.append(s)
    )
    for name in held:
        assert getattr(result.params, name) == getattr(start, name)
    assert result.params.base_half_spread != 0.003
    assert stages == ["round 1: spread", "goodness of fit", "done"]
    assert result.held == held
    report = result.report()
    assert report["windows"] == 24 and report["fitted"]["maker_lag_s"] == 3.0
    assert {row["measure"] for row in report["goodness_of_fit"]} >= {
        "top of book changes",
        "Brier of the mid, minute 14",
    }
    assert 0 <= result.score < 1


# --- the whole fit --------------------------------------------------------------------------


@pytest.mark.slow
def test_calibration_recovers_known_parameters_from_a_simulated_recording() -> None:
    """80 windows recorded from the simulator (its own sub-minute path, not the fit's).

    Tolerances: the lag to ±1 s; the error's sd to ±25 % and its half-life within a
    factor of 2 (80 windows × 30 exact seconds are few: the recorded sample's own
    autocorrelation varies that much); base half-spread ±0.001; multiplier ±0.05; the
    requote margin ±0.3 (it trades off against the error's per-second innovation, the
    other thing that moves the top of book).
    """
    recording = simulated_recording(KNOWN, 80, seed=7)
    data = prepare_windows(recording.windows, {SYMBOL: [recording.klines]})
    result = calibrate(data)
    fitted = result.params
    assert fitted.maker_lag_s == pytest.approx(KNOWN.maker_lag_s, abs=1)
    assert fitted.noise_sd_logit == pytest.approx(KNOWN.noise_sd_logit, rel=0.25)
    assert KNOWN.noise_half_life_s / 2 <= fitted.noise_half_life_s
    assert fitted.noise_half_life_s <= KNOWN.noise_half_life_s * 2
    assert fitted.base_half_spread == pytest.approx(KNOWN.base_half_spread, abs=0.001)
    assert fitted.uncertainty_mult == pytest.approx(KNOWN.uncertainty_mult, abs=0.05)
    assert fitted.requote_margin == pytest.approx(KNOWN.requote_margin, abs=0.3)
    assert result.score < 0.1


@pytest.mark.slow
def test_the_shipped_defaults_are_the_fit_on_the_shared_recordings() -> None:
    """``MarketModelParams()``'s book parameters are ``polyflup calibrate --hold
    noise_sd_logit --hold noise_half_life_s`` on ``../shared/data/polymarket`` (seed 0),
    each within one :data:`ROUNDING` step (the defaults are the fit rounded to it; a step
    of slack keeps a fit that lands near a rounding boundary from flapping)."""
    folder = shared_path("data", "polymarket")
    quotes = folder / "btc-updown-15m-quotes-2025-12-26_29.csv.gz"
    tables: list[KlineTable] = [
        read_klines_csv(folder / f"BTCUSDT-1m-2025-12-{day}.csv.gz") for day in (26, 29)
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        windows = load_recordings([quotes])
    data = prepare_windows(windows, {SYMBOL: tables})
    assert data.windows == 68 and data.skipped == ()
    defaults = MarketModelParams()
    result = calibrate(data, defaults, hold=SHIPPED_HOLD)
    for name in FITTED:
        shipped, fitted = getattr(defaults, name), getattr(result.params, name)
        assert abs(shipped - fitted) <= ROUNDING[name] + 1e-12, (name, shipped, fitted)
    # the recorded books the defaults were fitted to (docs/SIMULATOR.md, "Calibration")
    recorded = result.recorded
    assert recorded.change_share == pytest.approx(0.51, abs=0.01)
    assert recorded.xcorr_peak < 0  # the quotes do not lag the klines
