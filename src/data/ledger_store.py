"""The ledger in sqlite: order intents, fills applied exactly once, positions, cash.

Write functions take the active cursor (inside ``db_connection()``), so an order's status, its
fills, the position and the cash movements change in one transaction. A fill event is keyed
by the venue's trade id: the same event arriving from the websocket, REST polling and a
notification is booked once; ``MATCHED → CONFIRMED`` changes no money; ``FAILED`` reverses
what the fill booked. Positions are recomputed from their fills, never patched from a
balance endpoint.
"""

from __future__ import annotations

import sqlite3

from src.trading.ledger.accounting import (
    FeeAsset,
    FillAmounts,
    PositionTotals,
    Side,
    fold_fills,
    settle,
)
from src.trading.ledger.events import (
    LIVE_FILL_STATUSES,
    FillEvent,
    FillOutcome,
    FillStatus,
    OrderIntent,
    fill_status_rank,
)


def insert_order_intent(cur: sqlite3.Cursor, intent: OrderIntent, now_ms: int) -> int:
    """Record an intent (status ``intent``) and return its row id.

    A second intent with the same client order id is refused by the schema: that is how a
    retried decision can never become a second order.
    """
    cur.execute(
        "INSERT INTO orders (client_order_id, venue_order_id, window_id, decision_id, "
        "token_id, symbol, outcome, side, intent, order_type, post_only, price_micro, "
        "size_micro, status, expires_ms, mode, created_ms, updated_ms) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'intent', ?, ?, ?, ?)",
        (
            intent.client_order_id,
            intent.venue_order_id,
            intent.window_id,
            intent.decision_id,
            intent.token_id,
            intent.symbol,
            intent.outcome,
            str(intent.side),
            intent.intent,
            intent.order_type,
            int(intent.post_only),
            intent.price_micro,
            intent.size_micro,
            intent.expires_ms,
            intent.mode,
            now_ms,
            now_ms,
        ),
    )
    return int(cur.lastrowid or 0)


def set_order_status(
    cur: sqlite3.Cursor,
    client_order_id: str,
    status: str,
    now_ms: int,
    *,
    venue_order_id: str | None = None,
    error: str | None = None,
) -> None:
    """Move an order to ``status`` (and remember its venue id or the venue's error)."""
    cur.execute(
        "UPDATE orders SET status = ?, venue_order_id = COALESCE(?, venue_order_id), "
        "error = COALESCE(?, error), updated_ms = ? WHERE client_order_id = ?",
        (status, venue_order_id, error, now_ms, client_order_id),
    )
    if cur.rowcount != 1:
        raise KeyError(f"no order with client id {client_order_id!r}")


def _order_for(cur: sqlite3.Cursor, venue_order_id: str) -> sqlite3.Row | None:
    return cur.execute(
        "SELECT id, client_order_id, token_id, symbol, outcome, window_id, size_micro, "
        "status FROM orders WHERE venue_order_id = ?",
        (venue_order_id,),
    ).fetchone()


def apply_fill_event(cur: sqlite3.Cursor, event: FillEvent, now_ms: int) -> FillOutcome:
    """Apply one fill event exactly once; see :class:`FillOutcome` for what it did."""
    order = _order_for(cur, event.venue_order_id)
    if order is None:
        return FillOutcome.UNKNOWN_ORDER
    known = cur.execute(
        "SELECT id, status FROM fills WHERE venue_trade_id = ?", (event.venue_trade_id,)
    ).fetchone()
    if known is None:
        confirmed_ms = event.at_ms if event.status is FillStatus.CONFIRMED else None
        cur.execute(
            "INSERT INTO fills (venue_trade_id, order_id, token_id, side, role, price_micro, "
            "size_micro, notional_micro, fee_micro, fee_asset, status, matched_ms, "
            "confirmed_ms, updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                event.venue_trade_id,
                order["id"],
                order["token_id"],
                str(event.side),
                event.role,
                event.price_micro,
                event.size_micro,
                event.amounts.notional_micro,
                event.fee_micro,
                str(event.fee_asset),
                str(event.status),
                event.at_ms,
                confirmed_ms,
                now_ms,
            ),
        )
        if event.status is FillStatus.FAILED:
            return FillOutcome.STALE  # recorded for the audit trail; no money ever moved
        _book_cash(cur, int(cur.lastrowid or 0), event.amounts, now_ms, reverse=False)
        _refresh_order_and_position(cur, order, now_ms)
        return FillOutcome.BOOKED
    current = FillStatus(known["status"])
    if current is event.status:
        return FillOutcome.DUPLICATE
    if current is FillStatus.FAILED or fill_status_rank(event.status) < fill_status_rank(
        current
    ):
        return FillOutcome.STALE
    cur.execute(
        "UPDATE fills SET status = ?, updated_ms = ?, confirmed_ms = CASE WHEN ? = "
        "'CONFIRMED' THEN ? ELSE confirmed_ms END WHERE id = ?",
        (str(event.status), now_ms, str(event.status), event.at_ms, known["id"]),
    )
    if event.status is not FillStatus.FAILED:
        return FillOutcome.PROMOTED
    _book_cash(cur, known["id"], event.amounts, now_ms, reverse=True)
    _refresh_order_and_position(cur, order, now_ms)
    return FillOutcome.REVERSED


def _book_cash(
    cur: sqlite3.Cursor, fill_id: int, amounts: FillAmounts, now_ms: int, reverse: bool
) -> None:
    for kind, amount in amounts.cash_flows():
        cur.execute(
            "INSERT INTO cash_ledger (at_ms, kind, amount_micro, fill_id, note) "
            "VALUES (?, ?, ?, ?, ?)",
            (
                now_ms,
                kind,
                -amount if reverse else amount,
                fill_id,
                "reversal of a failed fill" if reverse else None,
            ),
        )


def _live_fills(cur: sqlite3.Cursor, where: str, value: object) -> list[FillAmounts]:
    rows = cur.execute(
        "SELECT side, price_micro, size_micro, fee_micro, fee_asset, notional_micro "
        f"FROM fills WHERE {where} = ? AND status IN "
        f"({','.join('?' * len(LIVE_FILL_STATUSES))}) ORDER BY matched_ms, id",
        (value, *(str(s) for s in LIVE_FILL_STATUSES)),
    ).fetchall()
    return [FillAmounts(Side(r[0]), r[1], r[2], r[3], FeeAsset(r[4]), r[5]) for r in rows]


def _refresh_order_and_position(
    cur: sqlite3.Cursor, order: sqlite3.Row, now_ms: int
) -> None:
    filled = sum(f.size_micro for f in _live_fills(cur, "order_id", order["id"]))
    status = order["status"]
    if filled >= order["size_micro"]:
        status = "filled"
    elif filled > 0 and status in (
        "intent",
        "posting",
        "ambiguous",
        "live",
        "filled",
        "partially_filled",
    ):
        status = "partially_filled"
    elif filled == 0 and status in ("filled", "partially_filled"):
        status = "cancelled"  # the venue cancels an order whose only fills failed
    cur.execute(
        "UPDATE orders SET filled_micro = ?, status = ?, updated_ms = ? WHERE id = ?",
        (min(filled, order["size_micro"]), status, now_ms, order["id"]),
    )
    recompute_position(
        cur,
        order["token_id"],
        order["symbol"],
        order["outcome"],
        order["window_id"],
        now_ms,
    )


def recompute_position(
    cur: sqlite3.Cursor,
    token_id: str,
    symbol: str,
    outcome: str,
    window_id: int | None,
    now_ms: int,
) -> PositionTotals:
    """Rebuild the token's position from its live fills (creating the row if needed)."""
    totals = fold_fills(_live_fills(cur, "token_id", token_id))
    row = cur.execute(
        "SELECT id, status FROM positions WHERE token_id = ?", (token_id,)
    ).fetchone()
    status = "open" if totals.size_micro > 0 else "closed"
    if row is None:
        cur.execute(
            "INSERT INTO positions (window_id, token_id, symbol, outcome, size_micro, "
            "cost_micro, fees_micro, realized_pnl_micro, status, opened_ms, updated_ms, "
            "closed_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                window_id,
                token_id,
                symbol,
                outcome,
                totals.size_micro,
                totals.cost_micro,
                totals.fees_micro,
                totals.realized_pnl_micro,
                status,
                now_ms,
                now_ms,
                None if status == "open" else now_ms,
            ),
        )
    elif row["status"] in ("open", "closed"):
        cur.execute(
            "UPDATE positions SET size_micro = ?, cost_micro = ?, fees_micro = ?, "
            "realized_pnl_micro = ?, status = ?, updated_ms = ?, closed_ms = CASE WHEN "
            "? = 'closed' THEN ? ELSE NULL END, exit_reason = CASE WHEN ? = 'closed' "
            "THEN COALESCE(exit_reason, ?) ELSE exit_reason END WHERE id = ?",
            (
                totals.size_micro,
                totals.cost_micro,
                totals.fees_micro,
                totals.realized_pnl_micro,
                status,
                now_ms,
                status,
                now_ms,
                status,
                _closing_reason(cur, token_id) if status == "closed" else None,
                row["id"],
            ),
        )
    return totals


# Why a position went flat, from the intent of the order whose SELL closed it.
_CLOSING_REASONS = {
    "exit_plan": "exit_plan",
    "stop_loss": "stop_loss",
    "close": "manual",
    "manual": "manual",
}


def _closing_reason(cur: sqlite3.Cursor, token_id: str) -> str | None:
    row = cur.execute(
        "SELECT o.intent FROM fills f JOIN orders o ON o.id = f.order_id "
        "WHERE f.token_id = ? AND f.side = 'SELL' AND f.status != 'FAILED' "
        "ORDER BY f.matched_ms DESC, f.id DESC LIMIT 1",
        (token_id,),
    ).fetchone()
    return None if row is None else _CLOSING_REASONS.get(row[0])


def settle_position(cur: sqlite3.Cursor, token_id: str, winner: str, now_ms: int) -> int:
    """Settle the token's position against the resolved ``winner`` (UP/DOWN); returns
    the payout in micro-units. Idempotent: a settled position is left alone."""
    row = cur.execute(
        "SELECT id, window_id, outcome, status, size_micro, cost_micro, fees_micro, "
        "realized_pnl_micro FROM positions WHERE token_id = ?",
        (token_id,),
    ).fetchone()
    if row is None or row["status"] in ("settled", "redeemed"):
        return 0
    totals = PositionTotals(
        row["size_micro"], row["cost_micro"], row["fees_micro"], row["realized_pnl_micro"]
    )
    result = settle(totals, won=row["outcome"] == winner)
    cur.execute(
        "UPDATE positions SET size_micro = 0, cost_micro = 0, realized_pnl_micro = ?, "
        "status = 'settled', exit_reason = COALESCE(exit_reason, 'settlement'), "
        "closed_ms = ?, updated_ms = ? WHERE id = ?",
        (result.totals.realized_pnl_micro, now_ms, now_ms, row["id"]),
    )
    cur.execute(
        "INSERT INTO settlements (position_id, window_id, outcome, won, size_micro, "
        "payout_micro, pnl_micro, settled_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            row["id"],
            row["window_id"],
            winner,
            int(row["outcome"] == winner),
            totals.size_micro,
            result.payout_micro,
            result.pnl_micro,
            now_ms,
        ),
    )
    return result.payout_micro


def record_redemption(
    cur: sqlite3.Cursor,
    token_id: str,
    amount_micro: int,
    now_ms: int,
    reference: str | None = None,
) -> None:
    """Book collateral received for redeeming a settled position's tokens."""
    row = cur.execute(
        "SELECT s.id FROM settlements s JOIN positions p ON p.id = s.position_id "
        "WHERE p.token_id = ?",
        (token_id,),
    ).fetchone()
    if row is None:
        raise KeyError(f"no settlement for token {token_id}")
    cur.execute(
        "UPDATE settlements SET redeemed_micro = ?, redeemed_ms = ?, redeem_ref = ? "
        "WHERE id = ?",
        (amount_micro, now_ms, reference, row["id"]),
    )
    cur.execute(
        "UPDATE positions SET status = 'redeemed', updated_ms = ? WHERE token_id = ?",
        (now_ms, token_id),
    )
    if amount_micro:
        cur.execute(
            "INSERT INTO cash_ledger (at_ms, kind, amount_micro, settlement_id, note) "
            "VALUES (?, 'redemption', ?, ?, ?)",
            (now_ms, amount_micro, row["id"], reference),
        )


def record_cash(
    cur: sqlite3.Cursor, kind: str, amount_micro: int, now_ms: int, note: str | None = None
) -> None:
    """Book a deposit, withdrawal or adjustment."""
    if kind not in ("deposit", "withdrawal", "adjustment"):
        raise ValueError(f"not a manual cash kind: {kind}")
    cur.execute(
        "INSERT INTO cash_ledger (at_ms, kind, amount_micro, note) VALUES (?, ?, ?, ?)",
        (now_ms, kind, amount_micro, note),
    )


def cash_balance(cur: sqlite3.Cursor) -> int:
    """The ledger's cash: the sum of every cash movement."""
    return int(
        cur.execute("SELECT COALESCE(SUM(amount_micro), 0) FROM cash_ledger").fetchone()[0]
    )
