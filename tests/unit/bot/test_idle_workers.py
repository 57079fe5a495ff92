"""The position monitor and the settler do little when there is nothing to do, and all of
it when there is.

Most cycles find no position to watch, no order working and no window to settle: the
monitor then reads the open positions and the working orders and nothing else, and the
settler reads what its chores need once, without queueing an order sync that has nothing
to look up. With work, they do what they always did.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest

from src.bot.market_board import MarketBoard
from src.bot.position_monitor import PositionMonitor
from src.bot.settler import Settler
from src.data.db_connection import db_connection
from src.data.market_data.polymarket import BookLevel, OrderBook
from src.notifications.notifier import Notification
from src.trading.ledger.accounting import Side
from src.trading.position_manager.jobs import Job
from src.trading.position_manager.rules import PositionRules
from src.utils.clock import SimClock
from tests.unit.position_manager.support import (
    M,
    add_window,
    migrated_db,
    place,
    token,
    trade,
)

T0 = 1_767_225_600
HELD = token("BTC", T0, "UP")


class Venue:
    """Books on request, counted."""

    def __init__(self) -> None:
        self.book_reads = 0

    def books(self, token_ids: Sequence[str]) -> dict[str, OrderBook]:
        self.book_reads += 1
        return {
            t: OrderBook(
                t,
                (BookLevel(Decimal("0.60"), Decimal(100)),),
                (BookLevel(Decimal("0.62"), Decimal(100)),),
                timestamp_ms=(T0 + 300) * 1000,
                tick_size=Decimal("0.01"),
            )
            for t in token_ids
        }


class Placer:
    """Takes every job (the real one would queue it)."""

    redeem_supported = True

    def __init__(self) -> None:
        self.jobs: list[Job] = []

    def submit(self, job: Job, planned_at: float | None = None) -> bool:
        self.jobs.append(job)
        return True


class Gamma:
    """Every market has resolved Up."""

    def market_by_slug(self, slug: str) -> SimpleNamespace:
        return SimpleNamespace(outcome="UP")


class Notifier:
    def __init__(self) -> None:
        self.sent: list[Notification] = []

    def notify(self, notification: Notification) -> None:
        self.sent.append(notification)


@pytest.fixture
def ledger(tmp_path: Path) -> int:
    """A migrated ledger with one BTC window; its id."""
    migrated_db(tmp_path)
    return add_window("BTC", T0)


@pytest.fixture
def reads() -> Iterator[list[str]]:
    """The SELECT statements this thread's connection runs during the test."""
    seen: list[str] = []
    with db_connection() as cur:
        conn: sqlite3.Connection = cur.connection

    def trace(sql: str) -> None:
        if sql.lstrip().upper().startswith("SELECT"):
            seen.append(sql)

    conn.set_trace_callback(trace)
    yield seen
    conn.set_trace_callback(None)


def monitor(clock: SimClock, venue: Venue, placer: Placer) -> PositionMonitor:
    return PositionMonitor(
        venue,  # type: ignore[arg-type]
        placer,  # type: ignore[arg-type]
        MarketBoard(("BTC",)),
        PositionRules(),
        clock,
        100 * M,
    )


def settler(clock: SimClock, placer: Placer, notifier: Notifier | None = None) -> Settler:
    return Settler(
        None,  # type: ignore[arg-type]
        Gamma(),  # type: ignore[arg-type]
        placer,  # type: ignore[arg-type]
        clock,
        notifier,  # type: ignore[arg-type]
    )


# --- the position monitor ----------------------------------------------------------------


def test_an_idle_monitor_reads_positions_and_orders_only(ledger, reads) -> None:
    venue, placer = Venue(), Placer()
    m = monitor(SimClock(start=T0 + 300), venue, placer)
    reads.clear()
    m.step()
    assert len(reads) == 2 and "FROM positions" in reads[0] and "FROM orders" in reads[1]
    assert placer.jobs == [] and venue.book_reads == 0 and m.books == {}
    assert (m.stats.cycles, m.stats.positions) == (1, 0)


def test_a_held_position_is_planned_then_forgotten(ledger, reads) -> None:
    trade(HELD, Side.BUY, 600_000, 10 * M, window_id=ledger)
    with db_connection() as cur:  # the shares are at the venue: the monitor may sell
        cur.execute("UPDATE fills SET status = 'CONFIRMED'")
    venue, placer = Venue(), Placer()
    clock = SimClock(start=T0 + 300)
    m = monitor(clock, venue, placer)
    reads.clear()
    m.step()
    assert len(reads) == 5  # positions, orders, and the three marks of a live position
    assert venue.book_reads == 1 and set(m.books) == {HELD}
    assert [j.key for j in placer.jobs] == [f"exit:{HELD}"]
    with db_connection() as cur:  # sold elsewhere
        cur.execute("UPDATE positions SET status = 'closed'")
    clock.advance(1.0)
    m.step()
    assert m.books == {} and venue.book_reads == 1 and m.stats.positions == 0


def test_a_stale_resting_entry_is_cancelled_without_any_position(ledger) -> None:
    place(HELD, window_id=ledger, status="live", at_ms=T0 * 1000)
    venue, placer = Venue(), Placer()
    m = monitor(SimClock(start=T0 + 960), venue, placer)  # its window is over
    m.step()
    assert [j.key.split(":")[0] for j in placer.jobs] == ["cancel"]
    assert venue.book_reads == 0


# --- the settler -------------------------------------------------------------------------


def test_an_idle_settler_reads_once_and_queues_nothing(ledger, reads) -> None:
    placer = Placer()
    s = settler(SimClock(start=T0 + 300), placer)
    reads.clear()
    s.step()
    assert placer.jobs == []
    assert len(reads) == 4  # to resolve, to redeem, any order working, sold positions


def test_a_working_order_is_synced(ledger) -> None:
    place(HELD, window_id=ledger, status="live")
    placer = Placer()
    settler(SimClock(start=T0 + 300), placer).step()
    assert [j.key for j in placer.jobs] == ["sync-orders"]
    assert placer.jobs[0].sync_orders


def test_a_settled_window_is_redeemed_in_the_same_step(ledger) -> None:
    trade(HELD, Side.BUY, 600_000, 10 * M, window_id=ledger)
    placer, notifier = Placer(), Notifier()
    s = settler(SimClock(start=T0 + 960), placer, notifier)
    s.step()
    assert s.settled == 1
    assert [j.key for j in placer.jobs] == [f"redeem:{ledger}"]  # read after settling
    assert [n.key for n in notifier.sent] == [f"settle:btc-updown-15m-{T0}:UP"]


def test_each_sale_is_notified_once(ledger) -> None:
    trade(HELD, Side.BUY, 600_000, 10 * M, window_id=ledger, at_ms=(T0 + 10) * 1000)
    trade(HELD, Side.SELL, 700_000, 10 * M, window_id=ledger, at_ms=(T0 + 20) * 1000)
    placer, notifier = Placer(), Notifier()
    clock = SimClock(start=T0)
    s = settler(clock, placer, notifier)
    clock.advance(300)
    s.step()
    s.step()
    assert [n.title for n in notifier.sent] == ["BTC UP exit"]
    assert placer.jobs == []
