"""What the running bot shows: typed snapshots for the live view, the heartbeat line and
the summary printed when a run stops. Built by the engine, rendered by ``live_view``."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class CoinStatus:
    """One coin's current window and its latest decision."""

    coin: str
    window_slug: str
    time_left_s: float
    up_bid: Decimal | None = None
    up_ask: Decimal | None = None
    spot: float | None = None
    strike: float | None = None
    fair_value: float | None = None  # P(Up)
    confidence_additive: float | None = None
    confidence_bayesian: float | None = None
    action: str = "—"  # UP / DOWN / PASS, or — before the first decision
    reason: str = ""
    expected_value: float | None = None
    decided_at: float | None = None


@dataclass(frozen=True, slots=True)
class OrderRow:
    """One open order of the ledger."""

    symbol: str
    outcome: str
    intent: str  # entry, exit_plan, scale_in, stop_loss, reversal
    side: str  # BUY / SELL
    price_micro: int
    size_micro: int
    matched_micro: int
    status: str
    age_s: float


@dataclass(frozen=True, slots=True)
class PositionRow:
    """One open position, marked at the token's midpoint when known."""

    symbol: str
    outcome: str
    size_micro: int
    cost_micro: int
    fees_micro: int
    mark_micro: int | None  # mid of the token's book
    time_left_s: float

    @property
    def unrealized_micro(self) -> int | None:
        """Marked value minus cost (fees included in cost), None without a mark."""
        if self.mark_micro is None:
            return None
        return self.size_micro * self.mark_micro // 1_000_000 - self.cost_micro


@dataclass(frozen=True, slots=True)
class EventRow:
    """One recent audit event."""

    at: float
    kind: str
    message: str
    symbol: str | None = None


@dataclass(frozen=True, slots=True)
class BotStatus:
    """Everything the live view shows at one instant."""

    mode: str
    profile: str
    now: float
    started_at: float
    speed: float | None
    windows_done: int
    windows_target: int | None
    stop_at: float | None  # --duration: the clock time the run stops at
    cash_micro: int
    realized_pnl_micro: int
    fees_micro: int
    coins: tuple[CoinStatus, ...] = ()
    orders: tuple[OrderRow, ...] = ()
    positions: tuple[PositionRow, ...] = ()
    events: tuple[EventRow, ...] = ()
    health: tuple[tuple[str, str], ...] = ()  # (component, "ok" or what is wrong)
    counters: tuple[tuple[str, int], ...] = ()  # decisions, orders, fills, ...


@dataclass(frozen=True, slots=True)
class ExitReasonLine:
    """Closed positions of one exit reason."""

    reason: str  # exit_plan, stop_loss, reversal, settlement_win, settlement_loss, ...
    positions: int
    pnl_micro: int


@dataclass(frozen=True, slots=True)
class RunSummary:
    """What a run did, printed when it stops."""

    mode: str
    profile: str
    started_at: float
    stopped_at: float
    stop_reason: str  # "windows", "duration", "signal", "error"
    windows_done: int
    decisions: int
    trades_decided: int
    orders_placed: int
    orders_rejected: int
    fills: int
    cash_start_micro: int
    cash_end_micro: int
    realized_pnl_micro: int
    fees_micro: int
    open_positions: int
    open_orders: int
    by_exit_reason: tuple[ExitReasonLine, ...] = ()
    by_symbol: tuple[tuple[str, int, int], ...] = field(default=())  # symbol, n, pnl
