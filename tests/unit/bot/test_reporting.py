"""The live view's status and the end-of-run summary, read from a real ledger built with
the ledger's own functions."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from src.bot.market_board import CoinFeed, MarketBoard
from src.bot.reporting import EVENTS_SHOWN, RunInfo, build_status, build_summary
from src.bot.status import CoinStatus, EventRow, ExitReasonLine
from src.data.db_connection import db_connection
from src.data.ledger_store import apply_fill_event, settle_position
from src.data.market_data.polymarket import BookLevel, OrderBook
from src.data.market_data.windows import WindowRef
from src.trading.ledger.accounting import FeeAsset, Side
from src.trading.ledger.events import FillEvent, FillStatus
from src.trading.logic import decide
from src.trading.params import StrategyParams
from src.utils.logger import AuditEvent, audit
from tests.unit.position_manager.support import (
    M,
    add_window,
    fill,
    migrated_db,
    place,
    token,
)
from tests.unit.strategy.builders import account, make_snapshot

T0 = 1_767_225_600
START = T0 + 60  # the run starts one minute into the window
START_MS = START * 1000
RUN = RunInfo("sim", "aggressive", START, 300.0, 2, None)


def book(token_id: str, bid: str, ask: str) -> OrderBook:
    return OrderBook(
        token_id,
        (BookLevel(Decimal(bid), Decimal(10)),),
        (BookLevel(Decimal(ask), Decimal(10)),),
        START_MS,
    )


def feed(coin: str, order_book: OrderBook | None, sequence: int) -> CoinFeed:
    return CoinFeed(
        WindowRef(coin, T0),
        None,
        None,
        order_book,
        None,
        99.5,
        100.25,
        START,
        0.0,
        sequence,
    )


def trade(
    coin: str,
    start: int,
    outcome: str,
    side: Side = Side.BUY,
    price: int = 500_000,
    *,
    window_id: int,
    at_ms: int,
    size: int = 10 * M,
    intent: str = "entry",
) -> None:
    """An order of ``coin`` filled at once (``support.trade`` books every order as BTC)."""
    venue_id = place(
        token(coin, start, outcome),
        side=side,
        price=price,
        size=size,
        window_id=window_id,
        outcome=outcome,
        intent=intent,
        at_ms=at_ms,
        coin=coin,
    )
    fill(venue_id, side=side, price=price, size=size, at_ms=at_ms)


def add_decision(action: str, at_ms: int, symbol: str = "BTC") -> None:
    with db_connection() as cur:
        cur.execute(
            "INSERT INTO decisions (symbol, decided_ms, mode, action, reason, method) "
            "VALUES (?, ?, 'sim', ?, 'r', 'bayesian')",
            (symbol, at_ms, action),
        )


# --- build_status ------------------------------------------------------------------------


@pytest.fixture
def status_db(tmp_path: Path) -> dict:
    migrated_db(tmp_path, deposit=100 * M)
    btc = add_window("BTC", T0)
    eth = add_window("ETH", T0)
    trade("BTC", T0, "UP", price=400_000, window_id=btc, at_ms=START_MS)
    trade("ETH", T0, "DOWN", price=300_000, size=20 * M, window_id=eth, at_ms=START_MS)
    place(
        token("BTC", T0, "DOWN"),
        price=350_000,
        size=7 * M,
        window_id=btc,
        outcome="DOWN",
        at_ms=START_MS + 5_000,
    )
    place(
        token("ETH", T0, "UP"),
        window_id=eth,
        status="cancelled",
        at_ms=START_MS,
        coin="ETH",
    )
    with db_connection() as cur:
        for i in range(EVENTS_SHOWN + 2):
            audit(AuditEvent("monitor", f"event {i}", symbol="BTC"), cur, START_MS + i)
    return {"btc": btc, "eth": eth}


def test_status_reads_cash_positions_orders_and_events(status_db: dict) -> None:
    board = MarketBoard(("BTC", "ETH"))
    books = {token("BTC", T0, "UP"): book(token("BTC", T0, "UP"), "0.55", "0.57")}
    now = START + 30.0
    status = build_status(
        RUN, now, 0, board, books, (("market-poller", "ok"),), (("decisions", 4),)
    )
    # 100 deposited, 4 + 6 spent on maker fills (no fee)
    assert status.cash_micro == 90 * M
    assert status.realized_pnl_micro == 0 and status.fees_micro == 0
    assert (status.mode, status.profile, status.started_at) == ("sim", "aggressive", START)
    assert (status.windows_done, status.windows_target, status.now) == (0, 2, now)
    assert status.health == (("market-poller", "ok"),)
    assert status.counters == (("decisions", 4),)

    btc, eth = status.positions
    assert (btc.symbol, btc.outcome, btc.size_micro, btc.cost_micro) == (
        "BTC",
        "UP",
        10 * M,
        4 * M,
    )
    assert btc.mark_micro == 560_000  # the book's mid
    assert btc.unrealized_micro == 10 * 560_000 - 4 * M
    assert btc.time_left_s == pytest.approx(T0 + 900 - now)
    assert (eth.symbol, eth.outcome, eth.mark_micro) == ("ETH", "DOWN", None)  # no book

    [order] = status.orders  # the cancelled one is not working
    assert (order.symbol, order.outcome, order.side, order.status) == (
        "BTC",
        "DOWN",
        "BUY",
        "live",
    )
    assert (order.price_micro, order.size_micro, order.matched_micro) == (350_000, 7 * M, 0)
    assert order.age_s == pytest.approx(25.0)

    assert len(status.events) == EVENTS_SHOWN
    assert [e.message for e in status.events] == [
        f"event {i}" for i in range(EVENTS_SHOWN + 1, 1, -1)
    ]  # newest first
    assert status.events[0] == EventRow(
        (START_MS + EVENTS_SHOWN + 1) / 1000, "monitor", f"event {EVENTS_SHOWN + 1}", "BTC"
    )


def test_status_shows_every_coin_of_the_board(status_db: dict) -> None:
    board = MarketBoard(("BTC", "ETH", "SOL"))
    up = token("BTC", T0, "UP")
    btc_feed = feed("BTC", book(up, "0.48", "0.52"), 1)
    board.publish(btc_feed)
    board.publish(feed("ETH", None, 2))
    decision = decide(make_snapshot(), account(), StrategyParams())
    board.record_decision("BTC", btc_feed, decision, None)
    now = START + 100.0
    status = build_status(RUN, now, 0, board, {}, (), ())
    btc, eth, sol = status.coins
    assert [c.coin for c in status.coins] == ["BTC", "ETH", "SOL"]
    assert btc.window_slug == f"btc-updown-15m-{T0}"
    assert btc.time_left_s == pytest.approx(T0 + 900 - now)
    assert (btc.up_bid, btc.up_ask) == (Decimal("0.48"), Decimal("0.52"))
    assert (btc.spot, btc.strike) == (100.25, 99.5)
    assert (btc.action, btc.reason) == ("PASS", decision.reason.value)
    assert decision.analysis is not None
    assert btc.fair_value == float(decision.analysis.fair.p_up)
    assert btc.confidence_bayesian == float(decision.analysis.bayesian.confidence)
    assert btc.decided_at == decision.inputs.now
    assert (eth.up_bid, eth.up_ask, eth.action) == (None, None, "—")  # no book, undecided
    assert sol == CoinStatus("SOL", "—", 0.0)  # nothing polled yet


# --- build_summary -----------------------------------------------------------------------


@pytest.fixture
def summary_db(tmp_path: Path) -> None:
    """Before the run: a settled win, its decision, order and fill. During the run: one
    position per exit bucket, on four coins."""
    migrated_db(tmp_path, deposit=100 * M)
    before = START_MS - 60_000
    old = add_window("BTC", T0 - 900)
    add_decision("UP", before)
    trade("BTC", T0 - 900, "UP", window_id=old, at_ms=before)
    with db_connection() as cur:
        settle_position(cur, token("BTC", T0 - 900, "UP"), "UP", before + 1)

    at = START_MS + 1_000
    for action in ("UP", "PASS", "PASS", "DOWN"):
        add_decision(action, at)
    windows = {coin: add_window(coin, T0) for coin in ("BTC", "ETH", "SOL", "XRP")}
    # settlement win: 10 @ 0.40 → +6; settlement loss: 10 @ 0.30 → −3
    trade("BTC", T0, "UP", price=400_000, window_id=windows["BTC"], at_ms=at)
    trade("ETH", T0, "UP", price=300_000, window_id=windows["ETH"], at_ms=at)
    with db_connection() as cur:
        settle_position(cur, token("BTC", T0, "UP"), "UP", at + 900_000)
        settle_position(cur, token("ETH", T0, "UP"), "DOWN", at + 900_000)
    # exit plan: 0.50 → 0.70 = +2; stop loss: 0.50 → 0.30 = −2
    for coin, exit_price, intent in (
        ("SOL", 700_000, "exit_plan"),
        ("XRP", 300_000, "stop_loss"),
    ):
        trade(coin, T0, "UP", window_id=windows[coin], at_ms=at)
        trade(
            coin,
            T0,
            "UP",
            Side.SELL,
            exit_price,
            window_id=windows[coin],
            at_ms=at + 1,
            intent=intent,
        )
    # still open: BTC Down 10 @ 0.45; one resting order and one rejected order
    trade("BTC", T0, "DOWN", price=450_000, window_id=windows["BTC"], at_ms=at)
    place(
        token("SOL", T0, "DOWN"),
        window_id=windows["SOL"],
        outcome="DOWN",
        at_ms=at,
        coin="SOL",
    )
    place(token("XRP", T0, "DOWN"), status="rejected", outcome="DOWN", at_ms=at, coin="XRP")


def test_summary_counts_only_what_this_run_did(summary_db: None) -> None:
    s = build_summary(RUN, START + 1000.0, "windows", 1, 105 * M, START_MS)
    assert (s.mode, s.profile, s.stop_reason, s.windows_done) == (
        "sim",
        "aggressive",
        "windows",
        1,
    )
    assert (s.started_at, s.stopped_at) == (START, START + 1000.0)
    assert (s.decisions, s.trades_decided) == (4, 2)
    # 5 entries + 2 exits + the resting and the rejected order; the old order is not counted
    assert (s.orders_placed, s.orders_rejected) == (9, 1)
    assert s.fills == 7
    assert s.open_positions == 1 and s.open_orders == 1
    assert s.cash_start_micro == 105 * M
    assert s.realized_pnl_micro == (6 - 3 + 2 - 2) * M  # the old +5 is not this run's
    assert s.fees_micro == 0


def test_summary_buckets_by_exit_reason(summary_db: None) -> None:
    s = build_summary(RUN, START + 1000.0, "windows", 1, 105 * M, START_MS)
    assert s.by_exit_reason == (
        ExitReasonLine("exit_plan", 1, 2 * M),
        ExitReasonLine("open", 1, 0),
        ExitReasonLine("settlement_loss", 1, -3 * M),
        ExitReasonLine("settlement_win", 1, 6 * M),
        ExitReasonLine("stop_loss", 1, -2 * M),
    )
    assert sum(line.pnl_micro for line in s.by_exit_reason) == s.realized_pnl_micro


def test_summary_by_symbol_adds_up_to_the_realized_pnl(summary_db: None) -> None:
    s = build_summary(RUN, START + 1000.0, "windows", 1, 105 * M, START_MS)
    assert s.by_symbol == (
        ("BTC", 2, 6 * M),
        ("ETH", 1, -3 * M),
        ("SOL", 1, 2 * M),
        ("XRP", 1, -2 * M),
    )
    assert sum(pnl for _, _, pnl in s.by_symbol) == s.realized_pnl_micro
    assert sum(n for _, n, _ in s.by_symbol) == sum(x.positions for x in s.by_exit_reason)


def test_summary_cash_end_is_the_ledger_balance(summary_db: None) -> None:
    s = build_summary(RUN, START + 1000.0, "windows", 1, 100 * M, START_MS)
    with db_connection(readonly=True) as cur:
        total = cur.execute("SELECT SUM(amount_micro) FROM cash_ledger").fetchone()[0]
    assert s.cash_end_micro == total
    # deposit 100, old −5, BTC −4, ETH −3, SOL −5 +7, XRP −5 +3, BTC Down −4.5
    # (settlements pay on redemption, not here)
    assert s.cash_end_micro == 100 * M - 5 * M - 4 * M - 3 * M + 2 * M - 2 * M - 4_500_000


def test_a_position_closed_by_a_failed_fill_is_not_reported_open(tmp_path: Path) -> None:
    migrated_db(tmp_path, deposit=100 * M)
    window_id = add_window("BTC", T0)
    venue_id = place(token("BTC", T0, "UP"), window_id=window_id, at_ms=START_MS)
    for status in (FillStatus.MATCHED, FillStatus.FAILED):
        event = FillEvent(
            "0xtrade-failed",
            venue_id,
            status,
            Side.BUY,
            "maker",
            500_000,
            10 * M,
            0,
            FeeAsset.SHARES,
            START_MS + 1,
        )
        with db_connection() as cur:
            apply_fill_event(cur, event, START_MS + 1)
    with db_connection(readonly=True) as cur:
        row = cur.execute(
            "SELECT status, size_micro, exit_reason FROM positions"
        ).fetchone()
        assert tuple(row) == ("closed", 0, None)
    s = build_summary(RUN, START + 60.0, "windows", 1, 100 * M, START_MS)
    assert s.open_positions == 0
    in_open_bucket = sum(x.positions for x in s.by_exit_reason if x.reason == "open")
    assert in_open_bucket == s.open_positions


def test_a_run_that_did_nothing_has_an_empty_summary(tmp_path: Path) -> None:
    migrated_db(tmp_path, deposit=50 * M)
    s = build_summary(RUN, START, "signal", 0, 50 * M, START_MS)
    assert (s.decisions, s.trades_decided, s.orders_placed, s.fills) == (0, 0, 0, 0)
    assert (s.realized_pnl_micro, s.by_exit_reason, s.by_symbol) == (0, (), ())
    assert s.cash_end_micro == s.cash_start_micro == 50 * M
