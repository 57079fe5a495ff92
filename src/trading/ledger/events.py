"""What flows into the ledger: order intents and fill events from any channel."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from src.trading.ledger.accounting import FeeAsset, FillAmounts, Side


class FillStatus(StrEnum):
    """Two-phase fill status as the venue reports it."""

    MATCHED = "MATCHED"
    MINED = "MINED"
    CONFIRMED = "CONFIRMED"
    RETRYING = "RETRYING"
    FAILED = "FAILED"


# Statuses in which a fill's money counts; FAILED is terminal and reverses it.
LIVE_FILL_STATUSES = (
    FillStatus.MATCHED,
    FillStatus.MINED,
    FillStatus.CONFIRMED,
    FillStatus.RETRYING,
)
_RANK = {
    FillStatus.MATCHED: 0,
    FillStatus.RETRYING: 0,
    FillStatus.MINED: 1,
    FillStatus.CONFIRMED: 2,
    FillStatus.FAILED: 3,
}


def fill_status_rank(status: FillStatus) -> int:
    """Order of the phases: a report of an earlier phase after a later one is stale."""
    return _RANK[status]


class FillOutcome(StrEnum):
    """What applying a fill event did."""

    BOOKED = "booked"
    PROMOTED = "promoted"  # a later phase of a known fill (no money moved)
    REVERSED = "reversed"  # FAILED: the fill's money and shares were taken back
    DUPLICATE = "duplicate"
    STALE = "stale"  # an older phase arriving late, or anything after FAILED
    UNKNOWN_ORDER = "unknown_order"


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """An order as decided, written before anything is sent to the venue."""

    client_order_id: str
    token_id: str
    symbol: str
    outcome: str  # UP / DOWN
    side: Side
    intent: str  # entry, exit_plan, scale_in, stop_loss, reversal, close, manual
    order_type: str  # GTC, GTD, FOK, FAK
    price_micro: int
    size_micro: int
    mode: str
    post_only: bool = False
    window_id: int | None = None
    decision_id: int | None = None
    venue_order_id: str | None = None
    expires_ms: int | None = None


@dataclass(frozen=True, slots=True)
class FillEvent:
    """A report of a trade of one of our orders, from any channel."""

    venue_trade_id: str
    venue_order_id: str
    status: FillStatus
    side: Side
    role: str  # maker / taker
    price_micro: int
    size_micro: int
    fee_micro: int
    fee_asset: FeeAsset
    at_ms: int
    notional_micro: int | None = None

    @property
    def amounts(self) -> FillAmounts:
        """The fill's economics."""
        return FillAmounts(
            self.side,
            self.price_micro,
            self.size_micro,
            self.fee_micro,
            self.fee_asset,
            self.notional_micro,
        )
