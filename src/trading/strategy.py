"""The strategy's pure core: typed market snapshot in, analysis out.

:func:`analyze` turns a :class:`MarketSnapshot` — Binance klines (or their incremental
indicators), the window's strike, the Up token's book and recent mids, the fee rate, the time
— into an :class:`Analysis`: fair value, the five directional signals, price validation and
both confidences (additive and Bayesian) after the safety rules. No I/O, no clock, no
globals; malformed input comes back as an :class:`InputProblem`, never as an exception.

The formulas and their reasoning are in ``docs/STRATEGY.md``; the decision (side, price,
size) is :func:`src.trading.logic.decide`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from src.data.market_data.indicators import Indicators, compute_indicators
from src.data.market_data.polymarket import MAX_BOOK_SIZE, TICK_SIZES
from src.data.market_data.price_validation import ValidationMemo, ValidationResult
from src.data.market_data.windows import WindowRef
from src.sim.feeds.base import Kline
from src.trading.params import StrategyParams
from src.trading.signals import directional
from src.trading.signals.confidence import (
    ConfidenceResult,
    additive_confidence,
    apply_safety,
    bayesian_confidence,
    directional_sums,
)
from src.trading.signals.fair_value import FairValue, fair_value
from src.trading.signals.types import Reason, SignalName, SignalResult

# No venue tick is finer; a finer one is absurd and only overflows the tick rounding.
_FINEST_TICK = min(TICK_SIZES)
# Validation depends only on the closed klines and σ, which change once a minute: it is
# remembered per klines tuple (the same answers, see ValidationMemo).
_VALIDATIONS = ValidationMemo()
_BP = 1e-4
# How far a book's timestamp may run ahead of our clock: the venue's clock and ours drift
# apart by a second or two (NTP, request latency). Beyond this the book is refused as
# FUTURE_DATA — it is not a skew but a bad clock (ours or the venue's) or a bad stamp.
MAX_BOOK_CLOCK_SKEW_S = 5.0


@dataclass(frozen=True, slots=True)
class BookTop:
    """Top of the Up token's book. The Down book is its mirror (Down bid = 1 − Up ask).

    Sizes are in shares at the best level; ``tick_size`` is the market's, when known;
    ``timestamp`` (Unix seconds) lets the strategy refuse a stale book, or one stamped
    more than :data:`MAX_BOOK_CLOCK_SKEW_S` ahead of ``now``.
    """

    best_bid: Decimal | None
    best_ask: Decimal | None
    bid_size: Decimal = Decimal(0)
    ask_size: Decimal = Decimal(0)
    tick_size: Decimal | None = None
    timestamp: float | None = None

    @property
    def mid(self) -> Decimal:
        """Midpoint of a two-sided book (check it with :func:`check_book` first)."""
        bid, ask = self._sides()
        return (bid + ask) / 2

    @property
    def spread(self) -> Decimal:
        """Ask minus bid of a two-sided book."""
        bid, ask = self._sides()
        return ask - bid

    def _sides(self) -> tuple[Decimal, Decimal]:
        if self.best_bid is None or self.best_ask is None:
            raise ValueError("one-sided book has no mid or spread")
        return self.best_bid, self.best_ask


@dataclass(frozen=True, slots=True)
class PricePoint:
    """One observation of the Up token's mid."""

    t: float
    price: Decimal


@dataclass(frozen=True, slots=True)
class MarketSnapshot:
    """Everything the strategy sees about one coin's window at one instant.

    ``klines`` are closed 1-minute candles, oldest first (at least the validation look-back;
    the whole warm-up when ``indicators`` is None). ``indicators`` comes from an incremental
    :class:`~src.data.market_data.indicators.IndicatorState` fed with the same klines.
    ``spot`` is the latest Binance price (defaults to the last close). ``fee_rate`` is the
    market's taker fee rate (``feeSchedule.rate``).

    ``reference_spot`` (observed at ``reference_time``, Unix seconds) and
    ``reference_strike`` are the settlement's own reference — Chainlink's latest price and
    its value at the window start — when the live bot reads it (``CHAINLINK_REFERENCE``);
    backtests never set them. Near the strike the fair value uses them instead of
    Binance (:func:`reference_pair`).
    """

    window: WindowRef
    now: float
    strike: float
    book: BookTop
    fee_rate: Decimal
    klines: tuple[Kline, ...] = ()
    mid_history: tuple[PricePoint, ...] = ()
    spot: float | None = None
    indicators: Indicators | None = None
    reference_spot: float | None = None
    reference_strike: float | None = None
    reference_time: float | None = None


@dataclass(frozen=True, slots=True)
class InputProblem:
    """Why a snapshot cannot be analysed."""

    reason: Reason
    detail: str


@dataclass(frozen=True, slots=True)
class Analysis:
    """Fair value, signals, validation and both confidences for one snapshot."""

    spot: float
    market_p_up: float
    indicators: Indicators
    fair: FairValue
    signals: tuple[SignalResult, ...]
    validation: ValidationResult
    additive: ConfidenceResult
    bayesian: ConfidenceResult
    method: str
    reference_used: bool = False  # the fair value came from the Chainlink reference

    @property
    def selected(self) -> ConfidenceResult:
        """The confidence that drives the decision (``params.confidence_method``)."""
        return self.bayesian if self.method == "bayesian" else self.additive

    @property
    def divergence(self) -> float:
        """Fair value minus the Up mid, in log-odds (the divergence signal's value)."""
        return next(s.value for s in self.signals if s.name is SignalName.DIVERGENCE)


def analyze(snapshot: MarketSnapshot, params: StrategyParams) -> Analysis | InputProblem:
    """Fair value, signals, validation and both confidences — or why they cannot be had."""
    if not isinstance(snapshot.window, WindowRef):
        return InputProblem(Reason.INVALID_INPUT, f"window {snapshot.window!r}")
    problem = check_book(snapshot.book, snapshot.now, params)
    if problem:
        return problem
    if not _positive(snapshot.strike):
        return InputProblem(Reason.INVALID_STRIKE, f"strike {snapshot.strike!r}")
    if not _finite(snapshot.now):
        return InputProblem(Reason.INVALID_INPUT, f"now {snapshot.now!r}")
    fee = snapshot.fee_rate
    if not (isinstance(fee, Decimal) and fee.is_finite() and 0 <= fee < 1):
        return InputProblem(Reason.INVALID_FEE_RATE, f"fee rate {fee!r}")
    ind = snapshot.indicators
    if ind is None:
        ind = compute_indicators(snapshot.klines, params.indicator_config())
    problem = check_indicators(ind, snapshot.now, params)
    if problem:
        return problem
    spot = ind.close if snapshot.spot is None else snapshot.spot
    if not _positive(spot):
        return InputProblem(Reason.INVALID_INPUT, f"spot {spot!r}")

    time_left = snapshot.window.time_left(snapshot.now)
    reference = reference_pair(snapshot, spot, params)
    if reference is None:
        fair = fair_value(spot, snapshot.strike, ind.sigma_1m, time_left, params)
    else:
        ref_spot, ref_strike = reference
        fair = fair_value(
            ref_spot,
            ref_strike,
            ind.sigma_1m,
            time_left,
            params,
            basis_bp=params.chainlink_basis_bp,
        )
    sigma = fair.sigma_1m
    mid = snapshot.book.mid
    history = [(p.t, p.price) for p in snapshot.mid_history if isinstance(p, PricePoint)]
    signals = (
        directional.price_momentum(ind, sigma, params),
        directional.polymarket_momentum(mid, history, snapshot.now, params),
        directional.order_flow(ind, params),
        directional.divergence(fair.p_up, fair.p_down, mid, params),
        directional.volume_momentum(ind, sigma, params),
    )
    validation = _VALIDATIONS.validate(snapshot.klines, sigma, params.validation_config())
    weights = params.weights
    prior_up, prior_down = float(mid), float(1 - mid)
    sums = directional_sums(signals, weights)
    additive = additive_confidence(signals, weights, prior_up, prior_down, params, sums)
    bayesian = bayesian_confidence(signals, weights, prior_up, prior_down, params, sums)
    return Analysis(
        spot=spot,
        market_p_up=prior_up,
        indicators=ind,
        fair=fair,
        signals=signals,
        validation=validation,
        additive=apply_safety(additive, signals, validation, params),
        bayesian=apply_safety(bayesian, signals, validation, params),
        method=params.confidence_method,
        reference_used=reference is not None,
    )


def reference_pair(
    snapshot: MarketSnapshot, spot: float, params: StrategyParams
) -> tuple[float, float] | None:
    """``(Chainlink spot, Chainlink strike)`` when the fair value should use them: both
    given, positive and finite, the spot at most ``chainlink_max_age_sec`` from ``now``
    (either way: a clock ahead of ours is as suspect as an old price), and Binance within
    ``chainlink_band_bp`` of its own strike — near the strike, where Binance cannot tell
    the outcome. Otherwise None: the Binance path, unchanged."""
    ref_spot, ref_strike = snapshot.reference_spot, snapshot.reference_strike
    if ref_spot is None or ref_strike is None:
        return None
    if not (_positive(ref_spot) and _positive(ref_strike)):
        return None
    at = snapshot.reference_time
    if not _finite(at):
        return None
    if abs(snapshot.now - at) > params.chainlink_max_age_sec:  # type: ignore[operator]
        return None
    distance = abs(math.log(spot) - math.log(snapshot.strike))
    if distance > params.chainlink_band_bp * _BP:
        return None
    return float(ref_spot), float(ref_strike)


def check_book(book: BookTop, now: float, params: StrategyParams) -> InputProblem | None:
    """A two-sided, uncrossed book with prices in (0, 1), sane sizes and a fresh timestamp:
    at most ``max_book_age_s`` old and at most :data:`MAX_BOOK_CLOCK_SKEW_S` ahead."""
    if not isinstance(book, BookTop):
        return InputProblem(Reason.NO_BOOK, "no book")
    bid, ask = book.best_bid, book.best_ask
    if bid is None and ask is None:
        return InputProblem(Reason.NO_BOOK, "empty book")
    if bid is None or ask is None:
        return InputProblem(Reason.ONE_SIDED_BOOK, f"bid {bid} ask {ask}")
    for label, value in (("bid", bid), ("ask", ask)):
        if not (isinstance(value, Decimal) and value.is_finite() and 0 < value < 1):
            return InputProblem(Reason.INVALID_BOOK, f"{label} {value!r}")
    # Bounded, not just finite: sizing and tick rounding divide and quantize these, and a
    # 10^26-share level or a 10^-999999999 tick breaks Decimal's precision or range there.
    for label, value in (("bid size", book.bid_size), ("ask size", book.ask_size)):
        finite = isinstance(value, Decimal) and value.is_finite()
        if not (finite and 0 <= value <= MAX_BOOK_SIZE):
            return InputProblem(Reason.INVALID_BOOK, f"{label} {value!r}")
    tick = book.tick_size
    if tick is not None and not (
        isinstance(tick, Decimal) and tick.is_finite() and _FINEST_TICK <= tick < 1
    ):
        return InputProblem(Reason.INVALID_BOOK, f"tick size {tick!r}")
    if bid >= ask:
        return InputProblem(Reason.CROSSED_BOOK, f"bid {bid} ≥ ask {ask}")
    if book.timestamp is not None:
        if not _finite(book.timestamp):
            return InputProblem(Reason.INVALID_BOOK, f"timestamp {book.timestamp!r}")
        if _finite(now) and now - book.timestamp > params.max_book_age_s:
            return InputProblem(Reason.STALE_BOOK, f"book {now - book.timestamp:.1f} s old")
        if _finite(now) and book.timestamp - now > MAX_BOOK_CLOCK_SKEW_S:
            return InputProblem(
                Reason.FUTURE_DATA, f"book stamped {book.timestamp - now:.1f} s ahead"
            )
    return None


def check_indicators(
    ind: Indicators, now: float, params: StrategyParams
) -> InputProblem | None:
    """Enough fresh history, and none of it from the future (a look-ahead in a backtest)."""
    if not isinstance(ind, Indicators):
        return InputProblem(Reason.INVALID_INPUT, "indicators of the wrong type")
    if ind.bars < params.min_history_minutes:
        return InputProblem(
            Reason.INSUFFICIENT_DATA,
            f"{ind.bars} valid klines < {params.min_history_minutes}",
        )
    if not (_positive(ind.sigma_1m) or ind.sigma_1m == 0.0):
        return InputProblem(Reason.INSUFFICIENT_DATA, "no volatility estimate")
    closed_at = (ind.last_close_time_ms + 1) / 1000.0
    if closed_at > now + 1.0:
        return InputProblem(
            Reason.FUTURE_DATA, f"kline closes {closed_at - now:.0f} s ahead"
        )
    if now - closed_at > params.max_kline_age_s:
        return InputProblem(
            Reason.STALE_DATA, f"last kline closed {now - closed_at:.0f} s ago"
        )
    return None


def _finite(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _positive(x: object) -> bool:
    return _finite(x) and x > 0  # type: ignore[operator]
