"""The order placer: the only thread that writes to the venue.

Workers hand it :class:`~src.trading.position_manager.jobs.Job` s through a queue; it runs
them one at a time — cancel, then place (``execute_trade``) or redeem — so two threads can
never race each other at the venue, and a slow venue delays orders, never the monitor.
At most one job per key is queued or running: a rule that fires every second while its
order is in flight asks once.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from dataclasses import dataclass

from src.data.db_connection import db_connection
from src.notifications.notifier import Kind, Notification
from src.trading.execution import ExecutionContext, execute_trade
from src.trading.orders.cancel import cancel_orders
from src.trading.position_manager.jobs import Job, RedeemRequest
from src.trading.position_manager.order_sync import sync_orders
from src.trading.position_manager.portfolio import window_by_slug
from src.trading.position_manager.settlement import book_redemption
from src.trading.state import position_lock
from src.trading.venue.port import VenueUnavailableError
from src.utils.logger import log, log_error, log_warning
from src.utils.money import micro_str

LATENCIES_KEPT = 10_000


@dataclass
class PlacerStats:
    """What the placer did (live view, summary, benchmarks)."""

    jobs: int = 0
    orders: int = 0
    cancels: int = 0
    redemptions: int = 0
    failures: int = 0
    expired: int = 0


class OrderPlacer:
    """A queue and the thread that empties it."""

    def __init__(self, context: ExecutionContext) -> None:
        self.context = context
        self.stats = PlacerStats()
        self.latencies_s: deque[float] = deque(maxlen=LATENCIES_KEPT)
        self.redeem_supported = True
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._pending: set[str] = set()
        self._done_at: dict[str, float] = {}  # key → monotonic time its last job ended
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None

    # -- producers ----------------------------------------------------------------------

    def submit(self, job: Job, planned_at: float | None = None) -> bool:
        """Queue ``job`` unless one with its key is already queued or running — or, given
        ``planned_at`` (``time.monotonic()`` when the caller read the state it planned
        from), finished after that read: the plan may not know that job's order yet."""
        with self._lock:
            if job.key in self._pending:
                return False
            done = self._done_at.get(job.key)
            if planned_at is not None and done is not None and done >= planned_at:
                return False
            self._pending.add(job.key)
        self._queue.put(job)
        return True

    def is_pending(self, key: str) -> bool:
        """True while a job with ``key`` is queued or running."""
        with self._lock:
            return key in self._pending

    def wait_idle(self, timeout: float) -> bool:
        """Block until nothing is queued or running."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._pending, timeout)

    # -- the thread ---------------------------------------------------------------------

    def start(self) -> None:
        """Start the placer thread."""
        self._thread = threading.Thread(target=self._run, name="order-placer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the queued jobs, then stop (idempotent)."""
        if self._thread is None:
            return
        self._queue.put(None)
        self._thread.join(timeout)
        self._thread = None

    def drain(self) -> int:
        """Run every queued job now, in this thread (lockstep runs; the thread must not be
        started); returns how many ran."""
        if self._thread is not None:
            raise RuntimeError("drain() is for a placer without its thread")
        ran = 0
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return ran
            if job is None:
                continue
            try:
                self.run_job(job)
            finally:
                self._finished(job)
            ran += 1

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            try:
                self.run_job(job)
            finally:
                self._finished(job)

    def _finished(self, job: Job) -> None:
        with self._idle:
            self._pending.discard(job.key)
            self._done_at[job.key] = time.monotonic()
            if len(self._done_at) > 10_000:  # keys of long-gone positions
                cutoff = time.monotonic() - 3_600
                self._done_at = {k: v for k, v in self._done_at.items() if v > cutoff}
            self._idle.notify_all()

    def run_job(self, job: Job) -> None:
        """One job, start to end; never raises (a failed job is logged and retried by
        whichever rule asked for it, at its next cycle)."""
        self.stats.jobs += 1
        try:
            self._run_job(job)
        except Exception as exc:
            self.stats.failures += 1
            log_error(f"❌ job {job.key} ({job.reason}) failed: {exc!r}")
            notifier = self.context.notifier
            if notifier is not None:
                notifier.notify(
                    Notification(
                        Kind.ERROR,
                        f"job-error:{job.key}:{int(self.context.clock.now() // 60)}",
                        "Order job failed",
                        f"{job.reason}: {exc.__class__.__name__}: {exc}",
                    )
                )

    def _run_job(self, job: Job) -> None:
        ctx = self.context
        if job.cancel:
            try:
                reply = cancel_orders(ctx.venue, job.cancel, ctx.clock, job.reason)
            except VenueUnavailableError as exc:
                log_warning(f"⚠️ {job.reason}: cancel got no answer ({exc}); retrying later")
                return
            self.stats.cancels += len(reply.cancelled)
            if job.place is not None and job.place.side == "SELL" and reply.not_cancelled:
                # the tokens may still be reserved by an order that is trading right now
                log_warning(f"⚠️ {job.reason}: not every order was cancelled; waiting")
                return
        expired = job.not_after is not None and ctx.clock.now() >= job.not_after
        if job.place is not None and expired:
            # queued behind slower jobs until its window closed: the venue would refuse
            # it ("not yet ready"), and it no longer means anything
            log_warning(f"⏱️ dropped (its window is over): {job.reason}")
            self.stats.expired += 1
            return
        if job.place is not None:
            log(job.reason)
            order_id = execute_trade(job.place, job.is_reversal, context=ctx)
            if job.origin_perf is not None:
                self.latencies_s.append(time.perf_counter() - job.origin_perf)
            if order_id is not None:
                self.stats.orders += 1
                if job.mark_position is not None:
                    self._mark(order_id, *job.mark_position)
        if job.redeem is not None:
            self._redeem(job.redeem)
        if job.sync_orders:
            try:
                sync_orders(ctx.venue, ctx.clock)
            except VenueUnavailableError as exc:
                log_warning(f"⚠️ order sync: the venue did not answer ({exc})")

    def _mark(self, order_id: int, position_id: int, reason: str) -> None:
        """Give the position its exit reason once the order behind it has traded."""
        with position_lock, db_connection() as cur:
            cur.execute(
                "UPDATE positions SET exit_reason = COALESCE(exit_reason, ?) WHERE id = ? "
                "AND EXISTS (SELECT 1 FROM orders WHERE id = ? AND filled_micro > 0)",
                (reason, position_id, order_id),
            )

    def _redeem(self, request: RedeemRequest) -> None:
        from src.trading.venue.clob import RedeemNotSupportedError

        ctx = self.context
        try:
            paid = ctx.venue.redeem(request.condition_id)
        except RedeemNotSupportedError as exc:
            if self.redeem_supported:
                log_warning(f"⚠️ automatic redemption is off: {exc}")
            self.redeem_supported = False
            return
        with db_connection(readonly=True) as cur:
            window = window_by_slug(cur, request.slug)
        if window is None:
            log_warning(f"⚠️ redeemed unknown window {request.slug}")
            return
        book_redemption(window, paid, ctx.clock, f"redeem:{request.condition_id}")
        self.stats.redemptions += 1
        log(f"💰 [{window.symbol}] redeemed {request.slug}: {micro_str(paid)}")
