"""The venue's order rules, applied before sending — with the venue's own messages.

Rounding goes the safe way: a BUY's limit rounds down and a SELL's up (never pay more or
accept less than decided), sizes round down to the 0.01-share lot. The checks reuse the
simulated venue's rule functions and texts, so the bot refuses exactly what the venue would
refuse, with the same words.
"""

from __future__ import annotations

from src.sim.venue import errors
from src.sim.venue.amounts import LOT, MIN_MARKETABLE_BUY, floor_lot, is_on_tick, notional
from src.trading.ledger.accounting import Side
from src.trading.venue.port import OrderSpec, OrderType
from src.utils.money import MICRO, micro_str

MAX_BATCH = errors.MAX_BATCH_ORDERS


def round_price(price_micro: int, tick_micro: int, side: Side) -> int:
    """Snap to the tick grid: BUY down, SELL up; kept strictly inside (0, 1)."""
    rest = price_micro % tick_micro
    if rest:
        price_micro += -rest if side is Side.BUY else tick_micro - rest
    return min(max(price_micro, tick_micro), MICRO - tick_micro)


def round_size(size_micro: int) -> int:
    """Whole 0.01-share lots, rounded down."""
    return floor_lot(size_micro)


def order_problem(spec: OrderSpec, tick_micro: int, min_size_micro: int) -> str | None:
    """The venue's rejection text for ``spec``, or None when it would be accepted on form.

    (Balance and book-dependent outcomes — FOK not filled, post-only crossing — can only be
    known by the venue.)
    """
    order_id = spec.client_order_id
    if not is_on_tick(spec.price_micro, tick_micro):
        return errors.tick_size_error(
            order_id, micro_str(spec.price_micro), micro_str(tick_micro)
        )
    if spec.size_micro <= 0 or spec.size_micro % LOT:
        return errors.INVALID_ORDER_PAYLOAD
    if spec.size_micro < min_size_micro:
        return errors.min_size_error(
            order_id, micro_str(spec.size_micro), micro_str(min_size_micro)
        )
    is_market = spec.order_type in (OrderType.FOK, OrderType.FAK)
    if spec.post_only and is_market:
        return errors.POST_ONLY_TYPE
    if (
        is_market
        and spec.side is Side.BUY
        and (notional(spec.size_micro, spec.price_micro) < MIN_MARKETABLE_BUY)
    ):
        return errors.marketable_buy_min_error(
            micro_str(notional(spec.size_micro, spec.price_micro))
        )
    return None
