"""Two-phase settlement: a MATCHED trade later becomes CONFIRMED, or FAILED and rolled back.

Whether a trade will fail is drawn from the venue's seeded RNG **when it is matched**, so
the sequence of draws depends only on the sequence of matches, never on when ``step`` runs:
the same seed and the same calls give the same trades and the same failures.

Rollback of a FAILED trade is exact: each side gets back what it gave (from escrow), and
the orders' matched amounts shrink by the failed fill. What happens to the size:

* a resting (maker) order that is **still live** gets the shares back in place — same price,
  same queue position — and its reservation is restored;
* an order that is no longer live (fully matched, cancelled, expired, killed, market closed)
  and every taker order does **not** get the size back: it is voided, the refund goes to the
  free balance, and an order that had been fully MATCHED becomes CANCELED (reason
  ``trade_failed``). A taker is never re-posted because its limit price may have moved
  through the book since; a bot sees ``size_matched`` fall and decides itself.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from src.sim.venue.ledger import FEE_COLLECTOR, Ledger
from src.sim.venue.markets import TokenState
from src.sim.venue.types import (
    CancelReason,
    Order,
    OrderStatus,
    Side,
    Trade,
    TradeStatus,
)

OrderUpdated = Callable[[Order, float], None]
TradeUpdated = Callable[[Trade], None]


class PendingTrade:
    """A MATCHED trade awaiting settlement, with the orders it touched."""

    __slots__ = ("due", "makers", "taker", "token", "trade", "will_fail")

    def __init__(
        self,
        trade: Trade,
        taker: Order,
        makers: list[Order],
        token: TokenState,
        due: float,
        will_fail: bool,
    ) -> None:
        self.trade = trade
        self.taker = taker
        self.makers = makers
        self.token = token
        self.due = due
        self.will_fail = will_fail


class Settlement:
    """The queue of MATCHED trades and the confirm/fail rules (FIFO: one delay for all)."""

    __slots__ = ("_by_id", "_ledger", "_on_order", "_on_trade", "_queue")

    def __init__(
        self, ledger: Ledger, on_order: OrderUpdated, on_trade: TradeUpdated
    ) -> None:
        self._ledger = ledger
        self._on_order = on_order
        self._on_trade = on_trade
        self._queue: deque[PendingTrade] = deque()
        self._by_id: dict[str, PendingTrade] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def add(self, pending: PendingTrade) -> None:
        """Queue a freshly MATCHED trade."""
        self._queue.append(pending)
        self._by_id[pending.trade.trade_id] = pending

    def is_pending(self, trade_id: str) -> bool:
        """True while ``trade_id`` is MATCHED and not yet settled."""
        return trade_id in self._by_id

    def settle_due(self, now: float) -> tuple[list[str], list[str]]:
        """Settle every trade whose delay has elapsed; returns (confirmed, failed) ids."""
        queue = self._queue
        confirmed: list[str] = []
        failed: list[str] = []
        while queue and queue[0].due <= now:
            pending = queue.popleft()
            if pending.trade.trade_id in self._by_id:
                self._settle(pending, now, confirmed, failed)
        return confirmed, failed

    def settle_ids(self, trade_ids: list[str], now: float) -> tuple[list[str], list[str]]:
        """Settle the named trades now, whatever their delay (unknown ids are ignored)."""
        confirmed: list[str] = []
        failed: list[str] = []
        for trade_id in trade_ids:
            pending = self._by_id.get(trade_id)
            if pending is not None:
                self._settle(pending, now, confirmed, failed)
        return confirmed, failed

    def settle_where(
        self, keep: Callable[[PendingTrade], bool], now: float
    ) -> tuple[list[str], list[str]]:
        """Settle now every pending trade for which ``keep`` is true, in match order."""
        chosen = [p.trade.trade_id for p in self._queue if p.trade.trade_id in self._by_id]
        chosen = [i for i in chosen if keep(self._by_id[i])]
        return self.settle_ids(chosen, now)

    def _settle(
        self, pending: PendingTrade, now: float, confirmed: list[str], failed: list[str]
    ) -> None:
        del self._by_id[pending.trade.trade_id]
        if pending.will_fail:
            self._fail(pending, now)
            failed.append(pending.trade.trade_id)
        else:
            self._confirm(pending, now)
            confirmed.append(pending.trade.trade_id)

    def _confirm(self, pending: PendingTrade, now: float) -> None:
        ledger = self._ledger
        accounts = ledger.accounts
        trade = pending.trade
        token_id = trade.token_id
        taker = accounts[trade.taker_account]
        if trade.side is Side.BUY:
            ledger.pay_tokens(taker, token_id, trade.size - trade.fee)
            if trade.fee:
                ledger.pay_tokens(accounts[FEE_COLLECTOR], token_id, trade.fee)
            for fill in trade.maker_fills:
                ledger.pay_collateral(accounts[fill.account], fill.notional)
        else:
            ledger.pay_collateral(taker, trade.notional - trade.fee)
            if trade.fee:
                ledger.pay_collateral(accounts[FEE_COLLECTOR], trade.fee)
            for fill in trade.maker_fills:
                ledger.pay_tokens(accounts[fill.account], token_id, fill.size)
        trade.status = TradeStatus.CONFIRMED
        trade.last_update = now
        self._on_trade(trade)

    def _fail(self, pending: PendingTrade, now: float) -> None:
        ledger = self._ledger
        accounts = ledger.accounts
        trade = pending.trade
        token_id = trade.token_id
        taker_buys = trade.side is Side.BUY
        taker = accounts[trade.taker_account]
        if taker_buys:
            ledger.pay_collateral(taker, trade.notional)
        else:
            ledger.pay_tokens(taker, token_id, trade.size)
        _void(pending.taker, trade.size, trade.notional, now)
        self._on_order(pending.taker, now)
        side = pending.token.book.side_for(not taker_buys)
        for fill, maker in zip(trade.maker_fills, pending.makers, strict=True):
            owner = accounts[fill.account]
            live = maker.status is OrderStatus.LIVE
            if taker_buys:
                ledger.pay_tokens(owner, token_id, fill.size, reserved=live)
            else:
                ledger.pay_collateral(owner, fill.notional, reserved=live)
            if live:
                maker.matched -= fill.size
                maker.matched_notional -= fill.notional
                maker.remaining += fill.size
                maker.updated_at = now
                side.restore(maker, fill.size)
            else:
                _void(maker, fill.size, fill.notional, now)
            self._on_order(maker, now)
        trade.status = TradeStatus.FAILED
        trade.last_update = now
        self._on_trade(trade)


def _void(order: Order, shares: int, cash: int, now: float) -> None:
    """Take a failed fill off an order without giving the size back."""
    order.matched -= shares
    order.matched_notional -= cash
    order.updated_at = now
    if order.status is OrderStatus.MATCHED:
        order.status = OrderStatus.CANCELED
        order.cancel_reason = CancelReason.TRADE_FAILED
