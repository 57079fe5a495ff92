"""Simulated taker flow: Poisson arrivals of noise and informed takers in each market.

A taker wants exposure to one outcome. On Polymarket's unified book, buying Up at ``a`` and
selling Down at ``1 − a`` are the same trade; here the books are separate, so a taker routes
to whichever is cheaper right now — BUY the outcome on its own book, or SELL the other
outcome on the other book (an auto-funded account mints the complete set it sells from) —
and sends one FAK order there. That is how a resting order of the bot on either book is
reached, in the venue's price-time order, and only when the market trades through it.

* **Noise** takers pick a side at random and accept up to ``noise_slippage`` beyond the best
  price.
* **Informed** takers know the current, unlagged fair value and trade only where it beats
  the price plus the taker fee by ``informed_min_edge`` — up to the worst price at which it
  still does.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from src.sim.market_model.params import MarketModelParams
from src.sim.market_model.pricing import (
    MICRO,
    NO_ASK,
    NO_BID,
    floor_to_tick,
    max_taker_price,
    taker_cost,
)
from src.sim.venue import OrderRequest, OrderType, Side, SimVenue
from src.sim.venue.amounts import market_buy_taker_amount, market_sell_taker_amount

_CENT = 10_000  # market BUY amounts have at most 2 decimals
_MIN_MARKETABLE_BUY = MICRO


@dataclass(frozen=True, slots=True)
class TopOfBook:
    """Best prices of both books (micro; ``NO_BID``/``NO_ASK`` for an empty side)."""

    up_bid: int
    up_ask: int
    down_bid: int
    down_ask: int


@dataclass(frozen=True, slots=True)
class Route:
    """The cheapest way to get one outcome: its price, and whether by buying it directly."""

    want_up: bool
    direct: bool
    price: int


@dataclass(frozen=True, slots=True)
class TakerOrder:
    """A taker's decision: book, side, limit price (micro) and shares (micro)."""

    up_book: bool
    side: Side
    limit: int
    shares: int


def best_route(want_up: bool, top: TopOfBook) -> Route | None:
    """Cheapest route to ``want_up``'s outcome (None when both books are empty there).

    Direct: BUY the outcome at its ask. Synthetic: SELL the other outcome at its bid, for an
    effective price of ``1 − bid``. Ties go to the direct route.
    """
    direct = top.up_ask if want_up else top.down_ask
    other_bid = top.down_bid if want_up else top.up_bid
    synthetic = MICRO - other_bid if other_bid != NO_BID else NO_ASK
    if direct == NO_ASK and synthetic == NO_ASK:
        return None
    if direct <= synthetic:
        return Route(want_up, True, direct)
    return Route(want_up, False, synthetic)


def route_order(route: Route, limit: int, shares: int, tick: int) -> TakerOrder:
    """The order that takes ``route`` up to the effective price ``limit`` (on the tick)."""
    if route.direct:
        return TakerOrder(route.want_up, Side.BUY, limit - limit % tick, shares)
    floor_price = MICRO - limit
    floor_price += (-floor_price) % tick  # a SELL's limit is a minimum: round it up
    return TakerOrder(not route.want_up, Side.SELL, floor_price, shares)


def noise_order(
    want_up: bool, shares: int, top: TopOfBook, tick: int, slippage: float
) -> TakerOrder | None:
    """A noise taker's order: the cheapest route, up to ``slippage`` beyond its price."""
    route = best_route(want_up, top)
    if route is None:
        return None
    limit = min(route.price + floor_to_tick(slippage, tick), MICRO - tick)
    if limit < route.price:
        return None
    return route_order(route, limit, shares, tick)


def informed_order(
    fair_up: float,
    shares: int,
    top: TopOfBook,
    tick: int,
    fee_rate: float,
    min_edge: float,
) -> TakerOrder | None:
    """An informed taker's order, or None when no side beats price + fee by ``min_edge``.

    Of the two outcomes it takes the one with the larger edge at the best price, and trades
    through the book up to the highest price that still leaves ``min_edge`` after the fee.
    """
    best: tuple[float, Route, int] | None = None
    for want_up in (True, False):
        route = best_route(want_up, top)
        if route is None:
            continue
        value = fair_up if want_up else 1.0 - fair_up
        limit = floor_to_tick(max_taker_price(value, fee_rate, min_edge), tick)
        limit = min(limit, MICRO - tick)
        if limit < route.price:
            continue
        edge = value - taker_cost(route.price / MICRO, fee_rate)
        if best is None or edge > best[0]:
            best = (edge, route, limit)
    if best is None:
        return None
    return route_order(best[1], best[2], shares, tick)


def order_request(order: TakerOrder, token_id: str, min_size: int) -> OrderRequest | None:
    """The venue request for ``order`` as a FAK market order (None if it cannot be valid).

    BUY: spend ``shares × limit`` collateral (at least $1 and enough for the minimum size),
    cent-rounded as the venue requires. SELL: ``shares`` shares, at least the minimum.
    """
    limit = order.limit
    if not 0 < limit < MICRO:
        return None
    if order.side is Side.BUY:
        # Rounded up to the cent, amount / limit is at least the minimum size exactly.
        amount = max(
            order.shares * limit // MICRO,
            _MIN_MARKETABLE_BUY,
            -(-min_size * limit // MICRO),
        )
        amount += (-amount) % _CENT
        size = market_buy_taker_amount(amount, limit)
        return OrderRequest(token_id, Side.BUY, limit, size, amount, OrderType.FAK)
    shares = max(order.shares, min_size)
    cash = market_sell_taker_amount(shares, limit)
    if cash <= 0:
        return None
    return OrderRequest(token_id, Side.SELL, limit, shares, cash, OrderType.FAK)


@dataclass(slots=True)
class TakerStats:
    """Counters of the simulated taker flow."""

    arrivals: int = 0
    orders: int = 0
    trades: int = 0
    informed_passes: int = 0


class TakerFlow:
    """Poisson arrivals of takers in one market, with a rate that may change over time.

    Arrivals are drawn in "unit-rate time" (exponential gaps of mean 1, consumed at the
    current rate), so a change of rate — at the window's start — needs no redraw and the
    stream stays the same whatever the tick resolution.
    """

    def __init__(
        self,
        venue: SimVenue,
        address: str,
        up_token: str,
        down_token: str,
        params: MarketModelParams,
        rng: random.Random,
        stats: TakerStats,
        min_size: int,
        start_time: float,
    ) -> None:
        self._venue = venue
        self._address = address
        self._up = up_token
        self._down = down_token
        self._params = params
        self._rng = rng
        self._stats = stats
        self._min_size = min_size
        self._fee_rate = float(params.fee_rate)
        self._last = start_time
        self._rate = 0.0
        self._next = math.inf
        self._budget = rng.expovariate(1.0)
        self._log_median = math.log(params.taker_size_median)

    @property
    def next_time(self) -> float:
        """When the next taker arrives at the current rate (infinity at rate 0)."""
        return self._next

    def arrivals(self, now: float, rate: float) -> int:
        """How many takers arrive between the previous call and ``now`` at ``rate``/s."""
        if rate == self._rate and now < self._next:
            return 0  # the common case, answered without touching the stream
        elapsed = now - self._last
        self._last = now
        count = 0
        if elapsed > 0 and self._rate > 0:
            self._budget -= elapsed * self._rate
            while self._budget <= 0:
                count += 1
                self._budget += self._rng.expovariate(1.0)
        self._rate = rate
        self._next = now + self._budget / rate if rate > 0 else math.inf
        return count

    def _shares(self) -> int:
        params = self._params
        size = math.exp(self._log_median + params.taker_size_log_sd * self._rng.gauss(0, 1))
        return max(self._min_size, round(size) * MICRO)

    def trade(self, fair_up: Callable[[], float | None], tick: int) -> bool:
        """One taker arrives now; returns True if it traded.

        ``fair_up()`` gives the current fair value, asked only of an informed taker (None
        before the window starts: the taker then trades as a noise taker).
        """
        stats = self._stats
        stats.arrivals += 1
        rng = self._rng
        params = self._params
        informed = rng.random() < params.informed_share
        want_up = rng.random() < 0.5
        shares = self._shares()
        up_bid, up_ask = self._venue.best_bid_ask(self._up)
        down_bid, down_ask = self._venue.best_bid_ask(self._down)
        top = TopOfBook(
            up_bid or NO_BID, up_ask or NO_ASK, down_bid or NO_BID, down_ask or NO_ASK
        )
        fair = fair_up() if informed else None
        if fair is not None:
            order = informed_order(
                fair, shares, top, tick, self._fee_rate, params.informed_min_edge
            )
            if order is None:
                stats.informed_passes += 1
                return False
        else:
            order = noise_order(want_up, shares, top, tick, params.noise_slippage)
            if order is None:
                return False
        request = order_request(
            order, self._up if order.up_book else self._down, self._min_size
        )
        if request is None:
            return False
        stats.orders += 1
        result = self._venue.place(self._address, request)
        if result.success and result.trade_ids:
            stats.trades += 1
            return True
        return False
