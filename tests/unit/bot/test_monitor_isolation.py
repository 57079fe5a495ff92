"""Slow work in one thread never stalls the monitor: while the order placer is stuck on
the venue, monitor cycles go on (they only read, then hand jobs to the placer's queue)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from src.bot.market_board import MarketBoard
from src.bot.order_placer import OrderPlacer
from src.bot.position_monitor import PositionMonitor
from src.data.db_connection import db_connection
from src.data.market_data.polymarket import BookLevel, OrderBook
from src.trading.execution import ExecutionContext
from src.trading.ledger.accounting import Side
from src.trading.position_manager.jobs import Job
from src.trading.position_manager.rules import PositionRules
from src.trading.venue.port import CancelReply
from src.utils.clock import SimClock
from tests.unit.position_manager.support import M, add_window, migrated_db, token, trade

T0 = 1_767_225_600
WAIT_S = 10.0


class StuckVenue:
    """A venue whose cancel hangs until released; books answer at once."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.book_reads = 0

    def cancel(self, venue_order_ids: Sequence[str]) -> CancelReply:
        self.entered.set()
        self.release.wait(WAIT_S)
        return CancelReply(tuple(venue_order_ids))

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


def test_monitor_cycles_go_on_while_the_placer_is_stuck(tmp_path: Path) -> None:
    migrated_db(tmp_path)
    window_id = add_window("BTC", T0)
    held = token("BTC", T0, "UP")
    trade(held, Side.BUY, 600_000, 10 * M, window_id=window_id)
    with db_connection() as cur:  # the shares are at the venue: the monitor may sell
        cur.execute("UPDATE fills SET status = 'CONFIRMED'")
    clock = SimClock(start=T0 + 300)
    venue = StuckVenue()
    placer = OrderPlacer(ExecutionContext(venue, clock, "sim"))  # type: ignore[arg-type]
    placer.start()
    try:
        assert placer.submit(Job("stuck", "a cancel the venue never answers", ("0xa",)))
        assert venue.entered.wait(WAIT_S)  # the placer is now blocked inside the venue
        monitor = PositionMonitor(
            venue,  # type: ignore[arg-type]
            placer,
            MarketBoard(("BTC",)),
            PositionRules(),
            clock,
            100 * M,
        )
        for _ in range(3):
            monitor.step()
            clock.advance(1.0)
        assert monitor.stats.cycles == 3 and venue.book_reads == 3
        assert placer.is_pending("stuck")
        assert placer.is_pending(f"exit:{held}")  # queued behind, not lost
    finally:
        venue.release.set()
        placer.stop(WAIT_S)
