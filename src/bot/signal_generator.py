"""The signal generator: on each new market snapshot, a decision per coin, stored, and an
entry job for the order placer when the decision is a trade the window still allows.

The decision itself is the pure :func:`src.trading.logic.decide`; this worker only builds
its inputs (board + ledger) and records its output.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable
from decimal import Decimal

from src.bot.market_board import CoinFeed, MarketBoard
from src.data.db_connection import db_connection
from src.data.decisions_store import insert_decision
from src.data.market_data.indicators import IndicatorState
from src.data.market_data.polymarket import MAX_TIMESTAMP_MS, Outcome
from src.trading.execution import TradeParams
from src.trading.ledger.accounting import Side
from src.trading.logic import Decision, DecisionAudit, OrderStyle, decide
from src.trading.logic import Side as Direction
from src.trading.params import StrategyParams
from src.trading.position_manager.jobs import Job
from src.trading.position_manager.monitor import SignalView
from src.trading.position_manager.portfolio import AccountCache, AccountReader
from src.trading.strategy import BookTop, MarketSnapshot
from src.trading.venue.port import OrderType
from src.utils.clock import Clock

MAX_ENTRY_ORDERS_PER_WINDOW = (
    3  # a maker entry that expires may be tried again, not forever
)


def book_top(feed: CoinFeed) -> BookTop:
    """The Up book's top as the strategy reads it (an absent book is empty)."""
    book = feed.book
    if book is None:
        return BookTop(None, None)
    bid = book.bids[0] if book.bids else None
    ask = book.asks[0] if book.asks else None
    return BookTop(
        best_bid=None if bid is None else bid.price,
        best_ask=None if ask is None else ask.price,
        bid_size=bid.size if bid else 0,  # type: ignore[arg-type]
        ask_size=ask.size if ask else 0,  # type: ignore[arg-type]
        tick_size=book.tick_size,
        timestamp=_book_seconds(book.timestamp_ms),
    )


def _book_seconds(timestamp_ms: object) -> float | None:
    """The book's time in Unix seconds. parse_book bounds it, but a book built elsewhere
    may hold any int, and ``10**400 / 1000`` raises OverflowError outside decide()'s
    safety net. An unusable time becomes NaN, not None: None would skip the staleness
    check, NaN makes check_book refuse the book (INVALID_BOOK)."""
    if timestamp_ms is None:
        return None
    if isinstance(timestamp_ms, bool) or not isinstance(timestamp_ms, int):
        return math.nan
    if not 0 <= timestamp_ms < MAX_TIMESTAMP_MS:
        return math.nan
    return timestamp_ms / 1000


def entry_block(cur: object, window_id: int) -> str | None:
    """Why no new entry may be placed in the window (None: it may)."""
    held = cur.execute(  # type: ignore[attr-defined]
        "SELECT COUNT(*) FROM positions WHERE window_id = ?", (window_id,)
    ).fetchone()[0]
    if held:
        return "a position exists in this window"
    working, tried = cur.execute(  # type: ignore[attr-defined]
        "SELECT COALESCE(SUM(status IN ('intent', 'posting', 'ambiguous', 'live', "
        "'partially_filled')), 0), COUNT(*) FROM orders WHERE window_id = ? "
        "AND intent = 'entry'",
        (window_id,),
    ).fetchone()
    if working:
        return "an entry order is working"
    if tried >= MAX_ENTRY_ORDERS_PER_WINDOW:
        return "entry attempts exhausted"
    return None


def taker_price(decision: Decision, book: BookTop) -> Decimal | None:
    """The ask of the decided side (the Down ask mirrors the Up bid), if the book had it."""
    if decision.side is Direction.UP:
        return book.best_ask
    if decision.side is Direction.DOWN and book.best_bid is not None:
        return 1 - book.best_bid
    return None


def signal_view(
    decision: Decision,
    window_id: int | None,
    decision_id: int,
    book: BookTop | None = None,
) -> SignalView:
    """The parts of a decision the position monitor uses."""
    a = decision.analysis
    assert a is not None
    selected = a.selected
    return SignalView(
        window_id=window_id,
        action=decision.side.value,
        confidence=float(selected.confidence),
        direction=selected.direction.value,
        p_up=float(a.fair.p_up),
        limit_price=decision.limit_price,
        taker_price=None if book is None else taker_price(decision, book),
        shares=decision.shares,
        decision_id=decision_id,
    )


def entry_params(decision: Decision, feed: CoinFeed, decision_id: int) -> TradeParams:
    """The entry order of a trade decision."""
    market = feed.market
    assert market is not None and decision.limit_price is not None
    outcome = Outcome.UP if decision.side is Direction.UP else Outcome.DOWN
    taker = decision.order_style is OrderStyle.TAKER
    return TradeParams(
        symbol=market.coin,
        outcome=str(outcome),
        token_id=market.token_for(outcome),
        side=Side.BUY,
        price=decision.limit_price,
        size=decision.shares,
        order_type=OrderType.FAK if taker else OrderType.GTC,
        post_only=not taker,
        intent="entry",
        window_id=feed.window_id,
        decision_id=decision_id,
    )


class SignalGenerator:
    """One ``step()`` decides every coin with a new snapshot."""

    def __init__(
        self,
        board: MarketBoard,
        params: StrategyParams,
        clock: Clock,
        mode: str,
        submit: Callable[[Job], bool],
        audit: DecisionAudit = DecisionAudit.FULL,
    ) -> None:
        self.board = board
        self.audit = audit
        self.params = params
        self.clock = clock
        self.mode = mode
        self.submit = submit
        self.decisions = 0
        self.trades = 0
        self.entries_open = True  # False once the run is winding down: decide, don't enter
        # indicators folded in one closed kline at a time (O(1) a decision, not O(history))
        self._indicators: dict[str, IndicatorState] = {}
        # the account, read again only when the ledger changed (most polls move no money)
        self._accounts = AccountCache()

    def _fold(self, coin: str, feed: CoinFeed) -> IndicatorState:
        state = self._indicators.get(coin)
        if state is None:
            state = self._indicators[coin] = IndicatorState(self.params.indicator_config())
        klines = feed.klines.klines if feed.klines is not None else ()
        recent = state.recent_klines()
        last_ms = recent[-1].open_time_ms if recent else None
        fresh = []
        for kline in reversed(klines):  # only the minutes after the last one folded
            if last_ms is not None and kline.open_time_ms <= last_ms:
                break
            fresh.append(kline)
        if fresh:  # most polls bring no new closed kline
            state.update_many(reversed(fresh))
        return state

    def step(self) -> None:
        """Decide each coin whose feed changed since its last decision.

        All of them in one transaction, the account read once (and only if the ledger
        changed since the last step): nothing but decisions is written in it, and no other
        writer can change the ledger while it is open, so each coin sees the account it
        would have seen in a transaction of its own. The board and the order placer hear
        of the decisions once they are stored.
        """
        feeds = []
        for coin in self.board.coins:
            feed = self.board.undecided(coin)
            if feed is not None:
                feeds.append((coin, feed))
        if not feeds:
            return
        with db_connection() as cur:
            accounts = self._accounts.reader(cur)
            made = [self._decide(coin, feed, cur, accounts) for coin, feed in feeds]
            self._accounts.keep(cur)
        for (coin, feed), (decision, decision_id, block, book) in zip(
            feeds, made, strict=True
        ):
            self._publish(coin, feed, decision, decision_id, block, book)

    def decide_coin(self, coin: str, feed: CoinFeed) -> Decision:
        """Decide, store and (for a trade) queue the entry."""
        with db_connection() as cur:
            accounts = self._accounts.reader(cur)
            decision, decision_id, block, book = self._decide(coin, feed, cur, accounts)
            self._accounts.keep(cur)
        return self._publish(coin, feed, decision, decision_id, block, book)

    def _decide(
        self, coin: str, feed: CoinFeed, cur: sqlite3.Cursor, accounts: AccountReader
    ) -> tuple[Decision, int, str | None, BookTop]:
        """Decide and store (in the caller's transaction): the decision, its id, why no
        entry may be placed (None: it may) and the book it was made on."""
        now = self.clock.now()
        market = feed.market
        state = self._fold(coin, feed)
        reference = feed.reference
        snapshot = MarketSnapshot(
            window=feed.window,
            now=now,
            strike=feed.strike if feed.strike is not None else float("nan"),
            book=book_top(feed),
            fee_rate=market.fee_rate if market is not None else 0,  # type: ignore[arg-type]
            klines=state.recent_klines(),
            mid_history=self.board.mids(coin),
            spot=feed.spot,
            indicators=state.snapshot() if state.bars else None,
            reference_spot=None if reference is None else reference.spot,
            reference_strike=None if reference is None else reference.strike,
            reference_time=None if reference is None else reference.spot_time,
        )
        account = accounts.state(int(now * 1000), feed.window_id)
        decision = decide(snapshot, account, self.params)
        decision_id = insert_decision(
            cur, decision.row_values(self.audit), feed.window_id, self.mode
        )
        block = None
        if decision.is_trade and feed.window_id is not None:
            block = entry_block(cur, feed.window_id)
        return decision, decision_id, block, snapshot.book

    def _publish(
        self,
        coin: str,
        feed: CoinFeed,
        decision: Decision,
        decision_id: int,
        block: str | None,
        book: BookTop,
    ) -> Decision:
        """Record a stored decision on the board and, for a trade, queue the entry."""
        market = feed.market
        self.decisions += 1
        view = (
            None
            if decision.analysis is None
            else signal_view(decision, feed.window_id, decision_id, book)
        )
        self.board.record_decision(coin, feed, decision, view)
        if not decision.is_trade or market is None or feed.window_id is None:
            return decision
        if block is not None or not self.entries_open:
            return decision
        job = Job(
            key=f"entry:{feed.window_id}",
            reason=(
                f"🚀 [{coin}] {decision.side.value} entry: {decision.shares} @ "
                f"{decision.limit_price} ({decision.order_style.value}, confidence "
                f"{(decision.confidence or 0):.0%}, EV {float(decision.ev_per_share or 0):+.4f})"
            ),
            place=entry_params(decision, feed, decision_id),
            origin_perf=feed.tick_perf,
            not_after=float(feed.window.end),
        )
        if self.submit(job):
            self.trades += 1  # the placer logs the job when it runs it
        return decision
