"""The simulated CLOB venue: a price-time matching engine per token with balances,
reservations, taker fees, two-phase fills, resolution and redemption.

Public surface (everything else is internal)::

    from src.sim.venue import SimVenue, VenueMarket, OrderRequest, Side, OrderType, Outcome

All amounts are ``int`` micro-units (10^-6); see ``docs/SIMULATOR.md`` ("Matching engine",
"Fill model") for the rules.
"""

from src.sim.venue.amounts import LOT, decimal_of, exact_micro, micro_text, tick_micro
from src.sim.venue.errors import (
    MAX_BATCH_ORDERS,
    BatchTooLargeError,
    DuplicateMarketError,
    InsufficientFundsError,
    MarketStateError,
    RejectCode,
    UnknownAccountError,
    UnknownMarketError,
    VenueError,
)
from src.sim.venue.events import EventKind, EventListener, VenueEvent
from src.sim.venue.fees import fee_in_collateral, fee_in_shares, taker_fee
from src.sim.venue.ledger import FEE_COLLECTOR
from src.sim.venue.markets import VenueMarket, window_question
from src.sim.venue.types import (
    BookLevel,
    BookSnapshot,
    CancelReason,
    CancelResult,
    CollateralBalance,
    FeeAsset,
    LedgerTotals,
    MakerFill,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    Outcome,
    PlacementStatus,
    PlaceResult,
    Position,
    Redemption,
    Resolution,
    Side,
    StepReport,
    Trade,
    TradeStatus,
)
from src.sim.venue.venue import MarketStatus, SimVenue

__all__ = [
    "FEE_COLLECTOR",
    "LOT",
    "MAX_BATCH_ORDERS",
    "BatchTooLargeError",
    "BookLevel",
    "BookSnapshot",
    "CancelReason",
    "CancelResult",
    "CollateralBalance",
    "DuplicateMarketError",
    "EventKind",
    "EventListener",
    "FeeAsset",
    "InsufficientFundsError",
    "LedgerTotals",
    "MakerFill",
    "MarketStateError",
    "MarketStatus",
    "Order",
    "OrderRequest",
    "OrderStatus",
    "OrderType",
    "Outcome",
    "PlaceResult",
    "PlacementStatus",
    "Position",
    "Redemption",
    "RejectCode",
    "Resolution",
    "Side",
    "SimVenue",
    "StepReport",
    "Trade",
    "TradeStatus",
    "UnknownAccountError",
    "UnknownMarketError",
    "VenueError",
    "VenueEvent",
    "VenueMarket",
    "decimal_of",
    "exact_micro",
    "fee_in_collateral",
    "fee_in_shares",
    "micro_text",
    "taker_fee",
    "tick_micro",
    "window_question",
]
