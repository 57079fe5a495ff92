"""Venue trades → our fill events, and order specs → venue amounts: one place per rule.

Every adapter (in-process simulator, the Polymarket CLOB over REST or the user websocket)
builds its :class:`FillEvent`s here, so the same venue trade always becomes the same ids
and the same micro-unit amounts, whichever channel reported it:

* the taker leg of a trade is identified by the venue's trade id;
* each of our maker legs by ``f"{trade_id}/{maker_order_id}"`` (one trade can fill several
  of our resting orders, and the ledger needs one unique id per leg);
* the taker pays the fee — in shares on a BUY, in collateral on a SELL; makers pay none;
* the taker's notional is the exact collateral exchanged (the sum of the maker legs), its
  price the floored average; a maker leg's notional is ``size × price`` of that leg.
"""

from __future__ import annotations

from dataclasses import dataclass

from src.trading.ledger.accounting import FeeAsset, Side
from src.trading.ledger.events import FillEvent, FillStatus
from src.trading.venue.port import OrderSpec, OrderType
from src.utils.money import MICRO

CENT_MICRO = 10_000  # market order amounts carry at most 2 decimals


@dataclass(frozen=True, slots=True)
class MakerLeg:
    """One resting order's part of a venue trade."""

    order_id: str
    owner: str  # the account (address) whose order it is
    side: Side
    price_micro: int
    size_micro: int
    notional_micro: int


def market_amount_micro(spec: OrderSpec) -> int:
    """What a FOK/FAK order is expressed in at the venue: dollars for a BUY
    (``size × price`` floored to a cent), shares for a SELL (floored to 0.01)."""
    if spec.order_type not in (OrderType.FOK, OrderType.FAK):
        raise ValueError(f"{spec.order_type} is not a market order type")
    if spec.side is Side.BUY:
        amount = spec.size_micro * spec.price_micro // MICRO
    else:
        amount = spec.size_micro
    amount -= amount % CENT_MICRO
    if spec.side is Side.BUY:
        amount = _four_decimal_shares(amount, spec.price_micro)
    return amount


def _four_decimal_shares(amount_micro: int, price_micro: int) -> int:
    """The largest cent amount ≤ ``amount_micro`` whose shares at ``price_micro`` have at
    most 4 decimals: the venue refuses a market BUY whose taker amount has more, and on the
    0.001 tick the client would sign 5 (``amount / price`` is not rounded to 4 there)."""
    if price_micro % 10_000 == 0:
        return amount_micro  # 0.01 tick: the client rounds the shares to 4 decimals
    thousandths = price_micro // 1_000
    cents = amount_micro // CENT_MICRO
    for candidate in range(cents, max(cents - thousandths, 0), -1):
        if candidate * 100_000 % thousandths == 0:
            return candidate * CENT_MICRO
    return 0  # below one tick's worth: nothing valid to send


def maker_fill_id(trade_id: str, order_id: str) -> str:
    """The fill id of one maker leg of a trade."""
    return f"{trade_id}/{order_id}"


def taker_fee_asset(side: Side) -> FeeAsset:
    """Takers pay in shares on a BUY, in collateral on a SELL."""
    return FeeAsset.SHARES if side is Side.BUY else FeeAsset.COLLATERAL


def trade_fills(
    *,
    account: str,
    trade_id: str,
    taker_order_id: str,
    taker_account: str,
    side: Side,
    status: FillStatus,
    fee_micro: int,
    at_ms: int,
    legs: tuple[MakerLeg, ...],
) -> list[FillEvent]:
    """``account``'s side(s) of one venue trade: its taker leg and/or its maker legs.

    ``legs`` are all the trade's maker legs (the taker's size and notional are their sums,
    which is what the venue exchanged), so callers never compute amounts themselves.
    """
    fills: list[FillEvent] = []
    size = sum(leg.size_micro for leg in legs)
    notional = sum(leg.notional_micro for leg in legs)
    if _same(taker_account, account) and size:
        fills.append(
            FillEvent(
                venue_trade_id=trade_id,
                venue_order_id=taker_order_id,
                status=status,
                side=side,
                role="taker",
                price_micro=notional * MICRO // size,
                size_micro=size,
                fee_micro=fee_micro,
                fee_asset=taker_fee_asset(side),
                at_ms=at_ms,
                notional_micro=notional,
            )
        )
    for leg in legs:
        if not _same(leg.owner, account):
            continue
        fills.append(
            FillEvent(
                venue_trade_id=maker_fill_id(trade_id, leg.order_id),
                venue_order_id=leg.order_id,
                status=status,
                side=leg.side,
                role="maker",
                price_micro=leg.price_micro,
                size_micro=leg.size_micro,
                fee_micro=0,
                fee_asset=FeeAsset.COLLATERAL,
                at_ms=at_ms,
                notional_micro=leg.notional_micro,
            )
        )
    return fills


def _same(a: str, b: str) -> bool:
    # Addresses may come checksummed from one channel and lower-case from another.
    return a.lower() == b.lower()
