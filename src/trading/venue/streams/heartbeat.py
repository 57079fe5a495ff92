"""The heartbeat loop: the venue cancels every open order of an account that sent no
valid heartbeat for ~10 s (reference §2.5), so a daemon thread calls
:meth:`Heartbeats.beat` every ``interval_s`` of the Clock (default 5 s)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Protocol

from src.trading.venue.port import VenueUnavailableError
from src.trading.venue.streams.pacing import PacedWorker, Signal
from src.utils.clock import Clock
from src.utils.logger import log, log_warning

DEFAULT_INTERVAL_S = 5.0


class Beater(Protocol):
    """``Heartbeats`` (src.trading.venue.clob) or a fake."""

    def beat(self) -> str: ...


@dataclass(frozen=True, slots=True)
class HeartbeatConfig:
    """``interval_s``: Clock seconds between beats (half the venue's 10 s, so one lost
    beat is survivable); ``retry_s``: Clock seconds before retrying a failed one;
    ``poll_s``: the thread's real-time pacing."""

    interval_s: float = DEFAULT_INTERVAL_S
    retry_s: float = 1.0
    poll_s: float = 0.1


def beat_due(
    now: float, last_ok: float | None, last_failed: float | None, config: HeartbeatConfig
) -> bool:
    """Whether to send a heartbeat now (pure)."""
    if last_ok is None and last_failed is None:
        return True
    if last_failed is not None and (last_ok is None or last_failed > last_ok):
        return now - last_failed >= config.retry_s
    return last_ok is not None and now - last_ok >= config.interval_s


class HeartbeatLoop:
    """Beats on a daemon thread until :meth:`stop` (after which the venue's dead-man
    switch cancels our orders — the point of it when the bot dies)."""

    def __init__(
        self, heartbeats: Beater, clock: Clock, config: HeartbeatConfig | None = None
    ) -> None:
        self.heartbeats = heartbeats
        self.clock = clock
        self.config = config or HeartbeatConfig()
        self.signal = Signal()
        self.beats = 0
        self.failures = 0
        self._lock = threading.Lock()
        self._last_ok: float | None = None
        self._last_failed: float | None = None
        self._worker = PacedWorker("heartbeat", self.step, self.config.poll_s)

    @property
    def last_ok(self) -> float | None:
        """Clock time of the last accepted heartbeat."""
        with self._lock:
            return self._last_ok

    def start(self) -> None:
        """Start beating."""
        log(f"💓 heartbeats every {self.config.interval_s:g}s")
        self._worker.start()

    def stop(self) -> None:
        """Stop beating (idempotent)."""
        self._worker.stop()

    def step(self) -> bool:
        """Beat if due; True when a beat was sent and accepted."""
        now = self.clock.now()
        with self._lock:
            due = beat_due(now, self._last_ok, self._last_failed, self.config)
        if not due:
            return False
        try:
            self.heartbeats.beat()  # network: no lock held
        except VenueUnavailableError as exc:
            with self._lock:
                self._last_failed = now
                self.failures += 1
            log_warning(f"⚠️ heartbeat failed: {exc}")
            self.signal.notify()
            return False
        with self._lock:
            self._last_ok = now
            self.beats += 1
        self.signal.notify()
        return True
