"""Market-model throughput: maker book updates per second, and a simulated day.

* **Book updates.** One simulated market's makers follow a seeded random walk of quotes
  (moves of 1–3 cents, spread changes, now and then a trip to the 0.001-tick zone), and a
  taker takes one of their levels every tenth quote so that mirrored legs shrink and levels
  replenish. A *book update* is one maker order placed, cancelled or reduced in place at the
  venue; the figure is updates over the wall time of the whole loop (model and venue).
* **Simulated day.** ``SimExchange`` runs BTC, ETH, SOL and XRP for 24 hours of generated
  prices at 1-second resolution: 384 windows listed, quoted, traded, closed and resolved.
  The venue is the backtest's (``record_events=False``); a second figure runs it with the
  event log on, as the emulator does, for reference.
"""

from __future__ import annotations

import random
import time

from src.data.market_data.windows import WindowRef
from src.sim.calendar import MarketCalendar
from src.sim.feeds import GeneratedFeed
from src.sim.market_model import MakerBook, MakerStats, MarketModelParams, SimExchange
from src.sim.market_model.maker import MakerPair
from src.sim.market_model.pricing import COARSE_TICK, FINE_TICK, MICRO
from src.sim.market_model.view import Quote
from src.sim.venue import OrderRequest, OrderType, Side, SimVenue, VenueMarket
from src.utils.clock import SimClock
from tests.benchmarks import BenchResult

TARGET_UPDATES_PER_SECOND = 20_000
TARGET_DAY_SECONDS = 10.0
DAY_START = 1_767_225_600  # 2026-01-01 00:00 UTC
COINS = ("BTC", "ETH", "SOL", "XRP")


def _quote_walk(count: int, seed: int) -> list[Quote]:
    """A seeded walk of the makers' top of book (Up space, micro-units)."""
    rng = random.Random(seed)
    mid = 50  # cents
    quotes = []
    for _ in range(count):
        mid = min(97, max(3, mid + rng.choice((-3, -2, -1, -1, 1, 1, 2, 3))))
        spread = rng.choice((1, 1, 1, 2, 2, 3))
        bid = mid * 10_000
        ask = bid + spread * 10_000
        tick = FINE_TICK if mid > 96 or mid < 4 else COARSE_TICK
        quotes.append(Quote(bid, ask, tick, COARSE_TICK))
    return quotes


def bench_book_updates() -> BenchResult:
    """Maker book updates per second through the public venue."""
    window = WindowRef("BTC", DAY_START)
    # Listed a day ahead: the market accepts orders for the whole walk (1 s per quote).
    clock = SimClock(window.start - 80_000)
    venue = SimVenue(clock, record_events=False)
    market = VenueMarket.for_window(window)
    venue.register_market(market)
    venue.open_liquidity_account("maker")
    venue.open_liquidity_account("taker")
    index: dict[str, MakerPair] = {}
    stats = MakerStats()
    book = MakerBook(
        venue,
        "maker",
        market.up_token_id,
        market.down_token_id,
        MarketModelParams(),
        random.Random(1),
        index,
        stats,
        5 * MICRO,
    )
    fills: list[tuple[str, int]] = []
    venue.watch_orders("maker", lambda oid, rem: fills.append((oid, rem)))
    quotes = _quote_walk(40_000, seed=3)
    started = time.perf_counter()
    for n, quote in enumerate(quotes):
        now = clock.now()
        book.apply(quote, now)
        book.replenish(now)
        book.flush(now)
        if n % 10 == 0 and quote.ask < MICRO:
            venue.place(
                "taker",
                OrderRequest(
                    market.up_token_id,
                    Side.BUY,
                    quote.ask,
                    20 * MICRO,
                    20 * quote.ask,
                    OrderType.FAK,
                ),
            )
        for order_id, remaining in fills:
            pair = index.get(order_id)
            if pair is not None:
                book.on_leg_update(pair, order_id, remaining, now)
        fills.clear()
        book.flush(now)
        clock.advance(1.0)
    elapsed = time.perf_counter() - started
    updates = stats.book_updates
    rate = updates / elapsed
    return BenchResult(
        "market model book updates/s",
        rate,
        "updates/s",
        f"≥ {TARGET_UPDATES_PER_SECOND:,}",
        rate >= TARGET_UPDATES_PER_SECOND,
        f"{updates:,} updates ({stats.placed:,} placed, {stats.cancelled:,} cancelled, "
        f"{stats.reduced:,} reduced, {stats.rejected:,} refused) for {len(quotes):,} "
        f"quotes in {elapsed:.2f} s",
    )


def _run_day(record_events: bool) -> tuple[float, SimExchange]:
    started = time.perf_counter()
    feed = GeneratedFeed(seed=11, start_ms=(DAY_START - 2 * 3600) * 1000, minutes=27 * 60)
    clock = SimClock(DAY_START)
    venue = SimVenue(clock, record_events=record_events)
    calendar = MarketCalendar(COINS, seed=11)
    exchange = SimExchange(clock, feed, calendar, venue, MarketModelParams(), seed=11)
    # The 384 windows of the day, each resolved one minute after its end.
    exchange.run_until(DAY_START + 86_400 + 60, resolution_s=1.0)
    return time.perf_counter() - started, exchange


def bench_simulated_day() -> list[BenchResult]:
    """A day of 4 markets at 1-second resolution (backtest venue, and event log on)."""
    results = []
    for record_events in (False, True):
        elapsed, exchange = _run_day(record_events)
        stats = exchange.stats()
        windows = sum(
            1 for m in exchange.resolved_markets() if m.market.window.start >= DAY_START
        )
        name = "simulated day, 4 markets, 1 s" + (" (events on)" if record_events else "")
        results.append(
            BenchResult(
                name,
                elapsed,
                "s",
                "" if record_events else f"< {TARGET_DAY_SECONDS:g} s",
                None if record_events else elapsed < TARGET_DAY_SECONDS,
                f"{windows} windows, {stats.ticks:,} ticks, {stats.book_updates:,} book "
                f"updates, {stats.taker_trades:,} taker trades",
            )
        )
    return results
