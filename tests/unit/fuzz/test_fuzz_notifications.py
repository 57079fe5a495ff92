"""Fuzz: ``/notifications`` payloads — ``notice_refs`` and the poller that acts on them.

* ``notice_refs`` never raises: a notice gives its ids, or None without a notice id;
* ``NotificationPoller.poll_once`` never raises on what the venue lists; a notice is
  dropped only once its resync succeeded, and the ids it resyncs are those it named.

There is no notification sample among the reference payloads: the seeds follow the
documented shape (reference §1.4) — ``{id, owner, type, payload, timestamp}`` with the
order payload keys, the payload sometimes sent as a JSON string.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from src.trading.ledger.events import FillEvent
from src.trading.venue.port import VenueOrder, VenueUnavailableError
from src.trading.venue.streams.notifications import (
    NoticeRefs,
    NotificationPoller,
    notice_refs,
)
from src.utils.clock import SimClock
from tests.unit.fuzz.payloads import json_values, mutated, scalars

FUZZ = settings(max_examples=150, deadline=None)
PAYLOAD = {
    "asset_id": "52114319501245915516055106046884209969926127482827954674443846427813813222426",
    "market": "0xbd31dc8a20211944f6b70f31557f1001557b59905b7738480ca09bd4532f84af",
    "order_id": "0x06bc63e346ed4ceddce9efd6b3af37c8f8f440c92fe7da6b2d0f9e4ccbc50c42",
    "side": "BUY",
    "type": "GTC",
    "price": "0.57",
    "original_size": "10",
    "matched_size": "10",
    "remaining_size": "0",
    "outcome": "Up",
    "trade_id": "28c4d2eb-bbea-40e7-a9f0-b2fdb56b2c2e",
    "maker_orders": [{"order_id": "0xff35", "trade_id": "t-2"}],
}
NOTICES = [
    {"id": 123, "owner": "api-key", "type": 2, "payload": PAYLOAD, "timestamp": 1},
    {"id": "124", "owner": "api-key", "type": "1", "payload": json.dumps(PAYLOAD)},
    {"id": 125, "type": 8, "payload": {"tradeIDs": ["t-3"], "order": {"orderID": "0xa"}}},
]
KEYS = (
    "id",
    "type",
    "payload",
    "order_id",
    "orderID",
    "trade_id",
    "trade_ids",
    "associate_trades",
    "maker_orders",
    "order",
    "trade",
)
notices = st.sampled_from(NOTICES).flatmap(lambda n: mutated(n, KEYS)).filter(
    lambda n: isinstance(n, dict)
) | st.dictionaries(
    st.sampled_from(KEYS) | st.text(max_size=5), json_values(KEYS, 5), max_size=4
)


def check_refs(notice: Mapping[str, Any]) -> None:
    refs = notice_refs(notice)
    if refs is None:
        assert not str(notice.get("id", "")).strip()
        return
    assert isinstance(refs, NoticeRefs) and refs.notice_id
    assert refs.kind is None or type(refs.kind) is int
    assert all(isinstance(i, str) and i for i in refs.order_ids | refs.trade_ids)


@FUZZ
@given(notice=notices)
def test_notice_refs_never_raises(notice: dict[str, Any]) -> None:
    check_refs(notice)


# Found by fuzzing (fixed): a notice type of Infinity raised OverflowError, blocking every
# poll
@FUZZ
@example(kind=math.inf)
@given(kind=scalars)
def test_notice_refs_survives_any_type(kind: Any) -> None:
    check_refs({"id": 7, "type": kind, "payload": PAYLOAD})


class NoticeVenue:
    """The venue the poller reads: drawn notices; each resync answers or is unavailable."""

    def __init__(self, notices: list[Mapping[str, Any]], available: bool) -> None:
        self.notices = notices
        self.available = available
        self.dropped: list[str] = []
        self.asked_trades: list[str] = []
        self.asked_orders: list[str] = []

    def notifications(self) -> list[Mapping[str, Any]]:
        return self.notices

    def drop_notifications(self, ids: Sequence[str]) -> None:
        self.dropped.extend(ids)

    def fills_of_trade(self, trade_id: str) -> list[FillEvent]:
        self.asked_trades.append(trade_id)
        if not self.available:
            raise VenueUnavailableError("timeout")
        return []

    def get_order(self, venue_order_id: str) -> VenueOrder | None:
        self.asked_orders.append(venue_order_id)
        if not self.available:
            raise VenueUnavailableError("timeout")
        return None


@settings(FUZZ, max_examples=100)
@given(
    listed=st.lists(notices, max_size=3, unique_by=lambda n: str(n.get("id", "")).strip()),
    available=st.booleans(),
)
def test_poll_once_never_raises_and_drops_only_resynced_notices(
    listed: list[dict[str, Any]], available: bool
) -> None:
    venue = NoticeVenue(listed, available)
    result = NotificationPoller(venue, SimClock(start=0)).poll_once()
    assert result is not None and result.seen == len(listed)
    refs = [r for r in map(notice_refs, listed) if r is not None]
    named_trades = set().union(*(r.trade_ids for r in refs))
    named_orders = set().union(*(r.order_ids for r in refs))
    assert set(venue.asked_trades) <= named_trades
    assert set(venue.asked_orders) <= named_orders
    if available:
        assert venue.dropped == [r.notice_id for r in refs]
    else:
        needs_io = [r.notice_id for r in refs if r.trade_ids or r.order_ids]
        assert not set(venue.dropped) & set(needs_io)
