"""Pure builders of the websocket messages (market and user channels), shaped like the
fixtures ``ws_market_*.json`` and ``ws_user_*.json``."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from src.sim.emulator import clob_views
from src.sim.emulator.wire import (
    StatusStyle,
    dec,
    dec_or_empty,
    ms_text,
    order_status_text,
    trade_status_text,
    transaction_hash,
)
from src.sim.emulator.world import ListedMarket
from src.sim.venue import BookSnapshot, EventKind, Order, Outcome, Trade, VenueEvent

ORDER_EVENT_TYPES = {
    EventKind.ORDER_PLACED: "PLACEMENT",
    EventKind.ORDER_UPDATED: "UPDATE",
    EventKind.ORDER_CANCELED: "CANCELLATION",
}

Levels = dict[tuple[str, int], int]
"""A book as ``{(side, price): size}`` with side ``BUY`` (bids) or ``SELL`` (asks)."""


def book_message(book: BookSnapshot) -> dict[str, Any]:
    """A ``book`` event (initial dump element, or after a trade): the REST book plus
    ``event_type``; bids ascending, asks descending."""
    return {"event_type": "book", **clob_views.book_body(book)}


def levels_of(book: BookSnapshot) -> Levels:
    """The book's levels keyed by (side, price)."""
    levels: Levels = {("BUY", lv.price): lv.size for lv in book.bids}
    levels.update({("SELL", lv.price): lv.size for lv in book.asks})
    return levels


def level_changes(before: Levels, after: Levels) -> list[tuple[str, int, int]]:
    """``(side, price, new size)`` for every level that changed (0: removed), sorted."""
    changed = [
        (side, price, size)
        for (side, price), size in after.items()
        if before.get((side, price)) != size
    ]
    changed += [(side, price, 0) for (side, price) in before if (side, price) not in after]
    return sorted(changed)


def price_change_message(
    book: BookSnapshot, changes: list[tuple[str, int, int]]
) -> dict[str, Any]:
    """A ``price_change`` event: new aggregate sizes, each with the new best bid/ask."""
    best_bid = dec_or_empty(book.best_bid)
    best_ask = dec_or_empty(book.best_ask)
    stamp = ms_text(book.timestamp)
    digest = clob_views.book_body(book)["hash"]
    return {
        "event_type": "price_change",
        "market": book.market,
        "price_changes": [
            {
                "asset_id": book.token_id,
                "price": dec(price),
                "size": dec(size),
                "side": side,
                "hash": digest,
                "best_bid": best_bid,
                "best_ask": best_ask,
            }
            for side, price, size in changes
        ],
        "timestamp": stamp,
    }


def best_bid_ask_message(book: BookSnapshot) -> dict[str, Any]:
    """A ``best_bid_ask`` event (custom feature); an empty side is ``""``."""
    spread = book.spread
    return {
        "event_type": "best_bid_ask",
        "market": book.market,
        "asset_id": book.token_id,
        "best_bid": dec_or_empty(book.best_bid),
        "best_ask": dec_or_empty(book.best_ask),
        "spread": dec_or_empty(spread),
        "timestamp": ms_text(book.timestamp),
    }


def last_trade_message(event: VenueEvent, fee_rate: Decimal | int) -> dict[str, Any]:
    """A ``last_trade_price`` event for a new match (the taker's side and average price)."""
    return {
        "event_type": "last_trade_price",
        "asset_id": event.token_id,
        "market": event.market,
        "price": dec(event.price),
        "size": dec(event.size_matched),
        "fee_rate_bps": str(int(Decimal(fee_rate) * 10_000)),
        "side": str(event.side),
        "timestamp": ms_text(event.time),
        "transaction_hash": transaction_hash(event.trade_id),
    }


def tick_size_message(
    market: str, token_id: str, old: int, new: int, when: float
) -> dict[str, Any]:
    """A ``tick_size_change`` event."""
    return {
        "event_type": "tick_size_change",
        "asset_id": token_id,
        "market": market,
        "old_tick_size": dec(old),
        "new_tick_size": dec(new),
        "timestamp": ms_text(when),
    }


def market_resolved_message(
    market: ListedMarket, winner: Outcome, market_id: str, when: float
) -> dict[str, Any]:
    """A ``market_resolved`` event (custom feature)."""
    return {
        "event_type": "market_resolved",
        "id": market_id,
        "market": market.condition_id,
        "assets_ids": list(market.token_ids),
        "winning_asset_id": market.up_token_id
        if winner is Outcome.UP
        else market.down_token_id,
        "winning_outcome": str(winner),
        "timestamp": ms_text(when),
    }


def user_order_message(
    event: VenueEvent, order: Order | None, owner: str, style: StatusStyle
) -> dict[str, Any]:
    """An ``order`` event (PLACEMENT, UPDATE or CANCELLATION) as the event recorded it;
    the order's fixed fields (type, size, outcome) come from its snapshot."""
    status = order_status_text(event.status, style, event.detail or None)
    created = ms_text(order.created_at) if order is not None else ""
    return {
        "event_type": "order",
        "id": event.order_id,
        "owner": owner,
        "order_owner": owner,
        "market": event.market,
        "asset_id": event.token_id,
        "side": str(event.side),
        "original_size": dec(order.size) if order is not None else "",
        "size_matched": dec(event.size_matched),
        "price": dec(event.price),
        "associate_trades": list(order.trade_ids) if order is not None else [],
        "outcome": str(order.outcome) if order is not None else "",
        "type": ORDER_EVENT_TYPES.get(event.kind, "UPDATE"),
        "created_at": created,
        "expiration": str(order.expiration) if order is not None else "0",
        "order_type": str(order.order_type) if order is not None else "",
        "status": status,
        "maker_address": event.account,
        "timestamp": ms_text(event.time),
    }


def user_trade_message(
    trade: Trade,
    status: str,
    viewer: str,
    key_of: Callable[[str], str],
    style: StatusStyle,
    when: float,
) -> dict[str, Any]:
    """A ``trade`` event for ``viewer`` at one status (MATCHED, CONFIRMED, FAILED)."""
    body = clob_views.trade_body(trade, viewer, key_of, style)
    body["status"] = trade_status_text(status, style)
    body["last_update"] = str(int(when))
    return {
        "event_type": "trade",
        "type": "TRADE",
        **body,
        "trade_owner": key_of(viewer),
        "timestamp": ms_text(when),
    }
