"""Typed values of the simulated venue: enums, order requests, orders, trades and replies.

Units: every ``int`` amount here is **micro-units** (10^-6): prices (0.52 → ``520_000``),
shares and collateral alike. ``Decimal`` views are offered as properties where a caller
wants them. Objects handed out by :class:`~src.sim.venue.venue.SimVenue` are snapshots:
mutating them changes nothing at the venue.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from src.sim.venue.amounts import (
    decimal_of,
    exact_micro,
    market_buy_taker_amount,
    market_sell_taker_amount,
    notional,
    price_from_amounts,
)
from src.sim.venue.errors import RejectCode
from src.utils.money import MICRO


class Side(StrEnum):
    """Order side, as the venue spells it."""

    BUY = "BUY"
    SELL = "SELL"


class OrderType(StrEnum):
    """Time in force. FOK and FAK are the venue's "market" types."""

    GTC = "GTC"
    GTD = "GTD"
    FOK = "FOK"
    FAK = "FAK"


MARKET_ORDER_TYPES = frozenset({OrderType.FOK, OrderType.FAK})
RESTING_ORDER_TYPES = frozenset({OrderType.GTC, OrderType.GTD})


class OrderStatus(StrEnum):
    """Order lifecycle status (V1 REST spelling; V2 prefixes ``ORDER_STATUS_``)."""

    LIVE = "LIVE"
    MATCHED = "MATCHED"
    CANCELED = "CANCELED"
    CANCELED_MARKET_RESOLVED = "CANCELED_MARKET_RESOLVED"


class CancelReason(StrEnum):
    """Why an order stopped resting without being fully matched."""

    USER = "user"
    EXPIRED = "expired"
    FOK_KILLED = "fok_killed"
    FAK_REMAINDER = "fak_remainder"
    MARKET_CLOSED = "market_closed"
    TRADE_FAILED = "trade_failed"


class PlacementStatus(StrEnum):
    """The ``status`` of an accepted placement: resting, or matched on entry."""

    LIVE = "live"
    MATCHED = "matched"


class TradeStatus(StrEnum):
    """Two-phase trade status: MATCHED, then CONFIRMED or FAILED."""

    MATCHED = "MATCHED"
    CONFIRMED = "CONFIRMED"
    FAILED = "FAILED"


class Outcome(StrEnum):
    """The two outcomes of an Up/Down market (``outcomes`` order: Up first)."""

    UP = "Up"
    DOWN = "Down"


class FeeAsset(StrEnum):
    """What a taker fee was collected in."""

    COLLATERAL = "COLLATERAL"
    SHARES = "SHARES"


@dataclass(slots=True)
class OrderRequest:
    """An order as submitted: the venue's signed-order economics, in micro-units.

    ``size`` is shares and ``amount`` collateral. For limit orders (GTC/GTD, or FOK/FAK
    built with :meth:`limit`) ``amount = size × price``. For market orders built with
    :meth:`market`: a BUY spends up to ``amount`` (maker amount) and ``size`` is the share
    count it signed for; a SELL sells ``size`` shares (maker amount) and ``amount`` is the
    collateral it signed for. ``price`` is the limit (worst acceptable) price.
    ``order_id`` lets a caller (the emulator: the order hash) choose the id.
    """

    token_id: str
    side: Side
    price: int
    size: int
    amount: int
    order_type: OrderType = OrderType.GTC
    expiration: int = 0
    post_only: bool = False
    order_id: str | None = None

    @classmethod
    def limit(
        cls,
        token_id: str,
        side: Side,
        price: object,
        size: object,
        order_type: OrderType = OrderType.GTC,
        *,
        expiration: int = 0,
        post_only: bool = False,
        order_id: str | None = None,
    ) -> OrderRequest:
        """A limit order of ``size`` shares at ``price`` (``Decimal``/``str`` values)."""
        price_m = exact_micro(price)
        size_m = exact_micro(size)
        return cls(
            token_id,
            side,
            price_m,
            size_m,
            notional(size_m, price_m),
            order_type,
            expiration,
            post_only,
            order_id,
        )

    @classmethod
    def market(
        cls,
        token_id: str,
        side: Side,
        amount: object,
        price: object,
        order_type: OrderType = OrderType.FOK,
        *,
        order_id: str | None = None,
    ) -> OrderRequest:
        """A market order as the official client builds it: BUY ``amount`` dollars, SELL
        ``amount`` shares, no worse than ``price`` (``Decimal``/``str`` values)."""
        price_m = exact_micro(price)
        amount_m = exact_micro(amount)
        if side is Side.BUY:
            size_m = market_buy_taker_amount(amount_m, price_m)
            return cls(
                token_id, side, price_m, size_m, amount_m, order_type, 0, False, order_id
            )
        cash_m = market_sell_taker_amount(amount_m, price_m)
        return cls(
            token_id, side, price_m, amount_m, cash_m, order_type, 0, False, order_id
        )

    @classmethod
    def from_amounts(
        cls,
        token_id: str,
        side: Side,
        maker_amount: int,
        taker_amount: int,
        tick: int,
        order_type: OrderType = OrderType.GTC,
        *,
        expiration: int = 0,
        post_only: bool = False,
        order_id: str | None = None,
    ) -> OrderRequest:
        """From a signed order's ``makerAmount``/``takerAmount`` (base units = micro).

        The price is the amounts' ratio snapped to ``tick`` (see
        :func:`~src.sim.venue.amounts.price_from_amounts`); a limit order whose ratio is
        off the tick keeps the exact ratio so that the venue rejects it.
        """
        is_buy = side is Side.BUY
        shares, cash = (
            (taker_amount, maker_amount) if is_buy else (maker_amount, taker_amount)
        )
        if order_type in MARKET_ORDER_TYPES:
            price = price_from_amounts(is_buy, maker_amount, taker_amount, tick)
        else:
            price = cash * MICRO // shares if shares > 0 else 0
            if shares > 0 and cash * MICRO % shares:
                price += 1  # off the micro grid, so certainly off the tick: rejected
        return cls(
            token_id, side, price, shares, cash, order_type, expiration, post_only, order_id
        )


@dataclass(slots=True, eq=False)
class Order:
    """An order the venue accepted (resting, matched, or cancelled).

    ``matched`` counts shares of MATCHED and CONFIRMED fills (a FAILED fill is taken back);
    ``remaining`` is what rests on the book; ``matched_notional`` the collateral of the
    matched fills. A market BUY can match more shares than ``size`` (price improvement);
    its bound is ``matched_notional ≤ amount``.
    """

    order_id: str
    account: str
    market: str
    token_id: str
    outcome: Outcome
    side: Side
    order_type: OrderType
    price: int
    size: int
    amount: int
    expiration: int
    post_only: bool
    created_at: float
    matched: int = 0
    remaining: int = 0
    matched_notional: int = 0
    status: OrderStatus = OrderStatus.LIVE
    cancel_reason: CancelReason | None = None
    trade_ids: tuple[str, ...] = ()
    updated_at: float = 0.0

    @property
    def is_buy(self) -> bool:
        """True for a BUY."""
        return self.side is Side.BUY

    @property
    def is_live(self) -> bool:
        """True while the order rests on the book."""
        return self.status is OrderStatus.LIVE

    @property
    def is_market_buy(self) -> bool:
        """True for a FOK/FAK BUY, whose budget is ``amount`` collateral."""
        return self.side is Side.BUY and self.order_type in MARKET_ORDER_TYPES

    def snapshot(self) -> Order:
        """A detached copy for callers."""
        return Order(
            self.order_id,
            self.account,
            self.market,
            self.token_id,
            self.outcome,
            self.side,
            self.order_type,
            self.price,
            self.size,
            self.amount,
            self.expiration,
            self.post_only,
            self.created_at,
            self.matched,
            self.remaining,
            self.matched_notional,
            self.status,
            self.cancel_reason,
            self.trade_ids,
            self.updated_at,
        )


@dataclass(slots=True, eq=False)
class MakerFill:
    """One resting order's part of a trade (the venue's ``maker_orders[]`` entry)."""

    order_id: str
    account: str
    side: Side
    price: int
    size: int
    notional: int


@dataclass(slots=True, eq=False)
class Trade:
    """One taker order's match against one or more resting orders, settled as a unit.

    ``side`` is the taker's side; ``size`` the shares and ``notional`` the collateral
    exchanged in total; ``fee`` the taker's fee, in ``fee_asset`` (shares on a BUY,
    collateral on a SELL); ``price`` the volume-weighted average (floored to a micro-unit;
    exact figures are ``size``/``notional``).
    """

    trade_id: str
    market: str
    token_id: str
    outcome: Outcome
    taker_order_id: str
    taker_account: str
    side: Side
    size: int
    notional: int
    fee: int
    fee_asset: FeeAsset
    fee_rate: int
    price: int
    status: TradeStatus
    match_time: float
    last_update: float
    maker_fills: tuple[MakerFill, ...]

    def snapshot(self) -> Trade:
        """A detached copy for callers (fills are never mutated, so they are shared)."""
        return Trade(
            self.trade_id,
            self.market,
            self.token_id,
            self.outcome,
            self.taker_order_id,
            self.taker_account,
            self.side,
            self.size,
            self.notional,
            self.fee,
            self.fee_asset,
            self.fee_rate,
            self.price,
            self.status,
            self.match_time,
            self.last_update,
            self.maker_fills,
        )


@dataclass(slots=True)
class PlaceResult:
    """The venue's answer to one order: accepted (with its matches) or refused.

    ``making_amount``/``taking_amount`` are what the order gave and got when it matched on
    entry (BUY: collateral paid / shares bought before fees; SELL: the reverse).
    """

    success: bool
    order_id: str
    error: str = ""
    code: RejectCode | None = None
    status: PlacementStatus | None = None
    making_amount: int = 0
    taking_amount: int = 0
    trade_ids: tuple[str, ...] = ()
    order: Order | None = None


@dataclass(slots=True)
class CancelResult:
    """Ids cancelled, and the ones that were not with the venue's reason."""

    canceled: tuple[str, ...] = ()
    not_canceled: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True, frozen=True)
class BookLevel:
    """Aggregated resting size at one price."""

    price: int
    size: int


@dataclass(slots=True, frozen=True)
class BookSnapshot:
    """One token's book, aggregated by price level, **best first** on both sides.

    The venue's ``/book`` wire order is the reverse (bids ascending, asks descending, best
    last): an emulator must reverse these tuples.
    """

    token_id: str
    market: str
    bids: tuple[BookLevel, ...]
    asks: tuple[BookLevel, ...]
    tick_size: int
    min_order_size: int
    neg_risk: bool
    last_trade_price: int | None
    last_trade_side: Side | None
    timestamp: float

    @property
    def best_bid(self) -> int | None:
        """Highest bid price, or None when there are no bids."""
        return self.bids[0].price if self.bids else None

    @property
    def best_ask(self) -> int | None:
        """Lowest ask price, or None when there are no asks."""
        return self.asks[0].price if self.asks else None

    @property
    def midpoint(self) -> int | None:
        """Mean of best bid and ask (exact: prices are on ticks ≥ 0.0001), or None."""
        if not self.bids or not self.asks:
            return None
        return (self.bids[0].price + self.asks[0].price) // 2

    @property
    def spread(self) -> int | None:
        """Best ask minus best bid, or None when a side is empty."""
        if not self.bids or not self.asks:
            return None
        return self.asks[0].price - self.bids[0].price


@dataclass(slots=True, frozen=True)
class CollateralBalance:
    """Collateral: ``balance = available + reserved`` (reserved by resting BUYs)."""

    account: str
    balance: int
    available: int
    reserved: int


@dataclass(slots=True, frozen=True)
class Position:
    """An account's holding of one outcome token (``reserved``: resting SELLs)."""

    account: str
    market: str
    token_id: str
    outcome: Outcome
    size: int
    available: int
    reserved: int


@dataclass(slots=True, frozen=True)
class Resolution:
    """A market's result: the winning outcome and its token."""

    market: str
    winner: Outcome
    winning_token_id: str
    resolved_at: float
    canceled_order_ids: tuple[str, ...]


@dataclass(slots=True, frozen=True)
class Redemption:
    """What one redemption paid: 1.00 per winning token, nothing for losing ones."""

    account: str
    market: str
    winner: Outcome
    paid: int
    winning_burned: int
    losing_burned: int


@dataclass(slots=True, frozen=True)
class StepReport:
    """What :meth:`SimVenue.step` did at one instant."""

    time: float
    expired_order_ids: tuple[str, ...]
    closed_markets: tuple[str, ...]
    confirmed_trade_ids: tuple[str, ...]
    failed_trade_ids: tuple[str, ...]


@dataclass(slots=True, frozen=True)
class LedgerTotals:
    """Venue-wide sums, for conservation checks (all collateral micro-units).

    Always ``deposited − withdrawn == held + in_escrow + backing``: collateral is either in
    an account (fees included), in flight between MATCHED and CONFIRMED/FAILED, or locked in
    a market's complete sets.
    """

    deposited: int
    withdrawn: int
    held: int
    in_escrow: int
    backing: int
    fees_collateral: int


def to_decimal_price(micro: int | None) -> Decimal | None:
    """A micro price as a ``Decimal`` (None stays None)."""
    return None if micro is None else decimal_of(micro)
