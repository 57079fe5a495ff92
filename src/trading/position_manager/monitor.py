"""The position monitor's plan for one instant, as a pure function.

For each open position (in this order): **stop-loss** (cancel the exit plan, sell now) →
**hedged reversal** (buy the other side when the signal flipped with enough confidence) →
**scale-in** (add to a winner late in the window) → **exit plan** (keep a resting sell of
the whole position at 0.99/0.999). Resting entry orders that outlived their usefulness are
cancelled. Every rule is in :mod:`src.trading.position_manager.rules`; this module only
turns the rules' answers into :class:`Job` s, with the orders already working taken into
account so nothing is placed twice. ``docs/POSITION_FLOW.md`` draws the whole lifecycle.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from src.data.market_data.polymarket import OrderBook
from src.trading.execution import TradeParams
from src.trading.ledger.accounting import Side
from src.trading.position_manager.jobs import Job
from src.trading.position_manager.portfolio import OpenPosition, WorkingOrder
from src.trading.position_manager.rules import (
    ExitAction,
    PositionRules,
    PositionView,
    exit_plan,
    reversal,
    scale_in,
    stop_loss,
)
from src.trading.signals.frozen import quick_init
from src.trading.venue.port import OrderType
from src.utils.money import MICRO, from_micro, micro_str, to_micro

ENTRY_ORDER_TTL_S = 120.0  # a resting entry that has not filled by then is stale
DEFAULT_TICK_MICRO = 10_000


@quick_init  # built for every decision the signal generator stores
@dataclass(frozen=True, slots=True)
class SignalView:
    """The latest decision for a coin's current window, as the monitor needs it."""

    window_id: int | None
    action: str  # UP / DOWN / PASS
    confidence: float  # selected method, after safety rules
    direction: str  # the selected confidence's direction (UP / DOWN / NEUTRAL)
    p_up: float  # fair value
    limit_price: Decimal | None = None
    taker_price: Decimal | None = None  # the decided side's ask when it was decided
    shares: Decimal = Decimal(0)
    decision_id: int | None = None

    def confidence_for(self, outcome: str) -> float:
        """Confidence that ``outcome`` wins (0 when the signal points elsewhere)."""
        return self.confidence if self.direction == outcome else 0.0

    def fair_value_for(self, outcome: str) -> float:
        """Fair probability that ``outcome`` wins."""
        return self.p_up if outcome == "UP" else 1.0 - self.p_up


@dataclass(frozen=True, slots=True)
class MonitorInputs:
    """Everything the plan needs at one instant."""

    now: float
    positions: Sequence[OpenPosition]
    orders: Sequence[WorkingOrder]
    books: Mapping[str, OrderBook]
    signals: Mapping[str, SignalView]  # by coin
    rules: PositionRules
    fee_rate_micro: int = 70_000
    window_cap_micro: int = 100 * MICRO
    scaled_in_tokens: frozenset[str] = frozenset()  # tokens that already scaled in
    reversed_windows: frozenset[int] = frozenset()  # windows that already reversed
    # tokens with fills not yet confirmed: the venue moves shares at confirmation, so a
    # sell sized on them would be refused for balance — wait a cycle
    unconfirmed_tokens: frozenset[str] = frozenset()


def _best(book: OrderBook | None) -> tuple[int | None, int | None, int]:
    if book is None:
        return None, None, DEFAULT_TICK_MICRO
    bid = None if book.best_bid is None else to_micro(book.best_bid)
    ask = None if book.best_ask is None else to_micro(book.best_ask)
    tick = DEFAULT_TICK_MICRO if book.tick_size is None else to_micro(book.tick_size)
    return bid, ask, tick


def _orders_of(
    orders: Iterable[WorkingOrder], token: str, intent: str
) -> list[WorkingOrder]:
    return [o for o in orders if o.token_id == token and o.intent == intent]


def _params(
    p: OpenPosition,
    side: Side,
    price: int,
    size: int,
    order_type: OrderType,
    intent: str,
    *,
    outcome: str | None = None,
    token: str | None = None,
) -> TradeParams:
    return TradeParams(
        symbol=p.symbol,
        outcome=outcome or p.outcome,
        token_id=token or p.token_id,
        side=side,
        price=from_micro(price),
        size=from_micro(size),
        order_type=order_type,
        intent=intent,
        window_id=None if p.window is None else p.window.id,
    )


def plan_position(p: OpenPosition, inputs: MonitorInputs) -> list[Job]:
    """The jobs one open position needs now (usually none)."""
    window = p.window
    if window is None:
        return []
    time_left = window.end_ms / 1000 - inputs.now
    if time_left <= 0:
        return []  # trading is over: settlement takes it from here
    if p.token_id in inputs.unconfirmed_tokens:
        return []
    book = inputs.books.get(p.token_id)
    bid, ask, tick = _best(book)
    signal = inputs.signals.get(p.symbol)
    if signal is not None and signal.window_id not in (None, window.id):
        signal = None  # a decision about another window says nothing about this one
    exits = _orders_of(inputs.orders, p.token_id, "exit_plan")
    exit_order = exits[0] if exits else None
    window_cost = sum(
        q.cost_micro for q in inputs.positions if q.window and q.window.id == window.id
    )
    view = PositionView(
        outcome=p.outcome,
        size_micro=p.size_micro,
        cost_micro=p.cost_micro,
        best_bid=bid,
        best_ask=ask,
        tick_micro=tick,
        time_left_s=time_left,
        confidence=0.0 if signal is None else signal.confidence_for(p.outcome),
        fair_value=(
            (p.cost_micro / p.size_micro if p.size_micro else 0.5)
            if signal is None
            else signal.fair_value_for(p.outcome)
        ),
        fee_rate_micro=inputs.fee_rate_micro,
        exit_order_size_micro=0 if exit_order is None else exit_order.remaining_micro,
        exit_order_price=None if exit_order is None else exit_order.price_micro,
        window_cost_micro=window_cost,
        window_cap_micro=inputs.window_cap_micro,
    )
    rules = inputs.rules
    working_ids = tuple(o.venue_order_id for o in exits if o.venue_order_id)

    stop = stop_loss(view, rules) if book is not None else None
    if stop is not None:
        scale_ids = tuple(
            o.venue_order_id
            for o in _orders_of(inputs.orders, p.token_id, "scale_in")
            if o.venue_order_id
        )
        return [
            Job(
                key=f"stop:{p.token_id}",
                reason=f"🛑 stop-loss: {stop.reason}",
                cancel=working_ids + scale_ids,
                place=_params(
                    p,
                    Side.SELL,
                    stop.floor_price,
                    stop.size_micro,
                    OrderType.FAK,
                    "stop_loss",
                ),
                mark_position=(p.id, "stop_loss"),
                not_after=window.end_ms / 1000,
            )
        ]

    jobs: list[Job] = []
    if signal is not None and window.id not in inputs.reversed_windows:
        flip = reversal(view, signal.action, signal.confidence, rules)
        other = None if flip is None else window.token_for(flip.outcome)
        # a hedge is taken now: at the ask, not at a maker entry's resting price
        price = signal.taker_price or signal.limit_price
        if flip is not None and other and price and signal.shares > 0:
            jobs.append(
                Job(
                    key=f"reversal:{window.id}",
                    reason=f"🔄 reversal to {flip.outcome} at {flip.confidence:.0%}",
                    place=TradeParams(
                        symbol=p.symbol,
                        outcome=flip.outcome,
                        token_id=other,
                        side=Side.BUY,
                        price=price,
                        size=signal.shares,
                        order_type=OrderType.FAK,
                        intent="reversal",
                        window_id=window.id,
                        decision_id=signal.decision_id,
                    ),
                    is_reversal=True,
                    mark_position=(p.id, "reversal"),
                    not_after=window.end_ms / 1000,
                )
            )
            return jobs

    if book is not None and p.token_id not in inputs.scaled_in_tokens:
        add = scale_in(view, rules)
        if add is not None:
            jobs.append(
                Job(
                    key=f"scale:{p.token_id}",
                    reason=f"📈 scale-in, EV {add.expected_value:+.3f}/share",
                    place=_params(
                        p, Side.BUY, add.price, add.size_micro, OrderType.FAK, "scale_in"
                    ),
                    not_after=window.end_ms / 1000,
                )
            )

    plan = exit_plan(view, rules)
    if plan is not None:
        key = f"exit:{p.token_id}"
        if plan.action is ExitAction.CANCEL:
            jobs.append(Job(key, "🧹 exit plan no longer needed", cancel=working_ids))
        else:
            jobs.append(
                Job(
                    key,
                    f"🎯 exit plan {plan.action}: sell {micro_str(plan.size_micro)} "
                    f"@ {micro_str(plan.price)}",
                    cancel=working_ids if plan.action is ExitAction.REPLACE else (),
                    place=_params(
                        p,
                        Side.SELL,
                        plan.price,
                        plan.size_micro,
                        OrderType.GTC,
                        "exit_plan",
                    ),
                    not_after=window.end_ms / 1000,
                )
            )
    return jobs


def stale_entry_jobs(
    orders: Iterable[WorkingOrder], now: float, window_ends: Mapping[int, int]
) -> list[Job]:
    """Cancel resting BUY entries that are older than the TTL or whose window is over."""
    jobs = []
    for order in orders:
        if order.intent not in ("entry", "reversal", "scale_in") or order.side != "BUY":
            continue
        if not order.venue_order_id or order.status not in ("live", "partially_filled"):
            continue
        end_ms = window_ends.get(order.window_id or -1)
        over = end_ms is not None and now * 1000 >= end_ms
        if over or now - order.created_ms / 1000 >= ENTRY_ORDER_TTL_S:
            jobs.append(
                Job(
                    key=f"cancel:{order.client_order_id}",
                    reason=f"🧹 stale {order.intent} order {order.client_order_id}",
                    cancel=(order.venue_order_id,),
                )
            )
    return jobs


def plan_monitor(inputs: MonitorInputs, window_ends: Mapping[int, int]) -> list[Job]:
    """Every job for every open position, then stale-entry cancellations."""
    jobs: list[Job] = []
    for position in inputs.positions:
        jobs.extend(plan_position(position, inputs))
    jobs.extend(stale_entry_jobs(inputs.orders, inputs.now, window_ends))
    return jobs
