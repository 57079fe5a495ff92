"""Booking fill reports from any channel: deduplicated, under ``position_lock``, audited."""

from __future__ import annotations

from collections.abc import Iterable

from src.data.db_connection import db_connection
from src.data.ledger_store import apply_fill_event
from src.trading.ledger.events import FillEvent, FillOutcome
from src.trading.state import RecentFills, position_lock
from src.utils.clock import Clock
from src.utils.logger import AuditEvent, audit


def record_fills(
    events: Iterable[FillEvent], clock: Clock, recent: RecentFills
) -> list[FillOutcome]:
    """Apply each report once; returns what happened to each (duplicates included)."""
    outcomes = []
    for event in events:
        if not recent.first_time(event.venue_trade_id, str(event.status)):
            outcomes.append(FillOutcome.DUPLICATE)
            continue
        now_ms = int(clock.now() * 1000)
        try:
            with position_lock, db_connection() as cur:
                outcome = apply_fill_event(cur, event, now_ms)
                _audit(cur, event, outcome, now_ms)
        except Exception:
            recent.forget(event.venue_trade_id, str(event.status))  # retry next report
            raise
        outcomes.append(outcome)
    return outcomes


def _audit(cur: object, event: FillEvent, outcome: FillOutcome, now_ms: int) -> None:
    if outcome is FillOutcome.BOOKED:
        kind, text = "filled", f"{event.side} fill {event.status} ({event.role})"
    elif outcome is FillOutcome.REVERSED:
        kind, text = "race", f"fill {event.venue_trade_id} FAILED on chain: reversed"
    elif outcome is FillOutcome.UNKNOWN_ORDER:
        kind, text = "race", f"fill {event.venue_trade_id} for an order we do not know"
    else:
        return
    audit(
        AuditEvent(
            kind,
            text,
            venue_order_id=event.venue_order_id,
            size_micro=event.size_micro,
            price_micro=event.price_micro,
            data={"trade_id": event.venue_trade_id, "fee": event.fee_micro},
        ),
        cur,
        at_ms=now_ms,
    )  # type: ignore[arg-type]
