"""The settler: what happens after trading — resolution, settlement, redemption — plus the
bookkeeping that needs the venue but no hurry: order-status sync, exit and settlement
notifications, and the daily summary.

Runs every few Clock seconds on its own thread, so a slow Gamma never delays the monitor.
"""

from __future__ import annotations

import sqlite3

from src.bot.order_placer import OrderPlacer
from src.data.db_connection import db_connection
from src.data.market_data.polymarket import GammaClient
from src.notifications.notifier import Kind, Notification, Notifier
from src.trading.position_manager.jobs import Job, RedeemRequest
from src.trading.position_manager.portfolio import (
    WindowRow,
    any_working_order,
    windows_to_redeem,
    windows_to_resolve,
)
from src.trading.position_manager.settlement import settle_window
from src.trading.venue.port import Venue
from src.utils.clock import Clock
from src.utils.logger import log, log_warning
from src.utils.money import micro_str

DAY_S = 86_400
# The windows to redeem, whether an order is working, the positions sold since last step.
_Chores = tuple[list[WindowRow], bool, list[sqlite3.Row]]


class Settler:
    """One ``step()``: resolve, settle, redeem, sync orders, notify."""

    def __init__(
        self,
        venue: Venue,
        gamma: GammaClient,
        placer: OrderPlacer,
        clock: Clock,
        notifier: Notifier | None = None,
    ) -> None:
        self.venue = venue
        self.gamma = gamma
        self.placer = placer
        self.clock = clock
        self.notifier = notifier
        self.settled = 0
        self._closed_seen_ms = int(clock.now() * 1000)
        self._day = int(clock.now() // DAY_S)

    def step(self) -> None:
        """Every post-trade chore once: resolve, redeem, sync orders, notify exits, and
        the daily summary.

        The ledger is read once for all of them when nothing settles (most steps):
        settling writes what the later chores read, so then they read it afresh.
        """
        now_ms = int(self.clock.now() * 1000)
        with db_connection(readonly=True) as cur:
            pending = windows_to_resolve(cur, now_ms)
            chores = None if pending else self._chores(cur)
        self._settle(pending)
        if chores is None:
            with db_connection(readonly=True) as cur:
                chores = self._chores(cur)
        redeemable, syncable, closed = chores
        self._redeem(redeemable)
        if syncable:
            self.placer.submit(Job("sync-orders", "order sync", sync_orders=True))
        self._notify_exits(closed)
        self.daily_summary()

    def _chores(self, cur: sqlite3.Cursor) -> _Chores:
        """What the chores after settlement read: the windows to redeem (when the
        venue redeems), whether any order is still working (the order sync has
        nothing to look up otherwise) and the positions sold since the last step."""
        redeemable = windows_to_redeem(cur) if self.placer.redeem_supported else []
        return redeemable, any_working_order(cur), self._closed(cur)

    def _closed(self, cur: sqlite3.Cursor) -> list[sqlite3.Row]:
        """Positions closed by a sale since the last step, in closing order."""
        return cur.execute(
            "SELECT id, symbol, outcome, exit_reason, realized_pnl_micro, closed_ms "
            "FROM positions WHERE status = 'closed' AND closed_ms > ? ORDER BY closed_ms",
            (self._closed_seen_ms,),
        ).fetchall()

    def resolve(self) -> None:
        """Settle every ended window whose market has resolved."""
        now_ms = int(self.clock.now() * 1000)
        with db_connection(readonly=True) as cur:
            pending = windows_to_resolve(cur, now_ms)
        self._settle(pending)

    def _settle(self, pending: list[WindowRow]) -> None:
        """Settle each of the ended windows whose market has resolved."""
        for window in pending:
            try:
                market = self.gamma.market_by_slug(window.slug)
            except Exception as exc:  # Gamma down or answering garbage: next step
                log_warning(f"⚠️ [{window.symbol}] resolution of {window.slug}: {exc}")
                continue
            if market is None or market.outcome is None:
                continue
            lines = settle_window(window, str(market.outcome), self.clock)
            self.settled += len(lines)
            for line in lines:
                log(
                    f"{'💰' if line.won else '💀'} [{line.symbol}] {line.outcome} settled "
                    f"({window.slug} → {market.outcome}): pnl {micro_str(line.pnl_micro)}"
                )
                self._notify(
                    Kind.SETTLEMENT,
                    f"settle:{window.slug}:{line.outcome}",
                    f"{line.symbol} {line.outcome} {'won' if line.won else 'lost'}",
                    f"{window.slug} resolved {market.outcome}; payout "
                    f"{micro_str(line.payout_micro)}, PnL {micro_str(line.pnl_micro)}",
                )

    def redeem(self) -> None:
        """Ask the placer to redeem every settled window's tokens."""
        if not self.placer.redeem_supported:
            return
        with db_connection(readonly=True) as cur:
            windows = windows_to_redeem(cur)
        self._redeem(windows)

    def _redeem(self, windows: list[WindowRow]) -> None:
        """Queue a redemption of each window (those without a market id cannot be)."""
        for window in windows:
            if window.condition_id is None:
                continue
            self.placer.submit(
                Job(
                    key=f"redeem:{window.id}",
                    reason=f"💰 [{window.symbol}] redeem {window.slug}",
                    redeem=RedeemRequest(window.condition_id, window.id, window.slug),
                )
            )

    def notify_exits(self) -> None:
        """One notification per position closed by a sale since the last step."""
        with db_connection(readonly=True) as cur:
            closed = self._closed(cur)
        self._notify_exits(closed)

    def _notify_exits(self, rows: list[sqlite3.Row]) -> None:
        """Log and notify each sold position of ``rows`` (closed_ms order)."""
        for row in rows:
            self._closed_seen_ms = max(self._closed_seen_ms, int(row["closed_ms"]))
            reason = row["exit_reason"] or "exit"
            pnl = micro_str(int(row["realized_pnl_micro"]))
            log(f"✅ [{row['symbol']}] {row['outcome']} closed by {reason}: pnl {pnl}")
            self._notify(
                Kind.STOP_LOSS if reason == "stop_loss" else Kind.EXIT,
                f"exit:{row['id']}",
                f"{row['symbol']} {row['outcome']} {reason.replace('_', ' ')}",
                f"Position closed, realized PnL {pnl}",
            )

    def daily_summary(self) -> None:
        """At each UTC midnight (Clock time), yesterday's numbers."""
        day = int(self.clock.now() // DAY_S)
        if day == self._day:
            return
        start_ms, end_ms = self._day * DAY_S * 1000, day * DAY_S * 1000
        self._day = day
        with db_connection(readonly=True) as cur:
            n, pnl, wins = cur.execute(
                "SELECT COUNT(*), COALESCE(SUM(realized_pnl_micro), 0), "
                "COALESCE(SUM(realized_pnl_micro > 0), 0) FROM positions "
                "WHERE closed_ms >= ? AND closed_ms < ?",
                (start_ms, end_ms),
            ).fetchone()
        self._notify(
            Kind.DAILY_SUMMARY,
            f"daily:{start_ms}",
            "Daily summary",
            f"{n} position(s) closed, {wins} won, realized PnL {micro_str(int(pnl))}",
        )

    def _notify(self, kind: Kind, key: str, title: str, body: str) -> None:
        if self.notifier is not None:
            self.notifier.notify(Notification(kind, key, title, body))
