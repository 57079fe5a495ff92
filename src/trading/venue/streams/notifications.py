"""Polling ``/notifications`` (reference §1: types 1 cancellation, 2 fill, 8 failed
fill): each notice names a trade and/or an order; we resync exactly those over REST —
the trade's fills into :func:`record_fills`, the order's state to the order callback —
and only then drop the notice, so a failed resync is retried on the next poll.

The original bot looked for the order id under four top-level spellings and missed the
fills (original_polyflup.md §4, §12.3 item 8): fill notices carry a ``trade_id`` and
often no order id at all. :func:`notice_refs` therefore reads every place an id can be,
including a payload sent as a JSON string.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from src.trading.ledger.events import FillEvent, FillOutcome
from src.trading.ledger.recorder import record_fills
from src.trading.state import RecentFills, recent_fills
from src.trading.venue.port import VenueOrder, VenueUnavailableError
from src.trading.venue.streams.messages import OrderUpdate, order_update_from_venue
from src.trading.venue.streams.pacing import PacedWorker, Signal
from src.utils.clock import Clock
from src.utils.logger import log, log_warning
from src.utils.safe_json import loads_bounded

ORDER_KEYS = ("order_id", "orderId", "orderID", "taker_order_id", "takerOrderId")
TRADE_KEYS = ("trade_id", "tradeId", "tradeID")
LIST_TRADE_KEYS = ("trade_ids", "tradeIds", "associate_trades")
NESTED_KEYS = ("maker_orders", "makerOrders", "order", "trade")
DEFAULT_INTERVAL_S = 10.0


class NoticeVenue(Protocol):
    """The reads and the drop a notification resync needs (``ClobVenue`` has them)."""

    def notifications(self) -> list[Mapping[str, Any]]: ...

    def drop_notifications(self, ids: Sequence[str]) -> None: ...

    def fills_of_trade(self, trade_id: str) -> list[FillEvent]: ...

    def get_order(self, venue_order_id: str) -> VenueOrder | None: ...


@dataclass(frozen=True, slots=True)
class NoticeRefs:
    """What one notification points at."""

    notice_id: str
    kind: int | None
    order_ids: frozenset[str]
    trade_ids: frozenset[str]


def _payload(raw: Any) -> Mapping[str, Any]:
    if isinstance(raw, str):
        try:
            raw = loads_bounded(raw)
        except ValueError:
            return {}
    return raw if isinstance(raw, Mapping) else {}


def _texts(value: Any) -> list[str]:
    values = value if isinstance(value, list | tuple) else [value]
    return [str(v).strip() for v in values if isinstance(v, str | int) and str(v).strip()]


def _collect(payload: Mapping[str, Any], orders: set[str], trades: set[str]) -> None:
    for key in ORDER_KEYS:
        orders.update(_texts(payload.get(key)))
    for key in TRADE_KEYS + LIST_TRADE_KEYS:
        trades.update(_texts(payload.get(key)))
    for key in NESTED_KEYS:
        nested = payload.get(key)
        for item in nested if isinstance(nested, list) else [nested]:
            if isinstance(item, Mapping):
                _collect(item, orders, trades)


def notice_refs(notice: Mapping[str, Any]) -> NoticeRefs | None:
    """The order and trade ids a notification names (pure; None without an id). The
    top-level ``id`` is the notification's own, never an order's."""
    notice_id = str(notice.get("id", "")).strip()
    if not notice_id:
        return None
    orders: set[str] = set()
    trades: set[str] = set()
    _collect(_payload(notice.get("payload")), orders, trades)
    try:
        kind: int | None = int(notice.get("type"))  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):  # Infinity is valid JSON for Python
        kind = None
    return NoticeRefs(notice_id, kind, frozenset(orders), frozenset(trades))


@dataclass(frozen=True, slots=True)
class PollResult:
    """One poll: notices seen and dropped, and what the targeted resync applied."""

    seen: int
    dropped: tuple[str, ...]
    outcomes: tuple[FillOutcome, ...]
    orders: tuple[OrderUpdate, ...]


class NotificationPoller:
    """Polls every ``interval_s`` Clock seconds on a daemon thread (or call
    :meth:`poll_once`)."""

    def __init__(
        self,
        venue: NoticeVenue,
        clock: Clock,
        *,
        recent: RecentFills = recent_fills,
        on_order: Callable[[OrderUpdate], None] | None = None,
        interval_s: float = DEFAULT_INTERVAL_S,
        poll_s: float = 0.25,
    ) -> None:
        self.venue = venue
        self.clock = clock
        self.recent = recent
        self.on_order = on_order
        self.interval_s = interval_s
        self.signal = Signal()
        self._lock = threading.Lock()
        self._last_poll: float | None = None
        self._worker = PacedWorker("notifications", self._step, poll_s)

    def start(self) -> None:
        """Start polling."""
        self._worker.start()

    def stop(self) -> None:
        """Stop polling (idempotent)."""
        self._worker.stop()

    def _step(self) -> None:
        now = self.clock.now()
        with self._lock:
            due = self._last_poll is None or now - self._last_poll >= self.interval_s
            if due:
                self._last_poll = now
        if due:
            self.poll_once()

    def poll_once(self) -> PollResult | None:
        """Read, resync what the notices name, drop the handled ones; None when the
        venue did not answer the read."""
        try:
            notices = self.venue.notifications()
        except VenueUnavailableError as exc:
            log_warning(f"⚠️ notifications: {exc}")
            return None
        refs = [r for r in (notice_refs(n) for n in notices) if r is not None]
        handled: list[str] = []
        outcomes: list[FillOutcome] = []
        updates: list[OrderUpdate] = []
        for ref in refs:
            try:
                outcomes += self._resync_trades(ref.trade_ids)
                updates += self._resync_orders(ref.order_ids)
            except VenueUnavailableError as exc:
                log_warning(f"⚠️ notification {ref.notice_id}: resync failed ({exc})")
                continue  # kept: the next poll tries again
            handled.append(ref.notice_id)
        dropped: tuple[str, ...] = ()
        if handled:
            try:
                self.venue.drop_notifications(handled)
                dropped = tuple(handled)
                log(f"🧹 Dropped {len(handled)} notification(s)")
            except VenueUnavailableError as exc:
                # harmless: the next poll resyncs them again, deduplicated
                log_warning(f"⚠️ notifications: drop failed ({exc})")
        result = PollResult(len(notices), dropped, tuple(outcomes), tuple(updates))
        self.signal.notify()
        return result

    def _resync_trades(self, trade_ids: Iterable[str]) -> list[FillOutcome]:
        fills = [f for t in sorted(trade_ids) for f in self.venue.fills_of_trade(t)]
        return record_fills(fills, self.clock, self.recent) if fills else []

    def _resync_orders(self, order_ids: Iterable[str]) -> list[OrderUpdate]:
        at_ms = int(self.clock.now() * 1000)
        updates = []
        for order_id in sorted(order_ids):
            order = self.venue.get_order(order_id)
            if order is None:
                continue  # the venue's own "no such order": reconciliation's business
            update = order_update_from_venue(order, at_ms)
            updates.append(update)
            if self.on_order is not None:
                self.on_order(update)
        return updates
