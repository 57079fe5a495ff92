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
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from math import isfinite
from operator import is_
from typing import Generic, TypeVar

from src.data.market_data.indicators import Indicators, compute_indicators
from src.data.market_data.polymarket import MAX_BOOK_SIZE, TICK_SIZES
from src.data.market_data.price_validation import (
    ValidationConfig,
    ValidationMemo,
    ValidationResult,
)
from src.data.market_data.windows import WindowRef
from src.sim.feeds.base import Kline
from src.trading.params import StrategyParams
from src.trading.signals import directional
from src.trading.signals.confidence import ConfidenceResult, safe_confidences
from src.trading.signals.fair_value import FairValue, fair_value
from src.trading.signals.frozen import quick_init
from src.trading.signals.mathx import log_odds
from src.trading.signals.types import Reason, SignalName, SignalResult

# No venue tick is finer; a finer one is absurd and only overflows the tick rounding.
_FINEST_TICK = min(TICK_SIZES)
# Validation depends only on the closed klines and σ, which change once a minute: it is
# remembered per klines tuple (the same answers, see ValidationMemo).
_VALIDATIONS = ValidationMemo()
_BP = 1e-4
_ZERO = Decimal(0)
_ONE = Decimal(1)
# How far a book's timestamp may run ahead of our clock: the venue's clock and ours drift
# apart by a second or two (NTP, request latency). Beyond this the book is refused as
# FUTURE_DATA — it is not a skew but a bad clock (ours or the venue's) or a bad stamp.
MAX_BOOK_CLOCK_SKEW_S = 5.0


@quick_init
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


@quick_init
@dataclass(frozen=True, slots=True)
class PricePoint:
    """One observation of the Up token's mid."""

    t: float
    price: Decimal


@quick_init
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


@quick_init
@dataclass(frozen=True, slots=True)
class InputProblem:
    """Why a snapshot cannot be analysed."""

    reason: Reason
    detail: str


@quick_init
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
    if not (isinstance(fee, Decimal) and fee.is_finite() and _ZERO <= fee < _ONE):
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
    prior_up, prior_down = float(mid), float(1 - mid)
    # The mid in log-odds (= mid_log_odds(mid)), read by the momentum, the divergence and
    # the Bayesian prior.
    mid_odds = log_odds(prior_up, prior_down, params.prior_clip)
    price, flow, volume = _kline_signals(ind, sigma, params)
    signals = (
        price,
        mid_momentum(mid_odds, snapshot.mid_history, snapshot.now, params),
        flow,
        directional.divergence_from_odds(fair.p_up, fair.p_down, mid_odds, params),
        volume,
    )
    weights, validation_config = _derived(params)
    validation = _VALIDATIONS.validate(snapshot.klines, sigma, validation_config)
    additive, bayesian = safe_confidences(
        signals, weights, prior_up, prior_down, params, validation, prior_odds=mid_odds
    )
    return Analysis(
        spot=spot,
        market_p_up=prior_up,
        indicators=ind,
        fair=fair,
        signals=signals,
        validation=validation,
        additive=additive,
        bayesian=bayesian,
        method=params.confidence_method,
        reference_used=reference is not None,
    )


def mid_momentum(
    mid_odds: float, history: Sequence[PricePoint], now: float, params: StrategyParams
) -> SignalResult:
    """:func:`~src.trading.signals.directional.polymarket_momentum` of the
    :class:`PricePoint` s in ``history`` (anything else in it is ignored), from the mid's
    log-odds (:func:`~src.trading.signals.directional.mid_log_odds`).

    A history known clean and in time order (:class:`CleanHistories`: the board's, as a
    rule) has its reference bisected; any other is scanned.
    """
    if _CLEAN_MIDS.is_clean(history):
        reference = directional.ordered_momentum_reference(history, now, params)
    else:
        pairs = [(p.t, p.price) for p in history if isinstance(p, PricePoint)]
        reference = directional.momentum_reference(pairs, now, params)
    return directional.momentum_from_reference(mid_odds, reference, params)


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
    # (Decimal bounds: comparing two Decimals is twice as fast as a Decimal and an int.)
    for label, value in (("bid", bid), ("ask", ask)):
        if not (isinstance(value, Decimal) and value.is_finite() and _ZERO < value < _ONE):
            return InputProblem(Reason.INVALID_BOOK, f"{label} {value!r}")
    # Bounded, not just finite: sizing and tick rounding divide and quantize these, and a
    # 10^26-share level or a 10^-999999999 tick breaks Decimal's precision or range there.
    for label, value in (("bid size", book.bid_size), ("ask size", book.ask_size)):
        finite = isinstance(value, Decimal) and value.is_finite()
        if not (finite and _ZERO <= value <= MAX_BOOK_SIZE):
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
    if type(x) is float:  # the common case first
        return isfinite(x)
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _positive(x: object) -> bool:
    if type(x) is float:  # the common case first
        return x > 0.0 and isfinite(x)
    return _finite(x) and x > 0  # type: ignore[operator]


K = TypeVar("K")
V = TypeVar("V")


class IdentityMemo(Generic[K, V]):
    """Values computed from immutable objects, remembered by the objects' identity.

    An entry holds its object, so the id cannot be reused while the entry lives; a full
    memo starts over (bounded, a few entries per coin). Safe to share between threads:
    dict reads and writes are atomic, and a race at worst computes a value twice.
    """

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._entries: dict[int, tuple[K, V]] = {}

    def get(self, key: K) -> V | None:
        """The value remembered for ``key`` (this very object), or None."""
        hit = self._entries.get(id(key))
        return hit[1] if hit is not None and hit[0] is key else None

    def put(self, key: K, value: V) -> None:
        """Remember ``value`` for ``key``."""
        entries = self._entries
        if len(entries) >= self._size:
            entries.clear()
        entries[id(key)] = (key, value)


_Derived = tuple[tuple[float, ...], ValidationConfig]
# The signal weights and validation thresholds of a parameter set (built on every call).
_DERIVED: IdentityMemo[StrategyParams, _Derived] = IdentityMemo(8)


def _derived(params: StrategyParams) -> _Derived:
    """``(params.weights, params.validation_config())``, once per parameter set (frozen:
    the same answers for as long as it lives)."""
    derived = _DERIVED.get(params)
    if derived is None:
        derived = (params.weights, params.validation_config())
        if type(params) is StrategyParams:  # a subclass might not be immutable
            _DERIVED.put(params, derived)
    return derived


_KlineSignals = tuple[SignalResult, SignalResult, SignalResult]
# Per indicator snapshot (a new one each minute) and parameter set: the signals that read
# only the indicators and σ — itself a function of the two (the fair value's floor).
_KLINE_SIGNALS: IdentityMemo[Indicators, tuple[StrategyParams, _KlineSignals]] = (
    IdentityMemo()
)


def _kline_signals(ind: Indicators, sigma: float, params: StrategyParams) -> _KlineSignals:
    """Price momentum, order flow and volume momentum, once per indicator snapshot.

    ``sigma`` must be the fair value's σ of ``ind`` under ``params``.
    """
    hit = _KLINE_SIGNALS.get(ind)
    if hit is not None and hit[0] is params:
        return hit[1]
    signals = (
        directional.price_momentum(ind, sigma, params),
        directional.order_flow(ind, params),
        directional.volume_momentum(ind, sigma, params),
    )
    if type(ind) is Indicators and type(params) is StrategyParams:  # immutable
        _KLINE_SIGNALS.put(ind, (params, signals))
    return signals


class CleanHistories:
    """Mid histories known clean — every point a :class:`PricePoint` with a finite float
    time and a Decimal price in (0, 1) — and in time order.

    Each poll adds a point to a coin's history (the board may drop the oldest) and every
    decision gets it as a new tuple of the same point objects: a history is known clean
    when its points up to one of its last few are, object for object, the end of a
    history known before, and the points after that are checked one by one. Entries are
    keyed on their last point's identity and hold their history (the id cannot be reused
    while the entry lives); the history that extends an entry replaces it. Bounded; safe
    to share between threads (at worst a history is checked in full twice).
    """

    _REACH = 3  # newest points of a history tried as the end of a known one

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._known: dict[int, tuple[PricePoint, ...]] = {}

    def is_clean(self, history: object) -> bool:
        """True when ``history`` is a non-empty tuple of clean points in time order."""
        if type(history) is not tuple or not history:
            return False
        start, found = self._known_prefix(history)
        if not _clean_from(history, start):
            return False
        known = self._known
        if found is not None:
            known.pop(found, None)
        if len(known) >= self._size:
            known.clear()
        known[id(history[-1])] = history
        return True

    def _known_prefix(self, history: tuple[object, ...]) -> tuple[int, int | None]:
        """How many leading points are the end of a known history, and its key."""
        n = len(history)
        for back in range(1, min(n, self._REACH) + 1):
            point = history[-back]
            known = self._known.get(id(point))
            if known is None or known[-1] is not point:
                continue
            overlap = n - back + 1
            if overlap <= len(known) and all(
                map(is_, history[:overlap], known[len(known) - overlap :])
            ):
                return overlap, id(point)
        return 0, None


def _clean_from(history: tuple[object, ...], start: int) -> bool:
    """Are the points from ``start`` clean, and in time order from the one before?"""
    previous = history[start - 1].t if start else -math.inf  # type: ignore[attr-defined]
    for i in range(start, len(history)):
        point = history[i]
        if type(point) is not PricePoint:
            return False
        t, price = point.t, point.price
        # NaN fails the order test, ±inf the finite one
        if type(t) is not float or not (previous <= t and isfinite(t)):
            return False
        if not (type(price) is Decimal and price.is_finite() and _ZERO < price < _ONE):
            return False
        previous = t
    return True


_CLEAN_MIDS = CleanHistories()
