"""The staleness watchdog: when the user channel has been silent too long, or has just
(re)connected, read the truth over REST — ``fills(since)`` into :func:`record_fills`,
``open_orders()`` into order updates — so a fill missed while disconnected is booked.

The decision is a pure function; the thread only paces itself and runs it. No lock is
held across the REST calls: the watchdog's own lock guards its bookkeeping only, and
``record_fills`` takes ``position_lock`` just around each database write.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from src.trading.ledger.events import FillEvent, FillOutcome
from src.trading.ledger.recorder import record_fills
from src.trading.state import RecentFills, recent_fills
from src.trading.venue.port import VenueOrder, VenueUnavailableError
from src.trading.venue.streams.messages import OrderUpdate, order_update_from_venue
from src.trading.venue.streams.pacing import PacedWorker, Signal
from src.utils.clock import Clock
from src.utils.logger import log, log_warning


class ResyncVenue(Protocol):
    """What a resync reads (``ClobVenue`` and the in-process adapter both have it)."""

    def fills(self, since_ms: int = 0) -> list[FillEvent]: ...

    def open_orders(self) -> list[VenueOrder]: ...


RESULTS_KEPT = 100  # the latest resyncs, for status lines and tests


class ResyncReason(StrEnum):
    """Why a resync ran."""

    START = "start"
    STALE = "stale"
    RECONNECT = "reconnect"
    RETRY = "retry"  # the previous resync failed


@dataclass(frozen=True, slots=True)
class WatchdogConfig:
    """Clock seconds: ``stale_after_s`` of silence triggers a resync (PONGs count as
    messages, so a healthy link never looks stale); ``overlap_s`` is re-read before the
    last good resync (clock drift, late status changes); ``retry_after_s`` paces retries
    after a failed resync; ``poll_s`` is the thread's real-time pacing."""

    stale_after_s: float = 30.0
    overlap_s: float = 120.0
    retry_after_s: float = 5.0
    poll_s: float = 0.25


@dataclass(frozen=True, slots=True)
class WatchState:
    """What the decision looks at (Clock seconds; None: never)."""

    now: float
    last_message_at: float | None
    last_attempt_at: float | None
    last_ok_at: float | None
    kicked: bool


def resync_reason(state: WatchState, config: WatchdogConfig) -> ResyncReason | None:
    """Whether to resync now, and why (pure)."""
    if state.kicked:
        return ResyncReason.RECONNECT
    if state.last_attempt_at is None:
        return ResyncReason.START
    if state.last_ok_at is None or state.last_ok_at < state.last_attempt_at:
        if state.now - state.last_attempt_at >= config.retry_after_s:
            return ResyncReason.RETRY
        return None
    heard = max(state.last_message_at or state.last_ok_at, state.last_ok_at)
    if state.now - heard >= config.stale_after_s:
        return ResyncReason.STALE
    return None


def since_ms(last_ok_started_at: float | None, overlap_s: float) -> int:
    """The ``fills(since_ms)`` bound: everything on the first pass, then from the last
    good pass's start minus the overlap (pure)."""
    if last_ok_started_at is None:
        return 0
    return max(0, int((last_ok_started_at - overlap_s) * 1000))


@dataclass(frozen=True, slots=True)
class ResyncResult:
    """One finished resync."""

    reason: ResyncReason
    since_ms: int
    fills: tuple[FillEvent, ...]
    outcomes: tuple[FillOutcome, ...]  # one per fill, same order
    orders: tuple[OrderUpdate, ...]

    @property
    def booked(self) -> int:
        """Reports that changed the ledger (not duplicates)."""
        return sum(o is not FillOutcome.DUPLICATE for o in self.outcomes)

    def booked_trade_ids(self) -> set[str]:
        """Venue trade ids of the reports this resync applied."""
        return {
            f.venue_trade_id
            for f, o in zip(self.fills, self.outcomes, strict=True)
            if o is not FillOutcome.DUPLICATE
        }


class Watchdog:
    """Runs :func:`resync_reason` on a paced daemon thread; ``kick()`` (e.g. from the
    user stream's ``on_connect``) forces a resync at the next step."""

    def __init__(
        self,
        venue: ResyncVenue,
        clock: Clock,
        *,
        last_message_at: Callable[[], float | None] = lambda: None,
        recent: RecentFills = recent_fills,
        on_order: Callable[[OrderUpdate], None] | None = None,
        config: WatchdogConfig | None = None,
    ) -> None:
        self.venue = venue
        self.clock = clock
        self.config = config or WatchdogConfig()
        self.recent = recent
        self.on_order = on_order
        self.signal = Signal()
        self.results: deque[ResyncResult] = deque(maxlen=RESULTS_KEPT)  # bounded
        self._last_message_at = last_message_at
        self._lock = threading.Lock()  # bookkeeping only; never held over I/O
        self._kicked = False
        self._last_attempt_at: float | None = None
        self._last_ok_at: float | None = None
        self._last_ok_started_at: float | None = None
        self._worker = PacedWorker("watchdog", self.check_once, self.config.poll_s)

    def start(self) -> None:
        """Start the thread."""
        self._worker.start()

    def stop(self) -> None:
        """Stop the thread (idempotent)."""
        self._worker.stop()

    def kick(self, _connects: int = 0) -> None:
        """Resync at the next step (usable as ``UserStream.on_connect`` callback)."""
        with self._lock:
            self._kicked = True
        self._worker.wake()

    def check_once(self) -> ResyncResult | None:
        """Decide and, when due, resync; returns the resync's result."""
        with self._lock:
            state = WatchState(
                now=self.clock.now(),
                last_message_at=self._last_message_at(),
                last_attempt_at=self._last_attempt_at,
                last_ok_at=self._last_ok_at,
                kicked=self._kicked,
            )
        reason = resync_reason(state, self.config)
        if reason is None:
            return None
        return self.resync(reason)

    def resync(self, reason: ResyncReason = ResyncReason.STALE) -> ResyncResult | None:
        """Read fills and open orders over REST and apply them; None when the venue did
        not answer (retried after ``retry_after_s``)."""
        started = self.clock.now()
        with self._lock:
            self._kicked = False
            self._last_attempt_at = started
            since = since_ms(self._last_ok_started_at, self.config.overlap_s)
        try:
            fills = self.venue.fills(since)  # network: no lock held
            orders = self.venue.open_orders()
        except VenueUnavailableError as exc:
            log_warning(f"⚠️ watchdog resync ({reason}) failed: {exc}")
            self.signal.notify()
            return None
        outcomes = record_fills(fills, self.clock, self.recent)
        at_ms = int(self.clock.now() * 1000)
        updates = tuple(order_update_from_venue(o, at_ms) for o in orders)
        if self.on_order is not None:
            for update in updates:
                self.on_order(update)
        result = ResyncResult(reason, since, tuple(fills), tuple(outcomes), updates)
        with self._lock:
            self._last_ok_at = self.clock.now()
            self._last_ok_started_at = started
            self.results.append(result)
        if result.booked:
            log(f"🔄 watchdog resync ({reason}): booked {result.booked} fill report(s)")
        self.signal.notify()
        return result
