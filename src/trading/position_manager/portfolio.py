"""The position manager's read model: open positions with their window, working orders,
windows awaiting resolution or redemption, and the account as the risk limits see it.

Plain reads (call them inside ``db_connection(readonly=True)``); amounts in micro-units.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from src.data.ledger_store import cash_balance
from src.trading.logic import AccountState
from src.trading.position_manager.reconciliation import OPEN_LOCAL
from src.utils.money import from_micro

DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class WindowRow:
    """A window the ledger knows (its market's ids and, once resolved, the outcome)."""

    id: int
    symbol: str
    slug: str
    condition_id: str | None
    up_token_id: str | None
    down_token_id: str | None
    start_ms: int
    end_ms: int
    outcome: str | None

    def token_for(self, outcome: str) -> str | None:
        """The token that pays on ``outcome`` (UP/DOWN)."""
        return self.up_token_id if outcome == "UP" else self.down_token_id


@dataclass(frozen=True, slots=True)
class OpenPosition:
    """A position holding shares, with its window."""

    id: int
    token_id: str
    symbol: str
    outcome: str
    size_micro: int
    cost_micro: int
    fees_micro: int
    exit_reason: str | None
    confidence: float | None
    window: WindowRow | None


@dataclass(frozen=True, slots=True)
class WorkingOrder:
    """An order that may still trade (or whose fate is still unknown)."""

    client_order_id: str
    venue_order_id: str | None
    token_id: str
    symbol: str
    outcome: str
    intent: str
    side: str
    price_micro: int
    size_micro: int
    filled_micro: int
    status: str
    created_ms: int
    window_id: int | None

    @property
    def remaining_micro(self) -> int:
        """Shares still to trade."""
        return self.size_micro - self.filled_micro


_WINDOW_COLUMNS = (
    "w.id, w.symbol, w.slug, w.condition_id, w.up_token_id, w.down_token_id, "
    "w.start_ms, w.end_ms, w.outcome"
)


def _window(row: sqlite3.Row, offset: int) -> WindowRow | None:
    values = tuple(row)[offset : offset + 9]
    return None if values[0] is None else WindowRow(*values)


def open_positions(cur: sqlite3.Cursor) -> list[OpenPosition]:
    """Every position with status ``open``, oldest first."""
    rows = cur.execute(
        "SELECT p.id, p.token_id, p.symbol, p.outcome, p.size_micro, p.cost_micro, "
        f"p.fees_micro, p.exit_reason, p.confidence, {_WINDOW_COLUMNS} "
        "FROM positions p LEFT JOIN windows w ON w.id = p.window_id "
        "WHERE p.status = 'open' ORDER BY p.id"
    ).fetchall()
    return [OpenPosition(*tuple(r)[:9], _window(r, 9)) for r in rows]


def working_orders(cur: sqlite3.Cursor) -> list[WorkingOrder]:
    """Every order that is not final, oldest first."""
    marks = ", ".join("?" for _ in OPEN_LOCAL)
    rows = cur.execute(
        "SELECT client_order_id, venue_order_id, token_id, symbol, outcome, intent, side, "
        "price_micro, size_micro, filled_micro, status, created_ms, window_id "
        f"FROM orders WHERE status IN ({marks}) ORDER BY id",
        OPEN_LOCAL,
    ).fetchall()
    return [WorkingOrder(*tuple(r)) for r in rows]


def window_by_slug(cur: sqlite3.Cursor, slug: str) -> WindowRow | None:
    """The window row of ``slug``."""
    row = cur.execute(
        f"SELECT {_WINDOW_COLUMNS} FROM windows w WHERE w.slug = ?", (slug,)
    ).fetchone()
    return None if row is None else WindowRow(*tuple(row))


def window_by_condition(cur: sqlite3.Cursor, condition_id: str) -> WindowRow | None:
    """The window row of a market (condition ids compared case-insensitively)."""
    row = cur.execute(
        f"SELECT {_WINDOW_COLUMNS} FROM windows w WHERE lower(w.condition_id) = lower(?)",
        (condition_id,),
    ).fetchone()
    return None if row is None else WindowRow(*tuple(row))


def windows_to_resolve(cur: sqlite3.Cursor, now_ms: int) -> list[WindowRow]:
    """Ended windows without an outcome in which we still hold shares (windows we sold
    out of before the end need no settlement)."""
    rows = cur.execute(
        f"SELECT DISTINCT {_WINDOW_COLUMNS} FROM windows w JOIN positions p "
        "ON p.window_id = w.id WHERE w.outcome IS NULL AND w.end_ms <= ? "
        "AND p.status = 'open' ORDER BY w.end_ms",
        (now_ms,),
    ).fetchall()
    return [WindowRow(*tuple(r)) for r in rows]


def windows_to_redeem(cur: sqlite3.Cursor) -> list[WindowRow]:
    """Resolved windows with settled positions whose tokens are not redeemed yet."""
    rows = cur.execute(
        f"SELECT DISTINCT {_WINDOW_COLUMNS} FROM windows w JOIN positions p "
        "ON p.window_id = w.id JOIN settlements s ON s.position_id = p.id "
        "WHERE w.outcome IS NOT NULL AND p.status = 'settled' AND s.size_micro > 0 "
        "ORDER BY w.end_ms"
    ).fetchall()
    return [WindowRow(*tuple(r)) for r in rows]


def settled_tokens(cur: sqlite3.Cursor, window_id: int) -> list[tuple[str, int, int]]:
    """(token id, shares, payout) of the window's settled, unredeemed positions."""
    rows = cur.execute(
        "SELECT p.token_id, s.size_micro, s.payout_micro FROM positions p "
        "JOIN settlements s ON s.position_id = p.id "
        "WHERE p.window_id = ? AND p.status = 'settled' ORDER BY p.id",
        (window_id,),
    ).fetchall()
    return [(str(r[0]), int(r[1]), int(r[2])) for r in rows]


# What resting BUYs reserve, and what open positions cost (optionally in one window).
RESERVED_BY_BUYS = (
    "SELECT COALESCE(SUM((size_micro - filled_micro) * price_micro / 1000000), 0) "
    "FROM orders WHERE side = 'BUY' AND status IN ('live', 'partially_filled')"
)
OPEN_COST = "SELECT COALESCE(SUM(cost_micro), 0) FROM positions WHERE status = 'open'"


def _sum(cur: sqlite3.Cursor, query: str, window_id: int | None = None) -> int:
    if window_id is None:
        return int(cur.execute(query).fetchone()[0])
    return int(cur.execute(f"{query} AND window_id = ?", (window_id,)).fetchone()[0])


def account_state(
    cur: sqlite3.Cursor, now_ms: int, window_id: int | None = None
) -> AccountState:
    """The account for the decision's risk limits, from the ledger alone.

    Free balance is cash minus what resting BUYs reserve; exposure is the cost of open
    positions plus those BUYs; the daily loss is realised PnL closed since 00:00 UTC.
    """
    cash = cash_balance(cur)
    reserved = _sum(cur, RESERVED_BY_BUYS)
    held = _sum(cur, OPEN_COST)
    in_window = 0
    if window_id is not None:
        in_window = _sum(cur, OPEN_COST, window_id) + _sum(cur, RESERVED_BY_BUYS, window_id)
    day_start = now_ms - now_ms % DAY_MS
    daily = int(
        cur.execute(
            "SELECT COALESCE(SUM(realized_pnl_micro), 0) FROM positions "
            "WHERE status IN ('closed', 'settled', 'redeemed') AND closed_ms >= ?",
            (day_start,),
        ).fetchone()[0]
    )
    free = max(cash - reserved, 0)
    equity = cash + held
    return AccountState(
        balance=from_micro(free),
        equity=from_micro(equity),
        open_exposure=from_micro(held + reserved),
        window_exposure=from_micro(in_window),
        daily_pnl=from_micro(daily),
        day_start_equity=from_micro(equity) - from_micro(daily) if daily else None,
    )
