"""Pure builders of the CLOB's JSON answers, from venue snapshots.

Shapes follow ``reference/polymarket_api.md`` §1.4 and the payload fixtures: amounts are
decimal strings, the book lists bids ascending and asks descending (best **last**), and
its ``hash`` is the SHA-1 the client recomputes (``generate_orderbook_summary_hash``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from src.sim.emulator.context import MarketSnapshot
from src.sim.emulator.wire import (
    StatusStyle,
    dec,
    dec_or_empty,
    fee_rate_bps,
    iso,
    json_text,
    ms_text,
    num,
    order_status_text,
    trade_status_text,
    transaction_hash,
)
from src.sim.emulator.world import ListedMarket
from src.sim.venue import (
    BookLevel,
    BookSnapshot,
    CancelResult,
    Order,
    Outcome,
    PlaceResult,
    Trade,
)

LEGACY_BASE_FEE = 1000
"""``/fee-rate`` and ``maker/taker_base_fee`` on fee-enabled markets (inert in V2)."""

CRYPTO_TAGS = ["Crypto", "15M"]


def _levels(levels: tuple[BookLevel, ...]) -> list[dict[str, str]]:
    # The venue's wire order is worst first: reverse the best-first snapshot.
    return [{"price": dec(lv.price), "size": dec(lv.size)} for lv in reversed(levels)]


def book_hash(body: dict[str, Any]) -> str:
    """SHA-1 of the compact book JSON with ``hash`` blank, keys in the venue's order."""
    payload = {
        "market": body["market"],
        "asset_id": body["asset_id"],
        "timestamp": body["timestamp"],
        "hash": "",
        "bids": body["bids"],
        "asks": body["asks"],
        "min_order_size": body["min_order_size"],
        "tick_size": body["tick_size"],
        "neg_risk": body["neg_risk"],
        "last_trade_price": body["last_trade_price"],
    }
    return hashlib.sha1(json_text(payload).encode("utf-8")).hexdigest()


def book_body(book: BookSnapshot) -> dict[str, Any]:
    """``GET /book`` (and each element of ``POST /books``)."""
    body: dict[str, Any] = {
        "market": book.market,
        "asset_id": book.token_id,
        "timestamp": ms_text(book.timestamp),
        "hash": "",
        "bids": _levels(book.bids),
        "asks": _levels(book.asks),
        "min_order_size": dec(book.min_order_size),
        "tick_size": dec(book.tick_size),
        "neg_risk": book.neg_risk,
        "last_trade_price": dec_or_empty(book.last_trade_price),
    }
    body["hash"] = book_hash(body)
    return body


def midpoint_text(book: BookSnapshot) -> str:
    """The midpoint as text; ``"0"`` when a side is empty [INF: the venue's answer for a
    one-sided book is not documented]."""
    mid = book.midpoint
    return "0" if mid is None else dec(mid)


def price_text(book: BookSnapshot, side: str) -> str:
    """``/price``: BUY answers the best **bid**, SELL the best **ask** (the docs' rule)."""
    best = book.best_bid if side == "BUY" else book.best_ask
    return "0" if best is None else dec(best)


def spread_text(book: BookSnapshot) -> str:
    """Best ask minus best bid, ``"0"`` when a side is empty."""
    spread = book.spread
    return "0" if spread is None else dec(spread)


def last_trade_body(book: BookSnapshot) -> dict[str, str]:
    """``/last-trade-price``: ``{"price": "0.5", "side": ""}`` before any trade."""
    if book.last_trade_price is None:
        return {"price": "0.5", "side": ""}
    return {"price": dec(book.last_trade_price), "side": str(book.last_trade_side or "")}


def tick_number(tick_micro: int) -> float:
    """A tick as the JSON number the client ``str()``s (``0.01``, ``0.001``)."""
    return float(dec(tick_micro))


def _token_price(snapshot: MarketSnapshot, outcome: Outcome) -> float:
    if snapshot.winner is not None:
        return 1.0 if snapshot.winner is outcome else 0.0
    up = num(snapshot.up_price)
    return up if outcome is Outcome.UP else round(1 - up, 6)


def clob_market_body(snapshot: MarketSnapshot) -> dict[str, Any]:
    """``GET /markets/{condition_id}``: the CLOB market object."""
    market = snapshot.market
    fee_on = market.fee_rate > 0
    return {
        "enable_order_book": True,
        "active": True,
        "closed": snapshot.resolved,
        "archived": False,
        "accepting_orders": snapshot.accepting_orders,
        "accepting_order_timestamp": iso(market.listed_at),
        "minimum_order_size": int(market.min_order_size)
        if market.min_order_size == int(market.min_order_size)
        else float(market.min_order_size),
        "minimum_tick_size": tick_number(snapshot.tick),
        "condition_id": market.condition_id,
        "question_id": market.question_id,
        "question": market.question,
        "description": market_description(market),
        "market_slug": market.slug,
        "end_date_iso": iso(market.end),
        "game_start_time": None,
        "seconds_delay": 0,
        "fpmm": "",
        "maker_base_fee": LEGACY_BASE_FEE if fee_on else 0,
        "taker_base_fee": LEGACY_BASE_FEE if fee_on else 0,
        "notifications_enabled": True,
        "neg_risk": market.neg_risk,
        "neg_risk_market_id": "",
        "neg_risk_request_id": "",
        "icon": "",
        "image": "",
        "rewards": {"rates": None, "min_size": 50, "max_spread": 4.5},
        "is_50_50_outcome": False,
        "tokens": [
            {
                "token_id": market.up_token_id,
                "outcome": "Up",
                "price": _token_price(snapshot, Outcome.UP),
                "winner": snapshot.winner is Outcome.UP,
            },
            {
                "token_id": market.down_token_id,
                "outcome": "Down",
                "price": _token_price(snapshot, Outcome.DOWN),
                "winner": snapshot.winner is Outcome.DOWN,
            },
        ],
        "tags": CRYPTO_TAGS,
    }


def clob_market_info_body(snapshot: MarketSnapshot) -> dict[str, Any]:
    """``GET /clob-markets/{condition_id}``: the V2 client's compact market parameters."""
    market = snapshot.market
    body: dict[str, Any] = {
        "c": market.condition_id,
        "t": [
            {"t": market.up_token_id, "o": "Up"},
            {"t": market.down_token_id, "o": "Down"},
        ],
        "mts": tick_number(snapshot.tick),
        "mos": float(market.min_order_size),
        "fd": {"r": float(market.fee_rate), "e": 1, "to": True},
        "mbf": LEGACY_BASE_FEE if market.fee_rate > 0 else 0,
        "tbf": LEGACY_BASE_FEE if market.fee_rate > 0 else 0,
        "r": {"mi": 50, "ma": 4.5, "moas": 30},
        "itode": False,
        "ao": snapshot.accepting_orders,
    }
    if market.neg_risk:
        body["nr"] = True
    return body


def market_description(market: ListedMarket) -> str:
    """The venue's resolution text (spot wording; the emulator resolves on its feed)."""
    return (
        'This market will resolve to "Up" if the price of '
        f"{market.symbol} at the end of the time range specified in the title is "
        "greater than or equal to the price at the beginning of that range. Otherwise, "
        'it will resolve to "Down". The resolution source for this market is the '
        "emulator's price feed."
    )


def order_body(order: Order, owner: str, style: StatusStyle) -> dict[str, Any]:
    """An OpenOrder (``/data/order/{id}``, the rows of ``/data/orders``)."""
    return {
        "id": order.order_id,
        "status": order_status_text(order.status, style, order.cancel_reason),
        "owner": owner,
        "maker_address": order.account,
        "market": order.market,
        "asset_id": order.token_id,
        "side": str(order.side),
        "original_size": dec(order.size),
        "size_matched": dec(order.matched),
        "price": dec(order.price),
        "associate_trades": list(order.trade_ids),
        "outcome": str(order.outcome),
        "created_at": int(order.created_at),
        "expiration": str(order.expiration),
        "order_type": str(order.order_type),
    }


def trade_body(
    trade: Trade,
    viewer: str,
    key_of: Callable[[str], str],
    style: StatusStyle,
) -> dict[str, Any]:
    """A Trade as ``viewer`` sees it (``/data/trades``): TAKER if it sent the taker order,
    else MAKER; ``side``/``size``/``price`` are the taker's, as on the venue."""
    is_taker = trade.taker_account == viewer
    return {
        "id": trade.trade_id,
        "taker_order_id": trade.taker_order_id,
        "market": trade.market,
        "asset_id": trade.token_id,
        "side": str(trade.side),
        "size": dec(trade.size),
        "fee_rate_bps": fee_rate_bps(trade.fee_rate),
        "price": dec(trade.price),
        "status": trade_status_text(trade.status, style),
        "match_time": str(int(trade.match_time)),
        "last_update": str(int(trade.last_update)),
        "outcome": str(trade.outcome),
        "bucket_index": 0,
        "owner": key_of(viewer),
        "maker_address": viewer,
        "transaction_hash": transaction_hash(trade.trade_id),
        "trader_side": "TAKER" if is_taker else "MAKER",
        "maker_orders": [
            {
                "order_id": fill.order_id,
                "owner": key_of(fill.account),
                "maker_address": fill.account,
                "matched_amount": dec(fill.size),
                "price": dec(fill.price),
                "fee_rate_bps": "0",
                "asset_id": trade.token_id,
                "outcome": str(trade.outcome),
                "side": str(fill.side),
            }
            for fill in trade.maker_fills
        ],
    }


def placement_body(result: PlaceResult) -> dict[str, Any]:
    """One ``POST /order`` answer (or element of ``POST /orders``).

    Matched orders carry their trades' settlement hashes at once, so the client never
    polls ``/data/trades`` for up to 30 s waiting for them.
    """
    if not result.success:
        return {
            "success": False,
            "errorMsg": result.error,
            "orderID": result.order_id,
            "status": "",
            "makingAmount": "",
            "takingAmount": "",
            "transactionsHashes": [],
            "tradeIDs": [],
        }
    matched = bool(result.trade_ids)
    return {
        "success": True,
        "errorMsg": "",
        "orderID": result.order_id,
        "status": str(result.status or ""),
        "makingAmount": dec(result.making_amount) if matched else "",
        "takingAmount": dec(result.taking_amount) if matched else "",
        "transactionsHashes": [transaction_hash(t) for t in result.trade_ids],
        "tradeIDs": list(result.trade_ids),
    }


def cancel_body(result: CancelResult) -> dict[str, Any]:
    """``{"canceled": [...], "not_canceled": {id: reason}}`` (all four cancel routes)."""
    return {"canceled": list(result.canceled), "not_canceled": dict(result.not_canceled)}


def balance_body(micro: int, spenders: tuple[str, ...]) -> dict[str, Any]:
    """``/balance-allowance`` (V2): base-unit balance and unlimited allowances."""
    unlimited = str(2**256 - 1)
    return {"balance": str(micro), "allowances": {s: unlimited for s in spenders}}
