"""The position manager's decisions, as pure functions of typed snapshots.

Exit plan, scale-in, stop-loss and hedged reversal: each rule takes what the monitor sees
(the position, the token's book, time left, the latest confidence and fair value) and
returns an intent or None. Nothing here reads the clock, the database or the venue, so
every threshold is tested directly. Amounts are integer micro-units; prices are on the
market's tick grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from src.config.settings import Settings
from src.sim.venue.amounts import LOT, floor_lot, notional
from src.sim.venue.fees import fee_in_shares
from src.utils.money import MICRO, to_micro

FINE_TICK = 1_000  # 0.001: the grid near the extremes, where 0.999 is a valid price


@dataclass(frozen=True, slots=True)
class PositionRules:
    """The settings the rules read (built from ``Settings``; see ``from_settings``)."""

    exit_price_target: int = 990_000
    exit_high_confidence_price: int = 999_000
    exit_high_confidence: float = 0.80
    enable_exit_plan: bool = True
    enable_scale_in: bool = True
    scale_in_min_price: int = 600_000
    scale_in_max_price: int = 850_000
    scale_in_time_left_s: int = 300
    scale_in_multiplier: float = 0.5
    enable_stop_loss: bool = True
    stop_loss_price: int = 300_000
    enable_reversal: bool = False
    reversal_min_confidence: float = 0.70
    min_edge: float = 0.03
    confidence_cap: float = 0.85
    min_order_micro: int = 5 * MICRO

    @classmethod
    def from_settings(cls, settings: Settings) -> PositionRules:
        """The rules of a validated ``Settings``."""

        def price(name: str) -> int:
            return to_micro(getattr(settings, name))  # Decimal settings → micro-units

        return cls(
            exit_price_target=price("exit_price_target"),
            exit_high_confidence_price=price("exit_high_confidence_price"),
            exit_high_confidence=float(settings.extreme_confidence),
            enable_exit_plan=bool(settings.enable_exit_plan),
            enable_scale_in=bool(settings.enable_scale_in),
            scale_in_min_price=price("scale_in_min_price"),
            scale_in_max_price=price("scale_in_max_price"),
            scale_in_time_left_s=int(settings.scale_in_time_left_sec),
            scale_in_multiplier=float(settings.scale_in_multiplier),
            enable_stop_loss=bool(settings.enable_stop_loss),
            stop_loss_price=price("stop_loss_price"),
            enable_reversal=bool(settings.enable_reversal),
            reversal_min_confidence=float(settings.reversal_min_confidence),
            min_edge=float(settings.min_edge),
            confidence_cap=float(settings.confidence_cap),
        )


@dataclass(frozen=True, slots=True)
class PositionView:
    """What the monitor knows about one open position at one instant."""

    outcome: str  # UP / DOWN
    size_micro: int
    cost_micro: int
    best_bid: int | None  # of this position's token
    best_ask: int | None
    tick_micro: int
    time_left_s: float
    confidence: float  # latest, for this position's side
    fair_value: float  # probability this position's side wins
    fee_rate_micro: int = 70_000
    exit_order_size_micro: int = 0  # size of the resting exit-plan sell, if any
    exit_order_price: int | None = None
    window_cost_micro: int = 0  # everything spent in this window so far
    window_cap_micro: int = 100 * MICRO

    @property
    def mid(self) -> int | None:
        """Midpoint of the token's book (None unless both sides exist)."""
        if self.best_bid is None or self.best_ask is None:
            return None
        return (self.best_bid + self.best_ask) // 2


class ExitAction(StrEnum):
    """What to do with the exit-plan order."""

    PLACE = "place"
    REPLACE = "replace"  # cancel and place at the new size/price
    CANCEL = "cancel"


@dataclass(frozen=True, slots=True)
class ExitPlan:
    """A resting SELL of the whole position at the exit price."""

    action: ExitAction
    price: int
    size_micro: int


def exit_price(view: PositionView, rules: PositionRules) -> int:
    """0.999 when the 0.001 tick allows it and confidence is high; else the target.

    Once resting at 0.999 the order stays there while the tick allows it: moving it back
    and forth with every wobble of the confidence would lose its place in the queue.
    """
    high = rules.exit_high_confidence_price
    if view.tick_micro <= FINE_TICK and (
        view.confidence >= rules.exit_high_confidence or view.exit_order_price == high
    ):
        return high
    target = rules.exit_price_target
    return target - target % view.tick_micro


def exit_plan(view: PositionView, rules: PositionRules) -> ExitPlan | None:
    """Keep a resting sell equal to the position (sizes in whole lots)."""
    size = floor_lot(view.size_micro)
    if not rules.enable_exit_plan or size < rules.min_order_micro:
        if view.exit_order_size_micro:
            return ExitPlan(ExitAction.CANCEL, view.exit_order_price or 0, 0)
        return None
    price = exit_price(view, rules)
    if not view.exit_order_size_micro:
        return ExitPlan(ExitAction.PLACE, price, size)
    if view.exit_order_size_micro != size or view.exit_order_price != price:
        return ExitPlan(ExitAction.REPLACE, price, size)
    return None


@dataclass(frozen=True, slots=True)
class ScaleIn:
    """Buy more of a winning position at ``price`` (taker)."""

    price: int
    size_micro: int
    expected_value: float  # per share, after the fee


def scale_in_window_s(confidence: float, rules: PositionRules) -> float:
    """Seconds before the end from which a scale-in may happen: the configured window,
    stretched up to twice as long as confidence rises from 0.5 to the cap."""
    room = max(rules.confidence_cap - 0.5, 1e-9)
    strength = min(max((confidence - 0.5) / room, 0.0), 1.0)
    return rules.scale_in_time_left_s * (1.0 + strength)


def scale_in(view: PositionView, rules: PositionRules) -> ScaleIn | None:
    """Add ``multiplier × size`` at the ask when every condition holds, else None.

    Conditions: enabled; inside the price band; late enough (earlier for higher confidence);
    still positive expected value at the price actually paid, after the taker fee (taken in
    shares), by at least ``min_edge``; never past the window's exposure cap.
    """
    if not rules.enable_scale_in or view.best_ask is None or view.size_micro <= 0:
        return None
    price = view.best_ask
    if not rules.scale_in_min_price <= price <= rules.scale_in_max_price:
        return None
    if (
        view.time_left_s > scale_in_window_s(view.confidence, rules)
        or view.time_left_s <= 0
    ):
        return None
    kept = 1.0 - fee_in_shares(MICRO, price, view.fee_rate_micro) / MICRO
    ev = view.fair_value * kept - price / MICRO
    if ev < rules.min_edge:
        return None
    size = floor_lot(int(view.size_micro * rules.scale_in_multiplier))
    room = view.window_cap_micro - view.window_cost_micro
    affordable = floor_lot(room * MICRO // price) if room > 0 else 0
    size = min(size, affordable)
    if size < rules.min_order_micro or notional(size, price) < MICRO:
        return None
    return ScaleIn(price, size, ev)


@dataclass(frozen=True, slots=True)
class StopLoss:
    """Sell the whole position now (taker, down to ``floor_price``)."""

    size_micro: int
    floor_price: int
    reason: str


def stop_loss(view: PositionView, rules: PositionRules) -> StopLoss | None:
    """Sell when the token's midpoint falls to the trigger (one-sided books use the bid)
    and below the position's average cost.

    Near the window's end the venue is slowest and books thin out, so a missing ask does not
    hide a collapse: the best bid alone is enough to trigger.
    """
    if not rules.enable_stop_loss or view.size_micro < LOT:
        return None
    reference = view.mid if view.mid is not None else view.best_bid
    if reference is None or reference > rules.stop_loss_price:
        return None
    if reference * view.size_micro >= view.cost_micro * MICRO:
        return None  # bought at or below the trigger: selling would not limit a loss
    floor_price = max(view.tick_micro, (view.best_bid or view.tick_micro))
    return StopLoss(
        floor_lot(view.size_micro),
        floor_price,
        f"mid {Decimal(reference) / MICRO} ≤ stop {Decimal(rules.stop_loss_price) / MICRO}",
    )


@dataclass(frozen=True, slots=True)
class Reversal:
    """Hedge by buying the other side."""

    outcome: str
    confidence: float


def reversal(
    view: PositionView, signal_action: str, signal_confidence: float, rules: PositionRules
) -> Reversal | None:
    """Buy the other side when the latest decision points the other way, confidently."""
    if not rules.enable_reversal or view.size_micro <= 0:
        return None
    other = "DOWN" if view.outcome == "UP" else "UP"
    if signal_action != other or signal_confidence < rules.reversal_min_confidence:
        return None
    return Reversal(other, signal_confidence)
