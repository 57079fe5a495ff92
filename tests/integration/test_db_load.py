"""Load: the bot's workers writing and CLI commands reading one sqlite file at once.

Four writer threads do what the workers do (the signal generator stores decisions, the order
placer records intents, the user stream books fills, every step writes an audit event) while
four reader threads do what ``positions``, ``trades`` and ``stats`` do, 10,000 operations in
all, each thread through its own ``db_connection()``. Nothing may fail with "database is
locked", no write may be lost, and every read must see a consistent snapshot: the ledger's
cash always equals the deposit minus what the booked fills cost.
"""

from __future__ import annotations

import queue
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import pytest

from src.data.db_connection import (
    close_thread_connection,
    configure_database,
    db_connection,
)
from src.data.decisions_store import insert_decision
from src.data.ledger_store import (
    apply_fill_event,
    cash_balance,
    insert_order_intent,
    record_cash,
    set_order_status,
)
from src.data.migrations import run_migrations
from src.data.queries import list_positions, list_trades
from src.data.stats import compute_stats
from src.trading.ledger.accounting import FeeAsset, Side
from src.trading.ledger.events import FillEvent, FillOutcome, FillStatus, OrderIntent
from src.utils.logger import AuditEvent, audit

pytestmark = pytest.mark.integration

WRITES_PER_WRITER = 1_500  # 4 writers → 6,000 write transactions
READS_PER_READER = 1_000  # 4 readers → 4,000 read transactions
DEADLINE_S = 120.0  # a hung thread fails the test instead of hanging it
DEPOSIT = 1_000_000 * 1_000_000
PRICE, SIZE, FEE = 500_000, 2_000_000, 1_000  # each fill costs 1.000000 + 0.001000
TOKENS = [f"tok-{i}" for i in range(8)]


def decision_row(i: int) -> dict[str, object]:
    return {
        "symbol": ("BTC", "ETH", "SOL", "XRP")[i % 4],
        "decided_ms": i,
        "action": "PASS" if i % 3 else "UP",
        "reason": f"load {i}",
        "method": "bayesian",
        "confidence": 0.6,
        "confidence_additive": 0.58,
        "confidence_bayesian": 0.6,
        "fair_value": 0.61,
        "market_price": 0.5,
        "price_micro": PRICE,
        "size_micro": SIZE,
        "fee_micro": FEE,
        "expected_value": 0.05,
        "time_left_s": 300.0,
        "signals_json": '{"momentum": 0.2}',
        "inputs_json": '{"spot": 100000}',
    }


class Load:
    """The shared state of one run: errors from every thread and the order hand-off."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.lock = threading.Lock()
        self.start = threading.Barrier(8)
        self.placed: queue.Queue[str | None] = queue.Queue()
        self.reads: dict[str, int] = {}

    def thread(self, name: str, body: Callable[[], None]) -> threading.Thread:
        def run() -> None:
            try:
                self.start.wait(DEADLINE_S)
                body()
            except BaseException:
                with self.lock:
                    self.errors.append(f"{name}: {traceback.format_exc()}")
                if name == "orders":
                    self.placed.put(None)  # let the fill worker stop
            finally:
                close_thread_connection()

        return threading.Thread(target=run, name=name, daemon=True)

    # -- writers, like the bot's workers ---------------------------------------------------

    def decisions(self) -> None:
        for i in range(WRITES_PER_WRITER):
            with db_connection() as cur:
                insert_decision(cur, decision_row(i), None, "sim")

    def orders(self) -> None:
        for i in range(WRITES_PER_WRITER):
            with db_connection() as cur:
                intent = OrderIntent(
                    f"load-{i}",
                    TOKENS[i % len(TOKENS)],
                    "BTC",
                    "UP",
                    Side.BUY,
                    "entry",
                    "GTC",
                    PRICE,
                    SIZE,
                    "sim",
                )
                insert_order_intent(cur, intent, i)
                set_order_status(
                    cur, intent.client_order_id, "live", i, venue_order_id=f"0x{i:064x}"
                )
            self.placed.put(f"0x{i:064x}")
        self.placed.put(None)

    def fills(self) -> None:
        deadline = time.monotonic() + DEADLINE_S
        booked = 0
        while time.monotonic() < deadline:
            venue_id = self.placed.get(timeout=max(0.0, deadline - time.monotonic()))
            if venue_id is None:
                break
            event = FillEvent(
                f"trade-{venue_id}",
                venue_id,
                FillStatus.MATCHED,
                Side.BUY,
                "taker",
                PRICE,
                SIZE,
                FEE,
                FeeAsset.COLLATERAL,
                booked,
            )
            with db_connection() as cur:
                outcome = apply_fill_event(cur, event, booked)
            if outcome is not FillOutcome.BOOKED:
                raise AssertionError(f"{venue_id}: {outcome}")
            booked += 1

    def audits(self) -> None:
        for i in range(WRITES_PER_WRITER):
            with db_connection() as cur:
                audit(
                    AuditEvent("monitor", f"load {i}", symbol="BTC", size_micro=i), cur, i
                )

    # -- readers, like the CLI commands ----------------------------------------------------

    def reader(self, index: int) -> Callable[[], None]:
        def body() -> None:
            for i in range(READS_PER_READER):
                with db_connection(readonly=True) as cur:
                    step = (index + i) % 4
                    if step == 0:
                        list_positions(cur, include_closed=True)
                    elif step == 1:
                        list_trades(cur)
                    elif step == 2:
                        compute_stats(cur)
                    # every snapshot is consistent: cash moved exactly with the fills
                    cash = cash_balance(cur)
                    spent = cur.execute(
                        "SELECT COALESCE(SUM(notional_micro + fee_micro), 0) FROM fills"
                    ).fetchone()[0]
                    assert cash == DEPOSIT - spent, f"torn read: cash {cash}, fills {spent}"
            with self.lock:
                self.reads[f"reader-{index}"] = READS_PER_READER

        return body


def test_concurrent_writers_and_readers_lose_nothing(tmp_path: Path) -> None:
    db = tmp_path / "load.db"
    run_migrations(db)
    configure_database(db)
    with db_connection() as cur:
        record_cash(cur, "deposit", DEPOSIT, 0, "starting balance")
    load = Load()
    threads = [
        load.thread("decisions", load.decisions),
        load.thread("orders", load.orders),
        load.thread("fills", load.fills),
        load.thread("audits", load.audits),
        *(load.thread(f"reader-{i}", load.reader(i)) for i in range(4)),
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    deadline = started + DEADLINE_S
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    elapsed = time.monotonic() - started
    assert [t.name for t in threads if t.is_alive()] == [], "threads still running"
    assert not any("database is locked" in e for e in load.errors), load.errors
    assert load.errors == []
    total = 4 * WRITES_PER_WRITER + sum(load.reads.values())
    assert total == 10_000
    print(f"\n{total} operations in {elapsed:.2f} s ({total / elapsed:,.0f}/s)")

    n = WRITES_PER_WRITER
    with db_connection(readonly=True) as cur:

        def count(sql: str) -> int:
            return int(cur.execute(sql).fetchone()[0])

        assert count("SELECT COUNT(*) FROM decisions") == n
        assert count("SELECT COUNT(DISTINCT reason) FROM decisions") == n
        assert count("SELECT COUNT(*) FROM orders WHERE status = 'filled'") == n
        assert count("SELECT COUNT(*) FROM fills") == n
        assert count("SELECT COUNT(*) FROM audit_events") == n
        assert count("SELECT COUNT(DISTINCT message) FROM audit_events") == n
        assert count("SELECT COUNT(*) FROM cash_ledger") == 1 + 2 * n  # trade + fee each
        assert cash_balance(cur) == DEPOSIT - n * (PRICE * SIZE // 1_000_000 + FEE)
        positions = list_positions(cur, include_closed=True)
        assert {p.token_id for p in positions} == set(TOKENS)
        assert sum(p.size_micro for p in positions) == n * SIZE
        assert len(list_trades(cur, limit=n + 1)) == n
        assert cur.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
