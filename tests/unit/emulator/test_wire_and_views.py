"""Pure formatting and response builders: cursors, statuses, amounts, the book."""

from __future__ import annotations

import pytest
from py_clob_client_v2.utilities import (
    generate_orderbook_summary_hash,
    parse_raw_orderbook_summary,
)

from src.sim.emulator import clob_views
from src.sim.emulator.heartbeats import Heartbeats
from src.sim.emulator.wire import (
    END_CURSOR,
    FIRST_CURSOR,
    StatusStyle,
    decode_cursor,
    encode_cursor,
    order_status_text,
    page,
    parse_amount,
    trade_status_text,
)
from src.sim.emulator.ws_views import level_changes, levels_of
from src.sim.venue import (
    BookLevel,
    BookSnapshot,
    CancelReason,
    OrderStatus,
    PlacementStatus,
    PlaceResult,
    Side,
    TradeStatus,
)
from src.sim.venue.errors import FOK_NOT_FILLED


def _book(**changes: object) -> BookSnapshot:
    values: dict[str, object] = {
        "token_id": "123",
        "market": "0x" + "ab" * 32,
        "bids": (BookLevel(500_000, 15_000_000), BookLevel(490_000, 20_000_000)),
        "asks": (BookLevel(520_000, 25_000_000), BookLevel(530_000, 60_000_000)),
        "tick_size": 10_000,
        "min_order_size": 5_000_000,
        "neg_risk": False,
        "last_trade_price": None,
        "last_trade_side": None,
        "timestamp": 1_757_908_892.351,
    }
    values.update(changes)
    return BookSnapshot(**values)  # type: ignore[arg-type]


def test_cursors_and_pages() -> None:
    assert encode_cursor(0) == FIRST_CURSOR
    assert decode_cursor(END_CURSOR) is None
    assert decode_cursor("garbage!") is None
    items = list(range(5))
    first, cursor = page(items, FIRST_CURSOR, 2)
    second, cursor = page(items, cursor, 2)
    third, cursor = page(items, cursor, 2)
    assert (first, second, third, cursor) == ([0, 1], [2, 3], [4], END_CURSOR)
    assert page(items, END_CURSOR, 2) == ([], END_CURSOR)


def test_status_spellings() -> None:
    plain, prefixed = StatusStyle.PLAIN, StatusStyle.PREFIXED
    assert order_status_text(OrderStatus.LIVE, plain) == "LIVE"
    assert order_status_text(OrderStatus.LIVE, prefixed) == "ORDER_STATUS_LIVE"
    killed = order_status_text(OrderStatus.CANCELED, plain, CancelReason.FOK_KILLED)
    assert killed == f"CANCELED_{FOK_NOT_FILLED}"
    assert order_status_text(OrderStatus.CANCELED, plain, "user") == "CANCELED"
    assert order_status_text(OrderStatus.MATCHED, plain, "fak_remainder") == "MATCHED"
    assert trade_status_text(TradeStatus.CONFIRMED, prefixed) == "TRADE_STATUS_CONFIRMED"


@pytest.mark.parametrize(
    ("text", "micro"), [("1000", 1_000_000_000), ("250.5", 250_500_000), (0.25, 250_000)]
)
def test_amounts(text: object, micro: int) -> None:
    assert parse_amount(text) == micro


@pytest.mark.parametrize("text", ["-1", "1e400x", "0.0000001", "nan", "inf"])
def test_bad_amounts(text: str) -> None:
    with pytest.raises(ValueError):
        parse_amount(text)


def test_book_body_is_worst_first_and_hashes_like_the_client() -> None:
    body = clob_views.book_body(_book(last_trade_price=510_000, last_trade_side=Side.BUY))
    assert [lv["price"] for lv in body["bids"]] == ["0.49", "0.5"]
    assert [lv["price"] for lv in body["asks"]] == ["0.53", "0.52"]
    assert body["timestamp"] == "1757908892351" and body["last_trade_price"] == "0.51"
    summary = parse_raw_orderbook_summary(body)
    assert generate_orderbook_summary_hash(summary) == body["hash"]


def test_scalar_answers() -> None:
    book = _book()
    assert clob_views.midpoint_text(book) == "0.51"
    assert clob_views.price_text(book, "BUY") == "0.5"
    assert clob_views.price_text(book, "SELL") == "0.52"
    assert clob_views.spread_text(book) == "0.02"
    assert clob_views.last_trade_body(book) == {"price": "0.5", "side": ""}
    empty = _book(bids=(), asks=())
    assert clob_views.midpoint_text(empty) == "0" and clob_views.spread_text(empty) == "0"
    assert clob_views.tick_number(1_000) == 0.001


def test_placement_bodies() -> None:
    ok = PlaceResult(
        True,
        "0xabc",
        status=PlacementStatus.MATCHED,
        making_amount=9_999_600,
        taking_amount=19_230_000,
        trade_ids=("t1",),
    )
    body = clob_views.placement_body(ok)
    assert (body["status"], body["makingAmount"], body["takingAmount"]) == (
        "matched",
        "9.9996",
        "19.23",
    )
    assert body["tradeIDs"] == ["t1"] and len(body["transactionsHashes"]) == 1
    refused = clob_views.placement_body(PlaceResult(False, "0xabc", "nope"))
    assert refused["success"] is False and refused["errorMsg"] == "nope"


def test_level_changes_report_new_sizes_and_removals() -> None:
    before = levels_of(_book())
    after = levels_of(
        _book(
            bids=(BookLevel(500_000, 5_000_000),),
            asks=(BookLevel(520_000, 25_000_000), BookLevel(540_000, 1_000_000)),
        )
    )
    assert level_changes(before, after) == [
        ("BUY", 490_000, 0),
        ("BUY", 500_000, 5_000_000),
        ("SELL", 530_000, 0),
        ("SELL", 540_000, 1_000_000),
    ]
    assert level_changes(after, after) == []


def test_heartbeat_sessions() -> None:
    beats = Heartbeats(timeout=10, seed=1)
    first = beats.beat("a", "", 100.0)
    assert first.accepted and first.body() == {"heartbeat_id": first.heartbeat_id}
    assert beats.beat("a", first.heartbeat_id, 105.0).accepted
    wrong = beats.beat("a", "other", 106.0)
    assert not wrong.accepted
    assert wrong.body() == {
        "error": "Invalid Heartbeat ID",
        "heartbeat_id": first.heartbeat_id,
    }
    assert beats.expired(115.0) == []
    assert beats.expired(115.5) == ["a"]
    stale = beats.beat("a", first.heartbeat_id, 120.0)  # the old session is gone
    assert not stale.accepted and stale.heartbeat_id != first.heartbeat_id
    assert Heartbeats(10, seed=1).beat("a", "", 0).heartbeat_id == first.heartbeat_id
