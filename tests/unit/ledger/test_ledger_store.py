"""The sqlite ledger: intents, fills exactly once, reversals, positions, cash."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from src.data.db_connection import (
    close_thread_connection,
    configure_database,
    db_connection,
)
from src.data.ledger_store import (
    apply_fill_event,
    cash_balance,
    insert_order_intent,
    record_cash,
    record_redemption,
    set_order_status,
    settle_position,
)
from src.data.migrations import run_migrations
from src.trading.ledger.accounting import FeeAsset, Side
from src.trading.ledger.events import FillEvent, FillOutcome, FillStatus, OrderIntent

M = 1_000_000


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "bot.db"
    run_migrations(path)
    configure_database(path)
    with db_connection() as cur:
        record_cash(cur, "deposit", 100 * M, 0, "starting balance")
        insert_order_intent(cur, intent("c1", "0xorder1"), 1)
    return path


def intent(
    client_id: str,
    venue_id: str,
    side: Side = Side.BUY,
    size: int = 10 * M,
    token: str = "tok-up",
) -> OrderIntent:
    return OrderIntent(
        client_id,
        token,
        "BTC",
        "UP",
        side,
        "entry",
        "GTC",
        500_000,
        size,
        "sim",
        venue_order_id=venue_id,
    )


def event(
    trade: str,
    status: FillStatus,
    size: int = 10 * M,
    order: str = "0xorder1",
    side: Side = Side.BUY,
    price: int = 500_000,
    fee: int = 0,
) -> FillEvent:
    asset = FeeAsset.SHARES if side is Side.BUY else FeeAsset.COLLATERAL
    return FillEvent(trade, order, status, side, "maker", price, size, fee, asset, 1000)


def apply(e: FillEvent) -> FillOutcome:
    with db_connection() as cur:
        return apply_fill_event(cur, e, 2000)


def state() -> dict[str, object]:
    with db_connection(readonly=True) as cur:
        pos = cur.execute("SELECT size_micro, cost_micro, status FROM positions").fetchall()
        order = cur.execute(
            "SELECT filled_micro, status FROM orders WHERE client_order_id = 'c1'"
        ).fetchone()
        return {
            "cash": cash_balance(cur),
            "positions": [tuple(r) for r in pos],
            "order": tuple(order),
        }


def test_fill_lifecycle_books_money_once(db: Path) -> None:
    assert apply(event("t1", FillStatus.MATCHED)) is FillOutcome.BOOKED
    assert state() == {
        "cash": 95 * M,
        "positions": [(10 * M, 5 * M, "open")],
        "order": (10 * M, "filled"),
    }
    assert apply(event("t1", FillStatus.MATCHED)) is FillOutcome.DUPLICATE
    assert apply(event("t1", FillStatus.CONFIRMED)) is FillOutcome.PROMOTED
    assert apply(event("t1", FillStatus.CONFIRMED)) is FillOutcome.DUPLICATE
    assert apply(event("t1", FillStatus.MATCHED)) is FillOutcome.STALE  # late, older phase
    assert state()["cash"] == 95 * M


def test_failed_fill_is_reversed(db: Path) -> None:
    apply(event("t1", FillStatus.MATCHED, size=4 * M))
    apply(event("t2", FillStatus.MATCHED, size=6 * M))
    assert apply(event("t2", FillStatus.FAILED, size=6 * M)) is FillOutcome.REVERSED
    assert state() == {
        "cash": 98 * M,
        "positions": [(4 * M, 2 * M, "open")],
        "order": (4 * M, "partially_filled"),
    }
    assert apply(event("t1", FillStatus.FAILED, size=4 * M)) is FillOutcome.REVERSED
    assert state() == {
        "cash": 100 * M,
        "positions": [(0, 0, "closed")],
        "order": (0, "cancelled"),
    }
    assert apply(event("t1", FillStatus.CONFIRMED, size=4 * M)) is FillOutcome.STALE
    with db_connection(readonly=True) as cur:
        kinds = cur.execute("SELECT COUNT(*) FROM cash_ledger WHERE note LIKE 'reversal%'")
        assert kinds.fetchone()[0] == 2  # the audit trail keeps both legs


def test_confirmed_first_then_matched(db: Path) -> None:
    assert apply(event("t1", FillStatus.CONFIRMED)) is FillOutcome.BOOKED
    assert apply(event("t1", FillStatus.MATCHED)) is FillOutcome.STALE
    assert state()["cash"] == 95 * M


def test_failed_before_anything_moves_no_money(db: Path) -> None:
    assert apply(event("t9", FillStatus.FAILED)) is FillOutcome.STALE
    assert state()["cash"] == 100 * M


def test_unknown_order(db: Path) -> None:
    assert (
        apply(event("t1", FillStatus.MATCHED, order="0xnope")) is FillOutcome.UNKNOWN_ORDER
    )


def test_an_intent_cannot_be_written_twice(db: Path) -> None:
    with pytest.raises(sqlite3.IntegrityError), db_connection() as cur:
        insert_order_intent(cur, intent("c1", "0xother"), 5)


def test_order_status_and_missing_order(db: Path) -> None:
    with db_connection() as cur:
        set_order_status(cur, "c1", "live", 3, venue_order_id="0xorder1")
        with pytest.raises(KeyError):
            set_order_status(cur, "nope", "live", 3)


def test_sell_then_settle_then_redeem(db: Path) -> None:
    apply(event("t1", FillStatus.MATCHED))  # buy 10 @ 0.50 → cost 5
    with db_connection() as cur:
        insert_order_intent(cur, intent("c2", "0xorder2", Side.SELL, size=4 * M), 3)
    apply(
        event(
            "t2",
            FillStatus.MATCHED,
            size=4 * M,
            order="0xorder2",
            side=Side.SELL,
            price=700_000,
            fee=10_000,
        )
    )  # +2.8 − 0.01 fee
    with db_connection() as cur:
        assert settle_position(cur, "tok-up", "UP", 5000) == 6 * M
        assert settle_position(cur, "tok-up", "UP", 6000) == 0  # idempotent
        record_redemption(cur, "tok-up", 6 * M, 7000, "redeem-1")
        pnl = cur.execute("SELECT realized_pnl_micro, status FROM positions").fetchone()
        settlement = cur.execute("SELECT won, payout_micro, pnl_micro FROM settlements")
        assert tuple(settlement.fetchone()) == (1, 6 * M, 3 * M)
        assert tuple(pnl) == (2_790_000 - 2 * M + 3 * M, "redeemed")
        assert cash_balance(cur) == 100 * M - 5 * M + 2_790_000 + 6 * M


def test_concurrent_duplicate_events_are_booked_once(db: Path) -> None:
    outcomes: list[FillOutcome] = []
    lock = threading.Lock()
    barrier = threading.Barrier(6)

    def worker() -> None:
        barrier.wait()
        for status in (FillStatus.MATCHED, FillStatus.CONFIRMED):
            result = apply(event("t1", status))
            with lock:
                outcomes.append(result)
        close_thread_connection()

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count(FillOutcome.BOOKED) == 1
    assert state()["cash"] == 95 * M


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b", "c"]), st.sampled_from(list(FillStatus))),
        max_size=25,
    )
)
def test_any_event_order_ends_in_the_same_ledger(db: Path, events: list) -> None:
    """Replaying events in any order, with duplicates, books each trade's money at most
    once and never for a trade whose final word was FAILED."""
    with db_connection() as cur:
        for table in ("cash_ledger", "fills", "positions"):
            cur.execute(f"DELETE FROM {table}")
        record_cash(cur, "deposit", 100 * M, 0)
    sizes = {"a": 1 * M, "b": 2 * M, "c": 3 * M}
    seen: dict[str, set[FillStatus]] = {}
    for trade, status in events:
        apply(event(trade, status, size=sizes[trade]))
        seen.setdefault(trade, set()).add(status)
    # Whichever order FAILED arrives in (before: recorded, no money; after: reversed),
    # a trade that ever FAILED holds no money at the end; any other is booked once.
    expected = 100 * M - sum(
        sizes[t] // 2 for t, statuses in seen.items() if FillStatus.FAILED not in statuses
    )
    with db_connection(readonly=True) as cur:
        assert cash_balance(cur) == expected
