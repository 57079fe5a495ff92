"""Builders of klines, snapshots and accounts for the strategy tests (and the benchmark)."""

from __future__ import annotations

import csv
import gzip
import math
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal

from src.data.market_data.windows import WindowRef
from src.sim.feeds.base import MINUTE_MS, Kline
from src.trading.logic import AccountState, Decision, Side
from src.trading.strategy import BookTop, MarketSnapshot, PricePoint
from tests.conftest import SHARED

WINDOW_START = 1_767_225_600  # 2026-01-01 00:00 UTC, aligned to 15 minutes
DATA_DIR = SHARED / "data"


def kline(
    open_time_ms: int,
    open_: float,
    close: float,
    *,
    high: float | None = None,
    low: float | None = None,
    volume: float = 10.0,
    taker_buy: float | None = None,
) -> Kline:
    """One candle; high/low default to the body, taker buys to half the volume."""
    hi = max(open_, close) if high is None else high
    lo = min(open_, close) if low is None else low
    buy = volume / 2 if taker_buy is None else taker_buy
    return Kline(
        open_time_ms,
        open_,
        hi,
        lo,
        close,
        volume,
        open_time_ms + MINUTE_MS - 1,
        volume * close,
        10,
        buy,
        buy * close,
    )


def klines_from_closes(
    closes: Sequence[float],
    end_ms: int,
    *,
    volumes: Sequence[float] | None = None,
    taker_buys: Sequence[float] | None = None,
) -> tuple[Kline, ...]:
    """Consecutive candles, each opening at the previous close, the last closing at ``end_ms``.

    The first candle opens at its own close (a flat first minute).
    """
    n = len(closes)
    first_open = end_ms - n * MINUTE_MS
    out = []
    for i, close in enumerate(closes):
        open_ = closes[i - 1] if i else close
        volume = 10.0 if volumes is None else volumes[i]
        buy = None if taker_buys is None else taker_buys[i]
        out.append(
            kline(first_open + i * MINUTE_MS, open_, close, volume=volume, taker_buy=buy)
        )
    return tuple(out)


def random_walk(n: int, start: float, sigma: float, seed: int) -> list[float]:
    """A deterministic pseudo-random log walk (no numpy: the tests stay dependency-light)."""
    state = seed or 1
    closes = [start]
    for _ in range(n - 1):
        # Two LCG uniforms → one normal (Box–Muller).
        state = (1103515245 * state + 12345) % 2**31
        u1 = (state + 1) / (2**31 + 1)
        state = (1103515245 * state + 12345) % 2**31
        u2 = state / 2**31
        z = math.sqrt(-2 * math.log(u1)) * math.cos(2 * math.pi * u2)
        closes.append(closes[-1] * math.exp(sigma * z))
    return closes


def make_snapshot(
    *,
    closes: Sequence[float] | None = None,
    klines: Sequence[Kline] | None = None,
    strike: float | None = None,
    elapsed: float = 300.0,
    bid: str | Decimal | None = "0.49",
    ask: str | Decimal | None = "0.51",
    bid_size: str = "500",
    ask_size: str = "500",
    fee_rate: str = "0.07",
    mid_history: Sequence[tuple[float, str]] = (),
    spot: float | None = None,
    coin: str = "BTC",
) -> MarketSnapshot:
    """A snapshot at ``elapsed`` seconds into the window, klines ending at the last minute."""
    now = WINDOW_START + elapsed
    end_ms = int(now // 60) * 60 * 1000
    if klines is None:
        closes = closes if closes is not None else random_walk(120, 100.0, 0.001, 7)
        klines = klines_from_closes(closes, end_ms)
    if strike is None:
        strike = klines[-1].close if klines else 100.0
    return MarketSnapshot(
        window=WindowRef(coin, WINDOW_START),
        now=now,
        strike=strike,
        book=BookTop(
            None if bid is None else Decimal(bid),
            None if ask is None else Decimal(ask),
            Decimal(bid_size),
            Decimal(ask_size),
        ),
        fee_rate=Decimal(fee_rate),
        klines=tuple(klines),
        mid_history=tuple(PricePoint(now - age, Decimal(p)) for age, p in mid_history),
        spot=spot,
    )


def account(balance: str = "1000", **kwargs: str) -> AccountState:
    """An account with ``balance`` cash and equity (override any field by keyword)."""
    values = {"balance": Decimal(balance), "equity": Decimal(balance)}
    values.update({k: Decimal(v) for k, v in kwargs.items()})
    return AccountState(**values)


def mirror_snapshot(snapshot: MarketSnapshot) -> MarketSnapshot:
    """The same market seen from the Down side.

    Log prices are reflected around the strike (``x → K²/x``), so highs and lows swap, taker
    buys and sells swap, the Up book becomes the old Down book and every mid ``p → 1 − p``.
    """
    strike = snapshot.strike

    def reflect(x: float) -> float:
        return x if x == strike else strike * (strike / x)

    klines = tuple(
        Kline(
            k.open_time_ms,
            reflect(k.open),
            reflect(k.low),
            reflect(k.high),
            reflect(k.close),
            k.volume,
            k.close_time_ms,
            k.quote_volume,
            k.trades,
            k.volume - k.taker_buy_volume,
            k.quote_volume - k.taker_buy_quote_volume,
        )
        for k in snapshot.klines
    )
    book = snapshot.book
    mirrored = BookTop(
        None if book.best_ask is None else 1 - book.best_ask,
        None if book.best_bid is None else 1 - book.best_bid,
        book.ask_size,
        book.bid_size,
        book.tick_size,
        book.timestamp,
    )
    return replace(
        snapshot,
        klines=klines,
        book=mirrored,
        mid_history=tuple(PricePoint(p.t, 1 - p.price) for p in snapshot.mid_history),
        spot=None if snapshot.spot is None else reflect(snapshot.spot),
        indicators=None,
    )


MIRROR_SIDE = {Side.UP: Side.DOWN, Side.DOWN: Side.UP, Side.PASS: Side.PASS}


def decisions_mirror(a: Decision, b: Decision) -> bool:
    """True when ``b`` is ``a`` seen from the other side (same price, size and reason)."""
    return (
        b.side is MIRROR_SIDE[a.side]
        and b.reason is a.reason
        and b.limit_price == a.limit_price
        and b.shares == a.shares
        and b.order_style is a.order_style
    )


def load_klines(name: str) -> list[Kline] | None:
    """Real klines from ``../shared/data`` (None when the data is absent)."""
    path = DATA_DIR / name
    if not path.exists():
        return None
    with gzip.open(path, "rt") as handle:
        rows = list(csv.reader(handle))[1:]
    return [
        Kline(
            int(r[0]),
            float(r[1]),
            float(r[2]),
            float(r[3]),
            float(r[4]),
            float(r[5]),
            int(r[6]),
            float(r[7]),
            int(r[8]),
            float(r[9]),
            float(r[10]),
        )
        for r in rows
    ]
