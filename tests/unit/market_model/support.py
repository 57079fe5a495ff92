"""Builders for the market-model tests (plain functions, no fixtures to collide on)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from src.sim.calendar import MarketCalendar
from src.sim.feeds import GeneratedFeed, KlineTable, PriceFeed, ReplayFeed
from src.sim.market_model import MarketModelParams, SimExchange
from src.sim.venue import SimVenue
from src.utils.clock import SimClock

START = 1_767_225_600  # 2026-01-01 00:00 UTC, a window start
COINS = ("BTC", "ETH", "SOL", "XRP")


def stepped_table(first_ms: int, prices: Sequence[float]) -> KlineTable:
    """One flat candle per price (open = high = low = close): the price path is constant
    inside each minute and jumps between minutes."""
    n = len(prices)
    values = np.asarray(prices, dtype=np.float64)
    return KlineTable(
        open_time_ms=first_ms + 60_000 * np.arange(n, dtype=np.int64),
        open=values,
        high=values,
        low=values,
        close=values,
        volume=np.ones(n),
        quote_volume=values,
        trades=np.ones(n, dtype=np.int64),
        taker_buy_volume=np.full(n, 0.5),
        taker_buy_quote_volume=values / 2,
    )


def stepped_feed(prices: Sequence[float], *, first: int = START - 3600) -> ReplayFeed:
    """A BTCUSDT feed of flat minutes from ``first`` (seconds)."""
    return ReplayFeed({"BTCUSDT": stepped_table(first * 1000, prices)})


def generated_feed(seed: int, hours: float, *, lead_hours: float = 2.0) -> GeneratedFeed:
    """Generated klines for the four coins, from ``lead_hours`` before START."""
    return GeneratedFeed(
        seed=seed,
        start_ms=int((START - lead_hours * 3600) * 1000),
        minutes=int((hours + lead_hours + 1) * 60),
    )


@dataclass
class Sim:
    """A clock, feed, calendar, venue and driver wired together."""

    clock: SimClock
    venue: SimVenue
    exchange: SimExchange


def make_sim(
    feed: PriceFeed,
    coins: tuple[str, ...] = ("BTC",),
    *,
    params: MarketModelParams | None = None,
    seed: int = 1,
    start: float = START,
    record_events: bool = False,
    list_ahead_s: int = 900,
    resolve_delay_s: int = 60,
) -> Sim:
    """A simulation whose clock starts at ``start``."""
    clock = SimClock(start)
    venue = SimVenue(clock, seed=seed, record_events=record_events)
    calendar = MarketCalendar(
        coins, seed=seed, list_ahead_s=list_ahead_s, resolve_delay_s=resolve_delay_s
    )
    exchange = SimExchange(clock, feed, calendar, venue, params, seed=seed)
    return Sim(clock, venue, exchange)
