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


_OPEN_MARKS = ", ".join("?" for _ in OPEN_LOCAL)  # one bound parameter per status


def working_orders(cur: sqlite3.Cursor) -> list[WorkingOrder]:
    """Every order that is not final, oldest first."""
    rows = cur.execute(
        "SELECT client_order_id, venue_order_id, token_id, symbol, outcome, intent, side, "
        "price_micro, size_micro, filled_micro, status, created_ms, window_id "
        f"FROM orders WHERE status IN ({_OPEN_MARKS}) ORDER BY id",
        OPEN_LOCAL,
    ).fetchall()
    return [WorkingOrder(*tuple(r)) for r in rows]


def any_working_order(cur: sqlite3.Cursor) -> bool:
    """Whether :func:`working_orders` would find any, without reading them."""
    return bool(
        cur.execute(
            f"SELECT EXISTS (SELECT 1 FROM orders WHERE status IN ({_OPEN_MARKS}))",
            OPEN_LOCAL,
        ).fetchone()[0]
    )


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


# The same sums per window, for reading every window's exposure at once.
RESERVED_BY_BUYS_PER_WINDOW = (
    "SELECT window_id, COALESCE(SUM((size_micro - filled_micro) * price_micro / 1000000), 0) "
    "FROM orders WHERE side = 'BUY' AND status IN ('live', 'partially_filled') "
    "GROUP BY window_id"
)
OPEN_COST_PER_WINDOW = (
    "SELECT window_id, COALESCE(SUM(cost_micro), 0) FROM positions WHERE status = 'open' "
    "GROUP BY window_id"
)
DAILY_PNL = (
    "SELECT COALESCE(SUM(realized_pnl_micro), 0) FROM positions "
    "WHERE status IN ('closed', 'settled', 'redeemed') AND closed_ms >= ?"
)


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
    daily = int(cur.execute(DAILY_PNL, (day_start,)).fetchone()[0])
    return _account(cash, reserved, held, in_window, daily)


def _account(
    cash: int, reserved: int, held: int, in_window: int, daily: int
) -> AccountState:
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


class AccountReader:
    """:func:`account_state` for any number of windows, reading the ledger once: the cash,
    and every window's exposure in one grouped query per table (the day's PnL once per
    day). The answers are the ones :func:`account_state` would give as long as the ledger
    does not change: within one transaction that writes none of the amounts read (the
    signal generator writes only decisions) — or across transactions, with
    :class:`AccountCache` watching for changes. Window ids are the ledger's integers.
    """

    _MAX_STATES = 256  # answers kept (a few windows a step; old windows never come back)

    def __init__(self, cur: sqlite3.Cursor) -> None:
        self._cur = cur
        # cash, open cost, reserved by BUYs, window id → open cost + reserved in it
        self._totals: tuple[int, int, int, dict[int | None, int]] | None = None
        self._daily: dict[int, int] = {}
        self._states: dict[tuple[int, int | None], AccountState] = {}

    def use(self, cur: sqlite3.Cursor) -> None:
        """Read through ``cur`` from now on (the current transaction's cursor)."""
        self._cur = cur

    def _ledger(self) -> tuple[int, int, int, dict[int | None, int]]:
        if self._totals is None:
            cur = self._cur
            held = {w: int(v) for w, v in cur.execute(OPEN_COST_PER_WINDOW).fetchall()}
            reserved = {
                w: int(v) for w, v in cur.execute(RESERVED_BY_BUYS_PER_WINDOW).fetchall()
            }
            in_window = {
                w: held.get(w, 0) + reserved.get(w, 0)
                for w in held.keys() | reserved.keys()
            }
            totals = (cash_balance(cur), sum(held.values()), sum(reserved.values()))
            self._totals = (*totals, in_window)
        return self._totals

    def state(self, now_ms: int, window_id: int | None = None) -> AccountState:
        """The account for a decision at ``now_ms`` in ``window_id``."""
        day_start = now_ms - now_ms % DAY_MS
        key = (day_start, window_id)
        known = self._states.get(key)
        if known is not None:
            return known
        cash, held, reserved, by_window = self._ledger()
        in_window = 0 if window_id is None else by_window.get(window_id, 0)
        daily = self._daily.get(day_start)
        if daily is None:
            daily = int(self._cur.execute(DAILY_PNL, (day_start,)).fetchone()[0])
            self._daily[day_start] = daily
        if len(self._states) >= self._MAX_STATES:
            self._states.clear()
        state = self._states[key] = _account(cash, reserved, held, in_window, daily)
        return state


class AccountCache:
    """One :class:`AccountReader` kept from transaction to transaction while the ledger
    does not change, so a poll that moved no money reads none of it again — the cash and
    the day's PnL are sums over the whole history, and a long run would pay for them on
    every poll.

    "Does not change" is SQLite's own bookkeeping: ``PRAGMA data_version`` moves when
    another connection commits, the connection's ``total_changes`` when it writes itself.
    :meth:`reader` compares both, when a transaction starts, with what :meth:`keep`
    recorded at the end of the last one — after that transaction's own writes, which must
    touch none of the amounts read (the signal generator writes only decisions). Any other
    write in between, or a last transaction that did not reach :meth:`keep`, and the
    ledger is read afresh. Use it from one thread, inside ``db_connection()`` transactions
    that take the write lock (the default).
    """

    def __init__(self) -> None:
        self._reader: AccountReader | None = None
        self._kept: tuple[sqlite3.Connection, int, int] | None = None
        self._version: int | None = None

    def reader(self, cur: sqlite3.Cursor) -> AccountReader:
        """The reader for the transaction of ``cur``: the last one if nothing changed."""
        conn = cur.connection
        version = int(cur.execute("PRAGMA data_version").fetchone()[0])
        kept, self._kept = self._kept, None
        reader = self._reader
        if (
            reader is None
            or kept is None
            or kept[0] is not conn
            or kept[1:] != (version, conn.total_changes)
        ):
            reader = self._reader = AccountReader(cur)
        else:
            reader.use(cur)
        self._version = version
        return reader

    def keep(self, cur: sqlite3.Cursor) -> None:
        """The transaction that called :meth:`reader` is done writing: what its reader
        read stays valid until the ledger changes."""
        conn = cur.connection
        if self._version is not None:
            self._kept = (conn, self._version, conn.total_changes)
        self._version = None
