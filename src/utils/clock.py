"""The Clock port: every read of the time and every wait goes through it.

Production code receives a ``Clock`` instead of calling ``time.time()`` or ``time.sleep()``,
so tests and backtests drive time themselves and never wait on the wall clock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """What the rest of the code may ask of time."""

    def now(self) -> float:
        """Current time as Unix seconds (UTC)."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""
        ...


def utc_datetime(clock: Clock) -> datetime:
    """The clock's current time as an aware UTC ``datetime``."""
    return datetime.fromtimestamp(clock.now(), tz=UTC)


class SystemClock:
    """The wall clock."""

    def now(self) -> float:
        """Current Unix time from the operating system."""
        return time.time()

    def sleep(self, seconds: float) -> None:
        """Block the calling thread for ``seconds`` of real time."""
        if seconds > 0:
            time.sleep(seconds)


class SimClock:
    """A clock the caller moves by hand, or that runs ``speed`` times faster than real time.

    * Manual (``speed=None``): time moves only through ``advance``/``set``; ``sleep``
      advances it at once, so single-threaded backtests run as fast as the machine allows.
    * Accelerated (``speed=X``): time runs X times faster than the wall clock from
      ``start``; ``sleep(s)`` waits ``s / X`` real seconds (``run --sim --speed X``).
    """

    def __init__(
        self,
        start: float = 0.0,
        speed: float | None = None,
        wall: Clock | None = None,
    ) -> None:
        if speed is not None and speed <= 0:
            raise ValueError(f"speed must be > 0, got {speed}")
        self._lock = threading.Condition()
        self._speed = speed
        self._wall = wall or SystemClock()
        self._anchor_sim = float(start)
        self._anchor_wall = self._wall.now()

    @property
    def speed(self) -> float | None:
        """The acceleration factor, or ``None`` for a manual clock."""
        return self._speed

    def now(self) -> float:
        """Current simulated Unix time."""
        if self._speed is None:
            # A manual clock's time is one attribute, replaced in one step by advance():
            # reading it needs no lock (backtests read it tens of times a tick).
            return self._anchor_sim
        with self._lock:
            return self._now_locked()

    def _now_locked(self) -> float:
        if self._speed is None:
            return self._anchor_sim
        return self._anchor_sim + (self._wall.now() - self._anchor_wall) * self._speed

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds`` and wake sleepers; returns the new time."""
        if seconds < 0:
            raise ValueError(f"a clock cannot go backwards ({seconds} s)")
        with self._lock:
            self._anchor_sim = self._now_locked() + seconds
            self._anchor_wall = self._wall.now()
            self._lock.notify_all()
            return self._anchor_sim

    def set(self, timestamp: float) -> None:
        """Jump to ``timestamp`` (never backwards)."""
        with self._lock:
            current = self._now_locked()
        self.advance(max(0.0, timestamp - current))

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of simulated time (instantly on a manual clock)."""
        if seconds <= 0:
            return
        if self._speed is None:
            self.advance(seconds)
            return
        self._wall.sleep(seconds / self._speed)


class AnchoredClock:
    """The venue's clock, read once and then run locally at ``speed`` (``--live --speed X``
    against an emulator started with the same speed, or real time against the venue).

    ``venue_time`` answers whole seconds (``GET /time``), so the anchor is taken the moment
    the answer changes: the local estimate is then off by one request's latency × speed,
    not by up to a whole venue second.
    """

    def __init__(
        self,
        venue_time: Callable[[], float],
        speed: float = 1.0,
        wall: Clock | None = None,
        max_probes: int = 200,
    ) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be > 0, got {speed}")
        self._speed = speed
        self._wall = wall or SystemClock()
        self._anchor_venue, self._anchor_wall = self._anchor(venue_time, max_probes)

    def _anchor(
        self, venue_time: Callable[[], float], max_probes: int
    ) -> tuple[float, float]:
        first = venue_time()
        for _ in range(max_probes):
            before = self._wall.now()
            current = venue_time()
            if current != first:
                return float(current), (before + self._wall.now()) / 2
        return float(first), self._wall.now()  # the venue clock does not move (manual)

    @property
    def speed(self) -> float:
        """Venue seconds per real second."""
        return self._speed

    def now(self) -> float:
        """The venue's time, estimated locally."""
        return self._anchor_venue + (self._wall.now() - self._anchor_wall) * self._speed

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of venue time."""
        if seconds > 0:
            self._wall.sleep(seconds / self._speed)
