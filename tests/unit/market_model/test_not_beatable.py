"""The simulated market is not trivially beatable (144 generated BTC windows, 1-second
ticks; one coin, because the generated coins move together and add no independent windows).

(a) The makers' mid is calibrated (Brier well under the coin-flip 0.25) yet no better than
an oracle that knows the true fair value; (b) buying the favourite at the ask loses after
the fee; (c) the oracle's edge exists but is small: a fraction of the fee per share.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from src.sim.market_model.pricing import MICRO
from src.sim.venue import Outcome
from tests.unit.market_model.support import START, generated_feed, make_sim

HOURS = 36
FEE = 0.07
ENTRY_MINUTES = (3, 6, 9, 12)


@dataclass(frozen=True)
class Samples:
    """One row per open market and second: books, fair values and the outcome."""

    window: np.ndarray  # window start
    elapsed: np.ndarray  # seconds into the window
    up_ask: np.ndarray
    down_ask: np.ndarray
    mid: np.ndarray  # the Up book's mid (the makers' belief when a side is empty)
    fair: np.ndarray  # the oracle: current price, no lag, no noise
    won: np.ndarray  # 1.0 when Up won


@functools.lru_cache(maxsize=1)
def samples() -> Samples:
    """Every 5th second of every BTC window, with its outcome."""
    sim = make_sim(generated_feed(21, HOURS), ("BTC",), seed=21, list_ahead_s=900)
    exchange, venue = sim.exchange, sim.venue
    rows: list[tuple[str, int, int, float, float, float, float]] = []
    for t in range(START, START + HOURS * 3600 + 1):
        exchange.advance_to(t)
        if t % 5:
            continue  # every 5th second is plenty, and keeps the test fast
        for state in exchange.markets():
            fair = exchange.fair_value(state.condition_id)
            if fair is None or state.maker_fair is None:
                continue
            up_bid, up_ask = venue.best_bid_ask(state.up_token_id)
            _, down_ask = venue.best_bid_ask(state.down_token_id)
            mid = (up_bid + up_ask) / 2 / MICRO if up_bid and up_ask else state.maker_fair
            start = state.market.window.start
            rows.append(
                (
                    state.condition_id,
                    start,
                    t - start,
                    (up_ask or MICRO) / MICRO,
                    (down_ask or MICRO) / MICRO,
                    mid,
                    fair,
                )
            )
    won = {s.condition_id: s.outcome is Outcome.UP for s in exchange.resolved_markets()}
    kept = [row for row in rows if row[0] in won]
    column = list(zip(*kept, strict=True))
    return Samples(
        window=np.array(column[1]),
        elapsed=np.array(column[2]),
        up_ask=np.array(column[3]),
        down_ask=np.array(column[4]),
        mid=np.array(column[5]),
        fair=np.array(column[6]),
        won=np.array([float(won[row[0]]) for row in kept]),
    )


def _per_window(values: np.ndarray, windows: np.ndarray) -> np.ndarray:
    return np.array([values[windows == w].mean() for w in np.unique(windows)])


def _mean_se(values: np.ndarray) -> tuple[float, float]:
    return float(values.mean()), float(values.std(ddof=1) / math.sqrt(len(values)))


def test_the_makers_mid_is_calibrated_but_no_better_than_the_oracle() -> None:
    s = samples()
    assert len(np.unique(s.window)) >= 140
    brier_mid = float(np.mean((s.mid - s.won) ** 2))
    brier_oracle = float(np.mean((s.fair - s.won) ** 2))
    assert brier_mid < 0.2
    # Better than the oracle would mean the makers know something it does not (a leak
    # of future prices): the difference must not be significantly negative.
    gap, se = _mean_se(_per_window((s.mid - s.won) ** 2 - (s.fair - s.won) ** 2, s.window))
    assert gap > -2 * se, (brier_mid, brier_oracle, gap, se)
    # Calibration: within each decile of the mid, outcomes come at about that rate.
    for low in np.arange(0.0, 1.0, 0.1):
        inside = (s.mid >= low) & (s.mid < low + 0.1)
        rate, _ = _mean_se(_per_window(s.won[inside], s.window[inside]))
        assert abs(rate - s.mid[inside].mean()) < 0.15, low


def test_buying_the_favourite_at_the_ask_does_not_pay_after_the_fee() -> None:
    s = samples()
    at = np.isin(s.elapsed, [60 * m for m in ENTRY_MINUTES])
    up = s.mid[at] >= 0.5
    ask = np.where(up, s.up_ask[at], s.down_ask[at])
    value = np.where(up, s.fair[at], 1 - s.fair[at])
    win = np.where(up, s.won[at], 1 - s.won[at])
    quoted = ask < 1.0
    # The fee is taken in shares on a buy: each share bought pays 1 − r(1 − p).
    kept = 1 - FEE * (1 - ask)
    expected = (value * kept - ask)[quoted]
    assert expected.mean() < -0.005  # the spread and the fee, by the oracle's odds
    realised = _per_window((win * kept - ask)[quoted], s.window[at][quoted])
    mean, se = _mean_se(realised)
    assert mean < 2 * se, (mean, se)


def test_an_oracle_has_an_edge_but_a_small_one() -> None:
    s = samples()
    windows = len(np.unique(s.window))
    edges = []
    for value, ask in ((s.fair, s.up_ask), (1 - s.fair, s.down_ask)):
        edge = value * (1 - FEE * (1 - ask)) - ask
        edges.append(edge[(ask < 1.0) & (edge > 0)])
    edge = np.concatenate(edges)
    per_window = len(edge) * 5 / windows  # sampled every 5 s
    assert 0 < edge.mean() < 0.0175  # less than the fee at 0.5, per share
    assert per_window * edge.mean() < 0.5  # dollars per window for one share a second
    assert np.sum(edge > 0.02) * 5 / windows < 2  # big mispricings are rare
