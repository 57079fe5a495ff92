"""Matching-engine throughput: order operations per second through ``SimVenue``.

The workload mimics the market model: liquidity accounts keep a two-sided book of resting
orders around a drifting mid, cancel and re-quote them, and takers trade through the
book (limit orders that cross, and FAK market orders). One operation is one ``place`` or one
``cancel`` call through the public, locked façade, with the event log on; a ``step`` settles
trades every 100 operations and is not counted. Requests are generated before timing.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

from src.data.market_data.windows import WindowRef
from src.sim.venue import OrderRequest, OrderType, Side, SimVenue, VenueMarket
from src.sim.venue.amounts import market_buy_taker_amount, market_sell_taker_amount
from src.utils.clock import SimClock
from tests.benchmarks import BenchResult

TARGET_OPS_PER_SECOND = 50_000
_WINDOW = WindowRef("BTC", 1_767_225_600)


@dataclass(frozen=True, slots=True)
class _Op:
    kind: str  # "quote", "cancel", "take"
    account: str
    request: OrderRequest | None


def _workload(token_id: str, count: int, seed: int) -> list[_Op]:
    """A seeded mix: ~55% quotes, ~30% cancels, ~15% marketable orders."""
    rng = random.Random(seed)
    ops: list[_Op] = []
    mid = 500_000
    for _ in range(count):
        mid = min(800_000, max(200_000, mid + rng.choice((-10_000, 0, 0, 10_000))))
        roll = rng.random()
        if roll < 0.55:
            side = Side.BUY if rng.random() < 0.5 else Side.SELL
            offset = rng.randint(1, 6) * 10_000
            price = mid - offset if side is Side.BUY else mid + offset
            size = rng.randint(5, 60) * 1_000_000
            maker = f"mm{rng.randint(0, 3)}"
            ops.append(_Op("quote", maker, _limit(token_id, side, price, size)))
        elif roll < 0.85:
            ops.append(_Op("cancel", f"mm{rng.randint(0, 3)}", None))
        else:
            side = Side.BUY if rng.random() < 0.5 else Side.SELL
            if rng.random() < 0.5:
                price = mid + 30_000 if side is Side.BUY else mid - 30_000
                size = rng.randint(5, 40) * 1_000_000
                ops.append(_Op("take", "taker", _limit(token_id, side, price, size)))
            else:
                price = 990_000 if side is Side.BUY else 10_000
                amount = rng.randint(2, 20) * 1_000_000
                ops.append(_Op("take", "taker", _market(token_id, side, amount, price)))
    return ops


def _limit(token_id: str, side: Side, price: int, size: int) -> OrderRequest:
    return OrderRequest(token_id, side, price, size, size * price // 1_000_000)


def _market(token_id: str, side: Side, amount: int, price: int) -> OrderRequest:
    """A FAK market order: BUY ``amount`` collateral, SELL ``amount`` shares."""
    if side is Side.BUY:
        shares = market_buy_taker_amount(amount, price)
        return OrderRequest(token_id, side, price, shares, amount, OrderType.FAK)
    cash = market_sell_taker_amount(amount, price)
    return OrderRequest(token_id, side, price, amount, cash, OrderType.FAK)


def _run(ops: list[_Op], venue: SimVenue) -> tuple[int, float, int]:
    """Execute the ops; returns (operations, seconds, trades)."""
    live: dict[str, list[str]] = {f"mm{i}": [] for i in range(4)}
    place = venue.place
    cancel = venue.cancel
    step = venue.step
    count = 0
    trades = 0
    started = time.perf_counter()
    for index, op in enumerate(ops):
        if op.kind == "cancel":
            pool = live[op.account]
            if not pool:
                continue
            cancel(op.account, pool.pop(0))
        else:
            assert op.request is not None
            result = place(op.account, op.request)
            trades += len(result.trade_ids)
            rested = result.order is not None and result.order.remaining > 0
            if op.kind == "quote" and rested:
                live[op.account].append(result.order_id)
        count += 1
        if index % 100 == 99:
            step()
    elapsed = time.perf_counter() - started
    return count, elapsed, trades


def _venue(record_events: bool) -> tuple[SimVenue, str]:
    clock = SimClock(start=_WINDOW.start)
    venue = SimVenue(clock, seed=7, failure_probability=0.01, record_events=record_events)
    market = VenueMarket.for_window(_WINDOW)
    venue.register_market(market)
    for index in range(4):
        venue.open_liquidity_account(f"mm{index}")
    venue.open_liquidity_account("taker")
    return venue, market.up_token_id


def bench_matching_ops() -> list[BenchResult]:
    """Order operations per second (place/cancel/match mix), event log on and off."""
    results = []
    for record in (True, False):
        venue, token_id = _venue(record)
        ops = _workload(token_id, 200_000, seed=11)
        _run(ops[:20_000], venue)  # warm-up on the same venue
        count, elapsed, trades = _run(ops[20_000:], venue)
        rate = count / elapsed
        results.append(
            BenchResult(
                name=f"matching ops/s (events {'on' if record else 'off'})",
                value=rate,
                unit="ops/s",
                target=f"≥ {TARGET_OPS_PER_SECOND:,}",
                ok=rate >= TARGET_OPS_PER_SECOND,
                note=f"{count:,} ops, {trades:,} trades in {elapsed:.2f} s",
            )
        )
    return results
