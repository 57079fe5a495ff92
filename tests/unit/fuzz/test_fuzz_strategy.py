"""Fuzz: the strategy on snapshots built from hostile values, and on books that came
through the real parser.

``decide`` promises a :class:`Decision` for any input — "malformed input and even an
internal error become a PASS with a reason" — ready to store (``to_row``). Checked here:

* it never raises, and ``to_row()`` always gives JSON-safe primitives;
* whenever an input is invalid (a price outside (0, 1) or not finite, a crossed book, a
  negative or non-finite size, tick, strike, fee rate, clock or book time, a book stamped
  more than ``MAX_BOOK_CLOCK_SKEW_S`` ahead of the clock), it is a PASS for an input
  reason — found by the validation, not by the ``INTERNAL_ERROR`` safety net;
* ``INTERNAL_ERROR`` never happens at all (it would be a crash the net happened to catch).

``tests/unit/strategy/test_properties.py`` already generates markets with a few malformed
values (NaN strike, crossed books, bad fee); here every field can be NaN, ±Infinity,
signalling NaN, huge, tiny, negative or of the wrong type, starting from a market that
trades, so the later rules (sizing, EV, tick rounding) are reached too.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from src.bot.signal_generator import book_top
from src.data.market_data.polymarket import MarketDataError, parse_book
from src.trading.logic import AccountState, Decision, Side, _signals_payload, decide
from src.trading.params import StrategyParams
from src.trading.signals.types import Reason
from src.trading.strategy import (
    MAX_BOOK_CLOCK_SKEW_S,
    BookTop,
    MarketSnapshot,
    PricePoint,
)
from tests.unit.fuzz.payloads import corrupted
from tests.unit.strategy.builders import make_snapshot, random_walk

FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
# Bold confidence scales, so that the base market below trades (a DOWN taker entry).
PARAMS = replace(StrategyParams(), bayes_llr_scale=1.6, additive_max_shift=0.7)
ACCOUNT = AccountState(Decimal(5000), Decimal(5000))
INPUT_REASONS = {
    Reason.INVALID_INPUT,
    Reason.INVALID_STRIKE,
    Reason.INVALID_FEE_RATE,
    Reason.NO_BOOK,
    Reason.ONE_SIDED_BOOK,
    Reason.INVALID_BOOK,
    Reason.CROSSED_BOOK,
    Reason.STALE_BOOK,
    Reason.INSUFFICIENT_DATA,
    Reason.STALE_DATA,
    Reason.FUTURE_DATA,
}


def tradable() -> MarketSnapshot:
    """A warm market 7 minutes into its window whose decision is a trade."""
    closes = random_walk(90, 51.0, 0.0008, 1)
    snapshot = make_snapshot(
        closes=closes, strike=closes[-1] * math.exp(0.0006), elapsed=420
    )
    return replace(
        snapshot,
        book=BookTop(Decimal("0.45"), Decimal("0.46"), Decimal(900), Decimal(900)),
    )


BASE = tradable()

bad_decimals = st.sampled_from(
    [
        Decimal("NaN"),
        Decimal("sNaN"),
        Decimal("Infinity"),
        Decimal("-Infinity"),
        Decimal("-0.01"),
        Decimal(0),
        Decimal(1),
        Decimal("1.5"),
        Decimal("1e-30"),
        Decimal("1e30"),
        Decimal("1E+999999999"),
        Decimal("-1E+999999999"),
        Decimal("1E-999999999"),
    ]
)
any_decimals = st.one_of(
    bad_decimals,
    st.decimals(min_value=0, max_value=1, places=3),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.sampled_from([None, 0.5, 1, "0.5"]),  # the wrong type
)
any_floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -1.0, 5e-324, 1e308, math.nan, math.inf, -math.inf]),
    st.sampled_from([None, "100", Decimal(100), True]),  # the wrong type
)
FIELDS = (
    "best_bid",
    "best_ask",
    "bid_size",
    "ask_size",
    "tick_size",
    "timestamp",
    "strike",
    "now",
    "fee_rate",
    "spot",
    "mid_history",
    "kline",
)


@st.composite
def snapshots(draw: st.DrawFn) -> MarketSnapshot:
    """The tradable market with up to four of its inputs replaced by hostile values."""
    snapshot, book = BASE, BASE.book
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=4, unique=True)):
        if name in ("best_bid", "best_ask", "bid_size", "ask_size", "tick_size"):
            book = replace(book, **{name: draw(any_decimals)})
        elif name == "timestamp":
            book = replace(book, timestamp=draw(any_floats))
        elif name == "fee_rate":
            snapshot = replace(snapshot, fee_rate=draw(any_decimals))
        elif name == "mid_history":
            points = st.builds(PricePoint, any_floats, any_decimals)
            snapshot = replace(
                snapshot, mid_history=tuple(draw(st.lists(points, max_size=3)))
            )
        elif name == "kline":
            klines = list(snapshot.klines)
            i = draw(st.integers(0, len(klines) - 1))
            field = draw(st.sampled_from(["open", "high", "low", "close", "volume"]))
            klines[i] = replace(klines[i], **{field: draw(any_floats)})
            snapshot = replace(snapshot, klines=tuple(klines))
        else:
            snapshot = replace(snapshot, **{name: draw(any_floats)})
    return replace(snapshot, book=book)


def finite_decimal(x: object, low: Decimal, high: Decimal | None = None) -> bool:
    if not (isinstance(x, Decimal) and x.is_finite()):
        return False
    return low <= x and (high is None or x < high)


def finite_number(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def invalid_inputs(s: MarketSnapshot) -> list[str]:
    """The snapshot's inputs that no venue or feed could legitimately send."""
    book, problems = s.book, []
    for name in ("best_bid", "best_ask"):
        value = getattr(book, name)
        if not finite_decimal(value, Decimal(0), Decimal(1)) or value == 0:
            problems.append(name)
    if not problems and book.best_bid >= book.best_ask:
        problems.append("crossed")
    for name in ("bid_size", "ask_size"):
        if not finite_decimal(getattr(book, name), Decimal(0)):
            problems.append(name)
    tick = book.tick_size
    if tick is not None and (not finite_decimal(tick, Decimal(0), Decimal(1)) or tick == 0):
        problems.append("tick_size")
    if book.timestamp is not None and not finite_number(book.timestamp):
        problems.append("timestamp")
    elif (
        book.timestamp is not None
        and finite_number(s.now)
        and book.timestamp - s.now > MAX_BOOK_CLOCK_SKEW_S
    ):
        problems.append("future timestamp")
    if not (finite_number(s.strike) and s.strike > 0):
        problems.append("strike")
    if not finite_number(s.now):
        problems.append("now")
    if not finite_decimal(s.fee_rate, Decimal(0), Decimal(1)):
        problems.append("fee_rate")
    if s.spot is not None and not (finite_number(s.spot) and s.spot > 0):
        problems.append("spot")
    return problems


def check_decision(d: Decision, snapshot: MarketSnapshot) -> None:
    assert isinstance(d, Decision)
    assert d.reason is not Reason.INTERNAL_ERROR, d.detail
    row = d.to_row()
    json.dumps(row, allow_nan=False)
    problems = invalid_inputs(snapshot)
    event("invalid input" if problems else f"valid input: {d.reason.value}")
    if problems:
        assert d.side is Side.PASS, problems
        assert d.reason in INPUT_REASONS, (d.reason, problems)


GIANT = Decimal("1E+999999999")


def test_the_base_market_trades() -> None:
    assert decide(BASE, ACCOUNT, PARAMS).is_trade  # else the fuzzing below stays shallow


# Found in review (fixed): a book stamped in the future was accepted as fresh
@FUZZ
@example(snapshot=replace(BASE, book=replace(BASE.book, timestamp=BASE.now + 3600)))
@example(snapshot=replace(BASE, book=replace(BASE.book, timestamp=1e308)))
@given(snapshot=snapshots())
def test_decide_degrades_to_pass_on_any_invalid_input(snapshot: MarketSnapshot) -> None:
    check_decision(decide(snapshot, ACCOUNT, PARAMS), snapshot)


absurd_books = st.one_of(
    st.decimals(min_value=Decimal("1e24"), max_value=Decimal("1e40")).map(
        lambda size: replace(BASE.book, bid_size=size, ask_size=size)
    ),
    st.integers(1_000_001, 999_999_999).map(
        lambda e: replace(BASE.book, tick_size=Decimal(f"1e-{e}"))
    ),
)


# Found by fuzzing (fixed): a 1e26-share top of book or a 1e-999999999 tick ended in PASS
# internal_error
@FUZZ
@example(book=replace(BASE.book, bid_size=Decimal("1e26"), ask_size=Decimal("1e26")))
@example(book=replace(BASE.book, tick_size=Decimal("1E-999999999")))
@given(book=absurd_books)
def test_absurd_but_finite_book_numbers_are_an_invalid_book(book: BookTop) -> None:
    d = decide(replace(BASE, book=book), ACCOUNT, PARAMS)
    assert d.reason is not Reason.INTERNAL_ERROR, d.detail


# Found by fuzzing (fixed): to_row() raised decimal.Overflow for a 1E+999999999 price,
# OverflowError for now = 1e306
@FUZZ
@example(snapshot=replace(BASE, book=replace(BASE.book, best_bid=GIANT, best_ask=GIANT)))
@example(snapshot=replace(BASE, now=1e306))
@given(snapshot=snapshots())
def test_any_decision_can_be_stored(snapshot: MarketSnapshot) -> None:
    decision = decide(snapshot, ACCOUNT, PARAMS)
    row = decision.to_row()
    json.dumps(row)
    # the stored text is exactly json.dumps of the payloads (written with shortcuts)
    assert row["inputs_json"] == json.dumps(decision._inputs_payload(), sort_keys=True)
    signals = _signals_payload(decision.analysis)
    assert row["signals_json"] == json.dumps(signals, sort_keys=True)


# --- end to end: a book payload through the real parser into the strategy ---------------


@pytest.mark.usefixtures("reference_samples")
@FUZZ
@given(payload=corrupted("clob_book_response.json", keys=("bids", "asks", "price", "size")))
def test_a_corrupted_book_payload_never_crashes_the_strategy(payload: Any) -> None:
    try:
        book = parse_book(payload)
    except MarketDataError:
        book = None
    top = book_top(SimpleNamespace(book=book))  # type: ignore[arg-type]
    # The sample's timestamp is from 2023: the book is stale at BASE.now, so give it ours.
    snapshot = replace(BASE, book=replace(top, timestamp=BASE.now if book else None))
    check_decision(decide(snapshot, ACCOUNT, PARAMS), snapshot)
    if book is None:
        assert decide(snapshot, ACCOUNT, PARAMS).reason is Reason.NO_BOOK


@FUZZ
@example(stamp="1" + "0" * 400)
@given(stamp=st.integers(10**12, 10**1000).map(str) | st.integers(-(10**400), -1).map(str))
def test_any_book_timestamp_reaches_the_strategy(stamp: str) -> None:
    # A 400-digit timestamp once went through parse_book and made book_top's
    # timestamp_ms / 1000 raise OverflowError outside decide()'s safety net.
    try:
        book = parse_book({"asset_id": "1", "bids": [], "asks": [], "timestamp": stamp})
    except MarketDataError:
        book = None
    top = book_top(SimpleNamespace(book=book))  # type: ignore[arg-type]
    assert decide(replace(BASE, book=top), ACCOUNT, PARAMS).side is Side.PASS
