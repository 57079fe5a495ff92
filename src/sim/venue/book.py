"""A price-time priority order book for one token.

Each side keeps a dict ``price → PriceLevel`` (a FIFO ``deque`` of orders plus the live
size and count) and a sorted list of keys with the **best price last**, so reading or
removing the best level is O(1) and adding a level is one ``bisect.insort``. Bids are keyed
by ``price`` and asks by ``-price``; "price acceptable to a taker" is then ``key ≥ sign ×
limit`` on both sides.

Cancellation is lazy: a cancelled order stays in its level's deque, marked not LIVE, and is
skipped and dropped when it reaches the front; the level's ``size``/``count`` are updated at
once, and a level whose live count reaches zero is removed with its dead entries. The book
only moves shares between orders; money is the engine's business.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque

from src.sim.venue.amounts import affordable_lots, notional
from src.sim.venue.types import BookLevel, Order, OrderStatus

_LIVE = OrderStatus.LIVE


class PriceLevel:
    """Orders resting at one price, oldest first, with their live total."""

    __slots__ = ("count", "orders", "price", "size")

    def __init__(self, price: int) -> None:
        self.price = price
        self.orders: deque[Order] = deque()
        self.size = 0
        self.count = 0


class BookSide:
    """One side of a book (bids or asks)."""

    __slots__ = ("keys", "levels", "sign")

    def __init__(self, is_bid: bool) -> None:
        self.sign = 1 if is_bid else -1
        self.levels: dict[int, PriceLevel] = {}
        self.keys: list[int] = []

    def __len__(self) -> int:
        return len(self.keys)

    def best_price(self) -> int | None:
        """The best price on this side, or None when it is empty."""
        keys = self.keys
        return self.sign * keys[-1] if keys else None

    def add(self, order: Order) -> None:
        """Queue ``order`` (with its ``remaining`` already set) behind its price level."""
        price = order.price
        level = self.levels.get(price)
        if level is None:
            level = PriceLevel(price)
            self.levels[price] = level
            insort(self.keys, self.sign * price)
        level.orders.append(order)
        level.size += order.remaining
        level.count += 1

    def unlink(self, order: Order, remaining: int) -> None:
        """Account for ``order`` leaving the book (its deque entry is dropped lazily)."""
        level = self.levels[order.price]
        level.size -= remaining
        level.count -= 1
        if level.count == 0:
            self._drop(level.price)

    def restore(self, order: Order, shares: int) -> None:
        """Give ``shares`` back to a live resting order, in place (a failed fill)."""
        self.levels[order.price].size += shares

    def shrink(self, order: Order, shares: int) -> None:
        """Take ``shares`` off a live resting order's level, in place (a reduce)."""
        self.levels[order.price].size -= shares

    def _drop(self, price: int) -> None:
        del self.levels[price]
        keys = self.keys
        del keys[bisect_left(keys, self.sign * price)]

    def level_size(self, price: int) -> int:
        """Live size resting at ``price`` (0 when there is no level)."""
        level = self.levels.get(price)
        return level.size if level is not None else 0

    def depth(self, max_levels: int | None = None) -> tuple[BookLevel, ...]:
        """Aggregated levels, best first."""
        keys = self.keys
        count = len(keys) if max_levels is None else min(max_levels, len(keys))
        levels = self.levels
        sign = self.sign
        return tuple(
            BookLevel(sign * key, levels[sign * key].size)
            for key in keys[len(keys) - count :][::-1]
        )

    def can_fill(self, limit: int, shares: int) -> bool:
        """True when at least ``shares`` rest at prices acceptable to ``limit``."""
        limit_key = self.sign * limit
        keys = self.keys
        levels = self.levels
        sign = self.sign
        total = 0
        for index in range(len(keys) - 1, -1, -1):
            key = keys[index]
            if key < limit_key:
                return False
            total += levels[sign * key].size
            if total >= shares:
                return True
        return False

    def budget_left_after(self, limit: int, budget: int) -> int:
        """Collateral left once ``budget`` bought whole lots here, up to ``limit``."""
        limit_key = self.sign * limit
        keys = self.keys
        levels = self.levels
        sign = self.sign
        for index in range(len(keys) - 1, -1, -1):
            key = keys[index]
            if key < limit_key:
                break
            price = sign * key
            size = levels[price].size
            shares = min(size, affordable_lots(budget, price))
            budget -= notional(shares, price)
            if shares < size:
                break
        return budget

    def take(self, limit: int, shares: int) -> list[tuple[Order, int]]:
        """Match up to ``shares`` against this side, best price first, oldest first.

        Returns ``(maker, shares)`` pairs; the makers' ``remaining`` is already reduced and
        fully filled makers have left the queue (their status is the caller's to set).
        """
        fills: list[tuple[Order, int]] = []
        limit_key = self.sign * limit
        keys = self.keys
        levels = self.levels
        sign = self.sign
        while shares and keys and keys[-1] >= limit_key:
            price = sign * keys[-1]
            level = levels[price]
            shares -= _drain(level, shares, fills)
            if level.count == 0:
                del levels[price]
                keys.pop()
        return fills

    def take_budget(self, limit: int, budget: int) -> list[tuple[Order, int]]:
        """Like :meth:`take`, buying whole lots with ``budget`` collateral (market BUY)."""
        fills: list[tuple[Order, int]] = []
        limit_key = self.sign * limit
        keys = self.keys
        levels = self.levels
        sign = self.sign
        while keys and keys[-1] >= limit_key:
            price = sign * keys[-1]
            wanted = affordable_lots(budget, price)
            if not wanted:
                break
            level = levels[price]
            # Whole lots at one price: the collateral of the total equals the sum per fill.
            budget -= notional(_drain(level, wanted, fills), price)
            if level.count == 0:
                del levels[price]
                keys.pop()
            else:
                break  # the budget ran out inside this level
        return fills


def _drain(level: PriceLevel, wanted: int, fills: list[tuple[Order, int]]) -> int:
    """Take up to ``wanted`` shares from one level in time priority; returns the shares
    taken. Cancelled orders still in the queue are dropped on the way."""
    orders = level.orders
    taken = 0
    while wanted:
        maker = orders[0]
        if maker.status is not _LIVE:
            orders.popleft()
            continue
        rest = maker.remaining
        if rest <= wanted:
            orders.popleft()
            level.count -= 1
            maker.remaining = 0
            fill = rest
        else:
            maker.remaining = rest - wanted
            fill = wanted
        level.size -= fill
        wanted -= fill
        taken += fill
        fills.append((maker, fill))
        if level.count == 0:
            break
    return taken


class OrderBook:
    """Both sides of one token's book, plus its last trade."""

    __slots__ = ("asks", "bids", "last_trade_price", "last_trade_side", "token_id")

    def __init__(self, token_id: str) -> None:
        self.token_id = token_id
        self.bids = BookSide(is_bid=True)
        self.asks = BookSide(is_bid=False)
        self.last_trade_price: int | None = None
        self.last_trade_side: str | None = None

    def side_for(self, is_buy: bool) -> BookSide:
        """The side a resting order of this direction joins."""
        return self.bids if is_buy else self.asks

    def opposite(self, is_buy: bool) -> BookSide:
        """The side a taker of this direction trades against."""
        return self.asks if is_buy else self.bids

    def crosses(self, is_buy: bool, price: int) -> bool:
        """True when an order at ``price`` would match at once."""
        if is_buy:
            keys = self.asks.keys
            return bool(keys) and -keys[-1] <= price
        keys = self.bids.keys
        return bool(keys) and keys[-1] >= price
