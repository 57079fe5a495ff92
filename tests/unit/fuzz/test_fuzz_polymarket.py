"""Fuzz: Gamma markets, CLOB books and midpoints, corrupted from real payloads.

``tests/unit/market_data/test_polymarket.py`` already throws arbitrary JSON at the three
parsers and corrupts fields of a synthetic market. Here the seeds are the real payloads, the
corruption goes inside nested objects and lists, what a parser accepts must be a sane value
(not just "no exception"), and the batched fetches get a client that answers garbage.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from src.data.market_data.polymarket import (
    MarketDataError,
    MarketInfo,
    OrderBook,
    Outcome,
    fetch_books,
    fetch_midpoints,
    parse_book,
    parse_gamma_market,
    parse_midpoints,
)
from src.utils.money import to_micro
from tests.unit.fuzz.payloads import corrupted, json_values, scalars

GAMMA = (
    "gamma_market.json",
    "gamma_event.json",
    "gamma_market_closed_binary_accepting_false.json",
    "gamma_market_closed_binary_accepting_true.json",
    "gamma_market_closed_nonbinary_legacy.json",
    "gamma_market_closed_zero_zero_legacy.json",
    "gamma_market_sports_market_money_line.json",
)
# What parse_gamma_market reads; the samples' other hundred fields are left alone.
GAMMA_FIELDS = (
    "slug",
    "conditionId",
    "outcomes",
    "outcomePrices",
    "clobTokenIds",
    "eventStartTime",
    "endDate",
    "orderPriceMinTickSize",
    "orderMinSize",
    "negRisk",
    "acceptingOrders",
    "closed",
    "feesEnabled",
    "feeSchedule",
    "rate",
    "exponent",
    "markets",
)
BOOKS = ("clob_book_response.json", "ws_book_snapshot.json", "ws_market_book_msg.json")
START = 1_767_225_600  # 2026-01-01 00:00 UTC

FUZZ = settings(max_examples=150, deadline=None)


def up_down_market() -> dict[str, Any]:
    """A 15-minute Up/Down market in Gamma's shape (the real samples are other markets)."""
    return {
        "id": "1",
        "slug": f"btc-updown-15m-{START}",
        "conditionId": "0x" + "c" * 64,
        "outcomes": '["Up", "Down"]',
        "outcomePrices": '["1", "0"]',
        "clobTokenIds": '["111", "222"]',
        "eventStartTime": "2026-01-01T00:00:00Z",
        "endDate": "2026-01-01T00:15:00Z",
        "orderPriceMinTickSize": 0.01,
        "orderMinSize": 5,
        "negRisk": False,
        "acceptingOrders": True,
        "closed": True,
        "feesEnabled": True,
        "feeSchedule": {"exponent": 1, "rate": 0.07, "takerOnly": True, "rebateRate": 0.2},
    }


BOOK_FIELDS = ("asset_id", "bids", "asks", "price", "size", "timestamp", "tick_size")
gamma_payloads = corrupted(
    *GAMMA,
    keys=GAMMA_FIELDS,
    focus=GAMMA_FIELDS,
    extra=[up_down_market(), {"markets": [up_down_market()]}],
)
book_payloads = corrupted(*BOOKS, keys=BOOK_FIELDS)


def check_market(info: MarketInfo) -> None:
    assert isinstance(info, MarketInfo)
    assert info.end > info.start
    assert all(isinstance(v, str) for v in (info.slug, info.condition_id, info.up_token_id))
    assert isinstance(info.down_token_id, str)
    for amount in (info.tick_size, info.min_order_size, info.fee_rate):
        assert isinstance(amount, Decimal) and amount.is_finite()
    assert Decimal(0) <= info.fee_rate < 1 and info.fee_exponent in (1, 2)
    assert all(type(b) is bool for b in (info.neg_risk, info.accepting_orders, info.closed))
    assert info.outcome is None or isinstance(info.outcome, Outcome)


def check_book(book: OrderBook) -> None:
    assert isinstance(book, OrderBook) and isinstance(book.token_id, str)
    for levels in (book.bids, book.asks):
        for level in levels:
            assert Decimal(0) < level.price < 1
            assert level.size.is_finite() and level.size > 0
    bids = [lv.price for lv in book.bids]
    asks = [lv.price for lv in book.asks]
    assert bids == sorted(bids, reverse=True) and asks == sorted(asks)
    if bids and asks:
        assert bids[0] < asks[0]
        assert Decimal(0) < book.spread < 1 and Decimal(0) < book.mid < 1
    assert isinstance(book.timestamp_ms, int)
    # usable downstream: the signal generator's seconds, the ledger's micro-units
    assert math.isfinite(book.timestamp_ms / 1000)
    assert all(to_micro(lv.size) > 0 for lv in book.bids + book.asks)


@pytest.mark.usefixtures("reference_samples")
@FUZZ
@given(payload=gamma_payloads)
def test_corrupted_gamma_markets_parse_sanely_or_raise_market_data_error(
    payload: Any,
) -> None:
    try:
        info = parse_gamma_market(payload)
    except MarketDataError:
        event("refused")
        return
    event("parsed")
    check_market(info)


@pytest.mark.usefixtures("reference_samples")
@FUZZ
@given(payload=book_payloads)
def test_corrupted_books_parse_sanely_or_raise_market_data_error(payload: Any) -> None:
    try:
        book = parse_book(payload)
    except MarketDataError:
        event("refused")
        return
    event("parsed")
    check_book(book)


# Found by fuzzing (fixed): parse_book accepted a tick size of 0 (the position monitor
# then divided by it)
@settings(max_examples=60, deadline=None)
@example(tick="0")
@given(tick=scalars)
def test_a_parsed_tick_size_is_usable(tick: Any) -> None:
    payload = {"asset_id": "1", "bids": [], "asks": [], "tick_size": tick}
    try:
        book = parse_book(payload)
    except MarketDataError:
        return
    if book.tick_size is not None:
        assert Decimal(0) < book.tick_size < 1, book.tick_size
        assert to_micro(book.tick_size) > 0


@FUZZ
@given(payload=json_values(["1", "2", "abc"]))
def test_midpoints_keep_only_prices_inside_zero_one(payload: Any) -> None:
    try:
        mids = parse_midpoints(payload)
    except MarketDataError:
        return
    assert all(isinstance(t, str) for t in mids)
    assert all(m.is_finite() and Decimal(0) < m < 1 for m in mids.values())


class GarbageClient:
    """A ``BookReader`` that answers whatever the test drew."""

    def __init__(self, books: Any, midpoints: Any) -> None:
        self.books = books
        self.midpoints = midpoints

    def get_order_books(self, params: list[Any]) -> Any:
        return self.books

    def get_midpoints(self, params: list[Any]) -> Any:
        return self.midpoints


@pytest.mark.usefixtures("reference_samples")
@FUZZ
@given(
    books=json_values(BOOK_FIELDS) | st.lists(book_payloads, max_size=4),
    mids=json_values(["1", "2"])
    | st.dictionaries(st.sampled_from(["1", "2", "3"]), scalars, max_size=3),
)
def test_batched_fetches_drop_bad_books_and_raise_only_market_data_error(
    books: Any, mids: Any
) -> None:
    client = GarbageClient(books, mids)
    try:
        fetched = fetch_books(client, ["1", "2"])
    except MarketDataError:
        assert not isinstance(books, list)
    else:
        assert isinstance(books, list) and len(fetched) <= len(books)
        for token, book in fetched.items():
            assert token == book.token_id
            check_book(book)
    try:
        found = fetch_midpoints(client, ["1", "2"])
    except MarketDataError:
        return
    assert all(m.is_finite() and Decimal(0) < m < 1 for m in found.values())
