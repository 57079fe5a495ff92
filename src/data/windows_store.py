"""The ``windows`` table: one row per market the bot has seen (ids, times, outcome)."""

from __future__ import annotations

import sqlite3

from src.data.market_data.polymarket import MarketInfo
from src.utils.money import to_micro


def upsert_window(cur: sqlite3.Cursor, market: MarketInfo, now_ms: int) -> int:
    """The window's row id, inserting the market on first sight."""
    cur.execute(
        "INSERT OR IGNORE INTO windows (symbol, slug, condition_id, up_token_id, "
        "down_token_id, start_ms, end_ms, tick_size_micro, fee_rate_bps, created_ms) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            market.coin,
            market.slug,
            market.condition_id,
            market.up_token_id,
            market.down_token_id,
            market.start * 1000,
            market.end * 1000,
            to_micro(market.tick_size),
            int(market.fee_rate * 10_000),
            now_ms,
        ),
    )
    row = cur.execute("SELECT id FROM windows WHERE slug = ?", (market.slug,)).fetchone()
    return int(row[0])


def set_window_strike(cur: sqlite3.Cursor, window_id: int, strike: float) -> None:
    """Remember the window's strike (the underlying's price at its start) once known."""
    cur.execute(
        "UPDATE windows SET strike_micro = COALESCE(strike_micro, ?) WHERE id = ?",
        (to_micro(round(strike, 6)), window_id),
    )
