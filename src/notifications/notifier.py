"""Notifications: entries, exits, stop-losses, settlements, errors and a daily summary.

``Notifier.notify`` never blocks trading: it records the message (deduplicated by key) and
hands it to a sender thread, which rate-limits and delivers it through a :class:`Sender`
(Discord, or nothing). A failed delivery is retried a few times and then marked failed;
it never raises into the caller.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from src.utils.clock import Clock
from src.utils.logger import log, log_warning
from src.utils.redaction import redact


class Kind(StrEnum):
    """What a notification is about (also picks its emoji and colour)."""

    ENTRY = "entry"
    EXIT = "exit"
    STOP_LOSS = "stop_loss"
    SETTLEMENT = "settlement"
    ERROR = "error"
    DAILY_SUMMARY = "daily_summary"
    INFO = "info"


EMOJI = {
    Kind.ENTRY: "🎯",
    Kind.EXIT: "✅",
    Kind.STOP_LOSS: "🛑",
    Kind.SETTLEMENT: "🏁",
    Kind.ERROR: "❌",
    Kind.DAILY_SUMMARY: "📊",
    Kind.INFO: "ℹ️",
}


@dataclass(frozen=True, slots=True)
class Notification:
    """One message. ``key`` identifies it: the same key is sent at most once."""

    kind: Kind
    key: str
    title: str
    body: str

    def text(self) -> str:
        """Plain-text rendering, secrets redacted."""
        return redact(f"{EMOJI[self.kind]} **{self.title}**\n{self.body}")


class Sender(Protocol):
    """Delivers one notification; raises on failure (the notifier retries)."""

    def send(self, notification: Notification) -> None:
        """Deliver ``notification`` or raise."""
        ...


class Store(Protocol):
    """Where notifications are recorded (the ``notifications`` table, or memory)."""

    def claim(self, notification: Notification, now_ms: int) -> bool:
        """Record it; False when its key was already recorded (a duplicate)."""
        ...

    def mark(
        self, key: str, status: str, attempts: int, error: str | None, now_ms: int
    ) -> None:
        """Record the delivery outcome (``sent``, ``failed`` or ``suppressed``)."""
        ...


class MemoryStore:
    """A store for tests and backtests: dedupe in memory."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.status: dict[str, str] = {}

    def claim(self, notification: Notification, now_ms: int) -> bool:
        """Record the key; False if seen before."""
        with self._lock:
            if notification.key in self.status:
                return False
            self.status[notification.key] = "pending"
            return True

    def mark(
        self, key: str, status: str, attempts: int, error: str | None, now_ms: int
    ) -> None:
        """Remember the outcome."""
        with self._lock:
            self.status[key] = status


@dataclass(frozen=True)
class RateLimit:
    """At most ``count`` deliveries per ``per_s`` seconds; the rest are summarised."""

    count: int = 20
    per_s: float = 60.0


_STOP = object()


class Notifier:
    """Queue + sender thread. ``notify`` returns at once whatever the network does."""

    def __init__(
        self,
        sender: Sender,
        clock: Clock,
        store: Store | None = None,
        rate_limit: RateLimit | None = None,
        attempts: int = 3,
        retry_wait_s: float = 2.0,
        max_queue: int = 1000,
    ) -> None:
        self._sender = sender
        self._clock = clock
        self._store = store or MemoryStore()
        self._limit = rate_limit or RateLimit()
        self._attempts = attempts
        self._retry_wait_s = retry_wait_s
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max_queue)
        self._sent_times: deque[float] = deque()
        self._suppressed = 0
        self._thread: threading.Thread | None = None
        self.delivered = 0
        self.failed = 0

    def start(self) -> Notifier:
        """Start the sender thread (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="notifier", daemon=True)
            self._thread.start()
        return self

    def notify(self, notification: Notification) -> bool:
        """Queue ``notification`` unless its key was seen; True when it was queued."""
        now_ms = int(self._clock.now() * 1000)
        try:
            if not self._store.claim(notification, now_ms):
                return False
        except Exception as exc:  # a notification must never break trading
            log_warning(f"⚠️ notification store failed: {exc}")
            return False
        try:
            self._queue.put_nowait(notification)
        except queue.Full:
            self._store.mark(notification.key, "suppressed", 0, "queue full", now_ms)
            return False
        return True

    def stop(self, timeout_s: float = 5.0) -> None:
        """Deliver what is queued (within ``timeout_s``) and stop the thread."""
        if self._thread is None:
            return
        self._queue.put(_STOP)
        self._thread.join(timeout_s)
        self._thread = None

    def _allowed(self, now: float) -> bool:
        while self._sent_times and now - self._sent_times[0] >= self._limit.per_s:
            self._sent_times.popleft()
        return len(self._sent_times) < self._limit.count

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            assert isinstance(item, Notification)
            self._deliver(item)

    def _deliver(self, notification: Notification) -> None:
        now = self._clock.now()
        if not self._allowed(now):
            # Over the limit: drop it but count it, so the next delivery says so.
            self._suppressed += 1
            self._store.mark(
                notification.key, "suppressed", 0, "rate limited", int(now * 1000)
            )
            return
        if self._suppressed:
            notification = Notification(
                notification.kind,
                notification.key,
                notification.title,
                notification.body + f"\n({self._suppressed} more suppressed by the rate "
                "limit)",
            )
            self._suppressed = 0
        error = None
        for attempt in range(1, self._attempts + 1):
            try:
                self._sender.send(notification)
            except Exception as exc:  # delivery problems are logged, never raised
                error = redact(str(exc))
                log_warning(
                    f"⚠️ notification {notification.key} attempt {attempt} failed: {error}"
                )
                if attempt < self._attempts:
                    self._clock.sleep(self._retry_wait_s * attempt)
                continue
            self._sent_times.append(self._clock.now())
            self.delivered += 1
            self._store.mark(
                notification.key, "sent", attempt, None, int(self._clock.now() * 1000)
            )
            log(f"📣 notification sent: {notification.kind} {notification.key}")
            return
        self.failed += 1
        self._store.mark(
            notification.key, "failed", self._attempts, error, int(self._clock.now() * 1000)
        )


class NullSender:
    """Sends nothing (no webhook configured)."""

    def send(self, notification: Notification) -> None:
        """Do nothing."""
