"""The simulated market makers of one market: a ladder quoted on both books.

The makers think in **Up space**: a level is a price ``p`` on the bid or ask side of the Up
token with a size. Each level is posted as *pairs* of venue orders that stay equal: the Up
leg (BUY Up at ``p`` for a bid) and its mirror on the Down book (SELL Down at ``1 − p``).
On Polymarket the two are one piece of liquidity (the venue matches a BUY Up with a BUY Down
by minting); the simulated venue keeps the books apart, so when a taker (or the bot) takes
one leg, the model shrinks the other in place (``SimVenue.reduce_orders``: it keeps its
queue place, as the single real order would) before the tick ends.

Requoting touches only what changed: levels that became too aggressive (a bid above the
new best bid), fell out of the depth band, or sit off the quoting grid are cancelled; the
new top level is added; beyond ``max_levels`` the deepest level goes. A side left with fewer
than ``min_levels`` by a move gets its depth back (up to ``levels``) after the replenishment
delay, as consumed depth does. All maker orders are post-only GTC: a maker never takes. A
leg refused because it would cross (a resting order of the bot priced through the makers'
quote) leaves its level empty until the next replenishment. A market's venue calls of one
tick go out as one ``SimVenue.amend_orders`` (cancels, reductions, then placements).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from src.sim.market_model.params import MarketModelParams
from src.sim.market_model.pricing import MICRO, NO_ASK, NO_BID, ladder_price
from src.sim.market_model.view import Quote
from src.sim.venue import (
    BookLevel,
    OrderRequest,
    OrderType,
    Side,
    SimVenue,
)

_BUY = Side.BUY
_SELL = Side.SELL
_GTC = OrderType.GTC


def _request(token_id: str, side: Side, price: int, size: int) -> OrderRequest:
    """A maker's post-only GTC order (price and size in micro-units)."""
    return OrderRequest(token_id, side, price, size, size * price // MICRO, _GTC, 0, True)


@dataclass(slots=True)
class MakerStats:
    """Counters of what the makers did at the venue.

    A **book update** is one maker order placed, cancelled or reduced in place.
    """

    placed: int = 0
    cancelled: int = 0
    reduced: int = 0
    rejected: int = 0
    requotes: int = 0
    mirror_fixes: int = 0
    replenishments: int = 0

    @property
    def book_updates(self) -> int:
        """Maker orders placed, cancelled or reduced: every change the makers made."""
        return self.placed + self.cancelled + self.reduced


class MakerPair:
    """Two equal orders, one per book, making one piece of a level's liquidity."""

    __slots__ = ("down_id", "down_rem", "level", "up_id", "up_rem")

    def __init__(self, level: MakerLevel, size: int) -> None:
        self.level = level
        self.up_id = ""
        self.down_id = ""
        self.up_rem = size
        self.down_rem = size


class MakerLevel:
    """One price of the makers' ladder (Up space) with its target and current pairs."""

    __slots__ = ("book", "is_bid", "pairs", "price", "short_since", "target")

    def __init__(self, book: MakerBook, is_bid: bool, price: int, target: int) -> None:
        self.book = book
        self.is_bid = is_bid
        self.price = price
        self.target = target
        self.pairs: list[MakerPair] = []
        self.short_since: float | None = None

    @property
    def size(self) -> int:
        """Shares the level offers on each book."""
        return sum(min(p.up_rem, p.down_rem) for p in self.pairs)


class MakerBook:
    """The makers' ladder in one market, posted on the Up and the Down book.

    ``index`` maps each live maker order id to its pair; the driver shares one index
    across markets so that a fill reported by the venue finds its level.
    """

    def __init__(
        self,
        venue: SimVenue,
        address: str,
        up_token: str,
        down_token: str,
        params: MarketModelParams,
        rng: random.Random,
        index: dict[str, MakerPair],
        stats: MakerStats,
        min_size: int,
    ) -> None:
        self._venue = venue
        self._address = address
        self.up_token = up_token
        self.down_token = down_token
        self._params = params
        self._rng = rng
        self._draws: list[float] = []
        self._index = index
        self._stats = stats
        self._min_size = min_size
        self._step = round(params.level_step * MICRO)
        self._wanted = params.levels
        self._fewest = params.min_levels
        self._most = params.max_levels
        self._medians = [
            params.depth_shares * params.depth_growth**k
            for k in range(2 * params.levels + 2)
        ]
        self.bids: dict[int, MakerLevel] = {}
        self.asks: dict[int, MakerLevel] = {}
        self.quote: Quote | None = None
        self.tick = 0
        self.replenish_due = math.inf
        """Earliest time a short level is due for a top-up (infinity: none)."""
        self._cancels: list[str] = []
        self._reduces: list[tuple[str, int]] = []
        self._places: list[tuple[MakerPair, bool, OrderRequest]] = []
        self._short: list[MakerLevel] = []
        self._thin: dict[bool, float | None] = {True: None, False: None}

    # -- quoting ---------------------------------------------------------------------------

    def apply(self, quote: Quote, now: float) -> None:
        """Move the ladder to ``quote`` (nothing at all when it is the current quote).
        Call :meth:`flush` afterwards."""
        if quote is self.quote:
            return
        self._stats.requotes += 1
        if quote.tick != self.tick:
            self._venue.set_tick_size(self.up_token, quote.tick)
            self._venue.set_tick_size(self.down_token, quote.tick)
            self.tick = quote.tick
        self._side(self.bids, quote.bid, True, quote.grid, now)
        self._side(self.asks, quote.ask, False, quote.grid, now)
        self.quote = quote

    @property
    def pending(self) -> bool:
        """True when venue calls are queued (see :meth:`flush`)."""
        return bool(self._cancels or self._reduces or self._places)

    def _side(
        self, levels: dict[int, MakerLevel], top: int, is_bid: bool, grid: int, now: float
    ) -> None:
        if top == (NO_BID if is_bid else NO_ASK):
            for price in list(levels):
                self._remove(levels, price)
            return
        most = self._most
        band = (most - 1) * self._step
        fresh = not levels
        if levels:
            if is_bid:
                low, high = top - band, top
            else:
                low, high = top, top + band
            for price in [p for p in levels if p < low or p > high or p % grid]:
                self._remove(levels, price)
        if top not in levels:
            self._add(levels, is_bid, top, 0)
        if len(levels) < self._fewest:
            if fresh:
                self._refill(levels, top, is_bid, grid)
            elif self._thin[is_bid] is None:
                # Depth behind a moved quote builds up over time, like consumed depth.
                self._thin[is_bid] = now
                due = now + self._params.replenish_delay_s
                if due < self.replenish_due:
                    self.replenish_due = due
        excess = len(levels) - most
        if excess > 0:
            for price in sorted(levels, reverse=not is_bid)[:excess]:
                self._remove(levels, price)

    def _refill(
        self, levels: dict[int, MakerLevel], top: int, is_bid: bool, grid: int
    ) -> None:
        """Add deep levels behind ``top`` until the side holds ``levels`` of them."""
        wanted = self._wanted
        step = self._step
        for k in range(1, 2 * wanted + 1):
            if len(levels) >= wanted:
                break
            price = ladder_price(top, k, step, grid, is_bid)
            if price is None:
                break
            if price not in levels:
                self._add(levels, is_bid, price, k)

    def _add(
        self, levels: dict[int, MakerLevel], is_bid: bool, price: int, depth: int
    ) -> None:
        draws = self._draws
        if not draws:
            self._draw_depths()
        median = self._medians[min(depth, len(self._medians) - 1)]
        target = max(self._min_size, round(median * draws.pop()) * MICRO)
        level = MakerLevel(self, is_bid, price, target)
        levels[price] = level
        self._post(level, target)

    def _draw_depths(self) -> None:
        """Log-normal size multipliers, drawn 256 at a time from the market's stream."""
        gauss = self._rng.gauss
        sd = self._params.depth_log_sd
        self._draws.extend(math.exp(sd * gauss(0.0, 1.0)) for _ in range(256))

    def _remove(self, levels: dict[int, MakerLevel], price: int) -> None:
        level = levels.pop(price)
        for pair in level.pairs:
            self._cancel_pair(pair)
        level.pairs.clear()

    # -- orders ----------------------------------------------------------------------------

    def _post(self, level: MakerLevel, size: int) -> None:
        """Queue a new pair of ``size`` shares at ``level``."""
        pair = MakerPair(level, size)
        level.pairs.append(pair)
        price = level.price
        up_side, down_side = (_BUY, _SELL) if level.is_bid else (_SELL, _BUY)
        places = self._places
        places.append((pair, True, _request(self.up_token, up_side, price, size)))
        places.append(
            (pair, False, _request(self.down_token, down_side, MICRO - price, size))
        )

    def _cancel_pair(self, pair: MakerPair) -> None:
        index = self._index
        if pair.up_id:
            index.pop(pair.up_id, None)
            self._cancels.append(pair.up_id)
        if pair.down_id:
            index.pop(pair.down_id, None)
            self._cancels.append(pair.down_id)
        pair.up_id = pair.down_id = ""
        pair.up_rem = pair.down_rem = 0

    def flush(self, now: float) -> None:
        """Send the queued cancels, reductions and orders in one venue call, in that order
        (so a new level never crosses a stale one of ours)."""
        cancels, self._cancels = self._cancels, []
        reduces, self._reduces = self._reduces, []
        places, self._places = self._places, []
        if not (cancels or reduces or places):
            return
        stats = self._stats
        results = self._venue.amend_orders(
            self._address, cancels, reduces, [request for _, _, request in places]
        )
        stats.cancelled += len(cancels)
        stats.reduced += len(reduces)
        index = self._index
        failed: list[MakerPair] = []
        for (pair, is_up, _), result in zip(places, results, strict=True):
            if not result.success:
                failed.append(pair)
                continue
            index[result.order_id] = pair
            if is_up:
                pair.up_id = result.order_id
            else:
                pair.down_id = result.order_id
        stats.placed += len(places) - len(failed)
        if failed:
            stats.rejected += len(failed)
            for pair in failed:
                self._drop_pair(pair, now)
            if self._cancels:
                cancels, self._cancels = self._cancels, []
                self._venue.cancel_orders(self._address, cancels)
                stats.cancelled += len(cancels)

    def _drop_pair(self, pair: MakerPair, now: float) -> None:
        """Withdraw a pair (both legs) and mark its level for replenishment."""
        level = pair.level
        if pair.up_id or pair.down_id:
            self._cancel_pair(pair)
        if pair in level.pairs:
            level.pairs.remove(pair)
        self._mark_short(level, now)

    def _mark_short(self, level: MakerLevel, now: float) -> None:
        if level.short_since is None:
            level.short_since = now
            self._short.append(level)
            due = now + self._params.replenish_delay_s
            if due < self.replenish_due:
                self.replenish_due = due

    # -- fills -----------------------------------------------------------------------------

    def on_leg_update(
        self, pair: MakerPair, order_id: str, remaining: int, now: float
    ) -> None:
        """A leg's open size changed at the venue (a fill, or a failed fill given back):
        shrink the other leg to match in place. Call :meth:`flush` afterwards."""
        if order_id == pair.up_id:
            if remaining == pair.up_rem:
                return
            pair.up_rem = remaining
            if not remaining:
                self._index.pop(order_id, None)
                pair.up_id = ""
        elif order_id == pair.down_id:
            if remaining == pair.down_rem:
                return
            pair.down_rem = remaining
            if not remaining:
                self._index.pop(order_id, None)
                pair.down_id = ""
        else:
            return
        self._stats.mirror_fixes += 1
        size = min(pair.up_rem, pair.down_rem)
        if not size:
            self._drop_pair(pair, now)
            return
        if pair.up_rem > size:
            pair.up_rem = size
            self._reduces.append((pair.up_id, size))
        elif pair.down_rem > size:
            pair.down_rem = size
            self._reduces.append((pair.down_id, size))
        level = pair.level
        if level.size < self._params.replenish_below * level.target:
            self._mark_short(level, now)

    def replenish(self, now: float) -> None:
        """Top up the levels that have been short for ``replenish_delay_s`` (a level that
        left the ladder meanwhile is forgotten), and rebuild the depth of a side left thin
        by a move as long ago. Call :meth:`flush` afterwards."""
        if now < self.replenish_due:
            return
        delay = self._params.replenish_delay_s
        waiting: list[MakerLevel] = []
        due = math.inf
        for level in self._short:
            levels = self.bids if level.is_bid else self.asks
            if levels.get(level.price) is not level:
                continue
            since = level.short_since
            if since is not None and now - since < delay:
                waiting.append(level)
                due = min(due, since + delay)
                continue
            level.short_since = None
            missing = level.target - level.size
            if missing >= self._min_size:
                self._stats.replenishments += 1
                self._post(level, missing)
        self._short = waiting
        quote = self.quote
        for is_bid in (True, False):
            since = self._thin[is_bid]
            if since is None:
                continue
            if now - since < delay:
                due = min(due, since + delay)
                continue
            self._thin[is_bid] = None
            levels = self.bids if is_bid else self.asks
            if quote is None or len(levels) >= self._fewest:
                continue
            top = quote.bid if is_bid else quote.ask
            if top != (NO_BID if is_bid else NO_ASK):
                self._refill(levels, top, is_bid, quote.grid)
        self.replenish_due = due

    def drop(self) -> None:
        """Forget the ladder (the venue cancels the orders itself as the market closes)."""
        index = self._index
        for levels in (self.bids, self.asks):
            for level in levels.values():
                for pair in level.pairs:
                    index.pop(pair.up_id, None)
                    index.pop(pair.down_id, None)
            levels.clear()
        self._cancels.clear()
        self._reduces.clear()
        self._places.clear()
        self._short.clear()
        self._thin = {True: None, False: None}
        self.replenish_due = math.inf
        self.quote = None

    # -- views -----------------------------------------------------------------------------

    def ladder(self, is_bid: bool) -> list[BookLevel]:
        """The makers' levels on one side in Up space, best first."""
        levels = self.bids if is_bid else self.asks
        return [
            BookLevel(price, levels[price].size) for price in sorted(levels, reverse=is_bid)
        ]
