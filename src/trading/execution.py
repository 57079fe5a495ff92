"""``execute_trade``: from a decided trade to a booked order, safe against every outcome.

The sequence never changes: shape the order to the venue's rules → fix its venue id →
**write the intent** → send → classify the answer → book fills → audit and notify. A
timeout, 5xx or dropped connection leaves the order ``ambiguous`` (it may exist); only a
definitive refusal ends it. A client order id derived from the decision makes a retried
decision collide with its first attempt in the database instead of becoming a second order.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from src.data.db_connection import db_connection
from src.data.ledger_store import insert_order_intent, set_order_status
from src.notifications.notifier import Kind, Notification, Notifier
from src.trading.ledger.accounting import Side
from src.trading.ledger.events import OrderIntent
from src.trading.ledger.recorder import record_fills
from src.trading.orders.rules import order_problem, round_price, round_size
from src.trading.state import RecentFills, recent_fills
from src.trading.venue.port import (
    OrderSpec,
    OrderType,
    PlaceReply,
    PlaceStatus,
    PreparedOrder,
    Venue,
    VenueUnavailableError,
)
from src.utils.clock import Clock
from src.utils.logger import AuditEvent, audit, log, log_error
from src.utils.money import micro_str, to_micro

DEFAULT_TICK_MICRO = 10_000
DEFAULT_MIN_SIZE_MICRO = 5_000_000


@dataclass(frozen=True, slots=True)
class TradeParams:
    """One order the strategy or the position manager wants."""

    symbol: str
    outcome: str  # UP / DOWN: which token
    token_id: str
    side: Side
    price: Decimal
    size: Decimal  # shares
    order_type: OrderType = OrderType.GTC
    post_only: bool = False
    intent: str = "entry"
    window_id: int | None = None
    decision_id: int | None = None
    expiration_s: int = 0
    client_order_id: str | None = None


@dataclass
class ExecutionContext:
    """What execution needs from the running bot (one per process)."""

    venue: Venue
    clock: Clock
    mode: str
    tick_micro: Callable[[str], int] = lambda _token: DEFAULT_TICK_MICRO
    min_size_micro: int = DEFAULT_MIN_SIZE_MICRO
    notifier: Notifier | None = None
    recent: RecentFills = field(default_factory=lambda: recent_fills)
    serial: Iterator[int] = field(default_factory=itertools.count)  # orders prepared


_active: list[ExecutionContext] = []


def install_context(context: ExecutionContext) -> None:
    """Make ``context`` the one ``execute_trade`` uses by default (the bot does this once)."""
    _active[:] = [context]


def client_order_id_for(
    params: TradeParams, is_reversal: bool, now_ms: int = 0, serial: int = 0
) -> str:
    """Deterministic for a decided trade (retries collide); otherwise derived from the
    order, the time and the context's order serial, so a backtest replays the same ids
    and two identical orders in one millisecond still differ."""
    if params.client_order_id:
        return params.client_order_id
    tag = f"{params.intent}{'-rev' if is_reversal else ''}"
    if params.decision_id is not None:
        return f"{tag}-d{params.decision_id}"
    seed = f"{params.token_id}/{params.side}/{params.price}/{params.size}/{now_ms}/{serial}"
    return f"{tag}-{hashlib.sha256(seed.encode()).hexdigest()[:16]}"


def intent_for(
    prepared: PreparedOrder,
    *,
    symbol: str,
    outcome: str,
    intent: str,
    mode: str,
    window_id: int | None = None,
    decision_id: int | None = None,
) -> OrderIntent:
    """The ledger row of a prepared order (written before the order is sent)."""
    spec = prepared.spec
    return OrderIntent(
        spec.client_order_id,
        spec.token_id,
        symbol,
        outcome,
        spec.side,
        intent,
        str(spec.order_type),
        spec.price_micro,
        spec.size_micro,
        mode,
        post_only=spec.post_only,
        window_id=window_id,
        decision_id=decision_id,
        venue_order_id=prepared.venue_order_id,
        expires_ms=spec.expiration_s * 1000 or None,
    )


def execute_trade(
    trade_params: TradeParams,
    is_reversal: bool = False,
    *,
    context: ExecutionContext | None = None,
) -> int | None:
    """Place one order with full tracking; returns its ``orders.id`` (the trade id).

    None means nothing was recorded (the order could not even be prepared, or an order for
    the same decision already exists). Every other outcome — refused, ambiguous, resting,
    filled — is recorded and audited.
    """
    ctx = context or (_active[0] if _active else None)
    if ctx is None:
        raise RuntimeError("execute_trade needs an ExecutionContext (install_context)")
    p = trade_params
    tick = ctx.tick_micro(p.token_id)
    spec = OrderSpec(
        client_order_id=client_order_id_for(
            p, is_reversal, int(ctx.clock.now() * 1000), next(ctx.serial)
        ),
        token_id=p.token_id,
        side=p.side,
        order_type=p.order_type,
        price_micro=round_price(to_micro(p.price), tick, p.side),
        size_micro=round_size(to_micro(p.size)),
        post_only=p.post_only,
        expiration_s=p.expiration_s,
    )
    tag = f"[{p.symbol}] {p.intent}{' (reversal)' if is_reversal else ''}"
    try:
        prepared = ctx.venue.prepare(spec)
    except Exception as exc:  # signing or lookup failure: nothing left us
        log_error(f"{tag} could not prepare order {spec.client_order_id}: {exc}")
        return None
    problem = order_problem(spec, tick, ctx.min_size_micro)
    now_ms = int(ctx.clock.now() * 1000)
    intent = intent_for(
        prepared,
        symbol=p.symbol,
        outcome=p.outcome,
        intent="reversal" if is_reversal else p.intent,
        mode=ctx.mode,
        window_id=p.window_id,
        decision_id=p.decision_id,
    )
    event = AuditEvent(
        "place",
        f"{tag} {p.side} {p.order_type}",
        symbol=p.symbol,
        client_order_id=spec.client_order_id,
        venue_order_id=prepared.venue_order_id,
        size_micro=spec.size_micro,
        price_micro=spec.price_micro,
        window_id=p.window_id,
    )
    try:
        with db_connection() as cur:
            order_id = insert_order_intent(cur, intent, now_ms)
            audit(event, cur, at_ms=now_ms)
            if problem:
                set_order_status(
                    cur, spec.client_order_id, "rejected", now_ms, error=problem
                )
                audit(
                    AuditEvent(
                        "error",
                        f"{tag} refused before sending: {problem}",
                        symbol=p.symbol,
                        client_order_id=spec.client_order_id,
                    ),
                    cur,
                    at_ms=now_ms,
                )
    except Exception as exc:
        if "UNIQUE" in str(exc):
            log(f"⚠️ {tag} order {spec.client_order_id} already exists: not sent again")
            return None
        raise
    if problem:
        return order_id
    try:
        reply = ctx.venue.submit(prepared)
    except VenueUnavailableError as exc:
        _mark(
            ctx,
            spec.client_order_id,
            "ambiguous",
            None,
            AuditEvent(
                "race",
                f"{tag} no answer from the venue ({exc}): order may "
                "exist; reconciliation will decide",
                symbol=p.symbol,
                client_order_id=spec.client_order_id,
                venue_order_id=prepared.venue_order_id,
            ),
        )
        return order_id
    _settle_reply(ctx, p, tag, reply)
    return order_id


def _mark(
    ctx: ExecutionContext,
    client_order_id: str,
    status: str,
    error: str | None,
    event: AuditEvent,
) -> None:
    now_ms = int(ctx.clock.now() * 1000)
    with db_connection() as cur:
        current = cur.execute(
            "SELECT status FROM orders WHERE client_order_id = ?", (client_order_id,)
        ).fetchone()
        # the user channel may have booked fills before the POST answered: an order
        # already (partly) filled or closed must not be moved back to "live"
        if current is None or current[0] in ("intent", "posting", "ambiguous"):
            set_order_status(cur, client_order_id, status, now_ms, error=error)
        audit(event, cur, at_ms=now_ms)


def _settle_reply(
    ctx: ExecutionContext, p: TradeParams, tag: str, reply: PlaceReply
) -> None:
    if reply.status is PlaceStatus.REJECTED:
        _mark(
            ctx,
            reply.client_order_id,
            "rejected",
            reply.error,
            AuditEvent(
                "error",
                f"{tag} rejected by the venue: {reply.error}",
                symbol=p.symbol,
                client_order_id=reply.client_order_id,
                venue_order_id=reply.venue_order_id,
            ),
        )
        return
    if reply.status is PlaceStatus.AMBIGUOUS:
        _mark(
            ctx,
            reply.client_order_id,
            "ambiguous",
            None,
            AuditEvent(
                "race",
                f"{tag} ambiguous answer: {reply.error}",
                symbol=p.symbol,
                client_order_id=reply.client_order_id,
                venue_order_id=reply.venue_order_id,
            ),
        )
        return
    _mark(
        ctx,
        reply.client_order_id,
        "live",
        None,
        AuditEvent(
            "execute",
            f"{tag} accepted ({'resting' if reply.resting else 'matched'})",
            symbol=p.symbol,
            client_order_id=reply.client_order_id,
            venue_order_id=reply.venue_order_id,
        ),
    )
    if reply.fills:
        record_fills(reply.fills, ctx.clock, ctx.recent)
    if ctx.notifier is not None and p.intent == "entry":
        size = sum(f.size_micro for f in reply.fills)
        ctx.notifier.notify(
            Notification(
                Kind.ENTRY,
                f"order:{reply.client_order_id}",
                f"{p.symbol} {p.outcome} entry",
                f"{p.side} {micro_str(size) if size else 'resting'} @ {p.price} "
                f"({p.order_type}{', post-only' if p.post_only else ''})",
            )
        )
