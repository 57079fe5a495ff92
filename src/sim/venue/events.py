"""The venue's ordered event log and listener hook (the emulator turns it into websockets).

Events are small flat records carrying the numbers *as they were* when the event happened
(an order's matched and remaining size, a trade's status), so a consumer never has to read
mutable state later. Listeners run synchronously, in order, while the venue holds its lock:
they must be quick and must not call back into the venue (queue the event instead).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from itertools import islice


class EventKind(StrEnum):
    """What happened."""

    ORDER_PLACED = "order_placed"
    ORDER_UPDATED = "order_updated"
    ORDER_CANCELED = "order_canceled"
    TRADE = "trade"
    MARKET_REGISTERED = "market_registered"
    MARKET_CLOSED = "market_closed"
    MARKET_RESOLVED = "market_resolved"
    TICK_SIZE_CHANGED = "tick_size_changed"


@dataclass(slots=True)
class VenueEvent:
    """One event (treat as read-only).

    Order events: ``order_id``, ``account``, ``side``, ``price``, the order's ``status``,
    ``size_matched`` and ``remaining`` after the change, and for cancellations the reason in
    ``detail``. Trade events: ``trade_id``, ``status`` (MATCHED/CONFIRMED/FAILED), the
    taker's ``order_id``, ``account`` and ``side``, ``size_matched`` = the trade's shares,
    ``price`` = its average price (the per-fill prices are in the ``Trade``). Market events:
    ``detail`` holds the winning token id (resolution) or the new tick (micro-units, text).
    ``side`` and ``status`` are the ``StrEnum`` members (equal to their strings).
    """

    seq: int
    time: float
    kind: EventKind
    market: str
    token_id: str = ""
    order_id: str = ""
    trade_id: str = ""
    account: str = ""
    side: str = ""
    price: int = 0
    status: str = ""
    size_matched: int = 0
    remaining: int = 0
    detail: str = ""


EventListener = Callable[[VenueEvent], None]


class EventLog:
    """A bounded, ordered log plus listeners; free when nobody listens or records."""

    __slots__ = ("_events", "_listeners", "_record", "_seq")

    def __init__(self, record: bool = True, max_events: int = 100_000) -> None:
        self._events: deque[VenueEvent] = deque(maxlen=max_events)
        self._listeners: list[EventListener] = []
        self._record = record
        self._seq = 0

    @property
    def active(self) -> bool:
        """True when events are recorded or listened to (else none are built)."""
        return self._record or bool(self._listeners)

    @property
    def last_seq(self) -> int:
        """Sequence number of the latest event (0 before the first)."""
        return self._seq

    def subscribe(self, listener: EventListener) -> Callable[[], None]:
        """Call ``listener`` for every future event; returns an unsubscribe function."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def emit(self, event: VenueEvent) -> None:
        """Number ``event``, keep it and hand it to the listeners."""
        self._seq += 1
        event.seq = self._seq
        if self._record:
            self._events.append(event)
        for listener in self._listeners:
            listener(event)

    def since(self, seq: int) -> list[VenueEvent]:
        """Recorded events with a sequence number above ``seq``, oldest first."""
        events = self._events
        if not events or events[-1].seq <= seq:
            return []
        first = events[0].seq
        start = max(0, seq - first + 1)
        return list(islice(events, start, None))
