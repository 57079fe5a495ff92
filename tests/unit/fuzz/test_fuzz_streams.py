"""Fuzz: the CLOB websockets — frames, order updates, the market book cache and both
streams' ``handle_text`` (constructed, never connected).

* ``parse_frame`` and ``order_update_of`` raise only :class:`MalformedMessageError`;
* ``BookCache.apply`` raises only :class:`MalformedMessageError`, and then before changing
  anything (all or nothing); the cache always serves sorted books;
* ``MarketStream.handle_text`` and ``UserStream.handle_text`` never raise, whatever the text;
* a malformed message received twice is logged once, naming the stream and its kind.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from src.trading.ledger.events import FillEvent, FillOutcome
from src.trading.state import RecentFills
from src.trading.venue.clob import ClobVenueError, fills_from_trade
from src.trading.venue.streams.market_stream import BookCache, MarketStream
from src.trading.venue.streams.messages import (
    MalformedMessageError,
    OrderUpdate,
    event_type,
    order_update_of,
    parse_frame,
)
from src.trading.venue.streams.user_stream import UserStream
from src.utils.clock import SimClock
from tests.unit.fuzz.payloads import (
    corrupted,
    json_values,
    sample,
    unix_time_trade,
    wire_texts,
)

pytestmark = pytest.mark.usefixtures("reference_samples")

FUZZ = settings(max_examples=120, deadline=None)
MARKET = (
    "ws_market_book_msg.json",
    "ws_market_price_change_msg.json",
    "ws_market_tick_size_msg.json",
    "ws_market_best_bid_ask_msg.json",
    "ws_market_last_trade_msg.json",
    "ws_market_resolved_msg.json",
    "ws_market_new_market_msg.json",
)
USER = (
    "ws_user_order_msg.json",
    "ws_user_order_matched.json",
    "ws_user_order_placement.json",
    "ws_user_order_update.json",
    "ws_user_order_cancellation.json",
    "ws_user_order_fok_killed.json",
    "ws_user_order_venue_cancel.json",
    "ws_user_trade_msg.json",
    "ws_user_trade.json",
)
MARKET_FIELDS = (
    "event_type",
    "asset_id",
    "bids",
    "asks",
    "price",
    "size",
    "side",
    "timestamp",
    "price_changes",
    "new_tick_size",
    "best_bid",
    "best_ask",
    "assets_ids",
    "winning_asset_id",
)
USER_FIELDS = (
    "event_type",
    "type",
    "id",
    "asset_id",
    "side",
    "price",
    "original_size",
    "size_matched",
    "status",
    "timestamp",
    "maker_orders",
    "taker_order_id",
    "matched_amount",
    "order_id",
    "fee_rate_bps",
    "last_update",
)
ME = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"

market_messages = corrupted(*MARKET, keys=MARKET_FIELDS)


def user_samples() -> list[dict[str, Any]]:
    """The user-channel samples, each with its ``event_type`` (some samples lack it), and
    twice the trade with unix times (the samples' ISO times never parse)."""
    typed = [
        {"event_type": "trade" if "trade" in name else "order", **sample(name)}
        for name in USER
    ]
    return [*typed, unix_time_trade(event=True), unix_time_trade(event=True)]


user_messages = st.deferred(lambda: corrupted(keys=USER_FIELDS, extra=user_samples()))
market_texts = (market_messages | st.lists(market_messages, max_size=3)).flatmap(wire_texts)
user_texts = (user_messages | st.lists(user_messages, max_size=3)).flatmap(wire_texts)


def as_event(message: Any) -> dict[str, Any]:
    """Events reach the cache as dicts (``parse_frame`` guarantees it)."""
    return message if isinstance(message, dict) else {"event_type": "book", "x": message}


@FUZZ
@given(text=market_texts | user_texts | st.text(max_size=40))
def test_parse_frame_gives_event_objects_or_malformed_message_error(text: str) -> None:
    try:
        events = parse_frame(text)
    except MalformedMessageError:
        return
    assert isinstance(events, list) and all(isinstance(e, dict) for e in events)


@FUZZ
@given(message=user_messages.map(as_event))
def test_order_update_of_raises_only_malformed_message_error(message: dict) -> None:
    try:
        update = order_update_of(message)
    except MalformedMessageError:
        return
    assert isinstance(update, OrderUpdate)
    assert all(
        type(v) is int
        for v in (update.price_micro, update.size_micro, update.matched_micro, update.at_ms)
    )


def cache_state(cache: BookCache, tokens: list[str]) -> list[Any]:
    return [(cache.book(t), cache.winner(t), cache.updated_at(t)) for t in tokens]


def tokens_of(messages: list[dict]) -> list[str]:
    found = {"A"}
    for message in messages:
        for key in ("asset_id", "winning_asset_id"):
            if isinstance(message.get(key), str):
                found.add(message[key])
        for key in ("assets_ids", "price_changes"):
            items = message.get(key)
            for item in items if isinstance(items, list) else []:
                found.add(
                    str(item.get("asset_id")) if isinstance(item, dict) else str(item)
                )
    return sorted(found)


@FUZZ
@given(messages=st.lists(market_messages.map(as_event), min_size=1, max_size=6))
def test_book_cache_applies_all_or_nothing_and_raises_only_malformed(
    messages: list[dict],
) -> None:
    cache = BookCache()
    tokens = tokens_of(messages)
    for now, message in enumerate(messages, start=1):
        before = cache_state(cache, tokens)
        try:
            changed = cache.apply(message, float(now))
        except MalformedMessageError:
            assert cache_state(cache, tokens) == before  # nothing applied
            continue
        assert all(isinstance(t, str) for t in changed)
    for token in tokens:
        book = cache.book(token)
        if book is None:
            continue
        bids = [lv.price for lv in book.bids]
        asks = [lv.price for lv in book.asks]
        assert bids == sorted(bids, reverse=True) and asks == sorted(asks)
        assert all(lv.size > 0 and lv.size.is_finite() for lv in book.bids + book.asks)


KINDS = (
    "book",
    "price_change",
    "tick_size_change",
    "best_bid_ask",
    "last_trade_price",
    "market_resolved",
    "new_market",
    "BOOK",
)


@FUZZ
@given(
    message=st.dictionaries(st.sampled_from(MARKET_FIELDS), json_values(MARKET_FIELDS, 12))
)
def test_book_cache_raises_only_malformed_on_any_dict(message: dict) -> None:
    cache = BookCache()
    for kind in KINDS:
        try:
            cache.apply({**message, "event_type": kind}, 1.0)
        except MalformedMessageError:
            continue


class Recorder:
    """Stands in for ``record_fills`` (no database): keeps what it was given."""

    def __init__(self) -> None:
        self.fills: list[FillEvent] = []

    def __call__(self, events: Any, clock: Any, recent: Any) -> list[FillOutcome]:
        batch = list(events)
        self.fills.extend(batch)
        return [FillOutcome.BOOKED for _ in batch]


def market_stream() -> MarketStream:
    return MarketStream("ws://127.0.0.1:9/ws/market", SimClock(start=1_703_875_200))


def user_stream(updates: list[OrderUpdate], recorder: Recorder) -> UserStream:
    return UserStream(
        "ws://127.0.0.1:9/ws/user",
        api_key="key",
        secret="fuzz-secret",
        passphrase="pass",
        account=ME,
        clock=SimClock(start=1_703_875_200),
        recent=RecentFills(),
        on_order=updates.append,
        record=recorder,
    )


@FUZZ
@given(texts=st.lists(market_texts | st.text(max_size=30), min_size=1, max_size=5))
def test_market_stream_handle_text_never_raises(texts: list[str]) -> None:
    stream = market_stream()
    for text in texts:
        stream.handle_text(text)
    stream.books(
        [
            "A",
            "71321045679252212594626385532706912750332728571942532289631379312455583992563",
        ]
    )


@FUZZ
@given(texts=st.lists(user_texts | st.text(max_size=30), min_size=1, max_size=5))
def test_user_stream_handle_text_never_raises(texts: list[str]) -> None:
    updates: list[OrderUpdate] = []
    recorder = Recorder()
    stream = user_stream(updates, recorder)
    for text in texts:
        stream.handle_text(text)
    event(f"fills booked: {bool(recorder.fills)}, orders reported: {bool(updates)}")
    assert stream.last_message_at is not None
    assert all(isinstance(u, OrderUpdate) for u in updates)
    assert all(isinstance(f, FillEvent) for f in recorder.fills)


# --- logged once, with context ------------------------------------------------------------


@pytest.fixture
def warnings_seen(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Warnings of the ``polyflup`` logger, each once, whether or not the logger was set
    up to propagate (``setup_logging`` turns propagation off)."""
    logger = logging.getLogger("polyflup")
    propagate = logger.propagate
    logger.propagate = False  # the handler sits on this logger: no second copy via root
    logger.addHandler(caplog.handler)
    caplog.handler.setLevel(logging.WARNING)
    try:
        yield caplog
    finally:
        logger.removeHandler(caplog.handler)
        logger.propagate = propagate


def rejected_by_cache(message: dict) -> bool:
    try:
        BookCache().apply(message, 1.0)
    except MalformedMessageError:
        return True
    return False


def rejected_by_user_stream(message: dict) -> bool:
    kind = event_type(message)
    try:
        if kind == "trade":
            fills_from_trade(message, ME)
        elif kind == "order":
            order_update_of(message)
        else:
            return False
    except (MalformedMessageError, ClobVenueError):
        return True
    return False


ONCE = settings(
    max_examples=60,
    deadline=None,
    # caplog is function-scoped on purpose (cleared per example); about half of the
    # corrupted messages are still well formed and are skipped with assume().
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.filter_too_much,
    ],
)


@ONCE
@given(message=market_messages.map(as_event))
def test_a_malformed_market_message_is_logged_once_naming_its_kind(
    warnings_seen: pytest.LogCaptureFixture, message: dict
) -> None:
    assume(rejected_by_cache(message))
    warnings_seen.clear()
    stream = market_stream()
    text = json.dumps(message, allow_nan=True)
    stream.handle_text(text)
    stream.handle_text(text)
    lines = [r.getMessage() for r in warnings_seen.records]
    assert len(lines) == 1, lines
    assert "ws-market" in lines[0] and f"a {event_type(message) or '?'} message" in lines[0]


@ONCE
@given(message=user_messages.map(as_event))
def test_a_malformed_user_message_is_logged_once_naming_its_kind(
    warnings_seen: pytest.LogCaptureFixture, message: dict
) -> None:
    assume(rejected_by_user_stream(message))
    warnings_seen.clear()
    updates: list[OrderUpdate] = []
    stream = user_stream(updates, Recorder())
    text = json.dumps(message, allow_nan=True)
    stream.handle_text(text)
    stream.handle_text(text)
    lines = [r.getMessage() for r in warnings_seen.records]
    assert len(lines) == 1, lines
    assert "ws-user" in lines[0] and f"a {event_type(message)} message" in lines[0]
    assert "fuzz-secret" not in lines[0] and not updates


@ONCE
@given(text=st.text(max_size=30) | st.sampled_from(["{", "[1, 2]", '"x"', "[{}, 3]"]))
def test_a_malformed_frame_is_logged_once_by_each_stream(
    warnings_seen: pytest.LogCaptureFixture, text: str
) -> None:
    try:
        parse_frame(text)
    except MalformedMessageError:
        pass
    else:
        assume(False)
    warnings_seen.clear()
    streams = (market_stream(), user_stream([], Recorder()))
    for stream in streams:
        stream.handle_text(text)
        stream.handle_text(text)
    lines = [r.getMessage() for r in warnings_seen.records]
    assert len(lines) == 2, lines
    assert "ws-market" in lines[0] and "ws-user" in lines[1]
