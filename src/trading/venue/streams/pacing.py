"""Small threading helpers the stream workers share: a wake-able signal and a loop that
decides on the Clock port while pacing itself on real time.

Why real-time pacing: ``SimClock.sleep`` on a manual clock *advances* it, so a worker
that slept through the Clock would move the emulator's time by itself. The workers
therefore wait on an :class:`threading.Event` for a short real interval and take every
decision ("is a heartbeat due?") from ``clock.now()``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from src.utils.logger import log_error
from src.utils.threads import LoopThread


class Signal:
    """A counter plus a condition: workers ``notify`` after each unit of work, tests and
    callers ``wait_for`` a predicate with a timeout (no sleeping)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._count = 0

    def notify(self) -> None:
        """Something changed: wake every waiter."""
        with self._cond:
            self._count += 1
            self._cond.notify_all()

    @property
    def count(self) -> int:
        """How many times :meth:`notify` was called."""
        with self._cond:
            return self._count

    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait until ``predicate()`` holds (re-checked on every notify); False on timeout."""
        with self._cond:
            return self._cond.wait_for(predicate, timeout)


class PacedWorker(LoopThread):
    """A daemon thread calling ``step()`` every ``poll_s`` real seconds until stopped;
    :meth:`wake` runs the next step at once. ``step`` decides by the Clock itself."""

    def __init__(self, name: str, step: Callable[[], None], poll_s: float) -> None:
        if poll_s <= 0:
            raise ValueError("poll_s must be > 0")
        super().__init__(name)
        self._step = step
        self._poll_s = poll_s

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._step()
            except Exception:  # one failed step must not end the worker
                log_error(f"❌ {self.name}: step failed")
            self._wake.wait(self._poll_s)
            self._wake.clear()
