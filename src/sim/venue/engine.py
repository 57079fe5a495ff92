"""The matching engine: validation, price-time matching, resting, cancelling and expiry.

All state lives here (markets, books, orders, trades, the ledger, the settlement queue);
:class:`~src.sim.venue.venue.SimVenue` wraps it with a lock, the clock and snapshots. The
engine never reads the time itself: every mutating call receives ``now``.

Validation runs in this order and the first failure is the answer (exact texts in
:mod:`src.sim.venue.errors`): duplicate id → post-only mode (only post-only orders
enter while the engine runs post-only) → unknown token → market not accepting orders →
post-only on FOK/FAK → tick → FOK/FAK amount precision → lot size (0.01 share) → minimum
size → GTD expiration (must be > now + 60 s) → balance → post-only crossing → marketable BUY
under $1 → FOK not fully fillable / FAK with nothing to match.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable, Iterable

from src.sim.venue import errors
from src.sim.venue.amounts import (
    LOT,
    MIN_MARKETABLE_BUY,
    lot_cost,
    market_precision_ok,
    micro_text,
)
from src.sim.venue.events import EventKind, EventLog, VenueEvent
from src.sim.venue.fees import taker_fee
from src.sim.venue.ledger import Account, Ledger
from src.sim.venue.markets import MarketState, TokenState, VenueMarket
from src.sim.venue.settlement import PendingTrade, Settlement
from src.sim.venue.types import (
    MARKET_ORDER_TYPES,
    CancelReason,
    FeeAsset,
    MakerFill,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    PlacementStatus,
    PlaceResult,
    Side,
    Trade,
    TradeStatus,
)
from src.utils.money import MICRO

GTD_THRESHOLD_SECONDS = 60
"""A GTD order's expiration must be more than this many seconds in the future."""

_LIVE = OrderStatus.LIVE
_MATCHED = OrderStatus.MATCHED
_BUY = Side.BUY
_FOK = OrderType.FOK
_FAK = OrderType.FAK
_GTD = OrderType.GTD


_FOK_KILL = (
    errors.RejectCode.FOK_NOT_FILLED,
    errors.FOK_NOT_FILLED,
    CancelReason.FOK_KILLED,
)
_FAK_KILL = (
    errors.RejectCode.FAK_NOT_FILLED,
    errors.FAK_NOT_FILLED,
    CancelReason.FAK_REMAINDER,
)


def _reject(order_id: str, code: errors.RejectCode, message: str) -> PlaceResult:
    return PlaceResult(False, order_id, message, code)


class MatchingEngine:
    """Books, orders, trades and balances of one simulated venue (not thread-safe)."""

    def __init__(
        self,
        *,
        seed: int = 0,
        failure_probability: float = 0.0,
        confirm_delay: float = 0.0,
        record_events: bool = True,
        max_events: int = 100_000,
    ) -> None:
        if not 0.0 <= failure_probability <= 1.0:
            raise ValueError(
                f"failure_probability must lie in [0, 1]: {failure_probability}"
            )
        if confirm_delay < 0:
            raise ValueError(f"confirm_delay must be ≥ 0: {confirm_delay}")
        self.failure_probability = failure_probability
        self.confirm_delay = confirm_delay
        self.post_only_mode = False
        # address → callback(order_id, remaining) on every change of its placed orders
        self.order_watchers: dict[str, Callable[[str, int], None]] = {}
        self.ledger = Ledger()
        self.events = EventLog(record_events, max_events)
        self.markets: dict[str, MarketState] = {}
        self.tokens: dict[str, TokenState] = {}
        self.orders: dict[str, Order] = {}
        self.trades: dict[str, Trade] = {}
        self.orders_by_account: dict[str, list[Order]] = {}
        self.trades_by_account: dict[str, list[Trade]] = {}
        self.live_by_account: dict[str, dict[str, Order]] = {}
        self.history_accounts: set[str] = set()
        self.settlement = Settlement(self.ledger, self._order_changed, self._trade_changed)
        self._rng = random.Random(seed)
        self._order_seq = 0
        self._trade_seq = 0
        # moves whenever a trade is stored or changes status: readers of the trade history
        # (the in-process venue's fills, every tick) skip it while the count stands still
        self.trade_changes = 0
        self._expiry_heap: list[tuple[int, int, Order]] = []
        self._heap_seq = itertools.count()
        self._closing_heap: list[tuple[float, str]] = []

    # -- registration ----------------------------------------------------------------------

    def register_market(self, spec: VenueMarket, now: float) -> MarketState:
        """Add a market and its two books."""
        if spec.condition_id in self.markets:
            raise errors.DuplicateMarketError(
                f"market {spec.condition_id} already registered"
            )
        if spec.up_token_id == spec.down_token_id or any(
            t in self.tokens for t in spec.token_ids
        ):
            raise errors.DuplicateMarketError(
                f"token ids of {spec.slug} already registered"
            )
        market = MarketState(spec)
        self.markets[spec.condition_id] = market
        for token in market.tokens:
            self.tokens[token.token_id] = token
        heapq.heappush(self._closing_heap, (market.end_time, spec.condition_id))
        self._emit_market(EventKind.MARKET_REGISTERED, market, now)
        return market

    def open_account(self, address: str, auto_fund: bool, keep_history: bool) -> Account:
        """Create (or update the flags of) an account."""
        account = self.ledger.open(address, auto_fund)
        if keep_history:
            self.history_accounts.add(address)
            self.orders_by_account.setdefault(address, [])
            self.trades_by_account.setdefault(address, [])
        else:
            self.history_accounts.discard(address)
        return account

    def market(self, condition_id: str) -> MarketState:
        """The market of ``condition_id``; raises :class:`UnknownMarketError`."""
        try:
            return self.markets[condition_id]
        except KeyError:
            raise errors.UnknownMarketError(f"no market {condition_id!r}") from None

    def token(self, token_id: str) -> TokenState:
        """The token ``token_id``; raises :class:`UnknownMarketError`."""
        try:
            return self.tokens[token_id]
        except KeyError:
            raise errors.UnknownMarketError(f"no token {token_id!r}") from None

    # -- placement -------------------------------------------------------------------------

    def next_order_id(self) -> str:
        """A fresh venue-style order id (``0x`` + 64 hex), deterministic by sequence."""
        self._order_seq += 1
        return f"0x{self._order_seq:064x}"

    def place(self, account: Account, req: OrderRequest, now: float) -> PlaceResult:
        """Validate, match and (for GTC/GTD) rest one order."""
        order_id = req.order_id
        if order_id is None:
            order_id = self.next_order_id()
        elif order_id in self.orders:
            return _reject(
                order_id, errors.RejectCode.DUPLICATED, errors.duplicated_error(order_id)
            )
        if self.post_only_mode and not req.post_only:
            return _reject(
                order_id, errors.RejectCode.POST_ONLY_MODE, errors.POST_ONLY_MODE
            )
        token = self.tokens.get(req.token_id)
        if token is None:
            return _reject(
                order_id,
                errors.RejectCode.ORDERBOOK_MISSING,
                errors.orderbook_missing_error(req.token_id),
            )
        market = token.market
        if not market.accepts_orders_at(now):
            return _reject(
                order_id, errors.RejectCode.MARKET_NOT_READY, errors.MARKET_NOT_READY
            )
        if self._expiry_heap and self._expiry_heap[0][0] <= now:
            self.expire_due(now)
        order_type = req.order_type
        is_market = order_type in MARKET_ORDER_TYPES
        if req.post_only and is_market:
            return _reject(
                order_id, errors.RejectCode.POST_ONLY_TYPE, errors.POST_ONLY_TYPE
            )
        price = req.price
        tick = token.tick
        if not (0 < price < MICRO and price % tick == 0):
            return _reject(
                order_id,
                errors.RejectCode.MIN_TICK_SIZE,
                errors.tick_size_error(order_id, micro_text(price), micro_text(tick)),
            )
        is_buy = req.side is _BUY
        size = req.size
        if is_market:
            amount = req.amount
            maker, taker = (amount, size) if is_buy else (size, amount)
            if maker <= 0 or taker <= 0 or not market_precision_ok(maker, taker):
                text = (
                    errors.MARKET_BUY_PRECISION if is_buy else errors.MARKET_SELL_PRECISION
                )
                return _reject(order_id, errors.RejectCode.MARKET_PRECISION, text)
        else:
            if size <= 0 or size % LOT:
                return _reject(
                    order_id,
                    errors.RejectCode.INVALID_PAYLOAD,
                    errors.INVALID_ORDER_PAYLOAD,
                )
            amount = size * price // MICRO
        if size < market.min_size:
            return _reject(
                order_id,
                errors.RejectCode.MIN_SIZE,
                errors.min_size_error(
                    order_id, micro_text(size), micro_text(market.min_size)
                ),
            )
        if order_type is _GTD and req.expiration <= now + GTD_THRESHOLD_SECONDS:
            return _reject(
                order_id, errors.RejectCode.EXPIRATION, errors.INVALID_EXPIRATION
            )
        ledger = self.ledger
        token_id = token.token_id
        if not ledger.can_pay(account, is_buy, token_id, amount if is_buy else size):
            return _reject(
                order_id, errors.RejectCode.NOT_ENOUGH_BALANCE, errors.NOT_ENOUGH_BALANCE
            )
        book = token.book
        crosses = book.crosses(is_buy, price)
        if crosses and req.post_only:
            return _reject(
                order_id, errors.RejectCode.POST_ONLY_CROSSES, errors.POST_ONLY_CROSSES
            )
        if is_buy and (crosses or is_market) and amount < MIN_MARKETABLE_BUY:
            return _reject(
                order_id,
                errors.RejectCode.MARKETABLE_BUY_MIN,
                errors.marketable_buy_min_error(micro_text(amount)),
            )
        market_buy = is_buy and is_market
        opposite = book.opposite(is_buy)
        kill: tuple[errors.RejectCode, str, CancelReason] | None = None
        if order_type is _FOK:
            if market_buy:
                fillable = opposite.budget_left_after(price, amount) < lot_cost(price)
            else:
                fillable = opposite.can_fill(price, size)
            if not fillable:
                kill = _FOK_KILL
        elif order_type is _FAK and not crosses:
            kill = _FAK_KILL

        order = Order(
            order_id,
            account.address,
            market.condition_id,
            token_id,
            token.outcome,
            req.side,
            order_type,
            price,
            size,
            amount,
            req.expiration if order_type is _GTD else 0,
            req.post_only,
            now,
            updated_at=now,
        )
        # Orders of no-history accounts are findable only while they live (see _forget).
        keep = account.address in self.history_accounts
        self.orders[order_id] = order
        if keep:
            self.orders_by_account[account.address].append(order)
        if kill is not None:
            order.status = OrderStatus.CANCELED
            order.cancel_reason = kill[2]
            self._order_changed(order, now, EventKind.ORDER_CANCELED)
            return PlaceResult(False, order_id, kill[1], kill[0], order=order.snapshot())

        if account.auto_fund:
            ledger.top_up(account, market, token_id, is_buy, amount if is_buy else size)
        events_on = self.events.active
        if events_on:
            self.events.emit(_placement_event(order, now))
        trade: Trade | None = None
        if crosses:
            if market_buy:
                fills = opposite.take_budget(price, amount)
            else:
                fills = opposite.take(price, size)
            if fills:
                trade = self._record_trade(order, account, token, fills, now)

        if is_market:
            order.status = _MATCHED
            if order_type is _FAK and (
                order.matched_notional + lot_cost(price) <= amount
                if market_buy
                else order.matched < size
            ):
                order.cancel_reason = CancelReason.FAK_REMAINDER
        else:
            rest = size - order.matched
            if rest:
                order.remaining = rest
                if is_buy:
                    ledger.reserve_collateral(account, rest * price // MICRO)
                else:
                    ledger.reserve_tokens(account, token_id, rest)
                book.side_for(is_buy).add(order)
                live = self.live_by_account.get(account.address)
                if live is None:
                    live = self.live_by_account[account.address] = {}
                live[order_id] = order
                if order_type is _GTD:
                    heapq.heappush(
                        self._expiry_heap, (order.expiration, next(self._heap_seq), order)
                    )
            else:
                order.status = _MATCHED
        if trade is not None and events_on:
            self._order_changed(order, now, EventKind.ORDER_UPDATED)
        if not keep and order.status is not _LIVE:
            self.orders.pop(order_id, None)
        if trade is None:
            return PlaceResult(
                True, order_id, status=PlacementStatus.LIVE, order=order.snapshot()
            )
        if is_buy:
            making, taking = trade.notional, trade.size
        else:
            making, taking = trade.size, trade.notional
        return PlaceResult(
            True,
            order_id,
            status=PlacementStatus.MATCHED,
            making_amount=making,
            taking_amount=taking,
            trade_ids=(trade.trade_id,),
            order=order.snapshot(),
        )

    def _record_trade(
        self,
        taker: Order,
        account: Account,
        token: TokenState,
        fills: list[tuple[Order, int]],
        now: float,
    ) -> Trade:
        """Book a match: escrow both sides, update the orders, queue the settlement."""
        self._trade_seq += 1
        trade_id = f"00000000-0000-4000-8000-{self._trade_seq:012x}"
        ledger = self.ledger
        accounts = ledger.accounts
        rate = token.market.fee_rate
        is_buy = taker.side is _BUY
        maker_side = Side.SELL if is_buy else _BUY
        token_id = token.token_id
        live_by_account = self.live_by_account
        maker_fills: list[MakerFill] = []
        makers: list[Order] = []
        total_size = total_cash = fee = 0
        events_on = self.events.active
        for maker, shares in fills:
            price = maker.price
            cash = shares * price // MICRO
            total_size += shares
            total_cash += cash
            if rate:
                fee += taker_fee(is_buy, shares, price, rate)
            owner = accounts[maker.account]
            if is_buy:
                ledger.escrow_tokens_from(owner, token_id, shares, reserved=True)
            else:
                ledger.escrow_collateral_from(owner, cash, reserved=True)
            maker.matched += shares
            maker.matched_notional += cash
            maker.trade_ids += (trade_id,)
            maker.updated_at = now
            if not maker.remaining:
                maker.status = _MATCHED
                del live_by_account[maker.account][maker.order_id]
            maker_fills.append(
                MakerFill(maker.order_id, maker.account, maker_side, price, shares, cash)
            )
            makers.append(maker)
            self._order_changed(maker, now, EventKind.ORDER_UPDATED)
        if is_buy:
            ledger.escrow_collateral_from(account, total_cash, reserved=False)
        else:
            ledger.escrow_tokens_from(account, token_id, total_size, reserved=False)
        taker.matched += total_size
        taker.matched_notional += total_cash
        taker.trade_ids += (trade_id,)
        last_price = fills[-1][0].price
        trade = Trade(
            trade_id,
            token.market.condition_id,
            token_id,
            token.outcome,
            taker.order_id,
            account.address,
            taker.side,
            total_size,
            total_cash,
            fee,
            FeeAsset.SHARES if is_buy else FeeAsset.COLLATERAL,
            rate,
            total_cash * MICRO // total_size,
            TradeStatus.MATCHED,
            now,
            now,
            tuple(maker_fills),
        )
        book = token.book
        book.last_trade_price = last_price
        book.last_trade_side = taker.side
        will_fail = self._rng.random() < self.failure_probability
        self.settlement.add(
            PendingTrade(trade, taker, makers, token, now + self.confirm_delay, will_fail)
        )
        self._store_trade(trade)
        if events_on:
            self._trade_changed(trade)
        return trade

    def _store_trade(self, trade: Trade) -> None:
        self.trade_changes += 1
        history = self.history_accounts
        parties = {trade.taker_account}
        parties.update(fill.account for fill in trade.maker_fills)
        kept = parties & history
        if not kept:
            return
        self.trades[trade.trade_id] = trade
        for address in kept:
            self.trades_by_account[address].append(trade)

    # -- cancelling and expiry -------------------------------------------------------------

    def cancel_order(
        self, order: Order, now: float, status: OrderStatus, reason: CancelReason
    ) -> None:
        """Take a live order off its book and release its reservation."""
        rest = order.remaining
        token = self.tokens[order.token_id]
        is_buy = order.side is _BUY
        token.book.side_for(is_buy).unlink(order, rest)
        account = self.ledger.accounts[order.account]
        if is_buy:
            self.ledger.release_collateral(account, rest * order.price // MICRO)
        else:
            self.ledger.release_tokens(account, order.token_id, rest)
        order.remaining = 0
        order.status = status
        order.cancel_reason = reason
        order.updated_at = now
        del self.live_by_account[order.account][order.order_id]
        self._order_changed(order, now, EventKind.ORDER_CANCELED)

    def reduce_order(self, order: Order, remaining: int, now: float) -> None:
        """Shrink a live order's open size to ``remaining`` (0 < remaining < current) in
        place: it keeps its queue position, the freed part of its reservation is released.
        Not a venue API: the market model uses it to keep its mirrored quotes equal."""
        cut = order.remaining - remaining
        is_buy = order.side is _BUY
        self.tokens[order.token_id].book.side_for(is_buy).shrink(order, cut)
        account = self.ledger.accounts[order.account]
        if is_buy:
            self.ledger.release_collateral(account, cut * order.price // MICRO)
        else:
            self.ledger.release_tokens(account, order.token_id, cut)
        order.remaining = remaining
        order.updated_at = now
        self._order_changed(order, now, EventKind.ORDER_UPDATED)

    def cancel_ids(
        self, address: str, order_ids: Iterable[str], now: float
    ) -> tuple[list[str], dict[str, str]]:
        """Cancel ``address``'s orders by id; returns (cancelled, {id: reason not})."""
        live = self.live_by_account.get(address, {})
        canceled: list[str] = []
        refused: dict[str, str] = {}
        for order_id in order_ids:
            order = live.get(order_id)
            if order is not None:
                self.cancel_order(order, now, OrderStatus.CANCELED, CancelReason.USER)
                canceled.append(order_id)
                continue
            known = self.orders.get(order_id)
            if known is not None and known.account == address:
                refused[order_id] = errors.NOT_CANCELED_DONE
            else:
                refused[order_id] = errors.NOT_CANCELED_NOT_FOUND
        return canceled, refused

    def live_orders(
        self,
        address: str | None = None,
        condition_id: str | None = None,
        token_id: str | None = None,
    ) -> list[Order]:
        """Live orders, oldest first, filtered by owner, market and token."""
        if address is not None:
            pool: Iterable[Order] = self.live_by_account.get(address, {}).values()
        else:
            pool = (o for live in self.live_by_account.values() for o in live.values())
        found = [
            o
            for o in pool
            if (condition_id is None or o.market == condition_id)
            and (token_id is None or o.token_id == token_id)
        ]
        if address is None:
            found.sort(key=_created_at)  # stable: each account's queue order is kept
        return found

    def expire_due(self, now: float) -> list[str]:
        """Cancel every GTD order whose expiration has come; returns their ids."""
        heap = self._expiry_heap
        expired: list[str] = []
        while heap and heap[0][0] <= now:
            order = heapq.heappop(heap)[2]
            if order.status is _LIVE:
                self.cancel_order(order, now, OrderStatus.CANCELED, CancelReason.EXPIRED)
                expired.append(order.order_id)
        return expired

    # -- markets over time -----------------------------------------------------------------

    def close_market(self, market: MarketState, now: float) -> list[str]:
        """Stop accepting orders and cancel every resting order of ``market``."""
        canceled: list[str] = []
        if not market.closed:
            market.accepting = False
            market.closed = True
            for token in market.tokens:
                for side in (token.book.bids, token.book.asks):
                    for level in list(side.levels.values()):
                        for order in list(level.orders):
                            if order.status is _LIVE:
                                self.cancel_order(
                                    order,
                                    now,
                                    OrderStatus.CANCELED_MARKET_RESOLVED,
                                    CancelReason.MARKET_CLOSED,
                                )
                                canceled.append(order.order_id)
            self._emit_market(EventKind.MARKET_CLOSED, market, now)
        return canceled

    def close_due(self, now: float) -> list[str]:
        """Close every market whose end time has come; returns their condition ids."""
        heap = self._closing_heap
        closed: list[str] = []
        while heap and heap[0][0] <= now:
            condition_id = heapq.heappop(heap)[1]
            market = self.markets[condition_id]
            if not market.closed:
                self.close_market(market, now)
                closed.append(condition_id)
        return closed

    def set_tick(self, token: TokenState, tick: int, now: float) -> None:
        """Change one token's tick (resting orders keep their prices)."""
        if tick == token.tick:
            return
        token.tick = tick
        if self.events.active:
            self.events.emit(
                VenueEvent(
                    0,
                    now,
                    EventKind.TICK_SIZE_CHANGED,
                    token.market.condition_id,
                    token.token_id,
                    detail=str(tick),
                )
            )

    # -- events ----------------------------------------------------------------------------

    def _order_changed(
        self, order: Order, now: float, kind: EventKind = EventKind.ORDER_UPDATED
    ) -> None:
        if not order.is_live:
            self._forget_if_anonymous(order)
        watcher = self.order_watchers.get(order.account)
        if watcher is not None:
            watcher(order.order_id, order.remaining)
        if self.events.active:
            self.events.emit(
                VenueEvent(
                    0,
                    now,
                    kind,
                    order.market,
                    order.token_id,
                    order.order_id,
                    "",
                    order.account,
                    order.side,
                    order.price,
                    order.status,
                    order.matched,
                    order.remaining,
                    order.cancel_reason or "",
                )
            )

    def _forget_if_anonymous(self, order: Order) -> None:
        """Drop a finished order of a no-history account (pending trades still hold it)."""
        if order.account not in self.history_accounts:
            self.orders.pop(order.order_id, None)

    def _trade_changed(self, trade: Trade) -> None:
        self.trade_changes += 1
        if self.events.active:
            self.events.emit(
                VenueEvent(
                    0,
                    trade.last_update,
                    EventKind.TRADE,
                    trade.market,
                    trade.token_id,
                    trade.taker_order_id,
                    trade.trade_id,
                    trade.taker_account,
                    trade.side,
                    trade.price,
                    trade.status,
                    trade.size,
                )
            )

    def _emit_market(self, kind: EventKind, market: MarketState, now: float) -> None:
        if self.events.active:
            winner = market.winner
            detail = market.spec.token_of(winner) if winner is not None else ""
            self.events.emit(VenueEvent(0, now, kind, market.condition_id, detail=detail))

    def emit_market(self, kind: EventKind, market: MarketState, now: float) -> None:
        """Record a market-level event (resolution)."""
        self._emit_market(kind, market, now)

    def total_backing(self) -> int:
        """Collateral locked in complete sets, over all markets."""
        return sum(m.backing for m in self.markets.values())


def _placement_event(order: Order, now: float) -> VenueEvent:
    """The PLACEMENT record: nothing matched yet, the whole size still open."""
    return VenueEvent(
        0,
        now,
        EventKind.ORDER_PLACED,
        order.market,
        order.token_id,
        order.order_id,
        "",
        order.account,
        order.side,
        order.price,
        order.status,
        0,
        order.size,
    )


def _created_at(order: Order) -> float:
    return order.created_at


def settle_filter(condition_id: str) -> Callable[[PendingTrade], bool]:
    """A predicate selecting the pending trades of one market."""
    return lambda pending: pending.trade.market == condition_id
