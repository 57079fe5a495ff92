"""Running reconciliation: read both sides, plan, apply, repeat until settled.

The I/O half of :mod:`src.trading.position_manager.reconciliation`. Used at startup (the bot
refuses to trade if it fails) and by ``polyflup reconcile [--dry-run] [--json]``.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass

from src.data.db_connection import db_connection
from src.data.ledger_store import cash_balance, insert_order_intent, set_order_status
from src.data.market_data.polymarket import GammaClient
from src.data.windows_store import upsert_window
from src.trading.ledger.events import FillStatus, OrderIntent
from src.trading.ledger.recorder import record_fills
from src.trading.position_manager.reconciliation import (
    AdoptOrder,
    AdoptPosition,
    BookFill,
    CashMismatch,
    LocalOrder,
    LocalState,
    ReconcilePlan,
    SetOrderStatus,
    SizeMismatch,
    VenueState,
    describe,
    orders_to_look_up,
    plan,
)
from src.trading.state import RecentFills, position_lock
from src.trading.venue.port import Venue, VenueUnavailableError
from src.utils.clock import Clock
from src.utils.logger import AuditEvent, audit, log, log_warning

MAX_PASSES = 5


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What the ledger needs to know about a token it has never seen."""

    symbol: str
    outcome: str  # UP / DOWN
    window_id: int | None = None


class ReconcileError(RuntimeError):
    """Reconciliation could not establish the venue's state; do not trade."""


def load_local_state(cur: sqlite3.Cursor) -> LocalState:
    """The ledger's side of the comparison."""
    orders = tuple(
        LocalOrder(*tuple(row))
        for row in cur.execute(
            "SELECT client_order_id, venue_order_id, token_id, status, size_micro, "
            "filled_micro FROM orders"
        )
    )
    fill_status = {
        r[0]: FillStatus(r[1])
        for r in cur.execute("SELECT venue_trade_id, status FROM fills")
    }
    # a settled position still holds its tokens at the venue until they are redeemed
    positions = {
        r[0]: r[1]
        for r in cur.execute(
            "SELECT p.token_id, CASE WHEN p.status = 'settled' "
            "THEN COALESCE(s.size_micro, 0) ELSE p.size_micro END FROM positions p "
            "LEFT JOIN settlements s ON s.position_id = p.id "
            "WHERE p.status IN ('open', 'closed', 'settled')"
        )
    }
    return LocalState(orders, fill_status, positions, cash_balance(cur))


def load_venue_state(venue: Venue, local: LocalState) -> VenueState:
    """The venue's side, with every open local order it does not list looked up alone."""
    open_orders = tuple(venue.open_orders())
    fills = tuple(venue.fills(0))
    balances = venue.token_balances()
    wanted = set(orders_to_look_up(local, open_orders))
    known = {o.venue_order_id for o in local.orders}
    wanted |= {f.venue_order_id for f in fills if f.venue_order_id not in known}
    looked_up = {order_id: venue.get_order(order_id) for order_id in sorted(wanted)}
    return VenueState(open_orders, fills, balances, looked_up, venue.collateral_micro())


def compute_plan(venue: Venue) -> ReconcilePlan:
    """The current plan (nothing applied): what ``--dry-run`` prints."""
    with db_connection(readonly=True) as cur:
        local = load_local_state(cur)
    return plan(local, load_venue_state(venue, local))


def reconcile(
    venue: Venue,
    clock: Clock,
    mode: str,
    token_info: Callable[[str], TokenInfo | None],
) -> list[str]:
    """Bring the ledger to the venue's state; returns what was done, one line per action.

    Raises :class:`ReconcileError` when an order's state cannot be proven (the venue did not
    answer, or keeps contradicting itself) — the caller must then refuse to trade.
    """
    done: list[str] = []
    try:
        for _ in range(MAX_PASSES):
            current = compute_plan(venue)
            if current.unresolved:
                raise ReconcileError(
                    "could not prove the state of orders: " + ", ".join(current.unresolved)
                )
            if current.empty:
                return done
            _apply(current, clock, mode, token_info, done)
            if all(isinstance(a, (SizeMismatch, CashMismatch)) for a in current.actions):
                return done
    except VenueUnavailableError as exc:
        raise ReconcileError(f"the venue did not answer: {exc}") from exc
    raise ReconcileError(f"still not settled after {MAX_PASSES} passes")


def _apply(
    current: ReconcilePlan,
    clock: Clock,
    mode: str,
    token_info: Callable[[str], TokenInfo | None],
    done: list[str],
) -> None:
    for action in current.actions:
        now_ms = int(clock.now() * 1000)
        line = describe(action)
        if isinstance(action, BookFill):
            record_fills([action.event], clock, RecentFills())
        elif isinstance(action, AdoptOrder):
            _adopt_order(action, mode, token_info, now_ms)
        elif isinstance(action, SetOrderStatus):
            with db_connection() as cur:
                set_order_status(cur, action.client_order_id, action.status, now_ms)
        elif isinstance(action, AdoptPosition):
            _adopt_position(action, token_info, now_ms)
        else:
            log_warning(f"⚠️ reconcile: {line}")
        with db_connection() as cur:
            audit(AuditEvent("reconcile", line), cur, at_ms=now_ms)
        done.append(line)
        log(f"🔁 reconcile: {line}")


def _info(token_id: str, token_info: Callable[[str], TokenInfo | None]) -> TokenInfo:
    info = token_info(token_id)
    if info is None:
        raise ReconcileError(f"token {token_id} is not one of our markets; cannot adopt it")
    return info


def _adopt_order(
    action: AdoptOrder,
    mode: str,
    token_info: Callable[[str], TokenInfo | None],
    now_ms: int,
) -> None:
    order = action.order
    info = _info(order.token_id, token_info)
    status = (
        ("live" if not order.matched_micro else "partially_filled")
        if order.live
        else ("filled" if order.matched_micro >= order.size_micro else "cancelled")
    )
    intent = OrderIntent(
        client_order_id=f"adopted-{order.venue_order_id}",
        token_id=order.token_id,
        symbol=info.symbol,
        outcome=info.outcome,
        side=order.side,
        intent="manual",
        order_type="GTC",
        price_micro=order.price_micro,
        size_micro=order.size_micro,
        mode=mode,
        window_id=info.window_id,
        venue_order_id=order.venue_order_id,
    )
    with db_connection() as cur:
        insert_order_intent(cur, intent, now_ms)
        set_order_status(cur, intent.client_order_id, status, now_ms)


def _adopt_position(
    action: AdoptPosition, token_info: Callable[[str], TokenInfo | None], now_ms: int
) -> None:
    info = _info(action.token_id, token_info)
    # No fill explains these shares: held at an unknown (zero) cost and flagged as adopted.
    with position_lock, db_connection() as cur:
        cur.execute(
            "INSERT INTO positions (window_id, token_id, symbol, outcome, size_micro, "
            "cost_micro, status, adopted, opened_ms, updated_ms) "
            "VALUES (?, ?, ?, ?, ?, 0, 'open', 1, ?, ?)",
            (
                info.window_id,
                action.token_id,
                info.symbol,
                info.outcome,
                action.size_micro,
                now_ms,
                now_ms,
            ),
        )


def gamma_token_info(gamma: GammaClient) -> Callable[[str], TokenInfo | None]:
    """What reconciliation needs about a token it must adopt, from Gamma; the market's
    window is recorded in ``windows`` so the adopted row points at its real window."""

    def info(token_id: str) -> TokenInfo | None:
        market = gamma.market_by_token(token_id)
        outcome = None if market is None else market.outcome_of(token_id)
        if market is None or outcome is None:
            return None
        with db_connection() as cur:
            window_id = upsert_window(cur, market, int(time.time() * 1000))
        return TokenInfo(market.coin, str(outcome), window_id)

    return info
