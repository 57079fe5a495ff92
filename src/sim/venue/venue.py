"""``SimVenue``: the simulated Polymarket CLOB for the 15-minute Up/Down markets.

A thread-safe façade over :class:`~src.sim.venue.engine.MatchingEngine`. It reads the time
from the :class:`~src.utils.clock.Clock` port, takes one lock per call, and hands out
snapshots (mutating a returned object changes nothing here). All amounts are ``int``
micro-units; build orders with :meth:`OrderRequest.limit` / :meth:`OrderRequest.market`
from ``Decimal`` values.

Time-driven work: expired GTD orders and markets past their end time are swept at the
start of every call (so nothing stale is ever matched or shown), while two-phase settlement
happens only in :meth:`SimVenue.step` (trades whose ``confirm_delay`` has elapsed) or
:meth:`SimVenue.confirm` (named trades, now).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from src.sim.venue import errors
from src.sim.venue.amounts import LOT, tick_micro
from src.sim.venue.engine import MatchingEngine, settle_filter
from src.sim.venue.events import EventKind, EventListener, VenueEvent
from src.sim.venue.ledger import FEE_COLLECTOR, Account
from src.sim.venue.markets import MarketState, VenueMarket
from src.sim.venue.types import (
    BookLevel,
    BookSnapshot,
    CancelResult,
    CollateralBalance,
    LedgerTotals,
    Order,
    OrderRequest,
    Outcome,
    PlaceResult,
    Position,
    Redemption,
    Resolution,
    Side,
    StepReport,
    Trade,
    TradeStatus,
)
from src.utils.clock import Clock


@dataclass(slots=True, frozen=True)
class MarketStatus:
    """A market's run-time state (ticks in micro-units, ``backing`` in collateral micro)."""

    condition_id: str
    accepting_orders: bool
    closed: bool
    resolved: bool
    winner: Outcome | None
    resolved_at: float | None
    up_tick: int
    down_tick: int
    backing: int


class VirtualLiquidity(Protocol):
    """Quotes a world shows without resting them as orders until someone trades.

    A replayed market changes its quotes every second; resting them as orders each time
    would cost more than the whole backtest. Instead the venue asks :meth:`levels` when a
    book is read, and calls :meth:`materialize` before any order meets a token's book, so
    matching always runs against real orders.
    """

    def levels(
        self, token_id: str
    ) -> tuple[tuple[BookLevel, ...], tuple[BookLevel, ...]] | None:
        """``(bids, asks)`` shown on top of the resting orders, best first; None while
        the quotes rest as real orders (or the token has none)."""
        ...

    def materialize(self, token_id: str) -> None:
        """Rest the token's market's quotes as real orders (an order is about to meet
        them)."""
        ...


class SimVenue:
    """Price-time matching, balances, two-phase fills, resolution and redemption.

    Parameters:
        clock: where the time comes from (``SimClock`` in tests and backtests).
        seed: seeds the RNG that decides which trades fail; same seed + same calls → same
            trades, ids and failures.
        failure_probability: chance that a MATCHED trade ends FAILED (rolled back).
        confirm_delay: seconds after matching before :meth:`step` settles a trade.
        record_events: keep an in-memory event log (listeners work either way).
        max_events: size of that log (oldest events are dropped).
    """

    def __init__(
        self,
        clock: Clock,
        *,
        seed: int = 0,
        failure_probability: float = 0.0,
        confirm_delay: float = 0.0,
        record_events: bool = True,
        max_events: int = 100_000,
    ) -> None:
        self._clock = clock
        self._lock = threading.RLock()
        self._virtual: VirtualLiquidity | None = None
        self._engine = MatchingEngine(
            seed=seed,
            failure_probability=failure_probability,
            confirm_delay=confirm_delay,
            record_events=record_events,
            max_events=max_events,
        )

    @property
    def clock(self) -> Clock:
        """The clock the venue reads."""
        return self._clock

    @property
    def lock(self) -> threading.RLock:
        """The venue's (re-entrant) lock: a world that calls the venue while the venue
        calls it back (:class:`VirtualLiquidity`) takes this one, never its own."""
        return self._lock

    def set_virtual_liquidity(self, virtual: VirtualLiquidity | None) -> None:
        """Show ``virtual``'s quotes in the books (see :class:`VirtualLiquidity`)."""
        with self._lock:
            self._virtual = virtual

    def has_live_orders(self, condition_id: str, *, excluding: str = "") -> bool:
        """True when an account other than ``excluding`` rests an order in the market."""
        with self._lock:
            for address, live in self._engine.live_by_account.items():
                if address == excluding:
                    continue
                if any(order.market == condition_id for order in live.values()):
                    return True
            return False

    @property
    def fee_collector(self) -> str:
        """The address that receives taker fees."""
        return FEE_COLLECTOR

    def _now(self) -> float:
        """Read the clock and sweep what time made stale (expired GTDs, ended markets)."""
        now = self._clock.now()
        engine = self._engine
        engine.expire_due(now)
        engine.close_due(now)
        return now

    # -- engine modes ----------------------------------------------------------------------

    @property
    def post_only_mode(self) -> bool:
        """True while the engine accepts only post-only orders (and cancels)."""
        with self._lock:
            return self._engine.post_only_mode

    def set_post_only_mode(self, enabled: bool) -> None:
        """Run the engine post-only (as the venue does for ~2 minutes after a restart):
        every order without ``post_only`` is refused with the venue's text; cancels work."""
        with self._lock:
            self._engine.post_only_mode = bool(enabled)

    @property
    def failure_probability(self) -> float:
        """Chance that a new MATCHED trade ends FAILED."""
        with self._lock:
            return self._engine.failure_probability

    def set_failure_probability(self, probability: float) -> None:
        """Change the chance that trades matched from now on end FAILED (in [0, 1])."""
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"failure_probability must lie in [0, 1]: {probability}")
        with self._lock:
            self._engine.failure_probability = probability

    # -- markets ---------------------------------------------------------------------------

    def register_market(self, market: VenueMarket) -> None:
        """List a market: two empty books, accepting orders per its spec."""
        with self._lock:
            self._engine.register_market(market, self._clock.now())

    def market(self, condition_id: str) -> VenueMarket:
        """The registered description of a market."""
        with self._lock:
            return self._engine.market(condition_id).spec

    def market_for_token(self, token_id: str) -> VenueMarket:
        """The market a token belongs to."""
        with self._lock:
            return self._engine.token(token_id).market.spec

    def markets(self) -> list[VenueMarket]:
        """Every registered market, in registration order."""
        with self._lock:
            return [m.spec for m in self._engine.markets.values()]

    def market_status(self, condition_id: str) -> MarketStatus:
        """Whether a market accepts orders, is closed or resolved, its ticks and backing."""
        with self._lock:
            now = self._now()
            state = self._engine.market(condition_id)
            up, down = state.tokens
            return MarketStatus(
                state.condition_id,
                state.accepts_orders_at(now),
                state.closed,
                state.resolved,
                state.winner,
                state.resolved_at,
                up.tick,
                down.tick,
                state.backing,
            )

    def tick_size(self, token_id: str) -> int:
        """A token's current tick (micro-units: 10_000 = 0.01)."""
        with self._lock:
            return self._engine.token(token_id).tick

    def set_tick_size(self, token_id: str, tick: object) -> None:
        """Change a token's tick (0.01 ↔ 0.001 near the extremes; the caller decides)."""
        with self._lock:
            self._engine.set_tick(
                self._engine.token(token_id), tick_micro(tick), self._now()
            )

    def close_market(self, condition_id: str) -> list[str]:
        """Stop accepting orders now and cancel the resting ones; returns their ids."""
        with self._lock:
            now = self._now()
            return self._engine.close_market(self._engine.market(condition_id), now)

    def resolve_market(self, condition_id: str, winner: Outcome) -> Resolution:
        """Declare the winner. Closes the market if needed and settles its pending trades
        first (each with its drawn fate), so no shares are in flight at resolution."""
        with self._lock:
            now = self._now()
            engine = self._engine
            state = engine.market(condition_id)
            if state.resolved:
                raise errors.MarketStateError(f"market {condition_id} already resolved")
            canceled = engine.close_market(state, now)
            engine.settlement.settle_where(settle_filter(condition_id), now)
            state.winner = winner
            state.resolved_at = now
            engine.emit_market(EventKind.MARKET_RESOLVED, state, now)
            return Resolution(
                condition_id, winner, state.spec.token_of(winner), now, tuple(canceled)
            )

    # -- accounts --------------------------------------------------------------------------

    def open_account(
        self,
        address: str,
        collateral: int = 0,
        *,
        auto_fund: bool = False,
        keep_history: bool = True,
    ) -> None:
        """Create an account (idempotent) and deposit ``collateral`` micro-units.

        ``auto_fund``: the venue deposits and mints whatever an order needs — for simulated
        market makers and takers (every top-up is counted in :meth:`totals`).
        ``keep_history``: keep its orders and trades queryable after they end (off for
        liquidity accounts, whose churn would otherwise grow without bound).
        """
        with self._lock:
            account = self._engine.open_account(address, auto_fund, keep_history)
            if collateral:
                self._engine.ledger.deposit(account, collateral)

    def open_liquidity_account(self, address: str) -> None:
        """An auto-funded account without history: the market model's makers and takers."""
        self.open_account(address, auto_fund=True, keep_history=False)

    def accounts(self) -> list[str]:
        """Addresses whose history is kept (traders, the fee collector), sorted; the
        market model's liquidity accounts are left out."""
        with self._lock:
            engine = self._engine
            return sorted(engine.history_accounts | {FEE_COLLECTOR})

    def has_account(self, address: str) -> bool:
        """True when ``address`` has an account (of any kind)."""
        with self._lock:
            return address in self._engine.ledger.accounts

    def _account(self, address: str) -> Account:
        return self._engine.ledger.get(address)

    def deposit(self, address: str, amount: int) -> None:
        """Add ``amount`` collateral micro-units to an account."""
        with self._lock:
            self._engine.ledger.deposit(self._account(address), amount)

    def withdraw(self, address: str, amount: int) -> None:
        """Remove ``amount`` free collateral micro-units from an account."""
        with self._lock:
            self._engine.ledger.withdraw(self._account(address), amount)

    def mint(self, address: str, condition_id: str, amount: int) -> None:
        """Split collateral into complete sets: ``amount`` → that many Up and Down."""
        with self._lock:
            state = self._engine.market(condition_id)
            if state.resolved:
                raise errors.MarketStateError(f"market {condition_id} is resolved")
            self._engine.ledger.mint(self._account(address), state, amount)

    def merge(self, address: str, condition_id: str, amount: int) -> None:
        """Merge ``amount`` Up + ``amount`` Down free shares back into collateral."""
        with self._lock:
            state = self._engine.market(condition_id)
            if state.resolved:
                raise errors.MarketStateError(f"market {condition_id} is resolved: redeem")
            self._engine.ledger.merge(self._account(address), state, amount)

    def redeem(self, address: str, condition_id: str) -> Redemption:
        """Burn all of the account's shares of a resolved market, paying 1.00 per winner."""
        with self._lock:
            state = self._engine.market(condition_id)
            if state.winner is None:
                raise errors.MarketStateError(f"market {condition_id} is not resolved")
            winning_token = state.spec.token_of(state.winner)
            won, lost = self._engine.ledger.redeem(
                self._account(address), state, winning_token
            )
            return Redemption(address, condition_id, state.winner, won, won, lost)

    def balance(self, address: str) -> CollateralBalance:
        """Collateral: total, available and reserved by resting BUYs."""
        with self._lock:
            self._now()
            return self._account(address).balance()

    def position(self, address: str, token_id: str) -> Position:
        """Shares of one token: total, available and reserved by resting SELLs."""
        with self._lock:
            self._now()
            token = self._engine.token(token_id)
            return _position(self._account(address), token.market, token_id)

    def positions(self, address: str) -> list[Position]:
        """Every non-zero holding of an account (settled shares; MATCHED fills not yet)."""
        with self._lock:
            self._now()
            account = self._account(address)
            held = set(account.tokens) | set(account.reserved_tokens)
            found = []
            for token_id in sorted(held):
                state = self._engine.tokens[token_id].market
                position = _position(account, state, token_id)
                if position.size:
                    found.append(position)
            return found

    # -- orders ----------------------------------------------------------------------------

    def place(self, address: str, request: OrderRequest) -> PlaceResult:
        """Submit one order; a refusal is ``success=False`` with the venue's text."""
        with self._lock:
            if self._virtual is not None:
                self._virtual.materialize(request.token_id)
            return self._engine.place(self._account(address), request, self._now())

    def place_batch(
        self, address: str, requests: Sequence[OrderRequest]
    ) -> list[PlaceResult]:
        """Submit up to 15 orders; each is validated and processed on its own, in order.

        Raises :class:`BatchTooLargeError` (the venue's whole-request error) beyond 15.
        """
        if len(requests) > errors.MAX_BATCH_ORDERS:
            raise errors.BatchTooLargeError(errors.batch_too_large_error(len(requests)))
        with self._lock:
            if self._virtual is not None:
                for request in requests:
                    self._virtual.materialize(request.token_id)
            account = self._account(address)
            now = self._now()
            return [self._engine.place(account, request, now) for request in requests]

    def cancel(self, address: str, order_id: str) -> CancelResult:
        """Cancel one of ``address``'s live orders."""
        return self.cancel_orders(address, (order_id,))

    def cancel_orders(self, address: str, order_ids: Iterable[str]) -> CancelResult:
        """Cancel several orders; the rest are in ``not_canceled`` with a reason."""
        with self._lock:
            self._account(address)
            canceled, refused = self._engine.cancel_ids(address, order_ids, self._now())
            return CancelResult(tuple(canceled), refused)

    def reduce_orders(self, address: str, sizes: Iterable[tuple[str, int]]) -> list[str]:
        """Shrink live orders of ``address`` in place: ``(order_id, remaining)`` pairs, each
        ``remaining`` a whole number of lots strictly between 0 and the order's open size.

        Simulator-only (the real venue has no such call): the market model keeps its
        mirrored Up/Down quotes equal after a fill on one of them, as the venue's single
        cross-book order would be, without losing the queue place a cancel-and-replace
        would. Each reduced order keeps its place and emits ``ORDER_UPDATED``. Returns the
        ids reduced; unknown, finished or foreign ids and invalid sizes are skipped.
        """
        with self._lock:
            return self._reduce(address, sizes, self._now())

    def _reduce(
        self, address: str, sizes: Iterable[tuple[str, int]], now: float
    ) -> list[str]:
        engine = self._engine
        live = engine.live_by_account.get(address, {})
        done: list[str] = []
        for order_id, remaining in sizes:
            order = live.get(order_id)
            if order is None or not 0 < remaining < order.remaining or remaining % LOT:
                continue
            engine.reduce_order(order, remaining, now)
            done.append(order_id)
        return done

    def amend_orders(
        self,
        address: str,
        cancels: Sequence[str] = (),
        reductions: Sequence[tuple[str, int]] = (),
        requests: Sequence[OrderRequest] = (),
    ) -> list[PlaceResult]:
        """A market maker's requote in one call, at one instant: cancel ``cancels``
        (unknown or finished ids are skipped), shrink ``reductions`` in place (as
        :meth:`reduce_orders`), then place ``requests``, each validated and processed
        exactly as :meth:`place` does. Simulator-only (the order-entry API's 15-order batch
        limit does not apply); returns the placements' results, in order.
        """
        with self._lock:
            account = self._account(address)
            now = self._now()
            engine = self._engine
            if cancels:
                engine.cancel_ids(address, cancels, now)
            if reductions:
                self._reduce(address, reductions, now)
            return [engine.place(account, request, now) for request in requests]

    def cancel_all(self, address: str) -> CancelResult:
        """Cancel every live order of ``address``."""
        return self.cancel_market_orders(address)

    def cancel_market_orders(
        self, address: str, condition_id: str | None = None, token_id: str | None = None
    ) -> CancelResult:
        """Cancel ``address``'s live orders in a market and/or token (both None: all)."""
        with self._lock:
            self._account(address)
            now = self._now()
            engine = self._engine
            chosen = [
                o.order_id for o in engine.live_orders(address, condition_id, token_id)
            ]
            canceled, refused = engine.cancel_ids(address, chosen, now)
            return CancelResult(tuple(canceled), refused)

    # -- time and settlement ---------------------------------------------------------------

    def step(self) -> StepReport:
        """Bring the venue to the clock's time: expire GTDs, close ended markets, settle
        every trade whose ``confirm_delay`` has elapsed (CONFIRMED, or FAILED and undone).
        """
        with self._lock:
            now = self._clock.now()
            engine = self._engine
            expired = engine.expire_due(now)
            closed = engine.close_due(now)
            confirmed, failed = engine.settlement.settle_due(now)
            return StepReport(
                now, tuple(expired), tuple(closed), tuple(confirmed), tuple(failed)
            )

    def confirm(self, trade_ids: Iterable[str] | None = None) -> StepReport:
        """Settle the named pending trades now (all when None), whatever their delay."""
        with self._lock:
            now = self._now()
            settlement = self._engine.settlement
            if trade_ids is None:
                confirmed, failed = settlement.settle_where(lambda _: True, now)
            else:
                confirmed, failed = settlement.settle_ids(list(trade_ids), now)
            return StepReport(now, (), (), tuple(confirmed), tuple(failed))

    def pending_trade_count(self) -> int:
        """Trades MATCHED and not yet settled."""
        with self._lock:
            return len(self._engine.settlement)

    # -- queries ---------------------------------------------------------------------------

    def order(self, order_id: str) -> Order | None:
        """One order by id (any status), or None if unknown or forgotten."""
        with self._lock:
            self._now()
            order = self._engine.orders.get(order_id)
            return order.snapshot() if order is not None else None

    def orders(
        self,
        address: str | None = None,
        *,
        condition_id: str | None = None,
        token_id: str | None = None,
        live_only: bool = False,
    ) -> list[Order]:
        """Order history (oldest first) filtered by owner, market and token.

        Finished orders of ``keep_history=False`` accounts are not kept; their live ones
        are included.
        """
        with self._lock:
            self._now()
            engine = self._engine
            if live_only:
                return [
                    o.snapshot()
                    for o in engine.live_orders(address, condition_id, token_id)
                ]
            pool: Iterable[Order]
            if address is not None:
                pool = engine.orders_by_account.get(address, [])
            else:
                pool = engine.orders.values()
            return [
                o.snapshot()
                for o in pool
                if (condition_id is None or o.market == condition_id)
                and (token_id is None or o.token_id == token_id)
            ]

    def open_orders(
        self,
        address: str | None = None,
        *,
        condition_id: str | None = None,
        token_id: str | None = None,
    ) -> list[Order]:
        """Live orders (the venue's ``/data/orders``), oldest first."""
        return self.orders(
            address, condition_id=condition_id, token_id=token_id, live_only=True
        )

    def trade(self, trade_id: str) -> Trade | None:
        """One trade by id, or None."""
        with self._lock:
            trade = self._engine.trades.get(trade_id)
            return trade.snapshot() if trade is not None else None

    def trade_changes(self) -> int:
        """A count that moves whenever a trade is stored or changes status: while it
        stands still, :meth:`trades` answers the same (a cheap "anything new?")."""
        return self._engine.trade_changes

    def trades(
        self,
        address: str | None = None,
        *,
        condition_id: str | None = None,
        token_id: str | None = None,
        status: TradeStatus | None = None,
    ) -> list[Trade]:
        """Trade history (match order) where ``address`` was taker or maker, filtered."""
        with self._lock:
            engine = self._engine
            pool: Iterable[Trade]
            if address is not None:
                pool = engine.trades_by_account.get(address, [])
            else:
                pool = engine.trades.values()
            return [
                t.snapshot()
                for t in pool
                if (condition_id is None or t.market == condition_id)
                and (token_id is None or t.token_id == token_id)
                and (status is None or t.status is status)
            ]

    def book(self, token_id: str, depth: int | None = None) -> BookSnapshot:
        """Aggregated book of one token, best level first on each side."""
        with self._lock:
            return self._book(token_id, depth, self._now())

    def books(
        self, token_ids: Iterable[str], depth: int | None = None
    ) -> dict[str, BookSnapshot]:
        """:meth:`book` of each token, read at one time under one lock: what reading them
        one after another answers (time stands still between the reads, and a sweep at
        the same time again finds nothing new)."""
        with self._lock:
            now = self._now()
            return {token_id: self._book(token_id, depth, now) for token_id in token_ids}

    def _book(self, token_id: str, depth: int | None, now: float) -> BookSnapshot:
        """:meth:`book` at ``now``; the caller holds the lock and has swept to ``now``."""
        token = self._engine.token(token_id)
        book = token.book
        market = token.market
        # an empty side (a tape market's, usually) has no levels to aggregate
        bids = book.bids.depth(depth) if book.bids.keys else ()
        asks = book.asks.depth(depth) if book.asks.keys else ()
        shown = None if self._virtual is None else self._virtual.levels(token_id)
        if shown is not None:
            bids = merge_levels(bids, shown[0], True, depth)
            asks = merge_levels(asks, shown[1], False, depth)
        return BookSnapshot(
            token_id,
            market.condition_id,
            bids,
            asks,
            token.tick,
            market.min_size,
            market.spec.neg_risk,
            book.last_trade_price,
            Side(book.last_trade_side) if book.last_trade_side else None,
            now,
        )

    def best_bid_ask(self, token_id: str) -> tuple[int | None, int | None]:
        """``(best bid, best ask)`` of one token (None for an empty side)."""
        with self._lock:
            self._now()
            book = self._engine.token(token_id).book
            bid, ask = book.bids.best_price(), book.asks.best_price()
            shown = None if self._virtual is None else self._virtual.levels(token_id)
            if shown is None:
                return bid, ask
            bids = [p for p in (bid, shown[0][0].price if shown[0] else None) if p]
            asks = [p for p in (ask, shown[1][0].price if shown[1] else None) if p]
            return (max(bids) if bids else None), (min(asks) if asks else None)

    def level_size(self, token_id: str, side: Side, price: int) -> int:
        """Live size resting at one price (for incremental book messages)."""
        with self._lock:
            book = self._engine.token(token_id).book
            return book.side_for(side is Side.BUY).level_size(price)

    # -- events ----------------------------------------------------------------------------

    def subscribe(self, listener: EventListener) -> Callable[[], None]:
        """Call ``listener(event)`` for every event, under the venue's lock (keep it quick,
        never call back into the venue); returns an unsubscribe function."""
        with self._lock:
            return self._engine.events.subscribe(listener)

    def watch_orders(
        self, address: str, watcher: Callable[[str, int], None]
    ) -> Callable[[], None]:
        """Call ``watcher(order_id, remaining)`` after every change of one of ``address``'s
        placed orders — a fill, a failed fill given back, a reduction, a cancellation —
        whether or not events are recorded (the market model follows its quotes this way
        without making the venue build an event per order). Runs under the venue's lock:
        keep it quick, never call back into the venue. One watcher per address; returns a
        function that removes it."""
        with self._lock:
            self._engine.order_watchers[address] = watcher

        def unwatch() -> None:
            with self._lock:
                if self._engine.order_watchers.get(address) is watcher:
                    del self._engine.order_watchers[address]

        return unwatch

    def events_since(self, seq: int = 0) -> list[VenueEvent]:
        """Recorded events with a sequence number above ``seq``."""
        with self._lock:
            return self._engine.events.since(seq)

    @property
    def last_event_seq(self) -> int:
        """Sequence number of the latest event."""
        with self._lock:
            return self._engine.events.last_seq

    # -- accounting ------------------------------------------------------------------------

    def totals(self) -> LedgerTotals:
        """Venue-wide sums: ``deposited − withdrawn == held + in_escrow + backing``."""
        with self._lock:
            engine = self._engine
            return engine.ledger.totals(engine.total_backing())

    def supply(self, token_id: str) -> int:
        """Shares of a token in existence (accounts + escrow); equals the market's backing
        until resolution."""
        with self._lock:
            self._engine.token(token_id)
            return self._engine.ledger.supply(token_id)


def _position(account: Account, market: MarketState, token_id: str) -> Position:
    free = account.tokens.get(token_id, 0)
    reserved = account.reserved_tokens.get(token_id, 0)
    outcome = market.spec.outcome_of(token_id)
    return Position(
        account.address,
        market.condition_id,
        token_id,
        outcome,
        free + reserved,
        free,
        reserved,
    )


def merge_levels(
    resting: tuple[BookLevel, ...],
    shown: tuple[BookLevel, ...],
    bids: bool,
    depth: int | None,
) -> tuple[BookLevel, ...]:
    """One side's resting and virtual levels as one aggregated side, best first."""
    if not shown:
        return resting
    if not resting and len(shown) == 1 and (depth is None or depth > 0):
        return shown  # a tape's single quote on an empty side: already aggregated
    sizes: dict[int, int] = {}
    for level in (*resting, *shown):
        sizes[level.price] = sizes.get(level.price, 0) + level.size
    prices = sorted(sizes, reverse=bids)
    if depth is not None:
        prices = prices[:depth]
    return tuple(BookLevel(price, sizes[price]) for price in prices)
