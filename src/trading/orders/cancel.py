"""Cancelling orders: ask the venue, then book what it confirmed (and say what it refused).

An order the venue would not cancel has usually just traded; its fills arrive through the
streams, so nothing is guessed here — the order keeps its status until the venue's fills or
the order sync prove otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence

from src.data.db_connection import db_connection
from src.data.ledger_store import set_order_status
from src.trading.venue.port import CancelReply, Venue
from src.utils.clock import Clock
from src.utils.logger import AuditEvent, audit


def cancel_orders(
    venue: Venue, venue_order_ids: Sequence[str], clock: Clock, reason: str
) -> CancelReply:
    """Cancel the orders and book the cancellations (raises ``VenueUnavailableError``)."""
    ids = [i for i in dict.fromkeys(venue_order_ids) if i]
    if not ids:
        return CancelReply()
    reply = venue.cancel(ids)  # network: no transaction open
    now_ms = int(clock.now() * 1000)
    with db_connection() as cur:
        for venue_id in reply.cancelled:
            row = cur.execute(
                "SELECT client_order_id, symbol, status FROM orders WHERE venue_order_id = ?",
                (venue_id,),
            ).fetchone()
            if row is None:
                continue
            if row["status"] not in ("filled", "cancelled", "rejected", "expired"):
                set_order_status(cur, row["client_order_id"], "cancelled", now_ms)
            audit(
                AuditEvent(
                    "cancel",
                    f"cancelled ({reason})",
                    symbol=row["symbol"],
                    client_order_id=row["client_order_id"],
                    venue_order_id=venue_id,
                ),
                cur,
                at_ms=now_ms,
            )
        for venue_id, why in reply.not_cancelled.items():
            audit(
                AuditEvent(
                    "race",
                    f"not cancelled ({reason}): {why}",
                    venue_order_id=venue_id,
                ),
                cur,
                at_ms=now_ms,
            )
    return reply
