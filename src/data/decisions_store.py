"""The ``decisions`` table: every decision the strategy made, PASS included."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence

# The stored columns a decision fills, in insert order (``Decision.row_values`` follows it).
DECISION_COLUMNS = (
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
    names = ("window_id", "mode", *DECISION_COLUMNS)
    marks = ", ".join("?" for _ in names)
    return f"INSERT INTO decisions ({', '.join(names)}) VALUES ({marks})"


_INSERT = _insert_sql()  # one statement, built once: a decision is stored every poll


def insert_decision(
    cur: sqlite3.Cursor,
    row: Mapping[str, object] | Sequence[object],
    window_id: int | None,
    mode: str,
) -> int:
    """Store one ``Decision.to_row()`` — or its ``row_values()``: the same values in the
    order of :data:`DECISION_COLUMNS`, with no dict built on the way, as
    the signal generator stores one every poll; returns its id."""
    if type(row) is tuple or not isinstance(row, Mapping):
        values: Sequence[object] = row  # type: ignore[assignment]
    else:
        values = [row[name] for name in DECISION_COLUMNS]
    cur.execute(_INSERT, (window_id, mode, *values))
    return int(cur.lastrowid or 0)
