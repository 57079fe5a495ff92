"""A world whose Polymarket side replays quote tapes: real recordings, or the light model.

A **tape** is one window's top of book over time (best bid and ask of both tokens, with
sizes) and its outcome. Tapes come from a recording (:class:`RecordedListings`) or are
generated from the simulator's maker rules (:mod:`src.sim.market_model.light`). Each
window is listed like any other market (the calendar's ids and times), and one liquidity
account shows the tape's quotes, at the taped size or an assumed depth (``depth_shares``).
The bot's orders meet those quotes in the same matching engine as ever:

* a taker order fills against the taped best price, up to the depth, and pays the
  market's taker fee;
* a resting order fills only when a later quote reaches through its price (the quote
  crosses it; the bot is then the maker at its own price) — nobody else trades on a tape,
  so a bid that merely sits at the best bid never fills;
* liquidity the bot took stays taken while the bot has orders in that market; after that
  the tape's quote shows in full again;
* a quote older than ``max_quote_age_s`` leaves the books empty (a gap in a recording is a
  gap in the market, not a frozen quote);
* the market resolves to the tape's outcome (recordings without one are not listed).

The quotes are **virtual** until an order meets them (:class:`~src.sim.venue.venue.
VirtualLiquidity`): books read them from the tape, and only a market someone trades in has
them rested as real orders, re-quoted at every taped change (in time order, so a quote that
reached through a resting order and came back between two of the bot's ticks still fills
it) until nobody else has an order there. That keeps a month of replay cheap.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Protocol

from src.data.market_data.windows import WindowRef, normalize_coin
from src.data.quotes import QuoteRow, RecordedWindow
from src.sim.calendar import MarketCalendar
from src.sim.emulator.config import EmulatorConfig
from src.sim.emulator.world import (
    DEFAULT_FEE_RATE,
    FeedPricedSource,
    ListedMarket,
    MarketSource,
)
from src.sim.feeds.base import PriceFeed
from src.sim.venue import Outcome, SimVenue
from src.sim.venue.types import BookLevel, OrderRequest, OrderType, Side
from src.utils.clock import SimClock
from src.utils.logger import log_warning
from src.utils.money import MICRO

DEFAULT_DEPTH_SHARES = Decimal("100")
DEFAULT_MAX_QUOTE_AGE_S = 30.0
QUOTER_ADDRESS = "0x" + "5e" * 20  # the tape's liquidity (no history kept)
NONE = -1  # an empty side, or an unknown size, in a tape's columns
_NO_LEVELS: tuple[tuple[BookLevel, ...], tuple[BookLevel, ...]] = ((), ())


@dataclass(frozen=True, slots=True)
class ReplayRules:
    """How a tape becomes a market."""

    depth_shares: Decimal = DEFAULT_DEPTH_SHARES  # when the tape has no sizes
    fee_rate: Decimal = DEFAULT_FEE_RATE
    max_quote_age_s: float = DEFAULT_MAX_QUOTE_AGE_S


@dataclass(frozen=True, slots=True)
class Tape:
    """One window's quotes: ``times`` (unix s, increasing) and, per time, the best bid and
    ask of each token and the shares there, in micro-units (:data:`NONE`: empty side, or
    size unknown), on the market's tick; and the outcome."""

    times: list[float]
    up_bid: list[int]
    up_ask: list[int]
    down_bid: list[int]
    down_ask: list[int]
    sizes: list[tuple[int, int, int, int]]  # up bid, up ask, down bid, down ask
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class Listing:
    """A market to list, and how to get its tape (built when it is listed)."""

    market: ListedMarket
    load: Callable[[], Tape]


class Listings(Protocol):
    """Where a tape world's markets come from."""

    def due(self, t: float) -> list[Listing]:
        """Markets whose listing time is at or before ``t`` and not yet handed out."""
        ...

    def next_time(self) -> float | None:
        """When the next market is due (None: no more)."""
        ...


def snap(price: Decimal | None, tick: Decimal, bid: bool) -> int:
    """A price on the tick, moved away from the middle (a bid down, an ask up), in
    micro-units; :data:`NONE` for an empty side or one rounded out of (0, 1)."""
    if price is None:
        return NONE
    rounding = ROUND_FLOOR if bid else ROUND_CEILING
    snapped = (price / tick).to_integral_value(rounding=rounding) * tick
    return int(snapped * MICRO) if 0 < snapped < 1 else NONE


def _size(size: Decimal | None) -> int:
    if size is None:
        return NONE
    return int(size.to_integral_value(rounding=ROUND_FLOOR)) * MICRO


def tape_from_recording(recording: RecordedWindow, tick: Decimal) -> Tape:
    """A recorded window as a tape (prices snapped to ``tick``)."""
    outcome = Outcome.UP if recording.outcome == "UP" else Outcome.DOWN
    return tape_of_rows(recording.rows, tick, outcome)


def tape_of_rows(rows: Sequence[QuoteRow], tick: Decimal, outcome: Outcome) -> Tape:
    """Recorded rows as a tape (prices snapped to ``tick``)."""
    return Tape(
        times=[r.t_s for r in rows],
        up_bid=[snap(r.up_bid, tick, True) for r in rows],
        up_ask=[snap(r.up_ask, tick, False) for r in rows],
        down_bid=[snap(r.down_bid, tick, True) for r in rows],
        down_ask=[snap(r.down_ask, tick, False) for r in rows],
        sizes=[
            (
                _size(r.up_bid_size),
                _size(r.up_ask_size),
                _size(r.down_bid_size),
                _size(r.down_ask_size),
            )
            for r in rows
        ],
        outcome=outcome,
    )


@dataclass(frozen=True, slots=True)
class Quote:
    """One resting quote: token, side, price and size in micro-units."""

    token_id: str
    side: Side
    price: int
    size: int


def quotes_at(
    tape: Tape, i: int, market: ListedMarket, depth_micro: int
) -> dict[tuple[str, Side], Quote]:
    """The quotes row ``i`` of ``tape`` shows (none for ``i < 0``). A locked or crossed
    pair keeps only the bid; a level under the market's minimum order is not shown."""
    if i < 0:
        return {}
    quotes: dict[tuple[str, Side], Quote] = {}
    for token in market.token_ids:
        bid, ask = token_quotes(tape, i, market, depth_micro, token)
        if bid is not None:
            quotes[(token, Side.BUY)] = bid
        if ask is not None:
            quotes[(token, Side.SELL)] = ask
    return quotes


def token_columns(
    tape: Tape, i: int, market: ListedMarket, token: str
) -> tuple[int, int, int, int]:
    """``(bid, ask, bid size, ask size)`` as row ``i >= 0`` of ``tape`` holds them for
    one of ``market``'s tokens: all :func:`token_quotes` reads of the row."""
    sizes = tape.sizes[i]
    if token == market.up_token_id:
        return tape.up_bid[i], tape.up_ask[i], sizes[0], sizes[1]
    return tape.down_bid[i], tape.down_ask[i], sizes[2], sizes[3]


def token_quotes(
    tape: Tape, i: int, market: ListedMarket, depth_micro: int, token: str
) -> tuple[Quote | None, Quote | None]:
    """The bid and ask row ``i >= 0`` of ``tape`` shows on one of ``market``'s tokens
    (see :func:`quotes_at`; a book read needs only its own token's)."""
    return columns_quotes(token_columns(tape, i, market, token), market, depth_micro, token)


def columns_quotes(
    columns: tuple[int, int, int, int], market: ListedMarket, depth_micro: int, token: str
) -> tuple[Quote | None, Quote | None]:
    """The bid and ask a row's :func:`token_columns` show on ``token``."""
    bid, ask, bid_size, ask_size = columns
    if bid != NONE and ask != NONE and bid >= ask:
        ask = NONE
    minimum = int(market.min_order_size * MICRO)
    return (
        _quote(token, Side.BUY, bid, bid_size, depth_micro, minimum),
        _quote(token, Side.SELL, ask, ask_size, depth_micro, minimum),
    )


def _quote(
    token: str, side: Side, price: int, size: int, depth_micro: int, minimum: int
) -> Quote | None:
    """One side's quote: the taped size, or ``depth_micro`` when the tape has none; no
    quote for an empty side or a level under the market's minimum order."""
    shares = depth_micro if size == NONE else size
    if price == NONE or shares < minimum:
        return None
    return Quote(token, side, price, shares)


def wanted_quotes(
    row: QuoteRow | None, market: ListedMarket, depth_shares: Decimal
) -> dict[tuple[str, Side], Quote]:
    """The quotes one recorded row shows on ``market`` (none for a missing row)."""
    if row is None:
        return {}
    tape = tape_of_rows((row,), market.tick_size, Outcome.UP)
    return quotes_at(tape, 0, market, _shares(depth_shares))


def _shares(depth: Decimal) -> int:
    return int(depth.to_integral_value(rounding=ROUND_FLOOR)) * MICRO


_Levels = tuple[tuple[BookLevel, ...], tuple[BookLevel, ...]]


@dataclass(slots=True)
class _Replay:
    """A listed window being replayed."""

    market: ListedMarket
    tape: Tape
    row: int = -1  # the row shown (-1: none yet, or stale)
    seen: int = 0  # rows up to here have been looked at
    materialized: bool = False
    resting: dict[tuple[str, Side], tuple[Quote, str]] = field(default_factory=dict)
    closed: bool = False
    resolved: bool = False
    # the levels of each (token, its row's columns) read so far: makers hold a quote
    # for many rows and come back to it (a window's rows, at most)
    levels: dict[tuple[str, tuple[int, int, int, int]], _Levels] = field(
        default_factory=dict
    )


class TapeMarketSource(FeedPricedSource):
    """The :class:`MarketSource` of quote tapes (see the module doc); also the venue's
    :class:`~src.sim.venue.venue.VirtualLiquidity`."""

    def __init__(
        self,
        venue: SimVenue,
        feed: PriceFeed,
        listings: Listings,
        rules: ReplayRules = ReplayRules(),
    ) -> None:
        super().__init__(venue, feed)
        self._listings = listings
        self._rules = rules
        self._depth = _shares(rules.depth_shares)
        self._lock = venue.lock  # one lock order: books are read under the venue's lock
        self._live: list[_Replay] = []
        self._by_token: dict[str, _Replay] = {}
        venue.open_liquidity_account(QUOTER_ADDRESS)
        venue.set_virtual_liquidity(self)

    # -- time ------------------------------------------------------------------------------

    def advance_to(self, t: float) -> None:
        """List what is due, replay the tapes up to ``t``, then close and resolve what is
        due. Rows of traded markets are replayed at their own times (a manual clock steps
        through them), the others only move their pointer."""
        clock = self._venue.clock
        manual = isinstance(clock, SimClock) and clock.speed is None
        with self._lock:
            for listing in self._listings.due(t):
                self._list(listing)
            for seen, replay, i in self._traded_rows(t):
                if manual and clock.now() < seen:
                    clock.set(seen)  # type: ignore[attr-defined]
                replay.row = i
                self._rest(replay)
            if manual and clock.now() < t:
                clock.set(t)  # type: ignore[attr-defined]
            for replay in self._live:
                self._follow(replay, t)
            if any(r.resolved for r in self._live):
                for replay in self._live:
                    if replay.resolved:
                        for token in replay.market.token_ids:
                            self._by_token.pop(token, None)
                self._live = [r for r in self._live if not r.resolved]
        self._venue.step()

    def next_activity(self, t: float) -> float | None:
        """``t`` while a market is listed, else when the next one is (None: no more)."""
        with self._lock:
            if self._live:
                return t
            return self._listings.next_time()

    def _list(self, listing: Listing) -> None:
        market = listing.market
        self._venue.register_market(market.venue_market())
        self._index.add(market)
        replay = _Replay(market, listing.load())
        self._live.append(replay)
        for token in market.token_ids:
            self._by_token[token] = replay

    def _traded_rows(self, t: float) -> list[tuple[float, _Replay, int]]:
        """Rows of materialized markets up to ``t`` not yet looked at, oldest first."""
        due: list[tuple[float, _Replay, int]] = []
        for replay in self._live:
            if replay.materialized and not replay.closed:
                last = self._last_row(replay, t)
                times = replay.tape.times
                due.extend((times[i], replay, i) for i in range(replay.seen, last))
                replay.seen = max(replay.seen, last)
        due.sort(key=lambda item: item[0])
        return due

    def _last_row(self, replay: _Replay, t: float) -> int:
        times = replay.tape.times
        end = replay.market.end
        return min(bisect.bisect_right(times, t), bisect.bisect_left(times, end))

    def _follow(self, replay: _Replay, t: float) -> None:
        if not replay.materialized and not replay.closed and self._quiet(replay, t):
            return
        market = replay.market
        if not replay.closed:
            last = self._last_row(replay, t)
            if last > replay.seen:
                replay.row = last - 1
                replay.seen = last
            fresh = (
                replay.row >= 0
                and t - replay.tape.times[replay.row] <= self._rules.max_quote_age_s
            )
            if t >= market.end:
                replay.row = -1
                replay.closed = True
            elif not fresh:
                replay.row = -1
            if replay.materialized:
                self._rest(replay)
                idle = not self._venue.has_live_orders(
                    market.condition_id, excluding=QUOTER_ADDRESS
                )
                if replay.closed or idle:
                    self._withdraw(replay)
        if replay.closed and not replay.resolved and t >= market.resolves_at:
            self._venue.resolve_market(market.condition_id, replay.tape.outcome)
            replay.resolved = True

    def _quiet(self, replay: _Replay, t: float) -> bool:
        """True when :meth:`_follow` would change nothing for an open, virtual replay:
        no row due by ``t``, the market still open, the row shown still fresh (or none
        shown). Most replays, most steps: this answers without the row searches."""
        times = replay.tape.times
        seen = replay.seen
        if (seen < len(times) and t >= times[seen]) or t >= replay.market.end:
            return False
        row = replay.row
        return row < 0 or t - times[row] <= self._rules.max_quote_age_s

    # -- virtual liquidity -----------------------------------------------------------------

    def levels(
        self, token_id: str
    ) -> tuple[tuple[BookLevel, ...], tuple[BookLevel, ...]] | None:
        """The tape's quote on ``token_id`` while it is virtual (see the venue)."""
        replay = self._by_token.get(token_id)
        if replay is None or replay.materialized:
            return None
        if replay.row < 0:
            return _NO_LEVELS
        # a taped row never changes, and rows with the same columns show the same levels
        # (the same objects)
        key = (token_id, token_columns(replay.tape, replay.row, replay.market, token_id))
        levels = replay.levels.get(key)
        if levels is None:
            bid, ask = columns_quotes(key[1], replay.market, self._depth, token_id)
            levels = replay.levels[key] = (
                () if bid is None else (BookLevel(bid.price, bid.size),),
                () if ask is None else (BookLevel(ask.price, ask.size),),
            )
        return levels

    def materialize(self, token_id: str) -> None:
        """Rest the market's current quotes as orders (an order is about to meet them)."""
        replay = self._by_token.get(token_id)
        if replay is None or replay.materialized or replay.closed:
            return
        replay.materialized = True
        self._rest(replay)

    def _withdraw(self, replay: _Replay) -> None:
        """Back to virtual: the resting quotes are cancelled."""
        row, replay.row = replay.row, -1
        self._rest(replay)
        replay.row = row
        replay.materialized = False

    def _rest(self, replay: _Replay) -> None:
        """Make the resting quotes those of the row shown: only changed ones are
        replaced (a taken quote is not re-offered until it changes)."""
        wants = quotes_at(replay.tape, replay.row, replay.market, self._depth)
        cancels: list[str] = []
        for key, (quote, order_id) in list(replay.resting.items()):
            new = wants.get(key)
            if new is None or new.price != quote.price:
                cancels.append(order_id)
                del replay.resting[key]
        places = [q for key, q in wants.items() if key not in replay.resting]
        if not cancels and not places:
            return
        requests = [_request(q) for q in places]
        results = self._venue.amend_orders(QUOTER_ADDRESS, cancels, (), requests)
        for quote, result in zip(places, results, strict=True):
            if result.success:
                replay.resting[(quote.token_id, quote.side)] = (quote, result.order_id)
            else:
                log_warning(
                    f"⚠️ taped quote {quote.side} {quote.price / MICRO} refused on "
                    f"{replay.market.slug}: {result.error}"
                )


def _request(quote: Quote) -> OrderRequest:
    """A plain GTC order (not post-only: a quote that reaches through a resting order
    trades with it, as the taped market did)."""
    amount = quote.size * quote.price // MICRO
    return OrderRequest(
        quote.token_id, quote.side, quote.price, quote.size, amount, OrderType.GTC
    )


class RecordedListings:
    """The windows of a recording, listed at the calendar's times."""

    def __init__(
        self,
        calendar: MarketCalendar,
        coins: set[str],
        windows: Sequence[RecordedWindow],
        fee_rate: Decimal,
    ) -> None:
        plans: list[Listing] = []
        self.skipped = 0
        for recording in windows:
            if recording.outcome is None or recording.coin not in coins:
                self.skipped += 1
                continue
            sim = calendar.market(WindowRef(recording.coin, recording.window_start))
            market = ListedMarket.from_calendar(sim, fee_rate=fee_rate)
            plans.append(Listing(market, _loader(recording, market.tick_size)))
        plans.sort(key=lambda p: (p.market.listed_at, p.market.coin))
        self._plans = plans
        self.markets = [p.market for p in plans]

    def due(self, t: float) -> list[Listing]:
        """Recorded windows listed by ``t``."""
        count = 0
        while count < len(self._plans) and self._plans[count].market.listed_at <= t:
            count += 1
        due, self._plans = self._plans[:count], self._plans[count:]
        return due

    def next_time(self) -> float | None:
        """The next recorded window's listing time."""
        return float(self._plans[0].market.listed_at) if self._plans else None


def _loader(recording: RecordedWindow, tick: Decimal) -> Callable[[], Tape]:
    return lambda: tape_from_recording(recording, tick)


class RecordedMarketSource(TapeMarketSource):
    """A recording's windows as markets (the coins of ``calendar`` the feed serves)."""

    def __init__(
        self,
        venue: SimVenue,
        feed: PriceFeed,
        calendar: MarketCalendar,
        windows: Sequence[RecordedWindow],
        rules: ReplayRules = ReplayRules(),
    ) -> None:
        served = {normalize_coin(s) for s in feed.symbols}
        listings = RecordedListings(
            calendar, served & set(calendar.coins), windows, rules.fee_rate
        )
        super().__init__(venue, feed, listings, rules)
        self.skipped = listings.skipped
        self.windows = listings.markets


def recorded_source_factory(
    windows: Sequence[RecordedWindow], rules: ReplayRules = ReplayRules()
) -> Callable[[SimVenue, PriceFeed, MarketCalendar, EmulatorConfig], MarketSource]:
    """An emulator ``source_factory`` that replays ``windows``."""

    def build(
        venue: SimVenue, feed: PriceFeed, calendar: MarketCalendar, config: EmulatorConfig
    ) -> MarketSource:
        return RecordedMarketSource(venue, feed, calendar, windows, rules)

    return build
