"""The latest market picture, shared between the poller (writer), the signal generator,
the position monitor and the live view (readers).

Readers get immutable snapshots; the lock is held only to swap references, never over I/O.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal

from src.data.market_data.binance import KlineSnapshot
from src.data.market_data.chainlink import ReferenceQuote
from src.data.market_data.polymarket import MarketInfo, OrderBook
from src.data.market_data.windows import WindowRef
from src.trading.logic import Decision
from src.trading.position_manager.monitor import SignalView
from src.trading.strategy import PricePoint

MID_HISTORY_KEPT = 600  # points of the Up mid per coin (≥ the momentum look-back)


@dataclass(frozen=True, slots=True)
class CoinFeed:
    """What the poller last saw for one coin."""

    window: WindowRef
    market: MarketInfo | None
    window_id: int | None
    book: OrderBook | None
    klines: KlineSnapshot | None
    strike: float | None
    spot: float | None
    polled_at: float  # Clock time
    tick_perf: float  # perf_counter when the data arrived (tick-to-order latency)
    sequence: int
    reference: ReferenceQuote | None = None  # Chainlink (CHAINLINK_REFERENCE=on, live)


@dataclass
class _Coin:
    feed: CoinFeed | None = None
    mids: deque[PricePoint] = field(default_factory=lambda: deque(maxlen=MID_HISTORY_KEPT))
    decision: Decision | None = None
    decision_window_id: int | None = None
    signal: SignalView | None = None
    decided_sequence: int = -1


class MarketBoard:
    """Per coin: the latest feed, the Up mid history, and the latest decision."""

    def __init__(self, coins: tuple[str, ...]) -> None:
        self.coins = coins
        self._lock = threading.Lock()
        self._coins = {coin: _Coin() for coin in coins}
        self._sequence = 0

    def publish(self, feed: CoinFeed) -> None:
        """Store a new feed (and its mid in the history)."""
        with self._lock:
            coin = self._coins[feed.window.coin]
            if coin.feed is not None and coin.feed.window != feed.window:
                coin.mids.clear()  # a new window's token has its own history
            coin.feed = feed
            book = feed.book
            if book is not None and book.mid is not None:
                coin.mids.append(PricePoint(feed.polled_at, Decimal(book.mid)))

    def next_sequence(self) -> int:
        """A number increasing with every poll."""
        with self._lock:
            self._sequence += 1
            return self._sequence

    def feed(self, coin: str) -> CoinFeed | None:
        """The latest feed of ``coin``."""
        with self._lock:
            return self._coins[coin].feed

    def mids(self, coin: str) -> tuple[PricePoint, ...]:
        """The Up mid history of the coin's current window."""
        with self._lock:
            return tuple(self._coins[coin].mids)

    def undecided(self, coin: str) -> CoinFeed | None:
        """The latest feed if no decision was made on it yet."""
        with self._lock:
            c = self._coins[coin]
            if c.feed is None or c.feed.sequence <= c.decided_sequence:
                return None
            return c.feed

    def record_decision(
        self, coin: str, feed: CoinFeed, decision: Decision, signal: SignalView | None
    ) -> None:
        """Remember the decision made on ``feed``."""
        with self._lock:
            c = self._coins[coin]
            c.decision = decision
            c.decision_window_id = feed.window_id
            c.signal = signal
            c.decided_sequence = max(c.decided_sequence, feed.sequence)

    def decision(self, coin: str) -> Decision | None:
        """The latest decision of ``coin``."""
        with self._lock:
            return self._coins[coin].decision

    def signals(self) -> dict[str, SignalView]:
        """The latest decision of every coin, as the monitor reads it."""
        with self._lock:
            return {k: c.signal for k, c in self._coins.items() if c.signal is not None}
