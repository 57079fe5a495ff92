"""Shared builders for the SimVenue tests (plain functions, no fixtures to collide on)."""

from __future__ import annotations

from dataclasses import dataclass

from src.data.market_data.windows import WindowRef
from src.sim.venue import (
    Order,
    OrderRequest,
    OrderType,
    PlaceResult,
    Side,
    SimVenue,
    Trade,
    VenueMarket,
)
from src.utils.clock import SimClock
from src.utils.money import to_micro

WINDOW = WindowRef("BTC", 1_767_225_600)
START = WINDOW.start + 60


@dataclass
class World:
    """A venue with one BTC market, two funded traders and a liquidity account."""

    venue: SimVenue
    market: VenueMarket
    clock: SimClock

    @property
    def up(self) -> str:
        return self.market.up_token_id

    @property
    def down(self) -> str:
        return self.market.down_token_id

    def bid(self, account: str, price: str, size: str, **kwargs: object) -> PlaceResult:
        """Place a limit BUY on the Up token and insist it was accepted."""
        return self.ok(account, limit(self.up, Side.BUY, price, size, **kwargs))

    def ask(self, account: str, price: str, size: str, **kwargs: object) -> PlaceResult:
        """Place a limit SELL on the Up token and insist it was accepted."""
        return self.ok(account, limit(self.up, Side.SELL, price, size, **kwargs))

    def ok(self, account: str, request: OrderRequest) -> PlaceResult:
        result = self.venue.place(account, request)
        assert result.success, result.error
        return result


def order_of(world: World, order_id: str) -> Order:
    """The venue's order ``order_id``, which must exist."""
    order = world.venue.order(order_id)
    assert order is not None, order_id
    return order


def trade_of(world: World, trade_id: str) -> Trade:
    """The venue's trade ``trade_id``, which must exist."""
    trade = world.venue.trade(trade_id)
    assert trade is not None, trade_id
    return trade


def usd(value: str | int) -> int:
    """Dollars (or shares) as micro-units."""
    return to_micro(value)


def limit(
    token_id: str,
    side: Side,
    price: str,
    size: str,
    order_type: OrderType = OrderType.GTC,
    **kwargs: object,
) -> OrderRequest:
    return OrderRequest.limit(token_id, side, price, size, order_type, **kwargs)


def make_world(
    *,
    alice: str = "1000",
    bob: str = "1000",
    seed: int = 0,
    failure_probability: float = 0.0,
    confirm_delay: float = 0.0,
    window: WindowRef = WINDOW,
) -> World:
    """Fresh venue at one minute into ``window``; ``mm`` is an auto-funded market maker."""
    clock = SimClock(start=window.start + 60)
    venue = SimVenue(
        clock,
        seed=seed,
        failure_probability=failure_probability,
        confirm_delay=confirm_delay,
    )
    market = VenueMarket.for_window(window)
    venue.register_market(market)
    venue.open_account("alice", usd(alice))
    venue.open_account("bob", usd(bob))
    venue.open_account("mm", auto_fund=True)
    return World(venue, market, clock)
