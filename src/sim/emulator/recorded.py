"""A world whose Polymarket side is a recording: real quotes instead of the book model.

Each recorded window is listed like any other market (the calendar's ids and times), and
one liquidity account quotes the recorded best bid and ask of both tokens, at the
recorded size or an assumed depth (``depth_shares``). The bot's orders meet those quotes
in the same matching engine as ever:

* a taker order fills against the recorded best price, up to the depth, and pays the
  market's taker fee;
* a resting order fills only when a later recorded quote reaches through its price (the
  quoted order crosses it; the bot is then the maker at its own price) — nobody else
  trades in a recording, so a bid that merely sits at the best bid never fills;
* liquidity the bot took is not replaced until the recorded quote moves;
* an observation older than ``max_quote_age_s`` leaves the books empty (a gap in the
  recording is a gap in the market, not a frozen quote);
* the market resolves to the recorded outcome; windows without one are not listed.

Every observation between two steps is applied in order, so a quote that reached through a
resting order and came back between two of the bot's ticks still fills it.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from src.data.market_data.windows import WindowRef, normalize_coin
from src.data.quotes import QuoteRow, RecordedWindow
from src.sim.calendar import MarketCalendar
from src.sim.emulator.config import EmulatorConfig
from src.sim.emulator.world import (
    DEFAULT_FEE_RATE,
    IndexedLookups,
    ListedMarket,
    MarketIndex,
    MarketSource,
)
from src.sim.feeds.base import PriceFeed
from src.sim.feeds.errors import FeedError
from src.sim.venue import Outcome, SimVenue
from src.sim.venue.types import OrderRequest, OrderType, Side
from src.utils.clock import Clock, SimClock
from src.utils.logger import log_warning
from src.utils.money import MICRO

DEFAULT_DEPTH_SHARES = Decimal("100")
DEFAULT_MAX_QUOTE_AGE_S = 30.0
QUOTER_ADDRESS = "0x" + "5e" * 20  # the recording's liquidity (no history kept)


@dataclass(frozen=True, slots=True)
class ReplayRules:
    """How a recording becomes a market."""

    depth_shares: Decimal = DEFAULT_DEPTH_SHARES  # when the recording has no sizes
    fee_rate: Decimal = DEFAULT_FEE_RATE
    max_quote_age_s: float = DEFAULT_MAX_QUOTE_AGE_S


@dataclass(frozen=True, slots=True)
class _Want:
    """One resting quote: token, side, price and size in micro-units."""

    token_id: str
    side: Side
    price: int
    size: int


@dataclass(slots=True)
class _Tape:
    """A recorded window being replayed: its rows, how far it has been read, what rests."""

    market: ListedMarket
    recording: RecordedWindow
    times: list[float]
    next_row: int = 0
    current: QuoteRow | None = None
    resting: dict[tuple[str, Side], tuple[_Want, str]] = field(default_factory=dict)
    closed: bool = False
    resolved: bool = False


def wanted_quotes(
    row: QuoteRow | None, market: ListedMarket, depth_shares: Decimal
) -> dict[tuple[str, Side], _Want]:
    """The orders that show ``row``'s books (none for a missing row).

    Prices off the market's tick are moved away from the middle (a bid down, an ask up);
    a crossed or locked side pair keeps only the bid.
    """
    if row is None:
        return {}
    tick = market.tick_size
    wants: dict[tuple[str, Side], _Want] = {}
    books = (
        (market.up_token_id, row.up_bid, row.up_ask, row.up_bid_size, row.up_ask_size),
        (
            market.down_token_id,
            row.down_bid,
            row.down_ask,
            row.down_bid_size,
            row.down_ask_size,
        ),
    )
    for token, bid, ask, bid_size, ask_size in books:
        bid_m = _on_tick(bid, tick, ROUND_FLOOR)
        ask_m = _on_tick(ask, tick, ROUND_CEILING)
        if bid_m is not None and ask_m is not None and bid_m >= ask_m:
            ask_m = None
        for side, price, size in (
            (Side.BUY, bid_m, bid_size),
            (Side.SELL, ask_m, ask_size),
        ):
            shares = _shares(size, depth_shares, market.min_order_size)
            if price is not None and shares:
                wants[(token, side)] = _Want(token, side, price, shares)
    return wants


def _on_tick(price: Decimal | None, tick: Decimal, rounding: str) -> int | None:
    if price is None:
        return None
    snapped = (price / tick).to_integral_value(rounding=rounding) * tick
    if not 0 < snapped < 1:
        return None
    return int(snapped * MICRO)


def _shares(size: Decimal | None, depth: Decimal, minimum: Decimal) -> int:
    """Whole shares shown at a level (0: too small to quote)."""
    shares = (size if size is not None else depth).to_integral_value(rounding=ROUND_FLOOR)
    return int(shares) * MICRO if shares >= minimum else 0


class RecordedMarketSource(IndexedLookups):
    """The :class:`MarketSource` of a recording (see the module doc)."""

    def __init__(
        self,
        venue: SimVenue,
        feed: PriceFeed,
        calendar: MarketCalendar,
        windows: Sequence[RecordedWindow],
        rules: ReplayRules = ReplayRules(),
    ) -> None:
        self._venue = venue
        self._feed = feed
        self._rules = rules
        self._lock = threading.RLock()
        self._index = MarketIndex()
        served = {normalize_coin(s) for s in feed.symbols}
        coins = set(calendar.coins)
        self._due: list[tuple[int, _Tape]] = []
        skipped = 0
        for recording in windows:
            if recording.outcome is None or recording.coin not in served & coins:
                skipped += 1
                continue
            sim = calendar.market(WindowRef(recording.coin, recording.window_start))
            market = ListedMarket.from_calendar(sim, fee_rate=rules.fee_rate)
            tape = _Tape(market, recording, [r.t_s for r in recording.rows])
            self._due.append((market.listed_at, tape))
        self._due.sort(key=lambda item: (item[0], item[1].market.coin))
        self._live: list[_Tape] = []
        self.skipped = skipped
        venue.open_liquidity_account(QUOTER_ADDRESS)

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

    @property
    def windows(self) -> list[ListedMarket]:
        """Every market the recording will list, in listing order."""
        return [tape.market for _, tape in self._due] + [t.market for t in self._live]

    def reference_prices(
        self, market: ListedMarket, now: float
    ) -> tuple[float | None, float | None]:
        """The feed's price at the window's start and end, once they have passed."""
        strike = self._price(market.symbol, market.start) if now >= market.start else None
        final = self._price(market.symbol, market.end) if now >= market.end else None
        return strike, final

    def _price(self, symbol: str, t: float) -> float | None:
        try:
            return self._feed.price_at(symbol, t)
        except FeedError:
            return None

    def advance_to(self, t: float) -> None:
        """List what is due, replay every observation up to ``t`` at its own time (the
        manual clock steps through them), then close and resolve what is due."""
        clock = self._venue.clock
        manual = isinstance(clock, SimClock) and clock.speed is None
        with self._lock:
            while self._due and self._due[0][0] <= t:
                _, tape = self._due.pop(0)
                self._venue.register_market(tape.market.venue_market())
                self._index.add(tape.market)
                self._live.append(tape)
            for seen, tape, row in self._observations(t):
                if manual and clock.now() < seen:
                    clock.set(seen)  # type: ignore[attr-defined]
                tape.current = row
                self._show(tape, row)  # in order: a quote reaching through fills
            if manual and clock.now() < t:
                clock.set(t)  # type: ignore[attr-defined]
            for tape in self._live:
                self._close_or_resolve(tape, t)
            self._live = [tape for tape in self._live if not tape.resolved]
        self._venue.step()

    def _observations(self, t: float) -> list[tuple[float, _Tape, QuoteRow]]:
        """The rows of open windows seen by ``t`` and not yet shown, oldest first."""
        due: list[tuple[float, _Tape, QuoteRow]] = []
        for tape in self._live:
            if tape.closed:
                continue
            times = tape.times
            end = tape.market.end
            last = min(bisect.bisect_right(times, t), bisect.bisect_left(times, end))
            rows = tape.recording.rows
            due.extend((times[i], tape, rows[i]) for i in range(tape.next_row, last))
            tape.next_row = max(tape.next_row, last)
        due.sort(key=lambda item: item[0])
        return due

    def next_activity(self, t: float) -> float | None:
        """The earliest time after ``t`` at which a market is listed (None: none left)."""
        with self._lock:
            if self._live:
                return t
            return float(self._due[0][0]) if self._due else None

    def _close_or_resolve(self, tape: _Tape, t: float) -> None:
        market = tape.market
        if not tape.closed:
            if t >= market.end:
                self._show(tape, None)
                tape.closed = True
            elif (
                tape.current is not None
                and t - tape.current.t_s > self._rules.max_quote_age_s
            ):
                self._show(tape, None)  # a gap in the recording: no market
                tape.current = None
        if tape.closed and not tape.resolved and t >= market.resolves_at:
            winner = Outcome.UP if tape.recording.outcome == "UP" else Outcome.DOWN
            self._venue.resolve_market(market.condition_id, winner)
            tape.resolved = True

    def _show(self, tape: _Tape, row: QuoteRow | None) -> None:
        """Make the resting quotes those of ``row``: only changed ones are replaced."""
        wants = wanted_quotes(row, tape.market, self._rules.depth_shares)
        cancels: list[str] = []
        places: list[_Want] = []
        for key, (want, order_id) in list(tape.resting.items()):
            new = wants.get(key)
            if new is None or new.price != want.price:
                cancels.append(order_id)
                del tape.resting[key]
        for key, want in wants.items():
            if key not in tape.resting:
                places.append(want)
        if not cancels and not places:
            return
        requests = [_request(w) for w in places]
        results = self._venue.amend_orders(QUOTER_ADDRESS, cancels, (), requests)
        for want, result in zip(places, results, strict=True):
            if result.success:  # even if taken at once: not re-offered until it moves
                tape.resting[(want.token_id, want.side)] = (want, result.order_id)
            else:
                log_warning(
                    f"⚠️ recorded quote {want.side} {want.price / MICRO} refused on "
                    f"{tape.market.slug}: {result.error}"
                )


def _request(want: _Want) -> OrderRequest:
    """A plain GTC order (not post-only: a quote that reaches through a resting order of
    the bot trades with it, as the recorded market did)."""
    amount = want.size * want.price // MICRO
    return OrderRequest(
        want.token_id, want.side, want.price, want.size, amount, OrderType.GTC
    )


def recorded_source_factory(
    windows: Sequence[RecordedWindow], rules: ReplayRules = ReplayRules()
) -> Callable[[SimVenue, PriceFeed, MarketCalendar, EmulatorConfig], MarketSource]:
    """An emulator ``source_factory`` that replays ``windows``."""

    def build(
        venue: SimVenue, feed: PriceFeed, calendar: MarketCalendar, config: EmulatorConfig
    ) -> MarketSource:
        return RecordedMarketSource(venue, feed, calendar, windows, rules)

    return build
