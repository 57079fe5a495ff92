"""State the worker threads share (DESIGN §4): ``position_lock`` and ``recent_fills``."""

from __future__ import annotations

import threading
from collections import OrderedDict

# Held around every read-modify-write of a position (ledger, exit plan, scale-in, stop).
position_lock = threading.RLock()


class RecentFills:
    """Fill reports already applied, so the same report from the websocket, REST polling
    and a notification costs one database write, not three.

    The database's unique trade id is the real guarantee; this is the cheap first filter.
    """

    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, trade_id: str, status: str) -> bool:
        """True the first time ``(trade_id, status)`` is offered (then remembered)."""
        key = (trade_id, status)
        with self._lock:
            if key in self._seen:
                self._seen.move_to_end(key)
                return False
            self._seen[key] = None
            if len(self._seen) > self._capacity:
                self._seen.popitem(last=False)
            return True

    def forget(self, trade_id: str, status: str) -> None:
        """Allow a report to be applied again (its write failed)."""
        with self._lock:
            self._seen.pop((trade_id, status), None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._seen)


recent_fills = RecentFills()
