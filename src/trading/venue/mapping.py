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
from math import floor, gcd, inf, nextafter

from py_clob_client_v2.order_builder.builder import ROUNDING_CONFIG, OrderBuilder
from py_clob_client_v2.order_builder.helpers import round_normal

from src.trading.ledger.accounting import FeeAsset, Side
from src.trading.ledger.events import FillEvent, FillStatus
from src.trading.venue.port import OrderSpec, OrderType
from src.utils.money import MICRO, from_micro, micro_str

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


def market_amount_micro(spec: OrderSpec, tick_micro: int | None = None) -> int:
    """What a FOK/FAK order is expressed in at the venue: dollars for a BUY
    (``size × price`` floored to a cent), shares for a SELL (floored to 0.01).

    A BUY on a tick finer than 0.01 (``tick_micro``; without it, a price off the cent
    grid stands for one) is cut to whole 4-decimal shares (:func:`_four_decimal_shares`).
    """
    if spec.order_type not in (OrderType.FOK, OrderType.FAK):
        raise ValueError(f"{spec.order_type} is not a market order type")
    if spec.side is Side.BUY:
        amount = spec.size_micro * spec.price_micro // MICRO
    else:
        amount = spec.size_micro
    amount -= amount % CENT_MICRO
    fine = spec.price_micro % CENT_MICRO != 0 or (
        tick_micro is not None and tick_micro < CENT_MICRO
    )
    if spec.side is Side.BUY and fine:
        amount = _four_decimal_shares(amount, spec.price_micro)
    return amount


def _four_decimal_shares(amount_micro: int, price_micro: int) -> int:
    """The largest cent amount ≤ ``amount_micro`` whose shares at ``price_micro`` have at
    most 4 decimals: the venue refuses a market BUY whose taker amount has more, and on a
    tick finer than 0.01 the client signs the shares with 5 (or 6) decimals."""
    if price_micro <= 0:
        return 0
    # shares = cents × 10^4 / price (micro) carry ≤ 4 decimals ⇔ cents × 10^8 ≡ 0 (price)
    period = price_micro // gcd(price_micro, 10**8)
    cents = amount_micro // CENT_MICRO
    return (cents - cents % period) * CENT_MICRO  # 0 below one period: nothing to send


# --- what the official client is handed ------------------------------------------------
#
# The client (``py_clob_client_v2.order_builder``) floors with float arithmetic,
# ``floor(x * 10**d) / 10**d``: float(70.96) * 100 is 7095.999…, so 70.96 shares would be
# signed as 70.95, and a market price of 0.58 as 0.57. Its ``round_normal`` (limit
# prices) and everything after a floor (products, ``round_up`` to d + 4 decimals, then
# ``to_token_decimals``) are exact for values on the venue's grids. So each value the
# client floors is handed as the float nearest above the intended decimal that its floor
# maps back onto it — at most a few ulps above, never a whole unit. (Decimals are no way
# out: its ``price_valid`` compares the price with the float ``1 - tick``, and
# Decimal("0.99") is above float 0.99, so the top price would be refused.)

_AMOUNTS = OrderBuilder(None)  # the official client's amount rules (no signer needed)


@dataclass(frozen=True, slots=True)
class ClientOrderArgs:
    """The arguments the official client signs an :class:`OrderSpec` from."""

    tick: str  # the client's tick-size key, e.g. "0.01"
    price: float
    quantity: float  # limit: size (shares); market: amount (BUY dollars, SELL shares)


def floor_proof(value_micro: int, digits: int) -> float:
    """``value_micro`` floored to ``digits`` decimals, as the float which the client's
    ``round_down`` (``floor(x * 10**digits) / 10**digits``) maps to exactly that value."""
    scale = 10**digits
    units = value_micro * scale // MICRO
    x = units / scale  # the float nearest to the decimal (what round_down returns)
    while floor(x * scale) < units:  # x × scale landed just under the integer
        x = nextafter(x, inf)
    return x


def client_args(spec: OrderSpec, tick_micro: int) -> ClientOrderArgs:
    """What :class:`~src.trading.venue.clob.ClobVenue` hands the client for ``spec`` on a
    market of tick ``tick_micro``, so that it signs exactly:

    * a limit order: the price (rounded to the tick by the client's ``round_normal``),
      the size floored to 0.01; maker/taker amounts are then ``size × price`` exactly;
    * a market order: the price and :func:`market_amount_micro` (the amount floored to
      cents). A SELL's taker amount is ``shares × price`` exactly; a BUY's is
      ``amount / price`` floored to the tick's amount decimals (4 on 0.01; on a finer tick
      the amount makes it exact with ≤ 4).

    Raises ``KeyError`` for a tick the client does not know.
    """
    tick = micro_str(tick_micro)
    config = ROUNDING_CONFIG[tick]
    if spec.order_type in (OrderType.FOK, OrderType.FAK):
        amount = market_amount_micro(spec, tick_micro)
        return ClientOrderArgs(
            tick,
            floor_proof(spec.price_micro, config.price),
            floor_proof(amount, config.size),
        )
    return ClientOrderArgs(
        tick,
        float(from_micro(spec.price_micro)),
        floor_proof(spec.size_micro, config.size),
    )


def signed_amounts(spec: OrderSpec, tick_micro: int) -> tuple[int, int]:
    """``(maker_amount, taker_amount)`` in base units (micro) exactly as the official
    client signs ``spec`` on a market of tick ``tick_micro`` — the venue knows an order by
    these amounts alone: its own amount functions, fed :func:`client_args` the way its
    ``create_order`` / ``create_market_order`` feed them.

    Raises ``KeyError`` for a tick the client does not know.
    """
    args = client_args(spec, tick_micro)
    config = ROUNDING_CONFIG[args.tick]
    side = str(spec.side)
    if spec.order_type in (OrderType.FOK, OrderType.FAK):
        _, maker, taker = _AMOUNTS.get_market_order_amounts(
            side, args.quantity, args.price, config
        )
    else:
        price = round_normal(args.price, config.price)  # as create_order does
        _, maker, taker = _AMOUNTS.get_order_amounts(side, args.quantity, price, config)
    return int(maker), int(taker)


def signed_shares(spec: OrderSpec, maker_amount: int, taker_amount: int) -> int:
    """The shares signed amounts carry: the taker amount of a BUY, the maker amount of a
    SELL (a market BUY's shares are its amount / price, floored)."""
    return taker_amount if spec.side is Side.BUY else maker_amount


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
