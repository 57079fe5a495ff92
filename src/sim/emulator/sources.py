"""Which world the emulator runs: the market model (``src.sim.market_model``: simulated
makers and takers) by default, or the minimal calendar adapter (markets listed and
resolved, books left to whoever quotes)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from src.sim.calendar import MarketCalendar
from src.sim.emulator.config import EmulatorConfig
from src.sim.emulator.world import (
    CalendarMarketSource,
    IndexedLookups,
    ListedMarket,
    MarketIndex,
    MarketSource,
)
from src.sim.feeds.base import PriceFeed
from src.sim.venue import SimVenue
from src.utils.clock import Clock, SimClock

if TYPE_CHECKING:
    from src.sim.market_model import SimExchange

MODEL_RESOLUTION_S = 1.0
"""The market model ticks at least once per simulated second, whatever the jump."""


class ModelMarketSource(IndexedLookups):
    """The market model behind the :class:`MarketSource` protocol.

    The driver lists, quotes, trades, closes and resolves the markets; this adapter keeps
    the emulator's index of what was listed (by condition, token and slug) and reads the
    strike and final price from the driver's market states.
    """

    def __init__(self, exchange: SimExchange) -> None:
        self._exchange = exchange
        self._index = MarketIndex()
        self._resolved_seen = 0

    @property
    def exchange(self) -> SimExchange:
        """The market model's driver."""
        return self._exchange

    @property
    def venue(self) -> SimVenue:
        """The venue."""
        return self._exchange.venue

    @property
    def feed(self) -> PriceFeed:
        """The feed."""
        return self._exchange.feed

    @property
    def clock(self) -> Clock:
        """The clock."""
        return self._exchange.clock

    def reference_prices(
        self, market: ListedMarket, now: float
    ) -> tuple[float | None, float | None]:
        """The driver's strike (from the window's start) and end price (once ended)."""
        state = self._exchange.market(market.condition_id)
        if state is None:
            return None, None
        return state.strike, state.end_price

    def reference_basis(self, market: ListedMarket) -> tuple[float, float]:
        """The driver's basis draws of the market (``(0, 0)`` once it is resolved)."""
        basis = self._exchange.reference_basis(market.condition_id)
        return (0.0, 0.0) if basis is None else basis

    def advance_to(self, t: float) -> None:
        """Run the model to ``t``, then index what it listed.

        A manual clock is moved by the driver itself, a tick per simulated second (so a
        jump of a minute still sees the takers trade through it); a running clock is
        already at ``t``, and the driver ticks once there.
        """
        exchange = self._exchange
        last = exchange.time
        if last is None or t > last:
            if is_manual(exchange.clock):
                exchange.run_until(t, MODEL_RESOLUTION_S)
            else:
                exchange.advance_to(t)
        states = exchange.markets()
        resolved = exchange.resolved_markets()
        if len(resolved) != self._resolved_seen:
            # A jump may list and resolve a market between two of our looks.
            states = [*resolved[self._resolved_seen :], *states]
            self._resolved_seen = len(resolved)
        for state in states:
            if state.condition_id not in self._index:
                self._index.add(
                    ListedMarket.from_calendar(state.market, fee_rate=state.fee_rate)
                )


def is_manual(clock: Clock) -> bool:
    """True for a :class:`SimClock` that moves only when told to."""
    return isinstance(clock, SimClock) and clock.speed is None


def calendar_source(
    venue: SimVenue, feed: PriceFeed, calendar: MarketCalendar, config: EmulatorConfig
) -> MarketSource:
    """The minimal world: listings and resolution only, no simulated market makers."""
    return CalendarMarketSource(venue, feed, calendar)


def model_source(
    venue: SimVenue, feed: PriceFeed, calendar: MarketCalendar, config: EmulatorConfig
) -> MarketSource:
    """The market model: makers quoting both books, takers trading through them."""
    from src.sim.market_model import SimExchange

    exchange = SimExchange(
        venue.clock, feed, calendar, venue, config.market_params, seed=config.seed
    )
    return ModelMarketSource(exchange)


def default_market_source(
    venue: SimVenue, feed: PriceFeed, calendar: MarketCalendar, config: EmulatorConfig
) -> MarketSource:
    """The world ``polyflup emulator`` runs: the market model when it is installed."""
    try:
        import src.sim.market_model  # noqa: F401
    except ImportError:
        return calendar_source(venue, feed, calendar, config)
    return model_source(venue, feed, calendar, config)
