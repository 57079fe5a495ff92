"""The stream workers without a network: the book cache, malformed messages logged once
and ignored, the user stream's booking path, and a resync holding no lock over I/O."""

from __future__ import annotations

import json
import threading
from decimal import Decimal

import pytest

from src.trading.ledger.events import FillOutcome
from src.trading.state import RecentFills, position_lock
from src.trading.venue.streams import messages
from src.trading.venue.streams.market_stream import BookCache, MarketStream
from src.trading.venue.streams.user_stream import UserStream
from src.trading.venue.streams.watchdog import ResyncReason, Watchdog
from src.utils.clock import SimClock

BOOK = {
    "event_type": "book",
    "asset_id": "A",
    "market": "0xm",
    "bids": [{"price": "0.48", "size": "30"}, {"price": "0.49", "size": "20"}],
    "asks": [{"price": "0.53", "size": "60"}, {"price": "0.52", "size": "25"}],
    "timestamp": "1000",
    "tick_size": "0.01",
    "last_trade_price": "",
}


@pytest.fixture
def warnings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    lines: list[str] = []
    monkeypatch.setattr(messages, "log_warning", lines.append)
    return lines


def test_book_cache_applies_every_event_kind() -> None:
    cache = BookCache()
    assert cache.apply(BOOK, 1.0) == ["A"]
    change = {
        "event_type": "price_change",
        "timestamp": "2000",
        "price_changes": [
            {"asset_id": "A", "price": "0.5", "size": "15", "side": "BUY"},
            {"asset_id": "A", "price": "0.52", "size": "0", "side": "SELL"},
        ],
    }
    cache.apply(change, 2.0)
    book = cache.book("A")
    assert book is not None
    assert [(lv.price, lv.size) for lv in book.bids] == [
        (Decimal("0.5"), Decimal("15")),
        (Decimal("0.49"), Decimal("20")),
        (Decimal("0.48"), Decimal("30")),
    ]
    assert [lv.price for lv in book.asks] == [Decimal("0.53")]
    assert book.timestamp_ms == 2000
    cache.apply(
        {"event_type": "tick_size_change", "asset_id": "A", "new_tick_size": "0.001"}, 3
    )
    cache.apply({"event_type": "last_trade_price", "asset_id": "A", "price": "0.53"}, 4)
    cache.apply(
        {
            "event_type": "market_resolved",
            "assets_ids": ["A", "B"],
            "winning_asset_id": "A",
        },
        5,
    )
    book = cache.book("A")
    assert book is not None
    assert (book.tick_size, book.last_trade_price) == (Decimal("0.001"), Decimal("0.53"))
    assert cache.winner("B") == "A" and cache.updated_at("A") == 5
    assert cache.apply({"event_type": "new_market"}, 6) == []
    assert cache.stale(["A", "C"], now=14, max_age_s=10) == ["C"]
    assert cache.stale(["A"], now=16, max_age_s=10) == ["A"]


def test_a_malformed_market_message_is_logged_once_and_ignored(
    warnings: list[str],
) -> None:
    stream = MarketStream("ws://127.0.0.1:9/ws/market", SimClock(start=10))
    stream.handle_text(json.dumps([BOOK]))
    bad = {
        "event_type": "price_change",
        "timestamp": "2000",
        "price_changes": [
            {"asset_id": "A", "price": "0.5", "size": "15", "side": "BUY"},
            {"asset_id": "A", "price": "abc", "size": "1", "side": "SELL"},
        ],
    }
    before = stream.cache.book("A")
    stream.handle_text(json.dumps(bad))
    stream.handle_text(json.dumps(bad))
    stream.handle_text("{not json")
    assert stream.cache.book("A") == before  # all or nothing: the good row is not applied
    assert len(warnings) == 2
    assert "price_change" in warnings[0] and "'abc'" in warnings[0]


class _Recorder:
    def __init__(self) -> None:
        self.batches: list[list] = []

    def __call__(self, events, clock, recent):  # type: ignore[no-untyped-def]
        self.batches.append(list(events))
        return [FillOutcome.BOOKED for _ in self.batches[-1]]


def _user_stream(recorder: _Recorder, updates: list) -> UserStream:
    return UserStream(
        "ws://127.0.0.1:9/ws/user",
        api_key="key",
        secret="s3cr3t",
        passphrase="pass",
        account="0xme",
        clock=SimClock(start=50),
        on_order=updates.append,
        record=recorder,
        recent=RecentFills(),
    )


TRADE = {
    "event_type": "trade",
    "id": "t-1",
    "taker_order_id": "0xtaker",
    "side": "SELL",
    "status": "MATCHED",
    "fee_rate_bps": "700",
    "last_update": "1700000000",
    "maker_address": "0xother",
    "trader_side": "MAKER",
    "maker_orders": [
        {
            "order_id": "0xmine",
            "maker_address": "0xme",
            "side": "BUY",
            "price": "0.45",
            "matched_amount": "6",
        }
    ],
}


def test_user_stream_books_trades_reports_orders_and_skips_bad_ones(
    warnings: list[str],
) -> None:
    recorder, updates = _Recorder(), []
    stream = _user_stream(recorder, updates)
    order = {
        "event_type": "order",
        "id": "0xmine",
        "asset_id": "A",
        "side": "BUY",
        "price": "0.45",
        "original_size": "10",
        "size_matched": "6",
        "type": "UPDATE",
        "status": "MATCHED",
    }
    stream.handle_text(json.dumps([TRADE, order]))
    assert len(recorder.batches) == 1 and recorder.batches[0]
    assert {f.venue_order_id for f in recorder.batches[0]} == {"0xmine"}
    assert updates and updates[0].matched_micro == 6_000_000
    assert stream.last_message_at == 50

    stream.handle_text(json.dumps({**TRADE, "maker_orders": [{"order_id": "x"}]}))
    stream.handle_text(json.dumps({**order, "price": None, "side": "UP"}))
    assert len(recorder.batches) == 1 and len(updates) == 1
    assert len(warnings) == 2
    assert not any("s3cr3t" in w for w in warnings)
    assert "s3cr3t" not in repr(stream)


class _SlowVenue:
    """REST reads that check, from another thread, that no lock is held meanwhile."""

    def __init__(self, watchdog_lock: threading.Lock) -> None:
        self.lock = watchdog_lock
        self.free: list[bool] = []

    def _probe(self) -> None:
        def grab() -> None:
            ok = position_lock.acquire(timeout=1) and self.lock.acquire(timeout=1)
            self.free.append(bool(ok))
            if ok:
                self.lock.release()
                position_lock.release()

        thread = threading.Thread(target=grab)
        thread.start()
        thread.join()

    def fills(self, since_ms: int = 0) -> list:
        self._probe()
        return []

    def open_orders(self) -> list:
        self._probe()
        return []


def test_watchdog_resync_holds_no_lock_during_io() -> None:
    watchdog = Watchdog(None, SimClock(start=1000))  # type: ignore[arg-type]
    venue = _SlowVenue(watchdog._lock)
    watchdog.venue = venue
    watchdog.kick()
    result = watchdog.check_once()
    assert result is not None and result.reason is ResyncReason.RECONNECT
    assert venue.free == [True, True]
    assert watchdog.check_once() is None  # fresh: nothing due
