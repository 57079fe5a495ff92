"""Shared vocabulary of the strategy: directions, signal names, results and reason codes."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from src.trading.signals.frozen import quick_init


class Direction(enum.Enum):
    """Which outcome a signal or a confidence points to. NEUTRAL is a real answer."""

    UP = "UP"
    DOWN = "DOWN"
    NEUTRAL = "NEUTRAL"

    @property
    def sign(self) -> int:
        """+1 for UP, −1 for DOWN, 0 for NEUTRAL."""
        return _SIGNS[self]

    def opposite(self) -> Direction:
        """UP ↔ DOWN; NEUTRAL stays NEUTRAL."""
        return _OPPOSITE[self]


_SIGNS = {Direction.UP: 1, Direction.DOWN: -1, Direction.NEUTRAL: 0}
_OPPOSITE = {
    Direction.UP: Direction.DOWN,
    Direction.DOWN: Direction.UP,
    Direction.NEUTRAL: Direction.NEUTRAL,
}


class SignalName(enum.Enum):
    """The five directional signals, in the order of ``StrategyParams.weights``."""

    PRICE_MOMENTUM = "price_momentum"
    POLYMARKET_MOMENTUM = "polymarket_momentum"
    ORDER_FLOW = "order_flow"
    DIVERGENCE = "divergence"
    VOLUME_MOMENTUM = "volume_momentum"


SIGNAL_ORDER = tuple(SignalName)

# Signals that read the same data are one source for multi-confirmation: price momentum and
# VWAP distance are both functions of the same Binance closes, so their agreement is not
# independent confirmation (the original bot counted them twice, reference §12.1.3).
SIGNAL_SOURCE = {
    SignalName.PRICE_MOMENTUM: "binance_price",
    SignalName.VOLUME_MOMENTUM: "binance_price",
    SignalName.ORDER_FLOW: "binance_flow",
    SignalName.POLYMARKET_MOMENTUM: "polymarket_price",
    SignalName.DIVERGENCE: "fair_value",
}


@quick_init
@dataclass(frozen=True, slots=True)
class SignalResult:
    """One signal's answer: a direction, a strength in [0, 1] and the value it came from.

    ``value`` is the signed standardised input (positive = towards UP); ``note`` says why a
    signal is NEUTRAL for lack of data ("" otherwise).
    """

    name: SignalName
    direction: Direction
    strength: float
    value: float
    note: str = ""

    @property
    def is_neutral(self) -> bool:
        """True when the signal contributes no evidence."""
        return self.direction is Direction.NEUTRAL or self.strength <= 0.0


class Reason(enum.Enum):
    """Why a decision is what it is. Every decision, including PASS, carries one."""

    ENTER_TAKER = "enter_taker"
    ENTER_MAKER = "enter_maker"
    # Input problems (malformed or missing data): the strategy degrades to PASS.
    INVALID_INPUT = "invalid_input"
    INVALID_STRIKE = "invalid_strike"
    INVALID_FEE_RATE = "invalid_fee_rate"
    INVALID_ACCOUNT = "invalid_account"
    NO_BOOK = "no_book"
    ONE_SIDED_BOOK = "one_sided_book"
    INVALID_BOOK = "invalid_book"
    CROSSED_BOOK = "crossed_book"
    STALE_BOOK = "stale_book"
    INSUFFICIENT_DATA = "insufficient_data"
    STALE_DATA = "stale_data"
    FUTURE_DATA = "future_data"
    INTERNAL_ERROR = "internal_error"
    # Timing.
    WINDOW_CLOSED = "window_closed"
    TOO_EARLY = "too_early"
    TOO_LATE = "too_late"
    # Market quality and risk state.
    SPREAD_TOO_WIDE = "spread_too_wide"
    DAILY_LOSS_LIMIT = "daily_loss_limit"
    # The signal.
    NO_DIRECTION = "no_direction"
    VALIDATION_REFUSED = "validation_refused"
    LOW_CONFIDENCE = "low_confidence"
    # Price and size.
    EDGE_TOO_SMALL = "edge_too_small"
    FAIR_VALUE_VETO = "fair_value_veto"
    LOSING_SIDE_EDGE_TOO_SMALL = "losing_side_edge_too_small"
    INSUFFICIENT_LIQUIDITY = "insufficient_liquidity"
    TRADE_LIMIT = "trade_limit"
    WINDOW_EXPOSURE_LIMIT = "window_exposure_limit"
    TOTAL_EXPOSURE_LIMIT = "total_exposure_limit"
    INSUFFICIENT_BALANCE = "insufficient_balance"
    SIZE_BELOW_MINIMUM = "size_below_minimum"

    @property
    def is_entry(self) -> bool:
        """True for the reasons that come with an order."""
        return self in (Reason.ENTER_TAKER, Reason.ENTER_MAKER)
