"""The market poller: the current windows' markets, books and Binance data, kept fresh.

One step per poll interval: discover the current and next window of every coin (Gamma, in
the background), read every current Up book in **one** batched request, refresh each coin's
klines incrementally, and publish the result on the :class:`MarketBoard` — with the
Chainlink reference when one is given (``CHAINLINK_REFERENCE=on``, live and sim only). A
failed book read publishes no book (the strategy passes on it); failed klines keep the
cached ones, which the strategy refuses by itself once they are stale.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from src.bot.market_board import CoinFeed, MarketBoard
from src.data.db_connection import db_connection
from src.data.market_data.binance import BinanceMarketData
from src.data.market_data.chainlink import ReferenceSource
from src.data.market_data.polymarket import MarketDirectory, MarketInfo, OrderBook
from src.data.market_data.windows import WindowRef, current_window, window_start
from src.data.windows_store import set_window_strike, upsert_window
from src.trading.venue.port import Venue, VenueUnavailableError
from src.utils.clock import Clock
from src.utils.logger import log_warning


class MarketPoller:
    """One ``step()`` refreshes every coin (run by a ClockedWorker)."""

    def __init__(
        self,
        board: MarketBoard,
        directory: MarketDirectory,
        venue: Venue,
        binance: BinanceMarketData,
        clock: Clock,
        on_update: Callable[[], None] = lambda: None,
        reference: ReferenceSource | None = None,
    ) -> None:
        self.board = board
        self.directory = directory
        self.venue = venue
        self.binance = binance
        self.clock = clock
        self.on_update = on_update
        self.reference = reference
        self._window_ids: dict[str, int] = {}
        self._strikes: dict[str, float] = {}
        self._strike_saved: set[str] = set()
        self.book_failures = 0
        # (window start, coins, their windows, the next ones): see _windows_at
        self._windows: (
            tuple[int, tuple[str, ...], dict[str, WindowRef], list[WindowRef]] | None
        ) = None

    def step(self) -> None:
        """Poll everything once and publish."""
        now = self.clock.now()
        windows, upcoming = self._windows_at(now)
        self.directory.prefetch(upcoming)
        markets = {coin: self.directory.lookup(w) for coin, w in windows.items()}
        up_tokens = [m.up_token_id for m in markets.values() if m is not None]
        books: dict[str, OrderBook] = {}
        if up_tokens:
            try:
                books = self.venue.books(up_tokens)
            except VenueUnavailableError as exc:
                self.book_failures += 1
                log_warning(f"⚠️ books unavailable: {exc}")
        tick_perf = time.perf_counter()
        now_ms = int(self.clock.now() * 1000)
        for coin, window in windows.items():
            market = markets[coin]
            klines = self.binance.refresh(coin)
            strike = self._strike(coin, window.start)
            window_id = None
            if market is not None:
                window_id = self._window_id(market, strike, now_ms)
            reference = None
            if self.reference is not None:
                reference = self.reference.quote(coin, window.start)
            self.board.publish(
                CoinFeed(
                    window=window,
                    market=market,
                    window_id=window_id,
                    book=None if market is None else books.get(market.up_token_id),
                    klines=klines,
                    strike=strike,
                    spot=klines.last_price,
                    polled_at=self.clock.now(),
                    tick_perf=tick_perf,
                    sequence=self.board.next_sequence(),
                    reference=reference,
                )
            )
        self.on_update()

    def _windows_at(self, now: float) -> tuple[dict[str, WindowRef], list[WindowRef]]:
        """Each coin's current window and the next ones, built once a window: every poll
        in it asks for the same (equal, immutable) windows."""
        start = window_start(now)
        kept = self._windows
        if kept is None or kept[0] != start or kept[1] is not self.board.coins:
            windows = {coin: current_window(coin, now) for coin in self.board.coins}
            kept = (start, self.board.coins, windows, [w.next() for w in windows.values()])
            self._windows = kept
        return kept[2], kept[3]

    def _strike(self, coin: str, start: int) -> float | None:
        key = f"{coin}:{start}"
        if key not in self._strikes:
            strike = self.binance.strike_price(coin, start)  # the window's first open
            if strike is None:
                return None
            self._strikes = {
                k: v for k, v in self._strikes.items() if not k.startswith(f"{coin}:")
            }
            self._strikes[key] = strike
        return self._strikes[key]

    def _window_id(self, market: MarketInfo, strike: float | None, now_ms: int) -> int:
        known = self._window_ids.get(market.slug)
        if known is not None and (strike is None or market.slug in self._strike_saved):
            return known
        with db_connection() as cur:
            window_id = upsert_window(cur, market, now_ms)
            if strike is not None:
                set_window_strike(cur, window_id, strike)
                self._strike_saved.add(market.slug)
        self._window_ids[market.slug] = window_id
        return window_id
