"""execute_trade against the in-process venue: every outcome recorded, nothing twice."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import pytest

from src.data.db_connection import configure_database, db_connection
from src.data.ledger_store import cash_balance, record_cash
from src.data.market_data.windows import WindowRef
from src.data.migrations import run_migrations
from src.notifications.notifier import MemoryStore, Notifier
from src.sim.venue import types as sim
from src.sim.venue.markets import VenueMarket
from src.sim.venue.venue import SimVenue
from src.trading import TradeParams, execute_trade
from src.trading.execution import ExecutionContext, install_context
from src.trading.ledger.accounting import Side
from src.trading.state import RecentFills
from src.trading.venue.in_process import InProcessVenue
from src.trading.venue.port import (
    OrderType,
    PlaceReply,
    PreparedOrder,
    VenueUnavailableError,
)
from src.utils.clock import SimClock

T0 = 1_767_225_600
M = 1_000_000


class Recorder:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, notification: object) -> None:
        self.sent.append(notification.key)  # type: ignore[attr-defined]


class TimeoutAfterAccept(InProcessVenue):
    """The order reaches the venue, but the answer never comes back."""

    def submit(self, order: PreparedOrder) -> PlaceReply:
        super().submit(order)
        raise VenueUnavailableError("read timeout")

    def submit_batch(self, orders: Sequence[PreparedOrder]) -> list[PlaceReply]:
        raise NotImplementedError


@pytest.fixture
def env(tmp_path: Path) -> dict:
    clock = SimClock(start=T0 + 60)
    venue = SimVenue(clock, seed=3)
    market = VenueMarket.for_window(WindowRef("BTC", T0))
    venue.register_market(market)
    venue.open_account("0xbot", 100 * M)
    venue.open_liquidity_account("0xmm")
    venue.place(
        "0xmm",
        sim.OrderRequest.limit(
            market.up_token_id, sim.Side.SELL, Decimal("0.55"), Decimal("50")
        ),
    )
    db = tmp_path / "bot.db"
    run_migrations(db)
    configure_database(db)
    with db_connection() as cur:
        record_cash(cur, "deposit", 100 * M, 0)
        for decision_id in (7, 9):  # orders reference the decision that made them
            cur.execute(
                "INSERT INTO decisions (id, symbol, decided_ms, mode, action, reason, method) "
                "VALUES (?, 'BTC', 0, 'backtest', 'UP', 'edge', 'bayesian')",
                (decision_id,),
            )
    recorder = Recorder()
    notifier = Notifier(recorder, clock, store=MemoryStore()).start()
    ctx = ExecutionContext(
        InProcessVenue(venue, "0xbot"),
        clock,
        "backtest",
        notifier=notifier,
        recent=RecentFills(),
    )
    install_context(ctx)
    return {
        "venue": venue,
        "market": market,
        "ctx": ctx,
        "sent": recorder.sent,
        "notifier": notifier,
        "clock": clock,
    }


def params(env: dict, **changes: object) -> TradeParams:
    base = {
        "symbol": "BTC",
        "outcome": "UP",
        "token_id": env["market"].up_token_id,
        "side": Side.BUY,
        "price": Decimal("0.55"),
        "size": Decimal("10"),
        "order_type": OrderType.FAK,
    }
    base.update(changes)
    return TradeParams(**base)  # type: ignore[arg-type]


def order_row(order_id: int) -> tuple:
    with db_connection(readonly=True) as cur:
        return tuple(
            cur.execute(
                "SELECT status, filled_micro, error, venue_order_id FROM "
                "orders WHERE id = ?",
                (order_id,),
            ).fetchone()
        )


def audit_kinds() -> list[str]:
    with db_connection(readonly=True) as cur:
        return [r[0] for r in cur.execute("SELECT kind FROM audit_events ORDER BY id")]


def test_taker_entry_is_filled_booked_audited_and_notified(env: dict) -> None:
    order_id = execute_trade(params(env, decision_id=7))
    assert order_id is not None
    status, filled, error, _ = order_row(order_id)
    assert (status, filled, error) == ("filled", 10 * M, None)
    with db_connection(readonly=True) as cur:
        assert cash_balance(cur) == 100 * M - 5_500_000
        size = cur.execute("SELECT size_micro FROM positions").fetchone()[0]
    fee_shares = 10 * M - size
    assert fee_shares == 10 * M * 70_000 * 450_000 // M**2 // 10 * 10  # rate × (1 − p)
    assert audit_kinds() == ["place", "execute", "filled"]
    env["notifier"].stop()
    assert env["sent"] == ["order:entry-d7"]


def test_resting_post_only_order(env: dict) -> None:
    order_id = execute_trade(
        params(env, price=Decimal("0.50"), order_type=OrderType.GTC, post_only=True)
    )
    assert order_row(order_id)[:2] == ("live", 0)
    assert len(env["ctx"].venue.open_orders()) == 1


def test_refused_before_sending_with_the_venue_text(env: dict) -> None:
    order_id = execute_trade(params(env, size=Decimal("3")))
    status, _, error, _ = order_row(order_id)
    assert status == "rejected" and "lower than the minimum: 5" in error
    assert env["venue"].orders("0xbot") == []  # never sent
    assert audit_kinds() == ["place", "error"]


def test_venue_refusal_is_recorded(env: dict) -> None:
    order_id = execute_trade(
        params(env, size=Decimal("500"), price=Decimal("0.55"), order_type=OrderType.GTC)
    )
    status, _, error, _ = order_row(order_id)
    assert status == "rejected" and error == "not enough balance / allowance"


def test_prices_are_rounded_the_safe_way(env: dict) -> None:
    order_id = execute_trade(params(env, price=Decimal("0.5049"), order_type=OrderType.GTC))
    with db_connection(readonly=True) as cur:
        price = cur.execute(
            "SELECT price_micro FROM orders WHERE id = ?", (order_id,)
        ).fetchone()[0]
    assert price == 500_000


def test_the_same_decision_is_never_sent_twice(env: dict) -> None:
    first = execute_trade(
        params(env, decision_id=9, order_type=OrderType.GTC, price=Decimal("0.50"))
    )
    again = execute_trade(
        params(env, decision_id=9, order_type=OrderType.GTC, price=Decimal("0.50"))
    )
    assert first is not None and again is None
    assert len(env["venue"].orders("0xbot")) == 1


def test_timeout_after_accept_is_ambiguous_not_rejected(env: dict) -> None:
    ctx = env["ctx"]
    flaky = ExecutionContext(
        TimeoutAfterAccept(env["venue"], "0xbot"), ctx.clock, "sim", recent=RecentFills()
    )
    order_id = execute_trade(
        params(env, order_type=OrderType.GTC, price=Decimal("0.50")), context=flaky
    )
    status, _, _, venue_id = order_row(order_id)
    assert status == "ambiguous"
    assert env["venue"].order(venue_id) is not None  # it does exist: only reconciliation
    assert audit_kinds()[-1] == "race"  # may close it


def test_execute_trade_needs_a_context() -> None:
    import src.trading.execution as execution

    saved = list(execution._active)
    execution._active.clear()
    try:
        with pytest.raises(RuntimeError, match="ExecutionContext"):
            execute_trade(
                TradeParams("BTC", "UP", "t", Side.BUY, Decimal("0.5"), Decimal("10"))
            )
    finally:
        execution._active[:] = saved
