"""Calibration of the confidence scales on real data (slow; skipped without ../shared/data).

These tests reproduce the figures in docs/STRATEGY.md §5.3:

- on Binance klines alone (≈108k decision points, 5 symbols), the momentum, flow and VWAP
  signals add nothing to the fair value: any positive log-odds scale worsens the Brier score;
- on the real Polymarket quotes (66 BTC windows), pooling market, fair value and signals with
  the calibrated scales beats both the market and the fair value, and the original-style
  bold scale (1.6) is worse than the market.
"""

import math
from dataclasses import replace
from decimal import Decimal

import pytest

from src.data.market_data.indicators import IndicatorState
from src.data.market_data.windows import WindowRef
from src.trading.params import StrategyParams
from src.trading.signals import directional
from src.trading.signals.fair_value import fair_value
from src.trading.signals.mathx import log_odds, sigmoid
from src.trading.strategy import Analysis, BookTop, MarketSnapshot, PricePoint, analyze
from tests.unit.strategy.builders import DATA_DIR, load_klines

pytestmark = pytest.mark.slow

SPOT_ERA = StrategyParams(settlement_twap_s=0.0)  # the recordings predate the TWAP rule


def _binance_points() -> list[tuple[float, float, float]]:
    """(logit fair value, weighted Binance evidence, outcome) at every minute 2–13."""
    names = [
        "BTCUSDT-1m-2024-01-01_07.csv.gz",
        "BTCUSDT-1m-2026-01-09_12.csv.gz",
        "LINKUSDT-1m-2026-02.csv.gz",
        "AVAXUSDT-1m-2026-02.csv.gz",
        "LTCUSDT-1m-2026-02.csv.gz",
    ]
    p, w = SPOT_ERA, SPOT_ERA.weights
    points: list[tuple[float, float, float]] = []
    for name in names:
        klines = load_klines(name)
        if klines is None:
            pytest.skip("shared data not present")
        state = IndicatorState(p.indicator_config())
        strike = start = None
        pending: list[tuple[float, float]] = []
        for k in klines:
            state.update(k)
            opened = k.open_time_ms // 1000
            if opened % 900 == 0:
                if strike is not None:
                    outcome = 1.0 if k.open >= strike else 0.0
                    points.extend((lf, ev, outcome) for lf, ev in pending)
                strike, start, pending = k.open, opened, []
            if strike is None or start is None or state.bars < 60:
                continue
            elapsed = (k.close_time_ms + 1) / 1000 - start
            if not 120 <= elapsed <= 780:
                continue
            ind = state.snapshot()
            fv = fair_value(ind.close, strike, ind.sigma_1m, 900 - elapsed, p)
            signals = (
                (w[0], directional.price_momentum(ind, fv.sigma_1m, p)),
                (w[2], directional.order_flow(ind, p)),
                (w[4], directional.volume_momentum(ind, fv.sigma_1m, p)),
            )
            evidence = sum(wi * s.strength * s.direction.sign for wi, s in signals)
            pending.append((log_odds(fv.p_up, fv.p_down, 1e-4), evidence))
    return points


def test_binance_signals_add_nothing_beyond_fair_value() -> None:
    points = _binance_points()
    assert len(points) > 100_000

    def brier(scale: float) -> float:
        return sum((sigmoid(lf + scale * ev) - y) ** 2 for lf, ev, y in points) / len(
            points
        )

    scores = {scale: brier(scale) for scale in (0.0, 0.5, 1.6)}
    assert scores[0.0] < scores[0.5] < scores[1.6]
    assert scores[0.0] == pytest.approx(0.1498, abs=5e-4)


def _quote_snapshots() -> list[tuple[MarketSnapshot, float]]:
    import pandas as pd

    path = DATA_DIR / "polymarket" / "btc-updown-15m-quotes-2025-12-26_29.csv.gz"
    if not path.exists():
        pytest.skip("shared data not present")
    quotes = pd.read_csv(path)
    klines = []
    for day in ("2025-12-26", "2025-12-29"):
        part = load_klines(f"polymarket/BTCUSDT-1m-{day}.csv.gz")
        assert part is not None
        klines += part
    by_open = {k.open_time_ms: k for k in klines}
    out = []
    for start, group in quotes.dropna(subset=["outcome"]).groupby("window_start"):
        outcome = 1.0 if group.outcome.iloc[0] == "Up" else 0.0
        first = by_open.get(start * 1000)
        if first is None:
            continue
        for elapsed in range(60, 841, 30):
            t = start + elapsed
            rows = group[(group.t_s <= t) & (group.t_s > t - 5)]
            if rows.empty:
                continue
            row = rows.iloc[-1]
            if not 0 < row.up_best_bid < row.up_best_ask < 1:
                continue
            history = [
                by_open[m]
                for m in range((start - 180 * 60) * 1000, (t // 60) * 60_000, 60_000)
                if m in by_open
            ]
            earlier = group[(group.t_s <= t - 30) & (group.t_s >= t - 200)].iloc[::10]
            mids = tuple(
                PricePoint(
                    float(x.t_s),
                    (Decimal(str(x.up_best_bid)) + Decimal(str(x.up_best_ask))) / 2,
                )
                for x in earlier.itertuples()
                if 0 < x.up_best_bid < x.up_best_ask < 1
            )
            state = IndicatorState()
            state.update_many(history)
            book = BookTop(
                Decimal(str(row.up_best_bid)),
                Decimal(str(row.up_best_ask)),
                Decimal(500),
                Decimal(500),
            )
            snapshot = MarketSnapshot(
                WindowRef("BTC", int(start)),
                float(t),
                first.open,
                book,
                Decimal("0.07"),
                tuple(history[-40:]),
                mids,
                None,
                state.snapshot(),
            )
            out.append((snapshot, outcome))
    return out


def test_calibrated_scales_beat_market_and_model_on_real_quotes() -> None:
    cases = _quote_snapshots()
    assert len(cases) > 1500

    def brier(params: StrategyParams, pick) -> float:
        total = 0.0
        for snapshot, outcome in cases:
            analysis = analyze(snapshot, params)
            assert isinstance(analysis, Analysis)
            total += (pick(analysis) - outcome) ** 2
        return total / len(cases)

    market = brier(SPOT_ERA, lambda a: a.market_p_up)
    model = brier(SPOT_ERA, lambda a: a.fair.p_up)
    bayes = brier(SPOT_ERA, lambda a: a.bayesian.p_up)
    additive = brier(SPOT_ERA, lambda a: a.additive.p_up)
    bold = brier(replace(SPOT_ERA, bayes_llr_scale=1.6), lambda a: a.bayesian.p_up)
    assert bayes < market < model and additive < market
    assert bold > market
    assert math.isclose(market, 0.1795, abs_tol=5e-4)
