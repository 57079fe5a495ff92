"""Snapshots of the running bot for the live view and the end-of-run summary, read from
the ledger (read-only) and the market board."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from src.bot.market_board import MarketBoard
from src.bot.status import (
    BotStatus,
    CoinStatus,
    EventRow,
    ExitReasonLine,
    OrderRow,
    PositionRow,
    RunSummary,
)
from src.data.db_connection import db_connection
from src.data.ledger_store import cash_balance
from src.data.market_data.polymarket import OrderBook
from src.trading.position_manager.portfolio import open_positions, working_orders
from src.utils.money import to_micro

EVENTS_SHOWN = 8


@dataclass(frozen=True, slots=True)
class RunInfo:
    """The run's fixed facts."""

    mode: str
    profile: str
    started_at: float
    speed: float | None
    windows_target: int | None
    stop_at: float | None


def _coin_status(board: MarketBoard, coin: str, now: float) -> CoinStatus:
    feed = board.feed(coin)
    if feed is None:
        return CoinStatus(coin, "—", 0.0)
    decision = board.decision(coin)
    a = None if decision is None else decision.analysis
    book = feed.book
    return CoinStatus(
        coin=coin,
        window_slug=feed.window.slug,
        time_left_s=feed.window.time_left(now),
        up_bid=None if book is None else book.best_bid,
        up_ask=None if book is None else book.best_ask,
        spot=feed.spot,
        strike=feed.strike,
        fair_value=None if a is None else float(a.fair.p_up),
        confidence_additive=None if a is None else float(a.additive.confidence),
        confidence_bayesian=None if a is None else float(a.bayesian.confidence),
        action="—" if decision is None else decision.side.value,
        reason="" if decision is None else decision.reason.value,
        expected_value=(
            None
            if decision is None or decision.ev_per_share is None
            else float(decision.ev_per_share)
        ),
        decided_at=None if decision is None else decision.inputs.now,
    )


def _mark(book: OrderBook | None) -> int | None:
    if book is None or book.mid is None:
        return None
    return to_micro(book.mid)


def _totals(cur: sqlite3.Cursor) -> tuple[int, int]:
    pnl, fees = cur.execute(
        "SELECT COALESCE(SUM(realized_pnl_micro), 0), COALESCE(SUM(fees_micro), 0) "
        "FROM positions"
    ).fetchone()
    return int(pnl), int(fees)


def build_status(
    run: RunInfo,
    now: float,
    windows_done: int,
    board: MarketBoard,
    books: dict[str, OrderBook],
    health: tuple[tuple[str, str], ...],
    counters: tuple[tuple[str, int], ...],
) -> BotStatus:
    """What the live view shows now."""
    with db_connection(readonly=True) as cur:
        cash = cash_balance(cur)
        pnl, fees = _totals(cur)
        positions = open_positions(cur)
        orders = working_orders(cur)
        events = cur.execute(
            "SELECT at_ms, kind, message, symbol FROM audit_events "
            "ORDER BY id DESC LIMIT ?",
            (EVENTS_SHOWN,),
        ).fetchall()
    return BotStatus(
        mode=run.mode,
        profile=run.profile,
        now=now,
        started_at=run.started_at,
        speed=run.speed,
        windows_done=windows_done,
        windows_target=run.windows_target,
        stop_at=run.stop_at,
        cash_micro=cash,
        realized_pnl_micro=pnl,
        fees_micro=fees,
        coins=tuple(_coin_status(board, coin, now) for coin in board.coins),
        orders=tuple(
            OrderRow(
                o.symbol,
                o.outcome,
                o.intent,
                o.side,
                o.price_micro,
                o.size_micro,
                o.filled_micro,
                o.status,
                now - o.created_ms / 1000,
            )
            for o in orders
        ),
        positions=tuple(
            PositionRow(
                p.symbol,
                p.outcome,
                p.size_micro,
                p.cost_micro,
                p.fees_micro,
                _mark(books.get(p.token_id)),
                0.0 if p.window is None else p.window.end_ms / 1000 - now,
            )
            for p in positions
        ),
        events=tuple(EventRow(r[0] / 1000, r[1], r[2], r[3]) for r in events),
        health=health,
        counters=counters,
    )


def build_summary(
    run: RunInfo,
    stopped_at: float,
    stop_reason: str,
    windows_done: int,
    cash_start_micro: int,
    since_ms: int,
) -> RunSummary:
    """What this run did (rows created since ``since_ms``)."""
    with db_connection(readonly=True) as cur:
        decisions, trades = cur.execute(
            "SELECT COUNT(*), COALESCE(SUM(action != 'PASS'), 0) FROM decisions "
            "WHERE decided_ms >= ?",
            (since_ms,),
        ).fetchone()
        placed, rejected = cur.execute(
            "SELECT COUNT(*), COALESCE(SUM(status = 'rejected'), 0) FROM orders "
            "WHERE created_ms >= ?",
            (since_ms,),
        ).fetchone()
        fills = cur.execute(
            "SELECT COUNT(*) FROM fills WHERE matched_ms >= ? AND status != 'FAILED'",
            (since_ms,),
        ).fetchone()[0]
        cash_end = cash_balance(cur)
        pnl, fees = cur.execute(
            "SELECT COALESCE(SUM(realized_pnl_micro), 0), COALESCE(SUM(fees_micro), 0) "
            "FROM positions WHERE opened_ms >= ?",
            (since_ms,),
        ).fetchone()
        open_n = cur.execute(
            "SELECT COUNT(*) FROM positions WHERE status = 'open'"
        ).fetchone()[0]
        open_orders = len(working_orders(cur))
        reasons = cur.execute(
            "SELECT CASE WHEN p.status = 'open' THEN 'open' "
            "WHEN p.exit_reason = 'settlement' OR (p.exit_reason IS NULL AND s.won IS NOT "
            "NULL) THEN CASE WHEN s.won = 1 THEN 'settlement_win' ELSE 'settlement_loss' "
            "END WHEN p.exit_reason IS NULL THEN 'closed' ELSE p.exit_reason END AS reason, "
            "COUNT(*), COALESCE(SUM(p.realized_pnl_micro), 0) FROM positions p "
            "LEFT JOIN settlements s ON s.position_id = p.id WHERE p.opened_ms >= ? "
            "GROUP BY reason ORDER BY reason",
            (since_ms,),
        ).fetchall()
        symbols = cur.execute(
            "SELECT symbol, COUNT(*), COALESCE(SUM(realized_pnl_micro), 0) FROM positions "
            "WHERE opened_ms >= ? GROUP BY symbol ORDER BY symbol",
            (since_ms,),
        ).fetchall()
    return RunSummary(
        mode=run.mode,
        profile=run.profile,
        started_at=run.started_at,
        stopped_at=stopped_at,
        stop_reason=stop_reason,
        windows_done=windows_done,
        decisions=int(decisions),
        trades_decided=int(trades),
        orders_placed=int(placed),
        orders_rejected=int(rejected),
        fills=int(fills),
        cash_start_micro=cash_start_micro,
        cash_end_micro=cash_end,
        realized_pnl_micro=int(pnl),
        fees_micro=int(fees),
        open_positions=int(open_n),
        open_orders=open_orders,
        by_exit_reason=tuple(ExitReasonLine(r[0], int(r[1]), int(r[2])) for r in reasons),
        by_symbol=tuple((r[0], int(r[1]), int(r[2])) for r in symbols),
    )
