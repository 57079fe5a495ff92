"""Persisting audit events (the logging side lives in ``src.utils.logger.audit``)."""

from __future__ import annotations

import json
import sqlite3

from src.utils.logger import AuditEvent
from src.utils.redaction import redact


def insert_audit_event(cursor: sqlite3.Cursor, event: AuditEvent, at_ms: int) -> int:
    """Insert one audit row with the active cursor; returns its id."""
    data = (
        redact(json.dumps(dict(event.data), default=str, sort_keys=True))
        if event.data
        else None
    )
    cursor.execute(
        "INSERT INTO audit_events (at_ms, kind, symbol, window_id, client_order_id, "
        "venue_order_id, size_micro, price_micro, message, data_json) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            at_ms,
            event.kind,
            event.symbol,
            event.window_id,
            event.client_order_id,
            event.venue_order_id,
            event.size_micro,
            event.price_micro,
            redact(event.message),
            data,
        ),
    )
    return int(cursor.lastrowid or 0)
