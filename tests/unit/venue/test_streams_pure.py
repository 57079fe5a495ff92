"""The pure parts of the streams: frames, order updates, backoff, the watchdog's and the
heartbeat's decisions, notification id extraction."""

from __future__ import annotations

import json

import pytest

from src.trading.ledger.accounting import Side
from src.trading.venue.streams.heartbeat import HeartbeatConfig, beat_due
from src.trading.venue.streams.messages import (
    MalformedMessageError,
    OrderEventType,
    backoff_s,
    order_update_of,
    parse_frame,
    user_subscribe_message,
)
from src.trading.venue.streams.notifications import notice_refs
from src.trading.venue.streams.watchdog import (
    ResyncReason,
    WatchdogConfig,
    WatchState,
    resync_reason,
    since_ms,
)

ORDER = {
    "event_type": "order",
    "id": "0xabc",
    "asset_id": "123",
    "side": "BUY",
    "price": "0.45",
    "original_size": "10",
    "size_matched": "4",
    "type": "UPDATE",
    "status": "MATCHED",
    "timestamp": "1700000000000",
}


def test_parse_frame_accepts_objects_arrays_and_pong() -> None:
    assert parse_frame("PONG") == []
    assert parse_frame("[]") == []
    assert parse_frame('{"event_type": "x"}') == [{"event_type": "x"}]
    assert len(parse_frame('[{"a": 1}, {"b": 2}]')) == 2
    for bad in ("{nope", "[1, 2]", '"text"'):
        with pytest.raises(MalformedMessageError):
            parse_frame(bad)


def test_order_update_of_a_user_channel_message() -> None:
    update = order_update_of(ORDER)
    assert (update.venue_order_id, update.side, update.event) == (
        "0xabc",
        Side.BUY,
        OrderEventType.UPDATE,
    )
    assert (update.price_micro, update.size_micro, update.matched_micro) == (
        450_000,
        10_000_000,
        4_000_000,
    )
    assert not update.live
    with pytest.raises(MalformedMessageError):
        order_update_of({**ORDER, "price": "abc"})
    with pytest.raises(MalformedMessageError):
        order_update_of({k: v for k, v in ORDER.items() if k != "id"})


def test_user_subscribe_message_shape() -> None:
    body = json.loads(user_subscribe_message("k", "s", "p", ["0x2", "0x1", "0x1"]))
    assert body == {
        "auth": {"apiKey": "k", "secret": "s", "passphrase": "p"},
        "type": "user",
        "markets": ["0x1", "0x2"],
    }


def test_backoff_doubles_and_caps() -> None:
    assert [backoff_s(a, 0.5, 4) for a in range(5)] == [0.5, 1, 2, 4, 4]
    with pytest.raises(ValueError):
        backoff_s(-1)


def _state(**kw: object) -> WatchState:
    base = {
        "now": 100.0,
        "last_message_at": 95.0,
        "last_attempt_at": 90.0,
        "last_ok_at": 90.0,
        "kicked": False,
    }
    return WatchState(**{**base, **kw})  # type: ignore[arg-type]


def test_resync_reason() -> None:
    cfg = WatchdogConfig(stale_after_s=30, retry_after_s=5)
    assert resync_reason(_state(), cfg) is None
    assert resync_reason(_state(kicked=True), cfg) is ResyncReason.RECONNECT
    assert resync_reason(_state(last_attempt_at=None), cfg) is ResyncReason.START
    assert resync_reason(_state(now=126.0), cfg) is ResyncReason.STALE
    # silent, but a resync just ran: not again until stale_after_s after it
    assert (
        resync_reason(_state(now=126.0, last_attempt_at=120.0, last_ok_at=120.0), cfg)
        is None
    )
    # the last attempt failed: retried after retry_after_s
    failed = {"last_attempt_at": 98.0, "last_ok_at": 90.0}
    assert resync_reason(_state(**failed), cfg) is None
    assert resync_reason(_state(now=103.0, **failed), cfg) is ResyncReason.RETRY


def test_since_ms() -> None:
    assert since_ms(None, 120) == 0
    assert since_ms(1000.0, 120) == 880_000
    assert since_ms(10.0, 120) == 0


def test_beat_due() -> None:
    cfg = HeartbeatConfig(interval_s=5, retry_s=1)
    assert beat_due(0, None, None, cfg)
    assert not beat_due(4.9, 0, None, cfg)
    assert beat_due(5, 0, None, cfg)
    assert not beat_due(6.5, 5, 6, cfg)  # failed at 6: retry from 7
    assert beat_due(7, 5, 6, cfg)


def test_notice_refs_finds_ids_wherever_they_are() -> None:
    fill = {
        "id": 7,
        "type": 2,
        "payload": {"asset_id": "1", "trade_id": "t-1", "side": "BUY"},
    }
    refs = notice_refs(fill)
    assert refs is not None
    assert (refs.notice_id, refs.kind, refs.trade_ids, refs.order_ids) == (
        "7",
        2,
        frozenset({"t-1"}),
        frozenset(),
    )
    # other spellings, nesting, and a payload sent as a JSON string
    odd = {
        "id": "8",
        "type": "1",
        "payload": json.dumps(
            {
                "orderID": "0xa",
                "associate_trades": ["t-2", ""],
                "maker_orders": [{"order_id": "0xb"}],
            }
        ),
    }
    refs = notice_refs(odd)
    assert refs is not None and refs.order_ids == {"0xa", "0xb"}
    assert refs.trade_ids == {"t-2"}
    # the notification's own id is never taken for an order's
    assert notice_refs({"id": 9, "payload": None}).order_ids == frozenset()  # type: ignore[union-attr]
    assert notice_refs({"payload": {"order_id": "0xa"}}) is None
