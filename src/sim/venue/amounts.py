"""Unit rules of the venue: ticks, lots, notional and the signed-amount precision checks.

Every quantity inside the engine is an ``int`` of micro-units (``MICRO`` = 10^6): prices
(0.52 → 520_000), shares and collateral alike. Shares move in **lots of 0.01** (the venue's
2-decimal size precision), and every price lies on a tick of at least 0.0001, so
``shares × price`` is always a whole number of micro-units: a fill's cash leg is exact and
never rounded. These functions are pure; the engine and the request constructors share them.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

from src.utils.money import MICRO, AmountError, micro_str, to_decimal

LOT = 10_000
"""The smallest share quantity an order or a fill can have: 0.01 share."""

MAKER_AMOUNT_QUANTUM = 10_000
"""Market (FOK/FAK) orders: the maker amount may have at most 2 decimals."""

TAKER_AMOUNT_QUANTUM = 100
"""Market (FOK/FAK) orders: the taker amount may have at most 4 decimals."""

MIN_MARKETABLE_BUY = MICRO
"""A marketable BUY must commit at least $1 of collateral."""

ALLOWED_TICKS = (100_000, 10_000, 1_000, 100)
"""Tick sizes the venue knows: 0.1, 0.01, 0.001 and 0.0001."""


def exact_micro(value: object) -> int:
    """``value`` as micro-units; more than 6 decimals is an error (never rounded)."""
    if isinstance(value, int) and not isinstance(value, bool):
        raise AmountError(f"pass a Decimal or str, not an int, to exact_micro: {value!r}")
    number = to_decimal(value)
    scaled = number * MICRO
    if scaled != scaled.to_integral_value():
        raise AmountError(f"{value!r} has more than 6 decimals")
    return int(scaled)


def tick_micro(tick: object) -> int:
    """A tick (``'0.01'``, ``Decimal('0.001')`` or micro ``int``) as checked micro-units."""
    micro = (
        tick if isinstance(tick, int) and not isinstance(tick, bool) else exact_micro(tick)
    )
    if micro not in ALLOWED_TICKS:
        raise AmountError(f"unsupported tick size: {tick!r}")
    return micro


def is_on_tick(price: int, tick: int) -> bool:
    """True when ``price`` is a multiple of ``tick`` strictly inside (0, 1)."""
    return 0 < price < MICRO and price % tick == 0


def is_lot(shares: int) -> bool:
    """True when ``shares`` is a positive whole number of 0.01-share lots."""
    return shares > 0 and shares % LOT == 0


def floor_lot(shares: int) -> int:
    """Round a share quantity down to whole lots."""
    return shares - shares % LOT


def notional(shares: int, price: int) -> int:
    """Collateral for ``shares`` at ``price`` (exact for whole lots on any allowed tick)."""
    return shares * price // MICRO


def affordable_lots(budget: int, price: int) -> int:
    """The most shares (whole lots) that ``budget`` collateral buys at ``price``."""
    return floor_lot(budget * MICRO // price)


def lot_cost(price: int) -> int:
    """Collateral for one lot at ``price``."""
    return LOT * price // MICRO


def market_buy_taker_amount(amount: int, price: int) -> int:
    """Shares a market BUY of ``amount`` collateral signs for at ``price`` (4-dp floor)."""
    shares = amount * MICRO // price
    return shares - shares % TAKER_AMOUNT_QUANTUM


def market_sell_taker_amount(shares: int, price: int) -> int:
    """Collateral a market SELL of ``shares`` signs for at ``price`` (4-dp floor)."""
    cash = shares * price // MICRO
    return cash - cash % TAKER_AMOUNT_QUANTUM


def market_precision_ok(maker_amount: int, taker_amount: int) -> bool:
    """The FOK/FAK rule: maker amount ≤ 2 decimals, taker amount ≤ 4 decimals."""
    return (
        maker_amount % MAKER_AMOUNT_QUANTUM == 0
        and taker_amount % TAKER_AMOUNT_QUANTUM == 0
    )


def price_from_amounts(
    is_buy: bool, maker_amount: int, taker_amount: int, tick: int
) -> int:
    """The limit price implied by signed amounts, rounded down to ``tick`` for a BUY.

    BUY: maker pays collateral for taker shares, so price = maker / taker; a market BUY's
    ratio sits a hair above its tick price (the taker amount was floored), hence rounding
    down. SELL: price = taker / maker, rounded up for the same reason.
    """
    if maker_amount <= 0 or taker_amount <= 0:
        raise AmountError("amounts must be positive")
    if is_buy:
        ratio_num, ratio_den = maker_amount * MICRO, taker_amount
        price = ratio_num // ratio_den
        return price - price % tick
    ratio_num, ratio_den = taker_amount * MICRO, maker_amount
    price = -(-ratio_num // ratio_den)
    return price + (-price) % tick


def micro_text(micro: int) -> str:
    """Venue-style decimal text: ``1730000 → '1.73'``, ``5000000 → '5'``."""
    return micro_str(micro)


def decimal_of(micro: int) -> Decimal:
    """Micro-units as a normalised ``Decimal`` (``520000 → Decimal('0.52')``)."""
    return (
        (Decimal(micro) / MICRO)
        .quantize(Decimal("0.000001"), rounding=ROUND_DOWN)
        .normalize()
    )
