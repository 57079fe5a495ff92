"""The settler: what happens after trading — resolution, settlement, redemption — plus the
bookkeeping that needs the venue but no hurry: order-status sync, exit and settlement
notifications, and the daily summary.

Runs every few Clock seconds on its own thread, so a slow Gamma never delays the monitor.
"""

from __future__ import annotations

from src.bot.order_placer import OrderPlacer
from src.data.db_connection import db_connection
from src.data.market_data.polymarket import GammaClient
from src.notifications.notifier import Kind, Notification, Notifier
from src.trading.position_manager.jobs import Job, RedeemRequest
from src.trading.position_manager.portfolio import windows_to_redeem, windows_to_resolve
from src.trading.position_manager.settlement import settle_window
from src.trading.venue.port import Venue
from src.utils.clock import Clock
from src.utils.logger import log, log_warning
from src.utils.money import micro_str

DAY_S = 86_400


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
        """Every post-trade chore once."""
        self.resolve()
        self.redeem()
        self.placer.submit(Job("sync-orders", "order sync", sync_orders=True))
        self.notify_exits()
        self.daily_summary()

    def resolve(self) -> None:
        """Settle every ended window whose market has resolved."""
        now_ms = int(self.clock.now() * 1000)
        with db_connection(readonly=True) as cur:
            pending = windows_to_resolve(cur, now_ms)
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
            rows = cur.execute(
                "SELECT id, symbol, outcome, exit_reason, realized_pnl_micro, closed_ms "
                "FROM positions WHERE status = 'closed' AND closed_ms > ? ORDER BY closed_ms",
                (self._closed_seen_ms,),
            ).fetchall()
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
