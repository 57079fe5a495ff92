"""A worker thread paced by the Clock port: ``step()`` every ``interval_s`` of Clock time.

Real waiting is derived from the clock's speed, so an accelerated run steps as often (in
simulated time) as a real one, and ``stop()`` never waits for a sleeping step: the thread
waits on an event, not in ``time.sleep``. A failing step is logged and the loop goes on —
one bad payload must never kill the monitor.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from src.utils.clock import Clock
from src.utils.logger import log_error
from src.utils.threads import LoopThread

MAX_REAL_WAIT_S = 0.25  # bounds how late a wake-up or a clock jump is noticed
MIN_REAL_WAIT_S = 0.001


@dataclass
class WorkerStats:
    """How a worker is doing (read by the live view and the benchmarks)."""

    steps: int = 0
    errors: int = 0
    last_step_at: float | None = None  # Clock time
    last_duration_s: float = 0.0  # real seconds
    max_duration_s: float = 0.0
    last_error: str = ""


class ClockedWorker(LoopThread):
    """Runs ``step`` on its own daemon thread every ``interval_s`` Clock seconds."""

    def __init__(
        self,
        name: str,
        step: Callable[[], None],
        clock: Clock,
        interval_s: float,
        on_error: Callable[[str, Exception], None] | None = None,
    ) -> None:
        if interval_s <= 0:
            raise ValueError(f"{name}: interval_s must be > 0")
        super().__init__(name)
        self.clock = clock
        self.interval_s = interval_s
        self.stats = WorkerStats()
        self.on_error = on_error  # e.g. a notification; must not raise
        self._step = step
        self._stepped = threading.Condition()

    def wait_steps(self, count: int, timeout: float) -> bool:
        """Block until ``count`` steps have run in total (tests and benchmarks)."""
        with self._stepped:
            return self._stepped.wait_for(lambda: self.stats.steps >= count, timeout)

    def run_once(self) -> None:
        """One step with its bookkeeping (the thread's body; callable directly in tests)."""
        started = time.perf_counter()
        try:
            self._step()
        except Exception as exc:  # keep going: the next step may well succeed
            self.stats.errors += 1
            self.stats.last_error = f"{exc.__class__.__name__}: {exc}"
            log_error(f"❌ {self.name} step failed: {exc!r}")
            if self.on_error is not None:
                try:
                    self.on_error(self.name, exc)
                except Exception as report_exc:  # reporting must not stop the worker
                    log_error(f"❌ {self.name}: reporting the error failed: {report_exc!r}")
        duration = time.perf_counter() - started
        with self._stepped:
            stats = self.stats
            stats.steps += 1
            stats.last_step_at = self.clock.now()
            stats.last_duration_s = duration
            stats.max_duration_s = max(stats.max_duration_s, duration)
            self._stepped.notify_all()

    def _real_wait(self, clock_seconds: float) -> float:
        speed = getattr(self.clock, "speed", 1.0) or 1.0  # a manual clock: poll
        return min(MAX_REAL_WAIT_S, max(MIN_REAL_WAIT_S, clock_seconds / speed))

    def _run(self) -> None:
        next_due = self.clock.now()
        while not self._stop.is_set():
            now = self.clock.now()
            if now >= next_due or self._wake.is_set():
                self._wake.clear()
                self.run_once()
                next_due += self.interval_s
                if next_due <= now:  # missed slots (a pause, a clock jump): skip them
                    next_due = now + self.interval_s
                continue
            self._wake.wait(self._real_wait(next_due - now))
