"""``SimExchange``: the driver that ties feed, calendar, venue, makers and takers together.

Each tick at time ``t`` (see ``docs/SIMULATOR.md``, "Market model"):

1. list the markets the calendar lists by ``t`` (registered at the venue, accepting orders
   from their listing time until their end);
2. move markets through their life: at the window's start fix the strike (the reference
   price then) and compute the makers' quote path; at the end close the market and read
   the end reference; after the calendar's resolve delay resolve it (Up iff end ≥ strike);
3. apply the fills the venue reported on maker orders since the last tick (the bot's
   taker orders included): re-size mirrored legs;
4. move each market's maker ladder to its quote for this second (nothing when unchanged),
   and top up levels that have been short long enough;
5. let the takers that arrived since the last tick trade (each followed by step 3);
6. ``venue.step()`` when trades are pending: settle those due (expired GTD orders and
   ended markets are swept by the venue on every call).

Deterministic for a seed: every market draws from its own random streams, and the venue's
ids and failures depend only on the sequence of calls. Orders the bot places between ticks
meet the book as it is and rest in the venue's queue like anyone's.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

from src.data.market_data.windows import WINDOW_SECONDS, WindowRef
from src.sim.calendar import MarketCalendar, SimMarket, resolve_outcome
from src.sim.feeds.base import PriceFeed
from src.sim.market_model.fair import fair_value_settings
from src.sim.market_model.maker import MakerBook, MakerPair, MakerStats
from src.sim.market_model.params import MarketModelParams
from src.sim.market_model.pricing import COARSE_TICK
from src.sim.market_model.reference import (
    draw_basis,
    end_feed_price,
    reference_price,
    stream_rng,
)
from src.sim.market_model.state import MarketBooks, MarketState, ModelStats
from src.sim.market_model.takers import TakerFlow, TakerStats
from src.sim.market_model.view import (
    QuotePath,
    WindowInputs,
    ar1_path,
    build_quote_path,
    change_points,
    opening_quote,
)
from src.sim.market_model.volatility import SigmaByMinute
from src.sim.venue import Outcome, SimVenue, VenueMarket, window_question
from src.sim.venue.amounts import exact_micro
from src.trading.signals.fair_value import fair_value
from src.utils.clock import Clock, SimClock

DEFAULT_MAKER_ADDRESS = "0x51a1" + "0" * 32 + "make"
DEFAULT_TAKER_ADDRESS = "0x51a1" + "0" * 32 + "take"


class _Run:
    """The driver's mutable record of one market."""

    __slots__ = (
        "basis_end",
        "basis_start",
        "changes",
        "closed",
        "end_price",
        "feed_open",
        "maker",
        "market",
        "opened",
        "outcome",
        "path",
        "resolved",
        "sigma",
        "strike",
        "takers",
        "wake",
        "winner",
    )

    def __init__(self, market: SimMarket, maker: MakerBook, takers: TakerFlow) -> None:
        self.market = market
        self.maker = maker
        self.takers = takers
        self.opened = False
        self.closed = False
        self.resolved = False
        self.strike: float | None = None
        self.feed_open: float | None = None
        self.end_price: float | None = None
        self.winner: Outcome | None = None
        self.outcome: Outcome | None = None
        self.path: QuotePath | None = None
        self.sigma: SigmaByMinute | None = None
        self.basis_start = 0.0
        self.basis_end = 0.0
        self.changes: list[int] = []
        self.wake = -math.inf


class SimExchange:
    """Simulated Polymarket 15-minute Up/Down markets: makers, takers and their life cycle.

    Parameters:
        clock: the simulation's clock; the driver moves a manual ``SimClock`` itself
            (``set``) and waits on any other clock (``sleep``), e.g. an accelerated one.
        feed: the underlying (its symbols must include ``{coin}USDT`` for each coin).
        calendar: which markets exist and when they list and resolve.
        venue: the matching engine; the driver opens its two liquidity accounts there.
        params: the market model's parameters.
        seed: seeds every random stream of the model (the venue has its own seed).
    """

    def __init__(
        self,
        clock: Clock,
        feed: PriceFeed,
        calendar: MarketCalendar,
        venue: SimVenue,
        params: MarketModelParams | None = None,
        seed: int = 0,
        *,
        maker_address: str = DEFAULT_MAKER_ADDRESS,
        taker_address: str = DEFAULT_TAKER_ADDRESS,
    ) -> None:
        self._clock = clock
        manual = isinstance(clock, SimClock) and clock.speed is None
        self._jump: Callable[[float], None] | None = clock.set if manual else None
        self._feed = feed
        self._calendar = calendar
        self._venue = venue
        self._params = params or MarketModelParams()
        self._seed = seed
        self.maker_address = maker_address
        self.taker_address = taker_address
        self._settings = fair_value_settings(self._params)
        first_ms, end_ms = feed.time_range()
        self._feed_first = first_ms / 1000.0
        self._feed_end = end_ms / 1000.0
        self._lock = threading.RLock()
        self._fills_lock = threading.Lock()
        self._fills: list[tuple[str, int]] = []
        self._quiet = 0  # thread id while the makers' own venue calls run
        self._index: dict[str, MakerPair] = {}
        self._runs: dict[str, _Run] = {}
        self._run_of_book: dict[MakerBook, _Run] = {}
        self._done: dict[str, MarketState] = {}
        self._maker_stats = MakerStats()
        self._taker_stats = TakerStats()
        self._opening = opening_quote(self._params)
        self._time: float | None = None
        self._next_listing = -math.inf
        self._next_phase = -math.inf
        self._ticks = 0
        self._listed = 0
        venue.open_liquidity_account(maker_address)
        venue.open_liquidity_account(taker_address)
        self._unwatch = venue.watch_orders(maker_address, self._on_order)

    # -- public properties -----------------------------------------------------------------

    @property
    def venue(self) -> SimVenue:
        """The matching engine the markets trade on."""
        return self._venue

    @property
    def clock(self) -> Clock:
        """The simulation's clock."""
        return self._clock

    @property
    def feed(self) -> PriceFeed:
        """The underlying price feed."""
        return self._feed

    @property
    def calendar(self) -> MarketCalendar:
        """The market calendar."""
        return self._calendar

    @property
    def params(self) -> MarketModelParams:
        """The market model's parameters."""
        return self._params

    @property
    def seed(self) -> int:
        """The model's seed."""
        return self._seed

    @property
    def time(self) -> float | None:
        """Time of the last tick (None before the first)."""
        return self._time

    # -- running ---------------------------------------------------------------------------

    def advance_to(self, t: float) -> None:
        """Bring the clock to ``t`` (never backwards) and run one tick there."""
        with self._lock:
            if self._time is not None and t < self._time:
                raise ValueError(f"cannot go back to {t} from {self._time}")
            clock = self._clock
            now = clock.now()
            if t > now:
                if self._jump is not None:
                    self._jump(t)  # a manual SimClock: jump exactly
                else:
                    clock.sleep(t - now)  # any other clock: wait for it
                now = clock.now()
            self._tick(now if now > t else t)

    def run_until(self, t: float, resolution_s: float = 1.0) -> int:
        """Tick at every multiple of ``resolution_s`` after the last tick up to ``t``, and
        at ``t`` itself; returns the number of ticks run."""
        if resolution_s <= 0:
            raise ValueError(f"resolution_s must be > 0, got {resolution_s}")
        count = 0
        if self._time is None:
            self.advance_to(self._clock.now())
            count += 1
        assert self._time is not None
        k = math.floor(self._time / resolution_s) + 1
        while (step := k * resolution_s) <= t:
            self.advance_to(step)
            count += 1
            k += 1
        if self._time < t:
            self.advance_to(t)
            count += 1
        return count

    def close(self) -> None:
        """Stop following the venue (the driver is not usable afterwards)."""
        self._unwatch()

    # -- queries ---------------------------------------------------------------------------

    def markets(self) -> list[MarketState]:
        """Markets listed and not yet resolved, in listing order."""
        with self._lock:
            now = self._time if self._time is not None else self._clock.now()
            return [self._state(run, now) for run in self._runs.values()]

    def resolved_markets(self) -> list[MarketState]:
        """Every market resolved so far, in resolution order."""
        with self._lock:
            return list(self._done.values())

    def market(self, condition_id: str) -> MarketState | None:
        """One market (live or resolved), or None if the driver never listed it."""
        with self._lock:
            run = self._runs.get(condition_id)
            if run is not None:
                now = self._time if self._time is not None else self._clock.now()
                return self._state(run, now)
            return self._done.get(condition_id)

    def books(self, depth: int | None = None) -> list[MarketBooks]:
        """Both books of every market still accepting orders."""
        with self._lock:
            venue = self._venue
            return [
                MarketBooks(
                    run.market.condition_id,
                    venue.book(run.market.up_token_id, depth),
                    venue.book(run.market.down_token_id, depth),
                )
                for run in self._runs.values()
                if not run.closed
            ]

    def fair_value(self, condition_id: str) -> float | None:
        """The true probability of Up now: current feed price, realised volatility, time
        left (None outside the window). What informed takers trade on."""
        with self._lock:
            run = self._runs.get(condition_id)
            if run is None or not run.opened or run.closed:
                return None
            now = self._time if self._time is not None else self._clock.now()
            return self._true_fair(run, now)

    def reference_basis(self, condition_id: str) -> tuple[float, float] | None:
        """The log basis of the market's reference at its start and at its end — the draws
        behind the strike and the end price (None once resolved, or never listed)."""
        with self._lock:
            run = self._runs.get(condition_id)
            return None if run is None else (run.basis_start, run.basis_end)

    def stats(self) -> ModelStats:
        """Counters since the driver was built."""
        with self._lock:
            m, t = self._maker_stats, self._taker_stats
            return ModelStats(
                self._ticks,
                self._listed,
                len(self._done),
                m.placed,
                m.cancelled,
                m.reduced,
                m.rejected,
                m.requotes,
                m.mirror_fixes,
                m.replenishments,
                t.arrivals,
                t.orders,
                t.trades,
                t.informed_passes,
            )

    def maker_book(self, condition_id: str) -> MakerBook | None:
        """The makers' ladder of a live market (for inspection)."""
        run = self._runs.get(condition_id)
        return run.maker if run is not None else None

    # -- the tick --------------------------------------------------------------------------

    def _tick(self, now: float) -> None:
        self._time = now
        self._ticks += 1
        if now >= self._next_listing:
            self._list(now)
        if now >= self._next_phase:
            self._phases(now)
        if self._fills:
            self._apply_fills(now)
        for run in self._runs.values():
            if now >= run.wake and not run.closed:
                self._step_run(run, now)
        venue = self._venue
        if venue.pending_trade_count():
            venue.step()  # settle what is due (GTD expiry and closing happen on any call)

    def _step_run(self, run: _Run, now: float) -> None:
        """Quote, replenish and trade one market, then note when it next needs a look."""
        maker = run.maker
        start = run.market.window.start
        params = self._params
        if run.opened:
            quotes = run.path.quotes  # type: ignore[union-attr]
            i = int(now - start)
            if i >= len(quotes):
                i = len(quotes) - 1
            maker.apply(quotes[i], now)
            next_quote = start + run.changes[i]
            rate = params.taker_rate_per_s
        else:
            maker.apply(self._opening, now)
            next_quote = start
            rate = params.taker_rate_per_s * params.pre_window_rate_factor
        if now >= maker.replenish_due:
            maker.replenish(now)
        if maker.pending:
            self._flush(maker, now)
        takers = run.takers
        arrivals = takers.arrivals(now, rate)
        if arrivals:
            fair = self._fair_source(run, now)
            tick = maker.tick or COARSE_TICK
            for _ in range(arrivals):
                if takers.trade(fair, tick) and self._fills:
                    self._apply_fills(now)
        wake = takers.next_time
        if next_quote < wake:
            wake = next_quote
        if maker.replenish_due < wake:
            wake = maker.replenish_due
        run.wake = wake

    def _fair_source(self, run: _Run, now: float) -> Callable[[], float | None]:
        if not run.opened:
            return _no_fair
        return lambda: self._true_fair(run, now)

    def _true_fair(self, run: _Run, now: float) -> float:
        market = run.market
        assert run.sigma is not None and run.strike is not None
        spot = self._feed.price_at(market.symbol, min(now, self._feed_end - 1e-6))
        fair = fair_value(
            spot, run.strike, run.sigma.at(now), market.window.end - now, self._settings
        )
        return fair.p_up

    # -- fills -----------------------------------------------------------------------------

    def _flush(self, maker: MakerBook, now: float) -> None:
        """Send a ladder's queued venue calls. Whatever the venue reports meanwhile on
        this thread is the makers' own doing (cancels, reductions; post-only orders never
        fill on entry), so the watcher skips it."""
        self._quiet = threading.get_ident()
        try:
            maker.flush(now)
        finally:
            self._quiet = 0

    def _on_order(self, order_id: str, remaining: int) -> None:
        """The venue's watcher of maker orders (runs under its lock, from any thread):
        note the new open size of an order a taker — ours or the bot — has changed."""
        if self._quiet == threading.get_ident():
            return
        with self._fills_lock:
            self._fills.append((order_id, remaining))

    def _apply_fills(self, now: float) -> None:
        with self._fills_lock:
            fills, self._fills = self._fills, []
        index = self._index
        touched: list[MakerBook] = []
        for order_id, remaining in fills:
            pair = index.get(order_id)
            if pair is None:
                continue  # our own cancel, or a market already closed
            book = pair.level.book
            book.on_leg_update(pair, order_id, remaining, now)
            if book not in touched:
                touched.append(book)
        runs = self._run_of_book
        for book in touched:
            self._flush(book, now)
            run = runs[book]
            if book.replenish_due < run.wake:
                run.wake = book.replenish_due

    # -- market life -----------------------------------------------------------------------

    def _phases(self, now: float) -> None:
        """Open, close and resolve the markets whose time has come."""
        finished: list[str] = []
        next_phase = math.inf
        for condition_id, run in self._runs.items():
            market = run.market
            window = market.window
            if not run.opened and now >= window.start:
                self._open(run, now)
                run.wake = now
            if not run.closed and now >= window.end:
                self._close(run)
            if run.closed and now >= market.resolves_at:
                self._resolve(run)
                finished.append(condition_id)
                continue
            if not run.opened:
                due = window.start
            elif not run.closed:
                due = window.end
            else:
                due = market.resolves_at
            next_phase = min(next_phase, due)
        for condition_id in finished:
            run = self._runs.pop(condition_id)
            del self._run_of_book[run.maker]
            self._done[condition_id] = self._state(run, now)
        self._next_phase = next_phase

    def _list(self, now: float) -> None:
        self._next_listing = self._calendar.next_listing(now)
        for market in self._calendar.live_markets(now):
            condition_id = market.condition_id
            if condition_id in self._runs or condition_id in self._done:
                continue
            if not self._covers(market.window):
                continue
            self._register(market, now)
            self._next_phase = -math.inf

    def _covers(self, window: WindowRef) -> bool:
        """True when the feed serves the whole window (and the makers' look before it)."""
        return (
            self._feed_first + self._params.maker_lag_s <= window.start
            and window.end <= self._feed_end
        )

    def _register(self, market: SimMarket, now: float) -> None:
        params = self._params
        window = market.window
        spec = VenueMarket(
            condition_id=market.condition_id,
            slug=market.slug,
            question=window_question(window),
            up_token_id=market.up_token_id,
            down_token_id=market.down_token_id,
            end_time=float(window.end),
            fee_rate=params.fee_rate,
            start_time=float(window.start),
            accepting_from=float(market.listed_at),
        )
        self._venue.register_market(spec)
        min_size = exact_micro(spec.min_order_size)
        key = market.condition_id
        maker = MakerBook(
            self._venue,
            self.maker_address,
            market.up_token_id,
            market.down_token_id,
            params,
            stream_rng(self._seed, key, "depth"),
            self._index,
            self._maker_stats,
            min_size,
        )
        takers = TakerFlow(
            self._venue,
            self.taker_address,
            market.up_token_id,
            market.down_token_id,
            params,
            stream_rng(self._seed, key, "takers"),
            self._taker_stats,
            min_size,
            max(float(market.listed_at), now),
        )
        run = _Run(market, maker, takers)
        self._run_of_book[maker] = run
        basis = stream_rng(self._seed, key, "basis")
        run.basis_start = draw_basis(basis, params.basis_bp)
        run.basis_end = draw_basis(basis, params.basis_bp)
        self._runs[key] = run
        self._listed += 1

    def _open(self, run: _Run, now: float) -> None:
        """The window starts: fix the strike and compute the makers' quote path."""
        params = self._params
        market = run.market
        window = market.window
        symbol = market.symbol
        run.opened = True
        run.feed_open = self._feed.price_at(symbol, window.start)
        run.strike = reference_price(run.feed_open, run.basis_start)
        run.sigma = SigmaByMinute(
            self._feed,
            symbol,
            window.start - params.maker_lag_s,
            window.end,
            params.vol_lookback_min,
            params.default_sigma_bp * 1e-4,
        )
        if now >= window.end:
            return  # joined after the window: only the resolution is left to do
        noise = ar1_path(
            stream_rng(self._seed, market.condition_id, "noise"),
            WINDOW_SECONDS,
            params.noise_sd_logit,
            params.noise_persistence,
        )
        run.path = build_quote_path(
            self._feed,
            WindowInputs(symbol, window.start, window.end, run.strike),
            run.sigma,
            params,
            self._settings,
            noise,
            self._feed_first,
        )
        run.changes = change_points(run.path.quotes)

    def _close(self, run: _Run) -> None:
        """The window ends: the market stops trading; the end reference is known."""
        market = run.market
        run.closed = True
        run.maker.drop()
        self._venue.close_market(market.condition_id)
        if run.strike is None:  # the driver started after the window: read it now
            self._open(run, float(market.window.end))
        assert run.strike is not None
        feed_end = end_feed_price(
            self._feed, market.symbol, market.window.end, self._params.settlement_twap_s
        )
        run.end_price = reference_price(feed_end, run.basis_end)
        won = resolve_outcome(run.strike, run.end_price)
        run.winner = Outcome.UP if won == "UP" else Outcome.DOWN

    def _resolve(self, run: _Run) -> None:
        assert run.winner is not None
        self._venue.resolve_market(run.market.condition_id, run.winner)
        run.outcome = run.winner
        run.resolved = True

    def _state(self, run: _Run, now: float) -> MarketState:
        market = run.market
        maker_fair: float | None = None
        if not run.closed:
            if run.path is not None:
                i = int(now - market.window.start)
                fairs = run.path.fairs
                maker_fair = fairs[min(max(i, 0), len(fairs) - 1)]
            elif not run.opened:
                maker_fair = 0.5
        return MarketState(
            market,
            market.phase(now),
            run.strike,
            run.feed_open,
            run.end_price,
            run.outcome,
            self._params.fee_rate,
            run.maker.tick or COARSE_TICK,
            maker_fair,
        )


def _no_fair() -> float | None:
    return None
