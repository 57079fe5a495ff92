"""Emulator latency: ``GET /book`` over loopback with a keep-alive ``requests.Session``.

The emulator runs in-process (its own event-loop thread, as ``polyflup run --sim`` embeds
it) on a manual clock, without the market model, with a book of 10 levels a side on the
token asked for (so every answer has the same size). Each
request is timed from send to parsed JSON, as a bot's poller sees it; 300 warm-up
requests are not counted.
"""

from __future__ import annotations

import statistics
import time

import requests

from src.sim.emulator.config import EmulatorConfig
from src.sim.emulator.server import Emulator
from src.sim.emulator.sources import calendar_source
from src.sim.venue import OrderRequest, Side
from tests.benchmarks import BenchResult

TARGET_MEDIAN_MS = 2.0
REQUESTS = 3000
WARMUP = 300
MAKER = "0x" + "22" * 20


def _p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def bench_book_latency() -> list[BenchResult]:
    """Median and p99 of ``GET /book`` round trips (loopback, keep-alive)."""
    config = EmulatorConfig(port=0, speed=None, coins=("BTC",))
    handle = Emulator(config, source_factory=calendar_source).start()
    try:
        now = handle.clock.now()
        market = next(m for m in handle.source.markets() if m.start <= now < m.end)
        token = market.up_token_id
        handle.venue.open_liquidity_account(MAKER)
        for level in range(10):
            bid = f"{0.49 - level / 100:.2f}"
            ask = f"{0.51 + level / 100:.2f}"
            for side, price in ((Side.BUY, bid), (Side.SELL, ask)):
                order = OrderRequest.limit(token, side, price, str(10 + level))
                assert handle.venue.place(MAKER, order).success
        session = requests.Session()
        url = f"{handle.base_url}/book"
        params = {"token_id": token}
        samples = []
        for index in range(WARMUP + REQUESTS):
            started = time.perf_counter()
            answer = session.get(url, params=params)
            body = answer.json()
            elapsed = (time.perf_counter() - started) * 1000
            assert answer.status_code == 200 and len(body["bids"]) == 10
            if index >= WARMUP:
                samples.append(elapsed)
    finally:
        handle.stop()
    median = statistics.median(samples)
    return [
        BenchResult(
            name="emulator GET /book median",
            value=median,
            unit="ms",
            target=f"< {TARGET_MEDIAN_MS:g} ms",
            ok=median < TARGET_MEDIAN_MS,
            note=f"{REQUESTS} requests, 10 levels a side, keep-alive",
        ),
        BenchResult(
            name="emulator GET /book p99",
            value=_p99(samples),
            unit="ms",
            note=f"max {max(samples):.2f} ms",
        ),
    ]
