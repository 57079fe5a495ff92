"""The venue's rejection texts and the simulator's own exceptions, in one place.

Order rejections are *answers*, not exceptions: the venue replies with these exact strings
(``errorMsg`` / ``{"error": …}``) and clients match on them, so every text the simulated
venue can return is built here and nowhere else. Sources: ``reference/polymarket_api.md``
§2.3 and §2.6, and the current CLOB error-code page, whose tick and minimum-size texts carry
the order id (``order 0x… is invalid. Size (1.73) lower than the minimum: 5``, as observed
live).

Exceptions are for misuse of the simulator itself (unknown account, a batch that is too
large, minting more than you hold): things a correct caller never triggers.
"""

from __future__ import annotations

from enum import StrEnum


class RejectCode(StrEnum):
    """Why an order was refused (the venue's error-code names)."""

    MARKET_NOT_READY = "MARKET_NOT_READY"
    ORDERBOOK_MISSING = "ORDERBOOK_MISSING"
    DUPLICATED = "INVALID_ORDER_DUPLICATED"
    INVALID_PAYLOAD = "INVALID_ORDER_PAYLOAD"
    MIN_TICK_SIZE = "INVALID_ORDER_MIN_TICK_SIZE"
    MIN_SIZE = "INVALID_ORDER_MIN_SIZE"
    MARKET_PRECISION = "INVALID_ORDER_AMOUNTS"
    MARKETABLE_BUY_MIN = "INVALID_ORDER_MARKETABLE_BUY_MIN"
    NOT_ENOUGH_BALANCE = "INVALID_ORDER_NOT_ENOUGH_BALANCE"
    EXPIRATION = "INVALID_ORDER_EXPIRATION"
    POST_ONLY_TYPE = "INVALID_POST_ONLY_ORDER_TYPE"
    POST_ONLY_CROSSES = "INVALID_POST_ONLY_ORDER"
    FOK_NOT_FILLED = "FOK_ORDER_NOT_FILLED_ERROR"
    FAK_NOT_FILLED = "FAK_ORDER_NOT_FILLED_ERROR"
    POST_ONLY_MODE = "MATCHING_ENGINE_POST_ONLY_MODE"


MARKET_NOT_READY = "the market is not yet ready to process new orders"
INVALID_ORDER_PAYLOAD = "Invalid order payload"
NOT_ENOUGH_BALANCE = "not enough balance / allowance"
INVALID_EXPIRATION = "invalid expiration"
POST_ONLY_TYPE = "invalid post-only order: only GTC and GTD order types are allowed"
POST_ONLY_CROSSES = "invalid post-only order: order crosses book"
POST_ONLY_MODE = "post-only mode: only post-only orders and cancels are allowed"
"""The matching engine's answer while it runs post-only (after a restart, ~2 minutes)."""
FOK_NOT_FILLED = "order couldn't be fully filled. FOK orders are fully filled or killed."
FAK_NOT_FILLED = (
    "no orders found to match with FAK order. "
    "FAK orders are partially filled or killed if no match is found."
)
MARKET_BUY_PRECISION = (
    "invalid amounts, the market buy orders maker amount supports a max accuracy of "
    "2 decimals, taker amount a max of 4 decimals"
)
MARKET_SELL_PRECISION = (
    "invalid amounts, the sell orders maker amount supports a max accuracy of "
    "2 decimals, taker amount a max of 4 decimals"
)

# Reasons in a cancel reply's ``not_canceled`` map.
NOT_CANCELED_NOT_FOUND = "order not found"
NOT_CANCELED_DONE = "already canceled or matched"

MAX_BATCH_ORDERS = 15


def tick_size_error(order_id: str, price: str, tick: str) -> str:
    """``order 0x… is invalid. Price (0.505) breaks minimum tick size rule: 0.01``."""
    rule = f"breaks minimum tick size rule: {tick}"
    return f"order {order_id} is invalid. Price ({price}) {rule}"


def min_size_error(order_id: str, size: str, minimum: str) -> str:
    """``order 0x… is invalid. Size (1.73) lower than the minimum: 5``."""
    return f"order {order_id} is invalid. Size ({size}) lower than the minimum: {minimum}"


def duplicated_error(order_id: str) -> str:
    """``order 0x… is invalid. Duplicated.``"""
    return f"order {order_id} is invalid. Duplicated."


def marketable_buy_min_error(amount: str) -> str:
    """``invalid amount for a marketable BUY order ($0.9996), min size: $1``."""
    return f"invalid amount for a marketable BUY order (${amount}), min size: $1"


def orderbook_missing_error(token_id: str) -> str:
    """The reply for an order on a token the venue has no book for."""
    return f"the orderbook {token_id} does not exist"


def batch_too_large_error(count: int, maximum: int = MAX_BATCH_ORDERS) -> str:
    """``Too many orders in payload: 16, max allowed: 15`` (the whole request fails)."""
    return f"Too many orders in payload: {count}, max allowed: {maximum}"


class VenueError(Exception):
    """Base class for misuse of the simulated venue (never an order rejection)."""


class UnknownAccountError(VenueError, KeyError):
    """An address that has no account at the venue."""


class UnknownMarketError(VenueError, KeyError):
    """A condition id or token id that was never registered."""


class DuplicateMarketError(VenueError):
    """A market (or one of its token ids) registered twice."""


class BatchTooLargeError(VenueError):
    """More orders in one batch than the venue accepts; carries the venue's text."""


class InsufficientFundsError(VenueError):
    """A mint, merge or withdrawal larger than the account's free balance."""


class MarketStateError(VenueError):
    """An operation the market's state forbids (mint after resolution, redeem before)."""
