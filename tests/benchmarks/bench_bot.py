"""The bot's own hot paths against the emulator: a position-monitor cycle and tick-to-order.

Both run against an in-process emulator on a manual clock (the calendar world, books quoted
here from a liquidity account), through a real ``ClobVenue`` over the unmodified client
with a generated key, and a migrated sqlite ledger in a temporary directory.

* **Monitor cycle**: 50 open positions, one per market (4 coins, 13 windows listed), each
  booked through the ledger's own functions (order intent + CONFIRMED BUY fill) with its
  window from the emulator's Gamma. The clock stands half-way through the running windows
  (4 positions); the other 46 are in windows listed ahead. None has ended, so the monitor
  plans every one (no decision is on the board, so the reversal rule has no signal to
  weigh; ``PositionRules()`` keeps it off anyway). One ``step()`` is timed whole: the
  ledger reads, the one ``POST /books`` for the 50 tokens, the plan and the hand-off of
  its jobs. The order placer is not started: the exit-plan jobs of the first cycle stay
  queued, so later cycles (the timed ones) submit nothing and no order is sent.
* **Tick-to-order**: the order path alone (``decide()`` is not in it: making it trade 200
  times on demand would need a rigged snapshot; its cost is the strategy benchmark's). A
  book is read through ``venue.books``; the clock starts once it is in hand; the placer's
  ``run_job`` then runs ``execute_trade`` on a post-only GTC BUY at 0.05 (it rests, so the
  book does not move): sign (``ClobVenue.prepare``, EIP-712), write the intent, ``POST
  /order``, book the answer. The figure is the placer's own ``latencies_s``. Signing is
  timed separately by wrapping ``venue.prepare`` over the same orders.

The venue's rate limiter is set to 1,000/s: the bot's 15/s bucket is never reached by one
request a second, but these loops would hit it and measure its waits instead.
"""

from __future__ import annotations

import gc
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from eth_account import Account
from py_clob_client_v2.http_helpers import helpers

from src.bot.market_board import MarketBoard
from src.bot.order_placer import OrderPlacer
from src.bot.position_monitor import PositionMonitor
from src.data.db_connection import (
    close_thread_connection,
    configure_database,
    db_connection,
)
from src.data.ledger_store import apply_fill_event, insert_order_intent, record_cash
from src.data.market_data.polymarket import GammaClient, MarketInfo
from src.data.market_data.windows import WINDOW_SECONDS, window_start
from src.data.migrations import run_migrations
from src.data.windows_store import upsert_window
from src.sim.emulator.config import EmulatorConfig
from src.sim.emulator.server import Emulator, EmulatorHandle
from src.sim.emulator.sources import calendar_source
from src.sim.emulator.world import ListedMarket
from src.sim.venue import OrderRequest
from src.sim.venue import Side as VenueSide
from src.trading.execution import ExecutionContext, TradeParams
from src.trading.ledger.accounting import FeeAsset, Side
from src.trading.ledger.events import FillEvent, FillStatus, OrderIntent
from src.trading.position_manager.jobs import Job
from src.trading.position_manager.rules import PositionRules
from src.trading.state import RecentFills
from src.trading.venue.clob import ClobVenue
from src.trading.venue.port import OrderType
from src.utils.money import MICRO
from tests.benchmarks import BenchResult

COINS = ("BTC", "ETH", "SOL", "XRP")
POSITIONS = 50
WINDOWS_AHEAD = 12  # 13 windows × 4 coins = 52 markets not ended: 50 positions, 1 a market
CYCLES = 300
CYCLE_WARMUP = 20
TARGET_CYCLE_MS = 20.0
ORDERS = 200
ORDER_WARMUP = 20
ORDER_TOKENS = 8  # the running window's Up and Down tokens of each coin
RESTING_PRICE = Decimal("0.05")  # far below the 0.45–0.49 bids: rests, trades nothing
ORDER_SHARES = Decimal(5)
LEVELS = 5
MAKER = "0x" + "33" * 20
POSITION_PRICE = 500_000
POSITION_SIZE = 10 * MICRO
RATE_PER_S = 1000.0


@dataclass
class _World:
    emu: EmulatorHandle
    venue: ClobVenue
    gamma: GammaClient
    ctx: ExecutionContext


def _p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


@contextmanager
def _world() -> Iterator[_World]:
    """Emulator (manual clock, mid-window), venue with a fresh key, migrated ledger."""
    config = EmulatorConfig(
        port=0,
        speed=None,
        coins=COINS,
        list_ahead_s=WINDOWS_AHEAD * WINDOW_SECONDS,
    )
    emu = Emulator(config, source_factory=calendar_source).start()
    try:
        now = emu.clock.now()
        start = window_start(now)
        middle = start + WINDOW_SECONDS // 2
        # halfway: 7.5 min left, so every rule is asked and none but the exit plan fires
        emu.advance((middle if now < middle else middle + WINDOW_SECONDS) - now)
        env = emu.env()
        venue = ClobVenue.connect(
            emu.base_url,
            private_key=Account.create().key.hex(),
            chain_id=137,
            data_url=env["POLYMARKET_DATA_URL"],
            rate_per_s=RATE_PER_S,
        )
        with tempfile.TemporaryDirectory(prefix="polyflup-bench-") as tmp:
            db = Path(tmp) / "bot.db"
            run_migrations(db)
            configure_database(db)
            try:
                with db_connection() as cur:
                    record_cash(cur, "deposit", venue.collateral_micro(), 0)
                ctx = ExecutionContext(venue, emu.clock, "sim", recent=RecentFills())
                gamma = GammaClient(env["POLYMARKET_GAMMA_URL"], wait_s=0)
                yield _World(emu, venue, gamma, ctx)
            finally:
                close_thread_connection()
    finally:
        emu.stop()


def _open_markets(emu: EmulatorHandle) -> list[ListedMarket]:
    """Listed markets whose window has not ended, earliest first."""
    now = emu.clock.now()
    markets = [m for m in emu.source.markets() if m.end > now]
    return sorted(markets, key=lambda m: (m.start, COINS.index(m.coin)))


def _quote(emu: EmulatorHandle, token_id: str) -> None:
    """``LEVELS`` levels a side around 0.50, so each book answer has the same size."""
    emu.venue.open_liquidity_account(MAKER)
    for level in range(LEVELS):
        bid = f"{0.49 - level / 100:.2f}"
        ask = f"{0.51 + level / 100:.2f}"
        for side, price in ((VenueSide.BUY, bid), (VenueSide.SELL, ask)):
            order = OrderRequest.limit(token_id, side, price, str(10 + level))
            result = emu.venue.place(MAKER, order)
            assert result.success, result.error


def _book_position(index: int, market: MarketInfo, outcome: str, now_ms: int) -> None:
    """An entry intent and its CONFIRMED BUY fill, written as the ledger writes them."""
    token = market.up_token_id if outcome == "UP" else market.down_token_id
    venue_id = f"0xbench-entry-{index}"
    with db_connection() as cur:
        window_id = upsert_window(cur, market, now_ms)
        intent = OrderIntent(
            f"bench-entry-{index}",
            token,
            market.coin,
            outcome,
            Side.BUY,
            "entry",
            "GTC",
            POSITION_PRICE,
            POSITION_SIZE,
            "sim",
            window_id=window_id,
            venue_order_id=venue_id,
        )
        insert_order_intent(cur, intent, now_ms)
        fill = FillEvent(
            f"bench-trade-{index}",
            venue_id,
            FillStatus.CONFIRMED,
            Side.BUY,
            "maker",
            POSITION_PRICE,
            POSITION_SIZE,
            0,
            FeeAsset.SHARES,
            now_ms,
        )
        apply_fill_event(cur, fill, now_ms)


def _counting(func: Callable[..., Any], counter: Counter[str], name: str) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        counter[name] += 1
        return func(*args, **kwargs)

    return wrapper


@contextmanager
def _wire_counter(counter: Counter[str]) -> Iterator[None]:
    """Count every request the client's HTTP client sends, by method and path (an httpx
    event hook: the client's configuration, not its code)."""

    def hook(request: httpx.Request) -> None:
        counter[f"{request.method} {request.url.path}"] += 1

    client = helpers._http_client
    hooks = client.event_hooks
    client.event_hooks = {**hooks, "request": [*hooks.get("request", []), hook]}
    try:
        yield
    finally:
        client.event_hooks = hooks


@contextmanager
def _full_collections() -> Iterator[list[float]]:
    """Durations (ms) of the full (generation 2) collections while inside: the emulator
    shares the process, so its heap is walked too, and a cycle one falls in is the max."""
    durations: list[float] = []
    started: list[float] = []

    def callback(phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            started[:] = [time.perf_counter()]
        elif started:
            durations.append((time.perf_counter() - started.pop()) * 1000)

    gc.callbacks.append(callback)
    try:
        yield durations
    finally:
        gc.callbacks.remove(callback)


def _gc_note(durations: list[float]) -> str:
    return ", ".join(f"{d:.0f} ms" for d in durations) or "none"


def bench_monitor_cycle() -> list[BenchResult]:
    """One ``PositionMonitor.step()`` with 50 open positions: median, p99, books/cycle."""
    with _world() as world:
        emu, venue = world.emu, world.venue
        markets = _open_markets(emu)[:POSITIONS]
        assert len(markets) == POSITIONS, f"only {len(markets)} markets listed"
        now_ms = int(emu.clock.now() * 1000)
        for index, listed in enumerate(markets):
            info = world.gamma.market_by_slug(listed.slug)
            assert info is not None, listed.slug
            outcome = "UP" if index % 2 == 0 else "DOWN"
            _book_position(index, info, outcome, now_ms)
            _quote(emu, info.up_token_id if outcome == "UP" else info.down_token_id)
        placer = OrderPlacer(world.ctx)  # never started: its jobs only queue
        monitor = PositionMonitor(
            venue,
            placer,
            MarketBoard(COINS),
            PositionRules(),
            emu.clock,
            100 * MICRO,
        )
        calls: Counter[str] = Counter()
        wire: Counter[str] = Counter()
        venue.books = _counting(venue.books, calls, "books")  # type: ignore[method-assign]
        samples: list[float] = []
        per_cycle: list[tuple[int, ...]] = []

        def counts() -> tuple[int, ...]:
            return (
                monitor.stats.book_requests,
                calls["books"],
                wire["POST /books"],
                sum(wire.values()),
            )

        with _wire_counter(wire), _full_collections() as collections:
            for cycle in range(CYCLE_WARMUP + CYCLES):
                before = counts()
                started = time.perf_counter()
                monitor.step()
                elapsed = (time.perf_counter() - started) * 1000
                after = counts()
                if cycle >= CYCLE_WARMUP:
                    samples.append(elapsed)
                else:
                    collections.clear()
                    per_cycle.append(
                        tuple(a - b for a, b in zip(after, before, strict=True))
                    )
        positions = monitor.stats.positions
        queued = sum(placer.is_pending(f"exit:{token}") for token in monitor.books)
        sent = placer.stats.jobs
    median = statistics.median(samples)
    stats_counts = {c[0] for c in per_cycle}
    call_counts = {c[1] for c in per_cycle}
    post_counts = {c[2] for c in per_cycle}
    all_counts = {c[3] for c in per_cycle}
    exact = stats_counts == call_counts == post_counts == all_counts == {1}
    posts = sum(c[2] for c in per_cycle) / len(per_cycle)
    return [
        BenchResult(
            name="monitor cycle, 50 positions, median",
            value=median,
            unit="ms",
            target=f"≤ {TARGET_CYCLE_MS:g} ms",
            ok=median <= TARGET_CYCLE_MS and positions == POSITIONS,
            note=(
                f"{CYCLES} cycles after {CYCLE_WARMUP}, {positions} positions live, "
                f"{LEVELS} levels a side; placer not started ({queued} exit-plan "
                f"jobs queued, {sent} run)"
            ),
        ),
        BenchResult(
            name="monitor cycle, 50 positions, p99",
            value=_p99(samples),
            unit="ms",
            note=(
                f"max {max(samples):.2f} ms; {len(collections)} full GC during the "
                f"timed cycles ({_gc_note(collections)})"
            ),
        ),
        BenchResult(
            name="monitor POST /books per cycle",
            value=posts,
            unit="requests",
            target="= 1",
            ok=exact,
            note=(
                f"per cycle: stats {sorted(stats_counts)}, venue.books "
                f"{sorted(call_counts)}, on the wire {sorted(post_counts)} "
                f"(all requests {sorted(all_counts)})"
            ),
        ),
    ]


def bench_tick_to_order() -> list[BenchResult]:
    """From a book in hand to the venue's answer to a signed order: p50, p99, signing."""
    with _world() as world:
        emu, venue = world.emu, world.venue
        now = emu.clock.now()
        running = [m for m in _open_markets(emu) if m.start <= now]
        tokens = [(m.coin, "UP", m.up_token_id) for m in running] + [
            (m.coin, "DOWN", m.down_token_id) for m in running
        ]
        assert len(tokens) == ORDER_TOKENS, tokens
        for _coin, _outcome, token in tokens:
            _quote(emu, token)
        prepare_s: list[float] = []
        prepare = venue.prepare

        def timed_prepare(spec: Any) -> Any:
            started = time.perf_counter()
            try:
                return prepare(spec)
            finally:
                prepare_s.append(time.perf_counter() - started)

        venue.prepare = timed_prepare  # type: ignore[method-assign]
        placer = OrderPlacer(world.ctx)  # run_job in this thread: no queue in the way
        for index in range(ORDER_WARMUP + ORDERS):
            coin, outcome, token = tokens[index % len(tokens)]
            book = venue.books([token])[token]
            origin = time.perf_counter()  # the snapshot is in hand
            assert book.best_bid is not None and book.best_bid > RESTING_PRICE
            job = Job(
                key=f"bench-order:{index}",
                reason=f"🎯 [{coin}] bench resting BUY {index}",
                place=TradeParams(
                    symbol=coin,
                    outcome=outcome,
                    token_id=token,
                    side=Side.BUY,
                    price=RESTING_PRICE,
                    size=ORDER_SHARES,
                    order_type=OrderType.GTC,
                    post_only=True,
                    intent="entry",
                ),
                origin_perf=origin,
            )
            placer.run_job(job)
        latencies = [s * 1000 for s in list(placer.latencies_s)[ORDER_WARMUP:]]
        signing = [s * 1000 for s in prepare_s[ORDER_WARMUP:]]
        with db_connection(readonly=True) as cur:
            statuses = dict(
                cur.execute(
                    "SELECT status, COUNT(*) FROM orders GROUP BY status"
                ).fetchall()
            )
            venue_ids = [
                r[0]
                for r in cur.execute(
                    "SELECT venue_order_id FROM orders WHERE status = 'live'"
                ).fetchall()
            ]
        placer.run_job(Job("bench-cancel", "🧹 bench orders", cancel=tuple(venue_ids)))
        with db_connection(readonly=True) as cur:
            left = cur.execute(
                "SELECT COUNT(*) FROM orders WHERE status = 'live'"
            ).fetchone()[0]
        cancelled = placer.stats.cancels
        failures = placer.stats.failures
    total = ORDER_WARMUP + ORDERS
    all_rested = statuses.get("live", 0) == total and failures == 0
    p50 = statistics.median(latencies)
    sign_p50 = statistics.median(signing)
    return [
        BenchResult(
            name="tick-to-order p50 (order path, incl. signing)",
            value=p50,
            unit="ms",
            ok=None if all_rested else False,
            note=(
                f"{ORDERS} post-only GTC BUYs after {ORDER_WARMUP}: book in hand → "
                f"run_job → POST /order answered; {statuses.get('live', 0)}/{total} "
                f"rested, {cancelled} cancelled after ({left} left)"
            ),
        ),
        BenchResult(
            name="tick-to-order p99 (order path, incl. signing)",
            value=_p99(latencies),
            unit="ms",
            note=f"max {max(latencies):.2f} ms; decide() not included",
        ),
        BenchResult(
            name="tick-to-order: signing (ClobVenue.prepare) p50",
            value=sign_p50,
            unit="ms",
            note=(
                f"{sign_p50 / p50:.0%} of the p50; p99 {_p99(signing):.2f} ms "
                "(EIP-712 sign + order hash)"
            ),
        ),
    ]
