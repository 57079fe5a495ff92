"""The position monitor: every second (``MONITOR_INTERVAL_SEC``), the plan of every open
position, from the ledger, **one** batched book request and the latest decisions.

Reads only: its jobs go to the order placer, so a slow venue never makes the monitor late,
and no write transaction is ever open while it waits on the network.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from src.bot.market_board import MarketBoard
from src.bot.order_placer import OrderPlacer
from src.data.db_connection import db_connection
from src.data.market_data.polymarket import OrderBook
from src.trading.position_manager.jobs import Job
from src.trading.position_manager.monitor import MonitorInputs, plan_monitor
from src.trading.position_manager.portfolio import (
    OpenPosition,
    WorkingOrder,
    open_positions,
    working_orders,
)
from src.trading.position_manager.rules import PositionRules
from src.trading.venue.port import Venue, VenueUnavailableError
from src.utils.clock import Clock
from src.utils.logger import log_warning

RESUBMIT_AFTER_S = 3.0  # Clock seconds before the same rule may ask again


@dataclass
class MonitorStats:
    """The last cycle (live view and benchmarks)."""

    cycles: int = 0
    positions: int = 0
    jobs: int = 0
    book_requests: int = 0
    last_cycle_s: float = 0.0


class PositionMonitor:
    """One ``step()`` is one monitor cycle."""

    def __init__(
        self,
        venue: Venue,
        placer: OrderPlacer,
        board: MarketBoard,
        rules: PositionRules,
        clock: Clock,
        window_cap_micro: int,
    ) -> None:
        self.venue = venue
        self.placer = placer
        self.board = board
        self.rules = rules
        self.clock = clock
        self.window_cap_micro = window_cap_micro
        self.stats = MonitorStats()
        self._asked: dict[str, float] = {}
        self.books: dict[str, OrderBook] = {}

    def step(self) -> None:
        """Read, plan, hand the jobs to the placer."""
        started = time.perf_counter()
        planned_at = time.monotonic()  # jobs finished after this read are not in it
        now = self.clock.now()
        with db_connection(readonly=True) as cur:
            positions = open_positions(cur)
            orders = working_orders(cur)
            live = [p for p in positions if p.window and p.window.end_ms > now * 1000]
            # Only a live position's plan reads the marks, and only a resting order's
            # the window ends: most cycles have neither and read nothing more.
            marks = _position_marks(cur) if live else _NO_MARKS
            resting = any(o.status in _RESTING for o in orders)
            window_ends = _resting_window_ends(cur) if resting else {}
        if live or orders:
            jobs = self._plan(now, live, orders, marks, window_ends)
        else:
            self.books, jobs = {}, []  # nothing to plan for
        submitted = 0
        for job in jobs:
            last = self._asked.get(job.key)
            if last is not None and now - last < RESUBMIT_AFTER_S:
                continue
            if self.placer.submit(job, planned_at):
                self._asked[job.key] = now
                submitted += 1
        if len(self._asked) > 10_000:
            self._asked = {k: v for k, v in self._asked.items() if now - v < 60}
        stats = self.stats
        stats.cycles += 1
        stats.positions = len(live)
        stats.jobs += submitted
        stats.last_cycle_s = time.perf_counter() - started

    def _plan(
        self,
        now: float,
        live: list[OpenPosition],
        orders: list[WorkingOrder],
        marks: _Marks,
        window_ends: dict[int, int],
    ) -> list[Job]:
        """The cycle's jobs, with the books of the live positions (one request)."""
        tokens = sorted({p.token_id for p in live})
        books: dict[str, OrderBook] = {}
        if tokens:
            try:
                books = self.venue.books(tokens)  # one request for every position
                self.stats.book_requests += 1
            except VenueUnavailableError as exc:
                log_warning(f"⚠️ monitor: books unavailable ({exc}); stop-loss waits")
        self.books = books
        scaled, reversed_windows, unconfirmed = marks
        inputs = MonitorInputs(
            now=now,
            positions=live,
            orders=orders,
            books=books,
            signals=self.board.signals(),
            rules=self.rules,
            window_cap_micro=self.window_cap_micro,
            scaled_in_tokens=scaled,
            reversed_windows=reversed_windows,
            unconfirmed_tokens=unconfirmed,
        )
        return plan_monitor(inputs, window_ends)


# Tokens that already scaled in, windows that already reversed, tokens with unconfirmed
# fills: what the plan of a live position needs besides the position.
_Marks = tuple[frozenset[str], frozenset[int], frozenset[str]]
_NO_MARKS: _Marks = (frozenset(), frozenset(), frozenset())
# Statuses of an order resting at the venue (the stale-entry rule's, and its query's).
_RESTING = ("live", "partially_filled")


def _position_marks(cur: sqlite3.Cursor) -> _Marks:
    """The marks of :data:`_Marks`, from the ledger."""
    scaled = {
        r[0]
        for r in cur.execute(
            "SELECT DISTINCT token_id FROM orders WHERE intent = 'scale_in' "
            "AND (filled_micro > 0 OR status IN ('intent', 'posting', 'ambiguous', "
            "'live', 'partially_filled'))"
        )
    }
    reversed_windows = {
        r[0]
        for r in cur.execute(
            "SELECT DISTINCT window_id FROM orders WHERE intent = 'reversal' "
            "AND status != 'rejected' AND window_id IS NOT NULL"
        )
    }
    unconfirmed = {
        r[0]
        for r in cur.execute(
            "SELECT DISTINCT token_id FROM fills "
            "WHERE status IN ('MATCHED', 'MINED', 'RETRYING')"
        )
    }
    return frozenset(scaled), frozenset(reversed_windows), frozenset(unconfirmed)


def _resting_window_ends(cur: sqlite3.Cursor) -> dict[int, int]:
    """Window id → end (ms) of every window with an order resting at the venue."""
    return {
        r[0]: r[1]
        for r in cur.execute(
            "SELECT id, end_ms FROM windows WHERE id IN (SELECT window_id FROM "
            "orders WHERE status IN ('live', 'partially_filled'))"
        )
    }
