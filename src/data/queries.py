"""Read models for the CLI: positions and trades as typed rows (amounts in micro-units)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass


@dataclass(frozen=True)
class PositionRow:
    """One position as the ``positions`` command shows it."""

    id: int
    symbol: str
    outcome: str
    token_id: str
    window_slug: str | None
    size_micro: int
    cost_micro: int
    fees_micro: int
    realized_pnl_micro: int
    status: str
    exit_reason: str | None
    opened_ms: int

    @property
    def avg_price_micro(self) -> int | None:
        """Average price paid per share, in micro-units (None for an empty position)."""
        if self.size_micro <= 0:
            return None
        return self.cost_micro * 1_000_000 // self.size_micro


@dataclass(frozen=True)
class TradeRow:
    """One fill, joined with its order, as the ``trades`` command shows it."""

    venue_trade_id: str
    matched_ms: int
    symbol: str
    outcome: str
    side: str
    intent: str
    role: str
    price_micro: int
    size_micro: int
    fee_micro: int
    fee_asset: str
    status: str
    client_order_id: str


def list_positions(
    cursor: sqlite3.Cursor, include_closed: bool = False
) -> list[PositionRow]:
    """Open positions (or all of them), newest first."""
    where = "" if include_closed else "WHERE p.status = 'open'"
    rows = cursor.execute(
        "SELECT p.id, p.symbol, p.outcome, p.token_id, w.slug, p.size_micro, p.cost_micro, "
        "p.fees_micro, p.realized_pnl_micro, p.status, p.exit_reason, p.opened_ms "
        f"FROM positions p LEFT JOIN windows w ON w.id = p.window_id {where} "
        "ORDER BY p.opened_ms DESC, p.id DESC"
    ).fetchall()
    return [PositionRow(*tuple(row)) for row in rows]


def list_trades(cursor: sqlite3.Cursor, limit: int = 50) -> list[TradeRow]:
    """The most recent fills, newest first."""
    rows = cursor.execute(
        "SELECT f.venue_trade_id, f.matched_ms, o.symbol, o.outcome, f.side, o.intent, "
        "f.role, f.price_micro, f.size_micro, f.fee_micro, f.fee_asset, f.status, "
        "o.client_order_id FROM fills f JOIN orders o ON o.id = f.order_id "
        "ORDER BY f.matched_ms DESC, f.id DESC LIMIT ?",
        (limit,),
    ).fetchall()
    return [TradeRow(*tuple(row)) for row in rows]
