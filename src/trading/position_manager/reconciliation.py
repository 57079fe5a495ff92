"""Reconciliation as a pure diff: ``(local ledger, venue state) → plan``.

The same function serves startup and ``polyflup reconcile``. It never trusts a balance alone:
positions are repaired by booking the venue's *fills* the ledger lacks; a token balance no
fill explains is adopted as its own line (and reported), and a size that still disagrees is
reported, never overwritten. An order the venue does not list as open is looked up on its
own before anything is concluded about it — a lookup that fails is "unknown", not "gone".

Use: :func:`orders_to_look_up` names the orders to query one by one; :func:`plan` decides
with the answers. Apply the plan and plan again until only position lines remain (each pass
books what the last one adopted). An empty plan means the ledger agrees with the venue.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from src.trading.ledger.events import FillEvent, FillStatus, fill_status_rank
from src.trading.venue.port import VenueOrder

# Local order statuses that may still change at the venue.
OPEN_LOCAL = ("intent", "posting", "ambiguous", "live", "partially_filled")


@dataclass(frozen=True, slots=True)
class LocalOrder:
    """An order as the ledger has it."""

    client_order_id: str
    venue_order_id: str | None
    token_id: str
    status: str
    size_micro: int
    filled_micro: int


@dataclass(frozen=True, slots=True)
class LocalState:
    """What the ledger knows."""

    orders: tuple[LocalOrder, ...]
    fill_status: Mapping[str, FillStatus]  # venue trade id → status booked
    positions: Mapping[str, int]  # token id → shares held per the ledger
    cash_micro: int | None = None  # the cash ledger's balance (None: not compared)


@dataclass(frozen=True, slots=True)
class VenueState:
    """What the venue says (fills: every fill of the account it still reports)."""

    open_orders: tuple[VenueOrder, ...]
    fills: tuple[FillEvent, ...]
    balances: Mapping[str, int]
    looked_up: Mapping[str, VenueOrder | None] = field(default_factory=dict)
    collateral_micro: int | None = None


@dataclass(frozen=True, slots=True)
class BookFill:
    """Book a fill (or a later phase of one) the ledger lacks."""

    event: FillEvent
    kind: str = "book_fill"


@dataclass(frozen=True, slots=True)
class AdoptOrder:
    """Record an order the venue has and the ledger does not (placed elsewhere, or lost
    between posting and writing)."""

    order: VenueOrder
    kind: str = "adopt_order"


@dataclass(frozen=True, slots=True)
class SetOrderStatus:
    """Move a local order to the status the venue proves."""

    client_order_id: str
    status: str
    reason: str
    kind: str = "set_order_status"


@dataclass(frozen=True, slots=True)
class AdoptPosition:
    """Tokens held that no fill explains: take them into the ledger (cost unknown)."""

    token_id: str
    size_micro: int
    kind: str = "adopt_position"


@dataclass(frozen=True, slots=True)
class SizeMismatch:
    """After every known fill, the ledger and the venue still disagree: report it."""

    token_id: str
    local_micro: int
    venue_micro: int
    kind: str = "size_mismatch"


@dataclass(frozen=True, slots=True)
class CashMismatch:
    """Once every fill is booked and settled, cash still differs (deposits, withdrawals or
    fees the ledger never saw): report it — only a person may book an adjustment."""

    local_micro: int
    venue_micro: int
    kind: str = "cash_mismatch"


Action = (
    BookFill | AdoptOrder | SetOrderStatus | AdoptPosition | SizeMismatch | CashMismatch
)


@dataclass(frozen=True, slots=True)
class ReconcilePlan:
    """What to do; ``unresolved`` lists orders whose state could not be proven."""

    actions: tuple[Action, ...]
    unresolved: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        """True when the ledger already agrees with the venue."""
        return not self.actions and not self.unresolved


def orders_to_look_up(local: LocalState, venue_open: tuple[VenueOrder, ...]) -> list[str]:
    """Venue ids of open local orders the venue does not list as open (query each)."""
    listed = {o.venue_order_id for o in venue_open}
    return sorted(
        o.venue_order_id
        for o in local.orders
        if o.status in OPEN_LOCAL and o.venue_order_id and o.venue_order_id not in listed
    )


def status_from_venue(order: VenueOrder) -> str:
    """The local status an order the venue reports should have."""
    if order.live:
        return "partially_filled" if order.matched_micro else "live"
    return "filled" if order.matched_micro >= order.size_micro else "cancelled"


def plan(local: LocalState, venue: VenueState) -> ReconcilePlan:
    """Everything needed to make the ledger equal to the venue, in the order to apply it."""
    actions: list[Action] = []
    unresolved: list[str] = []
    known_ids = {o.venue_order_id for o in local.orders if o.venue_order_id}

    # 1. Orders the venue has that we do not know (their fills need an order to hang on).
    fill_orders = {f.venue_order_id for f in venue.fills}
    for order in venue.open_orders:
        if order.venue_order_id not in known_ids:
            actions.append(AdoptOrder(order))
            known_ids.add(order.venue_order_id)
    for order_id in sorted(fill_orders - known_ids):
        found = venue.looked_up.get(order_id)
        if found is not None:
            actions.append(AdoptOrder(found))
            known_ids.add(order_id)
        else:
            unresolved.append(order_id)

    # 2. Fills the ledger lacks, or has at an earlier phase.
    touched: set[str] = {a.order.token_id for a in actions if isinstance(a, AdoptOrder)}
    for event in sorted(venue.fills, key=lambda f: (f.at_ms, f.venue_trade_id)):
        if event.venue_order_id not in known_ids:
            continue
        have = local.fill_status.get(event.venue_trade_id)
        if have is None or (
            have is not FillStatus.FAILED
            and fill_status_rank(event.status) > fill_status_rank(have)
        ):
            actions.append(BookFill(event))
            touched.add(_token_of(local, venue, event))

    # 3. Open local orders: prove their state from the venue.
    listed = {o.venue_order_id: o for o in venue.open_orders}
    for order in local.orders:
        if order.status not in OPEN_LOCAL:
            continue
        seen = listed.get(order.venue_order_id or "")
        if seen is None and order.venue_order_id in venue.looked_up:
            seen = venue.looked_up[order.venue_order_id]
            if seen is None:
                if order.status in ("intent", "posting", "ambiguous"):
                    actions.append(
                        SetOrderStatus(
                            order.client_order_id,
                            "rejected",
                            "the venue has no such order: never placed",
                        )
                    )
                else:
                    actions.append(
                        SetOrderStatus(
                            order.client_order_id,
                            "expired",
                            "the venue no longer knows the order",
                        )
                    )
                continue
        if seen is None:
            unresolved.append(order.venue_order_id or order.client_order_id)
            continue
        status = status_from_venue(seen)
        if status != order.status and not (
            # a fill we are about to book moves it there anyway
            status in ("filled", "partially_filled") and order.status == status
        ):
            actions.append(
                SetOrderStatus(
                    order.client_order_id, status, f"venue reports {seen.status}"
                )
            )

    # 4. Positions, for tokens whose fills are all booked and settled (tokens move at
    # confirmation; a token with fills still to book is compared on the next pass).
    pending = {
        _token_of(local, venue, f)
        for f in venue.fills
        if f.status in (FillStatus.MATCHED, FillStatus.MINED, FillStatus.RETRYING)
    }
    tokens = set(venue.balances) | {t for t, s in local.positions.items() if s}
    for token in sorted(tokens - pending - touched):
        expected = local.positions.get(token, 0)
        actual = venue.balances.get(token, 0)
        if expected == actual:
            continue
        if token not in local.positions:
            actions.append(AdoptPosition(token, actual))
        else:
            actions.append(SizeMismatch(token, expected, actual))

    # 5. Cash, once nothing is in flight.
    quiet = not pending and not any(isinstance(a, (BookFill, AdoptOrder)) for a in actions)
    if (
        quiet
        and local.cash_micro is not None
        and venue.collateral_micro is not None
        and local.cash_micro != venue.collateral_micro
    ):
        actions.append(CashMismatch(local.cash_micro, venue.collateral_micro))
    return ReconcilePlan(tuple(actions), tuple(unresolved))


def _token_of(local: LocalState, venue: VenueState, event: FillEvent) -> str:
    for order in local.orders:
        if order.venue_order_id == event.venue_order_id:
            return order.token_id
    for order in (*venue.open_orders, *(o for o in venue.looked_up.values() if o)):
        if order.venue_order_id == event.venue_order_id:
            return order.token_id
    return ""


def describe(action: Action) -> str:
    """One line for people."""
    if isinstance(action, BookFill):
        e = action.event
        return (
            f"book fill {e.venue_trade_id} ({e.status}, {e.side} {e.size_micro} "
            f"@ {e.price_micro}) of order {e.venue_order_id}"
        )
    if isinstance(action, AdoptOrder):
        o = action.order
        return f"adopt order {o.venue_order_id} ({o.side} {o.size_micro} @ {o.price_micro})"
    if isinstance(action, SetOrderStatus):
        return f"order {action.client_order_id} → {action.status} ({action.reason})"
    if isinstance(action, AdoptPosition):
        return f"adopt {action.size_micro} shares of token {action.token_id}"
    if isinstance(action, CashMismatch):
        return (
            f"cash mismatch: ledger {action.local_micro}, venue {action.venue_micro} "
            f"(difference {action.venue_micro - action.local_micro})"
        )
    return (
        f"size mismatch on token {action.token_id}: ledger {action.local_micro}, "
        f"venue {action.venue_micro}"
    )
