"""The simulated world behind the emulator: which markets exist, and time moving on.

The HTTP layer reads markets through the small :class:`MarketSource` protocol, so the
world can be the full market model (simulated makers and takers, ``src.sim.market_model``)
or :class:`CalendarMarketSource`, a minimal adapter that only lists the calendar's markets
in the venue and resolves them from the feed (books stay empty unless someone quotes).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from src.sim.calendar import MarketCalendar, SimMarket, resolve_outcome
from src.sim.feeds.base import Kline, PriceFeed
from src.sim.feeds.errors import FeedError
from src.sim.feeds.table import feed_prices, minute_reads
from src.sim.venue import Outcome, SimVenue, VenueMarket, window_question
from src.utils.clock import Clock, SimClock
from src.utils.logger import log, log_warning

DEFAULT_FEE_RATE = Decimal("0.07")
DEFAULT_TICK = Decimal("0.01")
DEFAULT_MIN_SIZE = Decimal("5")


@dataclass(frozen=True, slots=True)
class ListedMarket:
    """A market as the emulator publishes it (Gamma, CLOB market endpoints, Data API).

    Times are Unix seconds: ``start``/``end`` bound the window, ``listed_at`` is when it
    starts accepting orders, ``resolves_at`` when it resolves. ``tick_size`` is the
    initial tick (the current one is the venue's).
    """

    coin: str
    symbol: str
    slug: str
    question: str
    question_id: str
    condition_id: str
    up_token_id: str
    down_token_id: str
    start: int
    end: int
    listed_at: int
    resolves_at: int
    tick_size: Decimal = DEFAULT_TICK
    min_order_size: Decimal = DEFAULT_MIN_SIZE
    fee_rate: Decimal = DEFAULT_FEE_RATE
    neg_risk: bool = False

    @property
    def token_ids(self) -> tuple[str, str]:
        """``(up, down)``: the order of ``outcomes`` and ``clobTokenIds``."""
        return (self.up_token_id, self.down_token_id)

    def outcome_of(self, token_id: str) -> Outcome:
        """Which outcome ``token_id`` pays on."""
        return Outcome.UP if token_id == self.up_token_id else Outcome.DOWN

    def other_token(self, token_id: str) -> str:
        """The opposite outcome's token."""
        return self.down_token_id if token_id == self.up_token_id else self.up_token_id

    @classmethod
    def from_calendar(
        cls,
        market: SimMarket,
        *,
        fee_rate: Decimal = DEFAULT_FEE_RATE,
        tick_size: Decimal = DEFAULT_TICK,
        min_order_size: Decimal = DEFAULT_MIN_SIZE,
    ) -> ListedMarket:
        """The calendar's market with the venue's title (ET times) and defaults."""
        window = market.window
        return cls(
            coin=window.coin,
            symbol=market.symbol,
            slug=market.slug,
            question=window_question(window),
            question_id=market.question_id,
            condition_id=market.condition_id,
            up_token_id=market.up_token_id,
            down_token_id=market.down_token_id,
            start=window.start,
            end=window.end,
            listed_at=market.listed_at,
            resolves_at=market.resolves_at,
            tick_size=tick_size,
            min_order_size=min_order_size,
            fee_rate=fee_rate,
        )

    def venue_market(self) -> VenueMarket:
        """The registration the venue needs (accepting orders from ``listed_at``)."""
        return VenueMarket(
            condition_id=self.condition_id,
            slug=self.slug,
            question=self.question,
            up_token_id=self.up_token_id,
            down_token_id=self.down_token_id,
            end_time=float(self.end),
            tick_size=self.tick_size,
            min_order_size=self.min_order_size,
            fee_rate=self.fee_rate,
            neg_risk=self.neg_risk,
            start_time=float(self.start),
            accepting_from=float(self.listed_at),
        )


class MarketSource(Protocol):
    """What the emulator needs from the simulated world."""

    @property
    def venue(self) -> SimVenue:
        """The matching engine every order goes to."""
        ...

    @property
    def feed(self) -> PriceFeed:
        """The underlying prices (Binance endpoints, strikes, resolution)."""
        ...

    @property
    def clock(self) -> Clock:
        """The simulated clock."""
        ...

    def markets(self) -> Sequence[ListedMarket]:
        """Every market listed so far, oldest window first."""
        ...

    def by_condition(self, condition_id: str) -> ListedMarket | None:
        """The listed market of a condition id."""
        ...

    def by_token(self, token_id: str) -> ListedMarket | None:
        """The listed market issuing ``token_id``."""
        ...

    def by_slug(self, slug: str) -> ListedMarket | None:
        """The listed market of a Gamma slug."""
        ...

    def reference_prices(
        self, market: ListedMarket, now: float
    ) -> tuple[float | None, float | None]:
        """``(price to beat, final price)`` as published at ``now`` (None: not yet)."""
        ...

    def reference_basis(self, market: ListedMarket) -> tuple[float, float]:
        """The log basis between the reference and the feed at the window's start and at
        its end (``(0, 0)`` where the reference is the feed) — the emulator's Chainlink
        stream (``/rtds``) runs between them."""
        ...

    def advance_to(self, t: float) -> None:
        """Bring the world to time ``t``: list, quote, trade, close and resolve. A manual
        clock behind ``t`` is moved to ``t`` (the world moves its own clock)."""
        ...


class LockedFeed:
    """A :class:`PriceFeed` safe to share between the server loop and the world thread
    (the table feeds cache paths in plain dicts)."""

    def __init__(self, inner: PriceFeed) -> None:
        self._inner = inner
        self._lock = threading.Lock()

    @property
    def symbols(self) -> tuple[str, ...]:
        """Symbols served."""
        return self._inner.symbols

    def time_range(self) -> tuple[int, int]:
        """``(first_open_ms, end_ms)``."""
        with self._lock:
            return self._inner.time_range()

    def klines(self, symbol: str, start_ms: int, end_ms: int) -> list[Kline]:
        """Candles opening in ``[start_ms, end_ms)``."""
        with self._lock:
            return self._inner.klines(symbol, start_ms, end_ms)

    def price_at(self, symbol: str, t: float) -> float:
        """The price at ``t`` on the sub-minute path."""
        with self._lock:
            return self._inner.price_at(symbol, t)

    def prices_at(self, symbol: str, times: Sequence[float]) -> list[float]:
        """The price at each of ``times``, under one lock."""
        with self._lock:
            return feed_prices(self._inner, symbol, times)

    def second_prices(
        self, symbol: str, start_ms: int, first: int, stop: int, now: float
    ) -> tuple[list[float], float]:
        """Whole seconds of a minute and a time in it (see :func:`minute_reads`), under
        one lock."""
        with self._lock:
            return minute_reads(self._inner, symbol, start_ms, first, stop, now)


class MarketIndex:
    """The markets listed so far, by condition id, token id and slug (thread-safe).

    Every market source keeps one; the emulator's routes look markets up through it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._markets: dict[str, ListedMarket] = {}
        self._by_token: dict[str, ListedMarket] = {}
        self._by_slug: dict[str, ListedMarket] = {}

    def add(self, market: ListedMarket) -> None:
        """Index a newly listed market."""
        with self._lock:
            self._markets[market.condition_id] = market
            self._by_slug[market.slug] = market
            for token in market.token_ids:
                self._by_token[token] = market

    def __contains__(self, condition_id: object) -> bool:
        return condition_id in self._markets

    def markets(self) -> list[ListedMarket]:
        """Every market listed so far, in listing order."""
        with self._lock:
            return list(self._markets.values())

    def by_condition(self, condition_id: str) -> ListedMarket | None:
        """A listed market by condition id."""
        return self._markets.get(condition_id)

    def by_token(self, token_id: str) -> ListedMarket | None:
        """A listed market by token id."""
        return self._by_token.get(token_id)

    def by_slug(self, slug: str) -> ListedMarket | None:
        """A listed market by slug."""
        return self._by_slug.get(slug)


class IndexedLookups:
    """The lookups of :class:`MarketSource`, answered from the source's ``_index``."""

    _index: MarketIndex

    def markets(self) -> list[ListedMarket]:
        """Every listed market, in listing order (oldest window first)."""
        return self._index.markets()

    def by_condition(self, condition_id: str) -> ListedMarket | None:
        """A listed market by condition id."""
        return self._index.by_condition(condition_id)

    def by_token(self, token_id: str) -> ListedMarket | None:
        """A listed market by token id."""
        return self._index.by_token(token_id)

    def by_slug(self, slug: str) -> ListedMarket | None:
        """A listed market by slug."""
        return self._index.by_slug(slug)


class FeedReference:
    """The feed's price at a window's start (the price to beat) and end, as the minimal
    and the replayed worlds publish them; a time the feed cannot serve is None, warned
    about once per symbol."""

    def __init__(self, feed: PriceFeed) -> None:
        self._feed = feed
        self._warned: set[str] = set()

    def prices(self, market: ListedMarket, now: float) -> tuple[float | None, float | None]:
        """``(price to beat, final price)`` as known at ``now``."""
        strike = self.price(market.symbol, market.start) if now >= market.start else None
        final = self.price(market.symbol, market.end) if now >= market.end else None
        return strike, final

    def price(self, symbol: str, t: float) -> float | None:
        """The feed's price at ``t`` (None outside its range)."""
        try:
            return self._feed.price_at(symbol, t)
        except FeedError as exc:
            if symbol not in self._warned:
                self._warned.add(symbol)
                log_warning(f"⚠️ [{symbol}] no price at {t:.0f}: {exc}")
            return None


class FeedPricedSource(IndexedLookups):
    """What the worlds that publish the feed's own prices share: the venue, the feed,
    the clock, the index of listed markets, the feed's strike and final price, no basis.
    Subclasses list, quote and resolve (``advance_to``)."""

    def __init__(self, venue: SimVenue, feed: PriceFeed) -> None:
        self._venue = venue
        self._feed = feed
        self._index = MarketIndex()
        self._reference = FeedReference(feed)

    @property
    def venue(self) -> SimVenue:
        """The venue."""
        return self._venue

    @property
    def feed(self) -> PriceFeed:
        """The feed."""
        return self._feed

    @property
    def clock(self) -> Clock:
        """The venue's clock."""
        return self._venue.clock

    def reference_prices(
        self, market: ListedMarket, now: float
    ) -> tuple[float | None, float | None]:
        """The price to beat once the window has started, the final price once ended."""
        return self._reference.prices(market, now)

    def reference_basis(self, market: ListedMarket) -> tuple[float, float]:
        """No basis: the strike and the final price published are the feed's."""
        return 0.0, 0.0


class CalendarMarketSource(FeedPricedSource):
    """The minimal world: the calendar's markets listed in the venue and resolved from the
    feed (``Up`` iff the price at the end ≥ the price at the start). Nobody quotes.

    Thread-safe; :meth:`advance_to` is called by the emulator's ticker (or a test).
    """

    def __init__(
        self,
        venue: SimVenue,
        feed: PriceFeed,
        calendar: MarketCalendar,
        *,
        fee_rate: Decimal = DEFAULT_FEE_RATE,
    ) -> None:
        super().__init__(venue, feed)
        self._calendar = calendar
        self._fee_rate = fee_rate
        self._lock = threading.RLock()
        self._unresolved: dict[str, ListedMarket] = {}
        self._symbols = set(feed.symbols)

    def advance_to(self, t: float) -> None:
        """List the markets due by ``t``, resolve the ones due, settle pending trades."""
        clock = self._venue.clock
        if isinstance(clock, SimClock) and clock.speed is None and clock.now() < t:
            clock.set(t)
        with self._lock:
            for market in self._calendar.live_markets(t):
                if market.condition_id not in self._index:
                    self._list(ListedMarket.from_calendar(market, fee_rate=self._fee_rate))
            for condition_id, market in list(self._unresolved.items()):
                if market.resolves_at <= t:
                    self._resolve(market)
                    del self._unresolved[condition_id]
        self._venue.step()

    def _list(self, market: ListedMarket) -> None:
        if market.symbol not in self._symbols:
            return
        self._venue.register_market(market.venue_market())
        self._index.add(market)
        self._unresolved[market.condition_id] = market

    def _resolve(self, market: ListedMarket) -> None:
        start = self._reference.price(market.symbol, market.start)
        end = self._reference.price(market.symbol, market.end)
        if start is None or end is None:
            return  # outside the feed: the market stays closed, never resolved
        winner = Outcome.UP if resolve_outcome(start, end) == "UP" else Outcome.DOWN
        self._venue.resolve_market(market.condition_id, winner)
        log(f"🏁 [{market.coin}] {market.slug} resolved {winner} ({start:.2f} → {end:.2f})")
