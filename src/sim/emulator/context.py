"""What every request handler shares: the world, the venue, keys, accounts and faults.

The handlers run on the server's event loop. Venue reads are quick (one lock, a snapshot)
and run inline; anything heavy (EIP-712 signature recovery, about 4 ms in pure Python)
goes to :meth:`EmulatorContext.blocking`, so the loop keeps serving while it runs.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from aiohttp import web

from src.sim.emulator.accounts import Accounts
from src.sim.emulator.auth import (
    ApiKeyStore,
    AuthPolicy,
    L1Auth,
    L2Auth,
    verify_l1_headers,
    verify_l2_headers,
)
from src.sim.emulator.config import EmulatorConfig
from src.sim.emulator.errors import AuthError, AuthFailure
from src.sim.emulator.faults import FaultCounts, FaultPlan
from src.sim.emulator.heartbeats import Heartbeats
from src.sim.emulator.http_util import NO_ORDERBOOK, error
from src.sim.emulator.notifications import Notifications
from src.sim.emulator.world import ListedMarket, MarketSource
from src.sim.feeds.base import PriceFeed
from src.sim.venue import (
    BookSnapshot,
    Outcome,
    Redemption,
    SimVenue,
    UnknownMarketError,
)
from src.utils.clock import Clock

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class MarketSnapshot:
    """A listed market's state at one instant, for the Gamma, CLOB and Data views.

    Prices are micro-units of the **Up** token; ``tick`` is the current one.
    """

    market: ListedMarket
    now: float
    accepting_orders: bool
    ended: bool
    resolved: bool
    winner: Outcome | None
    resolved_at: float | None
    tick: int
    best_bid: int | None
    best_ask: int | None
    last_trade: int | None
    price_to_beat: float | None
    final_price: float | None

    @property
    def up_price(self) -> int:
        """The Up token's indicative price: mid, else last trade, else 0.50."""
        if self.best_bid is not None and self.best_ask is not None:
            return (self.best_bid + self.best_ask) // 2
        if self.last_trade is not None:
            return self.last_trade
        return 500_000


def market_snapshot(source: MarketSource, market: ListedMarket) -> MarketSnapshot:
    """A listed market's state now (venue status, Up book top, reference prices): what
    Gamma, the CLOB and the Data API show — over HTTP, or in-process in a backtest."""
    venue = source.venue
    status = venue.market_status(market.condition_id)
    book = venue.book(market.up_token_id, depth=1)
    now = book.timestamp
    strike, final = source.reference_prices(market, now)
    return MarketSnapshot(
        market=market,
        now=now,
        accepting_orders=status.accepting_orders,
        ended=status.closed,
        resolved=status.resolved,
        winner=status.winner,
        resolved_at=status.resolved_at,
        tick=status.up_tick,
        best_bid=book.best_bid,
        best_ask=book.best_ask,
        last_trade=book.last_trade_price,
        price_to_beat=strike,
        final_price=final,
    )


class BookReader:
    """Book snapshots, optionally stale: with a staleness ``s`` an answer may be a
    snapshot taken up to ``s`` emulator seconds ago (the "stale books" fault)."""

    def __init__(
        self, venue: SimVenue, clock: Clock, counts: FaultCounts | None = None
    ) -> None:
        self._venue = venue
        self._clock = clock
        self._counts = counts or FaultCounts()
        self._lock = threading.Lock()
        self._frozen: dict[str, BookSnapshot] = {}

    def snapshot(self, token_id: str, staleness: float | None = None) -> BookSnapshot:
        """The book of ``token_id``; 404 ``No orderbook exists…`` when unknown or resolved."""
        if staleness is not None:
            with self._lock:
                kept = self._frozen.get(token_id)
            if kept is not None and self._clock.now() - kept.timestamp <= staleness:
                if kept.timestamp < self._clock.now():
                    self._counts.add("stale")
                return kept
        try:
            status_token = self._venue.market_for_token(token_id)
            if self._venue.market_status(status_token.condition_id).resolved:
                raise error(404, NO_ORDERBOOK)
            book = self._venue.book(token_id)
        except UnknownMarketError:
            raise error(404, NO_ORDERBOOK) from None
        if staleness is not None:
            with self._lock:
                self._frozen[token_id] = book
        return book

    def forget(self) -> None:
        """Drop the frozen snapshots (the stale fault was lifted or changed)."""
        with self._lock:
            self._frozen.clear()


class EmulatorContext:
    """The shared state of one emulator, reachable from every handler."""

    def __init__(
        self,
        config: EmulatorConfig,
        source: MarketSource,
        *,
        wall: Clock,
        keys: ApiKeyStore,
        accounts: Accounts,
        heartbeats: Heartbeats,
        notifications: Notifications,
        faults: FaultPlan,
        executor: ThreadPoolExecutor,
    ) -> None:
        self.config = config
        self.source = source
        self.venue: SimVenue = source.venue
        self.feed: PriceFeed = source.feed
        self.clock: Clock = source.clock
        self.wall = wall
        self.keys = keys
        self.accounts = accounts
        self.heartbeats = heartbeats
        self.notifications = notifications
        self.faults = faults
        self.executor = executor
        self.fault_counts = FaultCounts()
        self.books = BookReader(self.venue, self.clock, self.fault_counts)
        self.auth_policy = AuthPolicy(
            chain_id=config.chain_id, max_skew_seconds=config.auth_skew
        )
        self.on_faults_changed: Callable[[FaultPlan], None] | None = None
        self._lock = threading.Lock()
        self._redemptions: list[tuple[Redemption, float]] = []

    # -- running work off the loop ----------------------------------------------------------

    async def blocking(self, func: Callable[..., T], *args: Any) -> T:
        """Run ``func(*args)`` on the worker pool and await its result."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, partial(func, *args))

    # -- authentication ---------------------------------------------------------------------

    def _two_clocks(self, verify: Callable[[float], T]) -> T:
        """Accept a timestamp near the wall clock (the client stamps with its own) or near
        the emulator's clock (a client using ``/time``, which serves the emulator's)."""
        try:
            return verify(self.wall.now())
        except AuthError as exc:
            if exc.reason is not AuthFailure.STALE_TIMESTAMP or self.clock is self.wall:
                raise
            return verify(self.clock.now())

    def verify_l1(self, headers: Mapping[str, str]) -> L1Auth:
        """L1 (EIP-712 ``ClobAuth``) verification; slow: call through :meth:`blocking`."""
        return self._two_clocks(
            lambda now: verify_l1_headers(headers, now=now, policy=self.auth_policy)
        )

    def verify_l2(self, request: web.Request, body: bytes) -> L2Auth:
        """L2 (HMAC) verification of ``request``; opens the caller's account if new."""
        headers = request.headers
        auth = self._two_clocks(
            lambda now: verify_l2_headers(
                headers,
                method=request.method,
                path=request.raw_path,
                body=body,
                store=self.keys,
                now=now,
                policy=self.auth_policy,
            )
        )
        self.accounts.ensure(self.accounts.funder_of(auth.address))
        return auth

    def funder(self, auth: L2Auth) -> str:
        """The account the caller's key trades from."""
        return self.accounts.funder_of(auth.address)

    def key_of(self, address: str) -> str:
        """An API key id to show as ``owner`` for ``address`` (a stable UUID when the
        address never made one: the market model's accounts)."""
        keys = self.keys.keys_for(address)
        if keys:
            return keys[0]
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"polyflup-emulator/{address}"))

    # -- markets ----------------------------------------------------------------------------

    def market_snapshot(self, market: ListedMarket) -> MarketSnapshot:
        """The market's state now (venue status, Up book top, reference prices)."""
        return market_snapshot(self.source, market)

    def market_of_token(self, token_id: str) -> ListedMarket:
        """The listed market of ``token_id``; 404 ``No orderbook exists…`` otherwise."""
        market = self.source.by_token(token_id)
        if market is None:
            raise error(404, NO_ORDERBOOK)
        return market

    def record_redemption(self, done: Redemption) -> None:
        """Remember a redemption (the Data API's REDEEM activity)."""
        with self._lock:
            self._redemptions.append((done, self.clock.now()))

    def redemptions(self, address: str) -> list[tuple[Redemption, float]]:
        """``address``'s redemptions with their times, oldest first."""
        with self._lock:
            return [(r, t) for r, t in self._redemptions if r.account == address]

    def set_faults(self, plan: FaultPlan) -> None:
        """Install a new fault plan (the hook applies its engine settings)."""
        self.faults = plan
        self.books.forget()
        if self.on_faults_changed is not None:
            self.on_faults_changed(plan)
