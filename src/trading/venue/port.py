"""The ``Venue`` port: what trading code may ask of an exchange, in our own types.

Adapters (in-process simulator, the Polymarket CLOB) translate to and from their wire.
Two rules every adapter keeps:

* **Prepare, then submit.** ``prepare`` fixes the venue's order id (the signed order's hash)
  before anything is sent, so the intent can be written with it; ``submit`` sends it.
* **Unknown is not rejected.** ``submit`` returns ``REJECTED`` only on a definitive answer
  from the venue; a timeout, a 5xx or a dropped connection is ``AMBIGUOUS`` — the order may
  exist. Queries raise :class:`VenueUnavailableError` rather than guess: ``get_order`` returns
  None only when the venue itself says it does not know the order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from src.data.market_data.polymarket import OrderBook
from src.trading.ledger.accounting import Side
from src.trading.ledger.events import FillEvent


class OrderType(StrEnum):
    """Time in force (FOK and FAK are the venue's market orders)."""

    GTC = "GTC"
    GTD = "GTD"
    FOK = "FOK"
    FAK = "FAK"


class VenueUnavailableError(RuntimeError):
    """The venue did not give an answer (network, timeout, 5xx, 429): state unknown."""


@dataclass(frozen=True, slots=True)
class OrderSpec:
    """An order we want, in shares at a limit price (micro-units).

    For FOK/FAK BUYs the adapter turns ``size × price`` into the dollar amount the venue's
    market orders are expressed in.
    """

    client_order_id: str
    token_id: str
    side: Side
    order_type: OrderType
    price_micro: int
    size_micro: int
    post_only: bool = False
    expiration_s: int = 0


@dataclass(frozen=True, slots=True)
class PreparedOrder:
    """An order ready to send: its venue id is known before it leaves."""

    spec: OrderSpec
    venue_order_id: str
    payload: object = None  # adapter-specific (e.g. the signed order)


class PlaceStatus(StrEnum):
    """How a submission ended."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"
    AMBIGUOUS = "ambiguous"


@dataclass(frozen=True, slots=True)
class PlaceReply:
    """The venue's answer to one submission."""

    client_order_id: str
    venue_order_id: str
    status: PlaceStatus
    resting: bool = False
    error: str = ""
    fills: tuple[FillEvent, ...] = ()


@dataclass(frozen=True, slots=True)
class VenueOrder:
    """An order as the venue knows it."""

    venue_order_id: str
    token_id: str
    side: Side
    price_micro: int
    size_micro: int
    matched_micro: int
    live: bool
    status: str


@dataclass(frozen=True, slots=True)
class CancelReply:
    """Which orders were cancelled, and why the others were not."""

    cancelled: tuple[str, ...] = ()
    not_cancelled: Mapping[str, str] = field(default_factory=dict)


class Venue(Protocol):
    """An exchange for one trading account."""

    def prepare(self, spec: OrderSpec) -> PreparedOrder:
        """Fix the order's venue id (no I/O for the result to be ambiguous about)."""
        ...

    def submit(self, order: PreparedOrder) -> PlaceReply:
        """Send one prepared order."""
        ...

    def submit_batch(self, orders: Sequence[PreparedOrder]) -> list[PlaceReply]:
        """Send up to 15 prepared orders in one request."""
        ...

    def cancel(self, venue_order_ids: Sequence[str]) -> CancelReply:
        """Cancel these orders."""
        ...

    def cancel_all(self) -> CancelReply:
        """Cancel every open order of the account."""
        ...

    def get_order(self, venue_order_id: str) -> VenueOrder | None:
        """One order; None only when the venue answers that it does not exist."""
        ...

    def open_orders(self) -> list[VenueOrder]:
        """Every live order of the account."""
        ...

    def fills(self, since_ms: int = 0) -> list[FillEvent]:
        """The account's fills whose status changed at or after ``since_ms``."""
        ...

    def collateral_micro(self) -> int:
        """Collateral held (free plus reserved by resting BUYs)."""
        ...

    def token_balances(self) -> dict[str, int]:
        """Outcome tokens held, by token id (micro-units), zero balances left out."""
        ...

    def book(self, token_id: str) -> OrderBook:
        """The token's order book."""
        ...

    def books(self, token_ids: Sequence[str]) -> dict[str, OrderBook]:
        """Books of many tokens in one request (malformed or unknown ones left out)."""
        ...

    def redeem(self, condition_id: str) -> int:
        """Redeem the account's tokens of a resolved market; returns collateral paid."""
        ...
