"""The engine of ``polyflup run``: reconcile, start the workers, watch the stop
conditions, stop cleanly, and say what happened.

Threads (DESIGN §4): the market poller, the signal generator, the order placer (the only
venue writer), the position monitor, the settler and a heartbeat logger — plus the venue
streams (user websocket, watchdog, heartbeats) and the notifier. Each has its own database
connection (``db_connection`` is per thread) and its own pace on the Clock.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass

from src.bot.live_view import LiveView, status_line
from src.bot.market_board import MarketBoard
from src.bot.market_poller import MarketPoller
from src.bot.order_placer import OrderPlacer
from src.bot.position_monitor import PositionMonitor
from src.bot.reporting import RunInfo, build_status, build_summary
from src.bot.settler import Settler
from src.bot.signal_generator import SignalGenerator
from src.bot.status import BotStatus, RunSummary
from src.bot.wiring import Adapters
from src.bot.worker import ClockedWorker
from src.data.db_connection import db_connection
from src.data.ledger_store import cash_balance, record_cash
from src.data.market_data.polymarket import MarketDirectory
from src.data.market_data.windows import WINDOW_SECONDS, window_start
from src.notifications.notifier import Kind, Notification, Notifier
from src.trading.execution import DEFAULT_TICK_MICRO, ExecutionContext, install_context
from src.trading.logic import DecisionAudit
from src.trading.params import params_from_settings
from src.trading.position_manager.order_sync import sync_orders
from src.trading.position_manager.portfolio import windows_to_redeem, windows_to_resolve
from src.trading.position_manager.reconcile_runner import (
    ReconcileError,
    gamma_token_info,
    reconcile,
)
from src.trading.position_manager.rules import PositionRules
from src.trading.venue.port import VenueUnavailableError
from src.utils.logger import log, log_error, log_warning
from src.utils.money import micro_str, to_micro

SETTLER_INTERVAL_S = 5.0
HEARTBEAT_LOG_S = 60.0
SETTLE_GRACE_S = 300.0  # after the last window, wait this long for its resolution
MAIN_LOOP_WAIT_S = 0.1


class StartupError(RuntimeError):
    """The bot must not trade (the ledger could not be proven equal to the venue)."""


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How long to run and how to show it."""

    windows: int | None = None
    duration_s: float | None = None
    live_view: bool = False
    lockstep: bool = False  # driven step by step (backtests): discovery inline, no threads
    decision_audit: DecisionAudit = DecisionAudit.FULL  # LEAN: backtests' stored decisions


class Bot:
    """One run of the bot over the given adapters."""

    def __init__(
        self,
        adapters: Adapters,
        options: RunOptions,
        notifier: Notifier | None = None,
        console: object | None = None,
    ) -> None:
        self.adapters = adapters
        self.options = options
        self.notifier = notifier
        self.console = console
        settings = adapters.settings
        self.settings = settings
        self.clock = adapters.clock
        self.mode = str(adapters.mode)
        self._stop = threading.Event()
        self.stop_reason = "signal"
        self.board = MarketBoard(tuple(settings.markets))
        self.directory = MarketDirectory(
            adapters.gamma.market_by_slug, self.clock, synchronous=options.lockstep
        )
        self.context = ExecutionContext(
            adapters.venue,
            self.clock,
            self.mode,
            tick_micro=self._tick_of,
            notifier=notifier,
            recent=adapters.recent,
        )
        install_context(self.context)
        self.placer = OrderPlacer(self.context)
        self.signals = SignalGenerator(
            self.board,
            params_from_settings(settings),
            self.clock,
            self.mode,
            self.placer.submit,
            options.decision_audit,
        )
        self.poller = MarketPoller(
            self.board,
            self.directory,
            adapters.venue,
            adapters.binance,
            self.clock,
            reference=adapters.reference,
        )
        self.monitor = PositionMonitor(
            adapters.venue,
            self.placer,
            self.board,
            PositionRules.from_settings(settings),
            self.clock,
            to_micro(settings.max_window_exposure_usd),
        )
        self.settler = Settler(
            adapters.venue, adapters.gamma, self.placer, self.clock, notifier
        )
        self.signal_worker = ClockedWorker(
            "signal-generator", self.signals.step, self.clock, settings.poll_interval_sec
        )
        self.poller.on_update = self.signal_worker.wake
        self.workers = [
            ClockedWorker(
                "market-poller", self.poller.step, self.clock, settings.poll_interval_sec
            ),
            self.signal_worker,
            ClockedWorker(
                "position-monitor",
                self.monitor.step,
                self.clock,
                settings.monitor_interval_sec,
            ),
            ClockedWorker("settler", self.settler.step, self.clock, SETTLER_INTERVAL_S),
            ClockedWorker("heartbeat-log", self._heartbeat, self.clock, HEARTBEAT_LOG_S),
        ]
        for worker in self.workers:
            worker.on_error = self._notify_error
        now = self.clock.now()
        self.run_info = RunInfo(
            mode=self.mode,
            profile=settings.profile,
            started_at=now,
            speed=adapters.speed,
            windows_target=options.windows,
            stop_at=None if options.duration_s is None else now + options.duration_s,
        )
        self._first_window = window_start(now)
        self._since_ms = int(now * 1000)
        self.cash_start = 0

    # -- pieces -----------------------------------------------------------------------

    def _tick_of(self, token_id: str) -> int:
        book = self.monitor.books.get(token_id)
        if book is None:
            for coin in self.board.coins:
                feed = self.board.feed(coin)
                if feed and feed.book is not None and feed.book.token_id == token_id:
                    book = feed.book
        if book is None or book.tick_size is None:
            return DEFAULT_TICK_MICRO
        return to_micro(book.tick_size)

    def windows_done(self) -> int:
        """15-minute boundaries crossed since the start."""
        return int((window_start(self.clock.now()) - self._first_window) // WINDOW_SECONDS)

    def status(self) -> BotStatus:
        """The live view's snapshot."""
        health = [
            (w.name, "ok" if not w.stats.last_error else w.stats.last_error[:60])
            for w in self.workers
        ]
        counters = (
            ("decisions", self.signals.decisions),
            ("entries", self.signals.trades),
            ("orders", self.placer.stats.orders),
            ("cancels", self.placer.stats.cancels),
            ("settled", self.settler.settled),
            ("monitor cycles", self.monitor.stats.cycles),
        )
        return build_status(
            self.run_info,
            self.clock.now(),
            self.windows_done(),
            self.board,
            self.monitor.books,
            tuple(health),
            counters,
        )

    def _notify_error(self, worker: str, exc: Exception) -> None:
        if self.notifier is None:
            return
        minute = int(self.clock.now() // 60)  # one message per worker, error and minute
        self.notifier.notify(
            Notification(
                Kind.ERROR,
                f"worker:{worker}:{exc.__class__.__name__}:{minute}",
                f"{worker} error",
                f"{exc.__class__.__name__}: {exc}",
            )
        )

    def _heartbeat(self) -> None:
        log(status_line(self.status()))

    # -- lifecycle --------------------------------------------------------------------

    def prepare(self) -> list[str]:
        """Book the opening balance of a new ledger, then reconcile; raises
        :class:`StartupError` when the ledger cannot be proven (nothing is traded)."""
        venue = self.adapters.venue
        now_ms = int(self.clock.now() * 1000)
        with db_connection() as cur:
            empty = cur.execute("SELECT COUNT(*) FROM cash_ledger").fetchone()[0] == 0
        if empty:
            try:
                opening = venue.collateral_micro()
            except VenueUnavailableError as exc:
                raise StartupError(
                    f"the venue did not answer ({exc}); check it with `polyflup doctor`, "
                    "then `polyflup reconcile --dry-run`"
                ) from exc
            with db_connection() as cur:
                record_cash(cur, "deposit", opening, now_ms, "opening balance")
            log(f"💰 opening balance {micro_str(opening)} booked")
        try:
            done = reconcile(
                venue, self.clock, self.mode, gamma_token_info(self.adapters.gamma)
            )
        except ReconcileError as exc:
            raise StartupError(
                f"refusing to trade: {exc}. Run `polyflup reconcile --dry-run` to see why."
            ) from exc
        for line in done:
            log(f"🔁 startup reconcile: {line}")
        with db_connection(readonly=True) as cur:
            self.cash_start = cash_balance(cur)
        return done

    def request_stop(self, reason: str = "signal") -> None:
        """Ask the main loop to stop (signal handlers, tests)."""
        self.stop_reason = reason
        self._stop.set()

    def _finished(self) -> str | None:
        now = self.clock.now()
        stop_at = self.run_info.stop_at
        if stop_at is not None and now >= stop_at:
            return "duration"
        target = self.options.windows
        if target is None or self.windows_done() < target:
            return None
        # the last window is over: settle what is held, open nothing new
        self.signals.entries_open = False
        deadline = self._first_window + target * WINDOW_SECONDS + SETTLE_GRACE_S
        if now >= deadline:
            return "windows"
        now_ms = int(now * 1000)
        with db_connection(readonly=True) as cur:
            waiting = windows_to_resolve(cur, now_ms)
            unredeemed = windows_to_redeem(cur) if self.placer.redeem_supported else []
        return None if waiting or unredeemed else "windows"

    def run(self) -> RunSummary:
        """Trade until a stop condition; returns the summary."""
        for stream in self.adapters.streams:
            stream.start()  # type: ignore[attr-defined]
        self.placer.start()
        for worker in self.workers:
            worker.start()
        log(
            f"🚀 trading: mode={self.mode} profile={self.settings.profile} "
            f"markets={','.join(self.settings.markets)}"
        )
        try:
            self._loop()
        except KeyboardInterrupt:
            self.stop_reason = "signal"
        finally:
            self.shutdown()
        return self._summary()

    def run_stepped(self, step: Callable[[], object]) -> RunSummary:
        """Trade in lockstep (``RunOptions(lockstep=True)``): call ``step`` — one move of
        the world and one turn of every worker — until a stop condition; no threads."""
        log(
            f"🚀 trading in lockstep: mode={self.mode} profile={self.settings.profile} "
            f"markets={','.join(self.settings.markets)}"
        )
        try:
            while not self._stop.is_set():
                reason = self._finished()
                if reason is not None:
                    self.stop_reason = reason
                    break
                step()
        except KeyboardInterrupt:
            self.stop_reason = "signal"
        finally:
            self.shutdown()
        return self._summary()

    def _summary(self) -> RunSummary:
        return build_summary(
            self.run_info,
            self.clock.now(),
            self.stop_reason,
            self.windows_done(),
            self.cash_start,
            self._since_ms,
        )

    def _loop(self) -> None:
        view = None
        if self.options.live_view and self.console is not None:
            view = LiveView(self.status, self.console)  # type: ignore[arg-type]
        if view is not None:
            with view:
                self._wait()
        else:
            self._wait()

    def _wait(self) -> None:
        while not self._stop.wait(MAIN_LOOP_WAIT_S):
            reason = self._finished()
            if reason is not None:
                self.stop_reason = reason
                return

    def shutdown(self) -> None:
        """Stop the workers, drain the placer, apply the open-orders policy, stop the
        streams (idempotent enough to call from any failure path)."""
        log(f"🧹 stopping ({self.stop_reason})")
        for worker in self.workers:
            worker.stop()
        self.placer.stop()
        if self.settings.open_orders_on_exit == "cancel":
            self._cancel_open_orders()
        watchdog = self.adapters.watchdog
        if watchdog is not None:
            watchdog.resync()  # book the last fills before the streams go
        try:
            sync_orders(self.adapters.venue, self.clock)
        except VenueUnavailableError as exc:
            log_warning(f"⚠️ final order sync failed: {exc}")
        self.directory.close()
        if self.notifier is not None:
            self.notifier.notify(
                Notification(
                    Kind.INFO,
                    f"stop:{self._since_ms}",
                    "PolyFlup stopped",
                    f"{self.mode} run stopped ({self.stop_reason})",
                )
            )

    def _cancel_open_orders(self) -> None:
        from src.trading.orders.cancel import cancel_orders
        from src.trading.position_manager.portfolio import working_orders

        with db_connection(readonly=True) as cur:
            ids = [o.venue_order_id for o in working_orders(cur) if o.venue_order_id]
        if not ids:
            return
        try:
            reply = cancel_orders(self.adapters.venue, ids, self.clock, "shutdown")
            log(f"🧹 cancelled {len(reply.cancelled)} open order(s) on exit")
        except VenueUnavailableError as exc:
            log_error(f"❌ could not cancel open orders on exit: {exc}", False)


def install_signal_handlers(bot: Bot) -> Callable[[], None]:
    """SIGTERM (and SIGINT) ask the bot to stop; returns a function restoring the old
    handlers. Only the main thread may install them."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {
        sig: signal.signal(sig, lambda *_: bot.request_stop("signal"))
        for sig in (signal.SIGTERM, signal.SIGINT)
    }

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore
