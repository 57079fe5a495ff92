"""Order sync: working orders the venue no longer lists as open are looked up and moved to
the status the venue proves (cancelled at the window's close, expired, never placed).

Fills are not decided here — they are booked from the venue's trades by the streams — so
an order the venue reports as (partly) matched is left to its fills.
"""

from __future__ import annotations

from src.data.db_connection import db_connection
from src.data.ledger_store import set_order_status
from src.trading.position_manager.portfolio import working_orders
from src.trading.position_manager.reconciliation import status_from_venue
from src.trading.venue.port import Venue
from src.utils.clock import Clock
from src.utils.logger import AuditEvent, audit


def sync_orders(venue: Venue, clock: Clock) -> int:
    """Bring working orders' statuses to the venue's; returns how many changed.

    Call it from the order placer only: an order being posted by another thread would be
    looked up before the venue has it, and wrongly concluded never placed. Raises
    ``VenueUnavailableError`` when the venue does not answer (nothing changed).
    """
    with db_connection(readonly=True) as cur:
        local = [o for o in working_orders(cur) if o.venue_order_id]
    if not local:
        return 0
    listed = {o.venue_order_id for o in venue.open_orders()}
    changes: list[tuple[str, str, str, str]] = []
    for order in local:
        if order.venue_order_id in listed:
            if order.status in ("intent", "posting", "ambiguous"):
                changes.append((order.client_order_id, "live", order.symbol, "listed"))
            continue
        seen = venue.get_order(order.venue_order_id or "")
        if seen is None:
            never = order.status in ("intent", "posting", "ambiguous")
            status = "rejected" if never else "expired"
            changes.append((order.client_order_id, status, order.symbol, "unknown"))
            continue
        status = status_from_venue(seen)
        done = status == "filled" and order.filled_micro >= seen.matched_micro
        if (status == "cancelled" or done) and status != order.status:
            # a fill not booked yet keeps the order open until its trade is read
            changes.append((order.client_order_id, status, order.symbol, seen.status))
    if not changes:
        return 0
    now_ms = int(clock.now() * 1000)
    with db_connection() as cur:
        for client_id, status, symbol, why in changes:
            set_order_status(cur, client_id, status, now_ms)
            audit(
                AuditEvent(
                    "cancel" if status != "live" else "info",
                    f"order now {status} (venue: {why})",
                    symbol=symbol,
                    client_order_id=client_id,
                ),
                cur,
                at_ms=now_ms,
            )
    return len(changes)
