"""``GET/DELETE /notifications``: per-account notices of fills, failed fills and venue
cancellations, kept until the client drops them (the venue's types 1, 2 and 8)."""

from __future__ import annotations

import threading
from collections import deque
from enum import IntEnum
from typing import Any

MAX_PER_ACCOUNT = 1000


class NotificationType(IntEnum):
    """The venue's notification type numbers (those the emulator produces)."""

    ORDER_CANCELLATION = 1
    ORDER_FILL = 2
    ORDER_FILL_FAILED = 8


class Notifications:
    """Thread-safe store of notifications per account, with increasing ids."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_account: dict[str, deque[dict[str, Any]]] = {}
        self._next_id = 1

    def add(
        self,
        account: str,
        owner: str,
        kind: NotificationType,
        payload: dict[str, Any],
        timestamp: float,
    ) -> None:
        """Record one notification for ``account`` (``owner``: its API key)."""
        with self._lock:
            queue = self._by_account.setdefault(account, deque(maxlen=MAX_PER_ACCOUNT))
            queue.append(
                {
                    "id": self._next_id,
                    "owner": owner,
                    "type": int(kind),
                    "payload": payload,
                    "timestamp": int(timestamp),
                }
            )
            self._next_id += 1

    def list(self, account: str) -> list[dict[str, Any]]:
        """The account's notifications, oldest first."""
        with self._lock:
            return list(self._by_account.get(account, ()))

    def drop(self, account: str, ids: set[int] | None) -> int:
        """Remove the given ids (all when ``None``); returns how many went."""
        with self._lock:
            queue = self._by_account.get(account)
            if not queue:
                return 0
            kept = [n for n in queue if ids is not None and n["id"] not in ids]
            dropped = len(queue) - len(kept)
            queue.clear()
            queue.extend(kept)
            return dropped
