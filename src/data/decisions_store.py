"""The ``decisions`` table: every decision the strategy made, PASS included."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping

_COLUMNS = (
    "symbol",
    "decided_ms",
    "action",
    "reason",
    "method",
    "confidence",
    "confidence_additive",
    "confidence_bayesian",
    "fair_value",
    "market_price",
    "price_micro",
    "size_micro",
    "fee_micro",
    "expected_value",
    "time_left_s",
    "signals_json",
    "inputs_json",
)


def _insert_sql() -> str:
    names = ("window_id", "mode", *_COLUMNS)
    marks = ", ".join("?" for _ in names)
    return f"INSERT INTO decisions ({', '.join(names)}) VALUES ({marks})"


_INSERT = _insert_sql()  # one statement, built once: a decision is stored every poll


def insert_decision(
    cur: sqlite3.Cursor, row: Mapping[str, object], window_id: int | None, mode: str
) -> int:
    """Store one ``Decision.to_row()``; returns its id."""
    cur.execute(_INSERT, (window_id, mode, *[row[name] for name in _COLUMNS]))
    return int(cur.lastrowid or 0)
