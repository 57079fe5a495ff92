"""The Venue port for paper trading: live books, simulated fills, no wallet, no real money.

Every order is checked with the venue's own rules and texts (:mod:`src.sim.venue.errors`,
the same order as the matching engine) against the book read from the live CLOB, then
filled against that book in memory. What this adapter decides, and why:

* **Takers walk the live book** up to the limit price, one leg per price level; the taker
  fee is the venue's formula per leg (:mod:`src.sim.venue.fees`), taken in shares on a BUY
  and in collateral on a SELL, exactly as the real venue (and our ledger) count it. FOK/FAK
  BUYs are dollar amounts, as the official client sends them
  (:func:`~src.trading.venue.mapping.market_amount_micro`).
* **Resting orders fill as makers** (no fee, at their own price) when a book read *started
  after they were placed* shows the opposite side crossing them — for at most the displayed
  size, shared by our orders in price-time priority. Reads that started earlier saw a
  market the order was not in yet. Queue position is ignored: an optimistic model.
* **Liquidity we took stays taken** for ``LIQUIDITY_MEMORY_S``: the live book never sees
  a paper fill, and the next read would otherwise offer the same shares again.
* **Fills are CONFIRMED at once** (nothing settles on chain) and each has a fresh UUID
  trade id, so a paper ledger that outlives this process never sees an id twice.
* **Books are read without the lock**; balances, orders and fills change only under it,
  so the placer, poller, monitor and watchdog threads may all call in at once.
* **Markets** are learned from Gamma the first time a token is traded (cached): their end
  (resting orders are cancelled when it passes, as the venue does), their fee rate, and
  the tokens :meth:`PaperVenue.redeem` pays out on.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from py_clob_client_v2 import ClobClient
from py_clob_client_v2.exceptions import PolyApiException

from src.data.market_data.polymarket import (
    BookLevel,
    MarketDataError,
    MarketInfo,
    OrderBook,
    TransientHTTPError,
    fetch_books,
)
from src.sim.venue import errors
from src.sim.venue.amounts import (
    LOT,
    MIN_MARKETABLE_BUY,
    affordable_lots,
    floor_lot,
    lot_cost,
    market_buy_taker_amount,
    market_precision_ok,
    market_sell_taker_amount,
    micro_text,
    notional,
)
from src.sim.venue.fees import fee_rate_micro as checked_fee_rate
from src.sim.venue.fees import taker_fee
from src.trading.ledger.accounting import Side
from src.trading.ledger.events import FillEvent, FillStatus
from src.trading.venue.in_process import order_id_for
from src.trading.venue.mapping import MakerLeg, market_amount_micro, trade_fills
from src.trading.venue.port import (
    CancelReply,
    OrderSpec,
    OrderType,
    PlaceReply,
    PlaceStatus,
    PreparedOrder,
    VenueOrder,
    VenueUnavailableError,
)
from src.utils.clock import Clock
from src.utils.logger import log, log_warning
from src.utils.money import MICRO, micro_str, to_micro, to_micro_floor

PAPER_ACCOUNT = "paper"
DEFAULT_FEE_RATE_MICRO = 70_000  # 0.07: the crypto Up/Down markets' taker rate
DEFAULT_TICK_MICRO = 10_000  # a book that does not say: the venue's usual 0.01
DEFAULT_MIN_SIZE_MICRO = 5 * MICRO  # and its usual minimum of 5 shares
POLYGON_CHAIN_ID = 137
GTD_THRESHOLD_S = 60  # a GTD order must expire more than this far in the future
LOOKUP_RETRY_S = 60.0  # Clock seconds before asking Gamma again about an unknown token
LIQUIDITY_MEMORY_S = 10.0
"""Clock seconds during which liquidity we took stays taken. The live book never sees a
paper fill, so a read a moment later still shows it; counting it again would invent
fills (a resting order would fill its displayed size again on every read)."""

LIVE = "LIVE"
MATCHED = "MATCHED"
CANCELED = "CANCELED"
CANCELED_MARKET_RESOLVED = "CANCELED_MARKET_RESOLVED"

_MARKET_TYPES = (OrderType.FOK, OrderType.FAK)


class PaperRedeemError(RuntimeError):
    """A redemption the paper venue cannot do (market unknown or not resolved yet)."""


class BookSource(Protocol):
    """Where the live books come from (one batched request per call)."""

    def books(self, token_ids: Sequence[str]) -> dict[str, OrderBook]:
        """Books of ``token_ids``; unknown or malformed ones left out. Raises
        :class:`VenueUnavailableError` when no answer came."""
        ...


class MarketLookup(Protocol):
    """The Gamma reads the paper venue needs (``GammaClient`` has them)."""

    def market_by_token(self, token_id: str) -> MarketInfo | None:
        """The market of an outcome token."""
        ...

    def market_by_slug(self, slug: str) -> MarketInfo | None:
        """The market of a slug, with its outcome once resolved."""
        ...


class PublicBookReader:
    """Unauthenticated CLOB reads with the official client: books and the venue's time."""

    def __init__(self, clob_url: str, chain_id: int = POLYGON_CHAIN_ID) -> None:
        self.client = ClobClient(clob_url, chain_id=chain_id)

    def books(self, token_ids: Sequence[str]) -> dict[str, OrderBook]:
        """``POST /books``: many books in one request."""
        if not token_ids:
            return {}
        try:
            return fetch_books(self.client, token_ids)
        except PolyApiException as exc:
            raise VenueUnavailableError(
                f"books: HTTP {exc.status_code or 'no answer'}"
            ) from exc
        except MarketDataError as exc:
            raise VenueUnavailableError(f"books: {exc}") from exc

    def server_time(self) -> int:
        """``GET /time``: the venue's clock, unix seconds."""
        try:
            return int(self.client.get_server_time())
        except PolyApiException as exc:
            raise VenueUnavailableError(
                f"time: HTTP {exc.status_code or 'no answer'}"
            ) from exc
        except (TypeError, ValueError) as exc:
            raise VenueUnavailableError("time: malformed answer") from exc


@dataclass(frozen=True, slots=True)
class PaperBalances:
    """The paper account at one instant (micro-units)."""

    free: int
    reserved: int
    tokens: dict[str, int]
    reserved_tokens: dict[str, int]

    @property
    def collateral(self) -> int:
        """Free plus reserved collateral."""
        return self.free + self.reserved


@dataclass(slots=True)
class _Order:
    """One order as this venue keeps it (sizes and prices in micro-units)."""

    venue_order_id: str
    token_id: str
    side: Side
    order_type: OrderType
    price: int
    size: int
    expiration_s: int
    placed_seq: int  # book reads numbered above this one may fill it
    matched: int = 0
    status: str = LIVE

    @property
    def live(self) -> bool:
        return self.status == LIVE

    @property
    def remaining(self) -> int:
        return self.size - self.matched if self.live else 0

    def view(self) -> VenueOrder:
        return VenueOrder(
            venue_order_id=self.venue_order_id,
            token_id=self.token_id,
            side=self.side,
            price_micro=self.price,
            size_micro=self.size,
            matched_micro=self.matched,
            live=self.live,
            status=self.status,
        )


@dataclass(slots=True)
class _Level:
    """A live price level being consumed by one submission or one read."""

    price: int
    size: int


@dataclass(slots=True)
class _Terms:
    """What an order commits, as the venue computes it from the spec."""

    is_market: bool
    size: int  # shares
    amount: int  # collateral: the budget of a BUY, the proceeds of a SELL at the limit


@dataclass(slots=True)
class _Outcome:
    """What one submission did: the reply and the lines to log once the lock is free."""

    reply: PlaceReply
    lines: list[str] = field(default_factory=list)


def _levels(raw: tuple[BookLevel, ...]) -> list[_Level]:
    """Book levels in micro-units, best first; sizes in whole lots (dust can't trade)."""
    levels = []
    for level in raw:
        size = floor_lot(to_micro_floor(level.size))
        if size:
            levels.append(_Level(to_micro(level.price), size))
    return levels


def _acceptable(is_buy: bool, level_price: int, limit: int) -> bool:
    return level_price <= limit if is_buy else level_price >= limit


def _take(levels: list[_Level], is_buy: bool, limit: int, shares: int) -> list[_Level]:
    """Take up to ``shares`` from ``levels`` (consumed in place) up to ``limit``."""
    legs = []
    for level in levels:
        if shares <= 0 or not _acceptable(is_buy, level.price, limit):
            break
        taken = min(shares, level.size)
        if taken:
            level.size -= taken
            shares -= taken
            legs.append(_Level(level.price, taken))
    return legs


def _take_budget(levels: list[_Level], limit: int, budget: int) -> list[_Level]:
    """Buy whole lots with ``budget`` collateral up to ``limit`` (a market BUY), the way
    the matching engine does: a level not bought out ends the walk."""
    legs = []
    for level in levels:
        if level.price > limit:
            break
        wanted = affordable_lots(budget, level.price)
        if not wanted:
            break
        taken = min(wanted, level.size)
        level.size -= taken
        budget -= notional(taken, level.price)
        legs.append(_Level(level.price, taken))
        if level.size:
            break
    return legs


def _copy(levels: list[_Level]) -> list[_Level]:
    return [_Level(level.price, level.size) for level in levels]


def _terms(spec: OrderSpec) -> _Terms:
    """Shares and collateral of ``spec`` as the venue sees them (market orders are signed
    as amounts, floored the client's way)."""
    if spec.order_type in _MARKET_TYPES:
        amount = market_amount_micro(spec)
        if spec.side is Side.BUY:
            shares = market_buy_taker_amount(amount, spec.price_micro) if amount else 0
            return _Terms(True, shares, amount)
        return _Terms(True, amount, market_sell_taker_amount(amount, spec.price_micro))
    return _Terms(False, spec.size_micro, notional(spec.size_micro, spec.price_micro))


class PaperVenue:
    """One simulated account trading against live books, seen through the Venue port."""

    def __init__(
        self,
        source: BookSource,
        clock: Clock,
        starting_collateral_micro: int,
        *,
        gamma: MarketLookup,
        address: str = PAPER_ACCOUNT,
        fee_rate_micro: int = DEFAULT_FEE_RATE_MICRO,
        holdings: Mapping[str, int] | None = None,
    ) -> None:
        if starting_collateral_micro < 0 or any(n < 0 for n in (holdings or {}).values()):
            raise ValueError("starting collateral and holdings must be ≥ 0")
        self._source = source
        self._clock = clock
        self._gamma = gamma
        self._address = address
        self._fee_rate = checked_fee_rate(fee_rate_micro)
        self._lock = threading.Lock()
        self._free = starting_collateral_micro
        self._reserved = 0
        self._tokens: dict[str, int] = {t: n for t, n in (holdings or {}).items() if n}
        self._reserved_tokens: dict[str, int] = {}
        self._orders: dict[str, _Order] = {}
        self._live: dict[str, _Order] = {}  # insertion order is time priority
        self._fills: list[FillEvent] = []
        self._reads = 0
        self._markets: dict[str, MarketInfo] = {}  # by token id
        # (token, is_ask, price) → (shares taken, when last taken)
        self._taken: dict[tuple[str, bool, int], tuple[int, float]] = {}
        self._conditions: dict[str, MarketInfo] = {}
        self._missed: dict[str, float] = {}  # token → when Gamma last did not know it

    @property
    def address(self) -> str:
        """The paper account's name."""
        return self._address

    def balances(self) -> PaperBalances:
        """Free and reserved collateral and tokens, as one consistent snapshot."""
        with self._lock:
            return PaperBalances(
                self._free,
                self._reserved,
                {t: n for t, n in self._tokens.items() if n},
                {t: n for t, n in self._reserved_tokens.items() if n},
            )

    def server_time(self) -> int:
        """The clock's time, unix seconds (this venue's clock is the bot's)."""
        return int(self._clock.now())

    # --- book reads -------------------------------------------------------------------

    def _read(self, token_ids: Sequence[str]) -> tuple[dict[str, OrderBook], int]:
        """Read books (no lock held over the network); returns them with the read's
        number, taken before it started."""
        with self._lock:
            self._reads += 1
            seq = self._reads
        return self._source.books(list(dict.fromkeys(token_ids))), seq

    def books(self, token_ids: Sequence[str]) -> dict[str, OrderBook]:
        """Live books; resting orders they cross are filled on the way."""
        if not token_ids:
            return {}
        books, seq = self._read(token_ids)
        self._observe(books, seq)
        return books

    def book(self, token_id: str) -> OrderBook:
        """One live book; raises :class:`VenueUnavailableError` when there is none."""
        book = self.books([token_id]).get(token_id)
        if book is None:
            raise VenueUnavailableError(f"book {token_id}: the venue has no book")
        return book

    def _refresh(self) -> None:
        """Expire what is due and match resting orders against fresh books (best effort:
        a failed read leaves them for the next one)."""
        with self._lock:
            lines = self._expire_locked(self._clock.now())
            tokens = sorted({o.token_id for o in self._live.values()})
        _log_all(lines)
        if not tokens:
            return
        try:
            books, seq = self._read(tokens)
        except VenueUnavailableError as exc:
            log_warning(f"⚠️ paper: books for resting orders unavailable ({exc})")
            return
        self._observe(books, seq)

    def _observe(self, books: dict[str, OrderBook], seq: int) -> None:
        with self._lock:
            now = self._clock.now()
            lines = self._expire_locked(now)
            lines += self._match_resting_locked(books, seq, now)
        _log_all(lines)

    def _match_resting_locked(
        self, books: dict[str, OrderBook], seq: int, now: float
    ) -> list[str]:
        lines: list[str] = []
        for token_id, book in books.items():
            orders = [
                o
                for o in self._live.values()
                if o.token_id == token_id and o.placed_seq < seq
            ]
            if not orders:
                continue
            asks = self._available_locked(token_id, True, book.asks, now)
            bids = self._available_locked(token_id, False, book.bids, now)
            buys = sorted((o for o in orders if o.side is Side.BUY), key=lambda o: -o.price)
            sells = sorted(
                (o for o in orders if o.side is Side.SELL), key=lambda o: o.price
            )
            for order in buys + sells:
                is_buy = order.side is Side.BUY
                legs = _take(asks if is_buy else bids, is_buy, order.price, order.remaining)
                self._note_taken_locked(token_id, is_buy, legs, now)
                shares = sum(leg.size for leg in legs)
                if shares:
                    lines.append(self._maker_fill_locked(order, shares, now))
        return lines

    # --- orders -----------------------------------------------------------------------

    def prepare(self, spec: OrderSpec) -> PreparedOrder:
        """The id is derived from the client order id: a retry is never a new order."""
        return PreparedOrder(spec, order_id_for(spec.client_order_id))

    def submit(self, order: PreparedOrder) -> PlaceReply:
        """Check, fill against the live book, rest the remainder of a GTC/GTD order."""
        spec = order.spec
        cid, oid = spec.client_order_id, order.venue_order_id
        with self._lock:
            known = oid in self._orders
        if known:
            # The real venue's answer; the order exists, so it is not a rejection.
            text = errors.duplicated_error(oid)
            return PlaceReply(cid, oid, PlaceStatus.AMBIGUOUS, error=text)
        self._learn(spec.token_id)
        try:
            books, seq = self._read([spec.token_id])
        except VenueUnavailableError as exc:
            # Nothing was placed: this venue is in-process, so it knows for sure.
            return PlaceReply(
                cid, oid, PlaceStatus.REJECTED, error=f"paper: book unavailable ({exc})"
            )
        with self._lock:
            now = self._clock.now()
            lines = self._expire_locked(now)
            lines += self._match_resting_locked(books, seq, now)
            outcome = self._place_locked(order, books.get(spec.token_id), seq, now)
        _log_all(lines + outcome.lines)
        return outcome.reply

    def submit_batch(self, orders: Sequence[PreparedOrder]) -> list[PlaceReply]:
        """Up to 15 orders, each on its own; more fail the whole request, as at the venue."""
        if len(orders) > errors.MAX_BATCH_ORDERS:
            text = errors.batch_too_large_error(len(orders))
            return [
                PlaceReply(
                    o.spec.client_order_id,
                    o.venue_order_id,
                    PlaceStatus.REJECTED,
                    error=text,
                )
                for o in orders
            ]
        return [self.submit(o) for o in orders]

    def _problem_locked(
        self,
        spec: OrderSpec,
        oid: str,
        book: OrderBook,
        opposite: list[_Level],
        terms: _Terms,
        now: float,
    ) -> str | None:
        """The venue's rejection text for ``spec`` in the engine's order of checks, short
        of the fill-dependent ones (FOK/FAK), or None."""
        info = self._markets.get(spec.token_id)
        if info is not None and (now >= info.end or info.closed):
            return errors.MARKET_NOT_READY
        if spec.post_only and terms.is_market:
            return errors.POST_ONLY_TYPE
        tick = DEFAULT_TICK_MICRO if book.tick_size is None else to_micro(book.tick_size)
        price = spec.price_micro
        if not (0 < price < MICRO and price % tick == 0):
            return errors.tick_size_error(oid, micro_text(price), micro_text(tick))
        is_buy = spec.side is Side.BUY
        if terms.is_market:
            maker, taker = (
                (terms.amount, terms.size) if is_buy else (terms.size, terms.amount)
            )
            if maker <= 0 or taker <= 0 or not market_precision_ok(maker, taker):
                return (
                    errors.MARKET_BUY_PRECISION if is_buy else errors.MARKET_SELL_PRECISION
                )
        elif terms.size <= 0 or terms.size % LOT:
            return errors.INVALID_ORDER_PAYLOAD
        minimum = (
            DEFAULT_MIN_SIZE_MICRO
            if book.min_order_size is None
            else to_micro(book.min_order_size)
        )
        if terms.size < minimum:
            return errors.min_size_error(oid, micro_text(terms.size), micro_text(minimum))
        if spec.order_type is OrderType.GTD and spec.expiration_s <= now + GTD_THRESHOLD_S:
            return errors.INVALID_EXPIRATION
        if is_buy and self._free < terms.amount:
            return errors.NOT_ENOUGH_BALANCE
        if not is_buy and self._tokens.get(spec.token_id, 0) < terms.size:
            return errors.NOT_ENOUGH_BALANCE
        crosses = bool(opposite) and _acceptable(is_buy, opposite[0].price, price)
        if crosses and spec.post_only:
            return errors.POST_ONLY_CROSSES
        if is_buy and (crosses or terms.is_market) and terms.amount < MIN_MARKETABLE_BUY:
            return errors.marketable_buy_min_error(micro_text(terms.amount))
        return None

    def _place_locked(
        self, order: PreparedOrder, book: OrderBook | None, seq: int, now: float
    ) -> _Outcome:
        spec = order.spec
        cid, oid = spec.client_order_id, order.venue_order_id
        if oid in self._orders:  # another thread placed it while we read the book
            text = errors.duplicated_error(oid)
            return _Outcome(PlaceReply(cid, oid, PlaceStatus.AMBIGUOUS, error=text))
        if book is None:
            text = errors.orderbook_missing_error(spec.token_id)
            return _Outcome(PlaceReply(cid, oid, PlaceStatus.REJECTED, error=text))
        terms = _terms(spec)
        is_buy = spec.side is Side.BUY
        # Crossing is the live book's business; fills come from what we have not taken.
        displayed = _levels(book.asks if is_buy else book.bids)
        problem = self._problem_locked(spec, oid, book, displayed, terms, now)
        if problem is not None:
            return _Outcome(PlaceReply(cid, oid, PlaceStatus.REJECTED, error=problem))
        raw = book.asks if is_buy else book.bids
        opposite = self._available_locked(spec.token_id, is_buy, raw, now)
        if is_buy and terms.is_market:
            legs = _take_budget(opposite, spec.price_micro, terms.amount)
        else:
            legs = _take(opposite, is_buy, spec.price_micro, terms.size)
        kill = self._kill_text(spec, terms, legs)
        if kill is None:
            self._note_taken_locked(spec.token_id, is_buy, legs, now)
        record = _Order(
            oid,
            spec.token_id,
            spec.side,
            spec.order_type,
            spec.price_micro,
            terms.size,
            spec.expiration_s if spec.order_type is OrderType.GTD else 0,
            seq,
        )
        self._orders[oid] = record
        if kill is not None:
            record.status = CANCELED
            return _Outcome(PlaceReply(cid, oid, PlaceStatus.REJECTED, error=kill))
        fills: tuple[FillEvent, ...] = ()
        lines: list[str] = []
        if legs:
            fills, line = self._taker_fill_locked(record, legs, now)
            lines.append(line)
        rest = record.size - record.matched
        resting = False
        if terms.is_market or not rest:
            record.status = MATCHED
        else:
            self._reserve_locked(record, rest)
            self._live[oid] = record
            resting = True
        reply = PlaceReply(cid, oid, PlaceStatus.ACCEPTED, resting=resting, fills=fills)
        return _Outcome(reply, lines)

    def _kill_text(self, spec: OrderSpec, terms: _Terms, legs: list[_Level]) -> str | None:
        """FOK not fully fillable / FAK with nothing to match: the venue's texts."""
        if spec.order_type is OrderType.FOK:
            if spec.side is Side.BUY:
                spent = sum(notional(leg.size, leg.price) for leg in legs)
                filled = terms.amount - spent < lot_cost(spec.price_micro)
            else:
                filled = sum(leg.size for leg in legs) >= terms.size
            return None if filled else errors.FOK_NOT_FILLED
        if spec.order_type is OrderType.FAK and not legs:
            return errors.FAK_NOT_FILLED
        return None

    # --- fills and money --------------------------------------------------------------

    def _available_locked(
        self, token_id: str, is_ask: bool, raw: tuple[BookLevel, ...], now: float
    ) -> list[_Level]:
        """The displayed levels less what we took from them lately."""
        levels = []
        for level in _levels(raw):
            key = (token_id, is_ask, level.price)
            taken = self._taken.get(key)
            if taken is not None and now - taken[1] >= LIQUIDITY_MEMORY_S:
                del self._taken[key]
            elif taken is not None:
                level.size = max(0, level.size - taken[0])
            if level.size:
                levels.append(level)
        return levels

    def _note_taken_locked(
        self, token_id: str, is_ask: bool, legs: list[_Level], now: float
    ) -> None:
        for leg in legs:
            key = (token_id, is_ask, leg.price)
            before = self._taken.get(key, (0, now))[0]
            self._taken[key] = (before + leg.size, now)
        if len(self._taken) > 10_000:
            self._taken = {
                k: v for k, v in self._taken.items() if now - v[1] < LIQUIDITY_MEMORY_S
            }

    def _rate_of(self, token_id: str) -> int:
        info = self._markets.get(token_id)
        if info is not None and info.fee_exponent == 1:
            return to_micro(info.fee_rate)
        return self._fee_rate

    def _taker_fill_locked(
        self, order: _Order, legs: list[_Level], now: float
    ) -> tuple[tuple[FillEvent, ...], str]:
        is_buy = order.side is Side.BUY
        rate = self._rate_of(order.token_id)
        # The venue takes the fee per maker leg, each floored, then summed.
        fee = sum(taker_fee(is_buy, leg.size, leg.price, rate) for leg in legs)
        size = sum(leg.size for leg in legs)
        cash = sum(notional(leg.size, leg.price) for leg in legs)
        token = order.token_id
        if is_buy:
            self._free -= cash
            self._tokens[token] = self._tokens.get(token, 0) + size - fee
        else:
            self._tokens[token] -= size
            self._free += cash - fee
        order.matched += size
        maker_side = Side.SELL if is_buy else Side.BUY
        trade_id = str(uuid.uuid4())
        events = trade_fills(
            account=self._address,
            trade_id=trade_id,
            taker_order_id=order.venue_order_id,
            taker_account=self._address,
            side=order.side,
            status=FillStatus.CONFIRMED,
            fee_micro=fee,
            at_ms=int(now * 1000),
            legs=tuple(
                MakerLeg(
                    f"book@{micro_str(leg.price)}",
                    "",
                    maker_side,
                    leg.price,
                    leg.size,
                    notional(leg.size, leg.price),
                )
                for leg in legs
            ),
        )
        self._fills.extend(events)
        line = (
            f"📄 paper {order.side} {micro_str(size)} @ ≤{micro_str(order.price)} "
            f"(taker, {len(legs)} level(s), cash {micro_str(cash)}, fee {micro_str(fee)}) "
            f"{order.venue_order_id[:10]}…"
        )
        return tuple(events), line

    def _maker_fill_locked(self, order: _Order, shares: int, now: float) -> str:
        cash = notional(shares, order.price)
        token = order.token_id
        if order.side is Side.BUY:
            self._reserved -= cash
            self._tokens[token] = self._tokens.get(token, 0) + shares
        else:
            self._reserved_tokens[token] -= shares
            self._free += cash
        order.matched += shares
        if order.matched >= order.size:
            order.status = MATCHED
            del self._live[order.venue_order_id]
        taker_side = Side.SELL if order.side is Side.BUY else Side.BUY
        self._fills.extend(
            trade_fills(
                account=self._address,
                trade_id=str(uuid.uuid4()),
                taker_order_id="",
                taker_account="",
                side=taker_side,
                status=FillStatus.CONFIRMED,
                fee_micro=0,
                at_ms=int(now * 1000),
                legs=(
                    MakerLeg(
                        order.venue_order_id,
                        self._address,
                        order.side,
                        order.price,
                        shares,
                        cash,
                    ),
                ),
            )
        )
        return (
            f"📄 paper {order.side} {micro_str(shares)} @ {micro_str(order.price)} "
            f"(maker) {order.venue_order_id[:10]}…"
        )

    def _reserve_locked(self, order: _Order, rest: int) -> None:
        if order.side is Side.BUY:
            cash = notional(rest, order.price)
            self._free -= cash
            self._reserved += cash
        else:
            token = order.token_id
            self._tokens[token] -= rest
            self._reserved_tokens[token] = self._reserved_tokens.get(token, 0) + rest

    def _release_locked(self, order: _Order, status: str) -> None:
        """Take a live order off: its reservation goes back to the free balance."""
        rest = order.remaining
        if order.side is Side.BUY:
            cash = notional(rest, order.price)
            self._reserved -= cash
            self._free += cash
        else:
            token = order.token_id
            self._reserved_tokens[token] -= rest
            self._tokens[token] = self._tokens.get(token, 0) + rest
        order.status = status
        del self._live[order.venue_order_id]

    def _expire_locked(self, now: float) -> list[str]:
        """GTD orders past their expiration, and orders of ended markets, as the venue
        cancels them."""
        lines = []
        for order in list(self._live.values()):
            info = self._markets.get(order.token_id)
            if info is not None and now >= info.end:
                self._release_locked(order, CANCELED_MARKET_RESOLVED)
                lines.append(f"🧹 paper: {order.venue_order_id[:10]}… market closed")
            elif order.expiration_s and order.expiration_s <= now:
                self._release_locked(order, CANCELED)
                lines.append(f"🧹 paper: {order.venue_order_id[:10]}… expired")
        return lines

    # --- cancels and queries ----------------------------------------------------------

    def cancel(self, venue_order_ids: Sequence[str]) -> CancelReply:
        """Cancel these orders; the reasons for the others are the venue's."""
        cancelled: list[str] = []
        refused: dict[str, str] = {}
        with self._lock:
            for oid in venue_order_ids:
                order = self._live.get(oid)
                if order is not None:
                    self._release_locked(order, CANCELED)
                    cancelled.append(oid)
                elif oid in self._orders:
                    refused[oid] = errors.NOT_CANCELED_DONE
                else:
                    refused[oid] = errors.NOT_CANCELED_NOT_FOUND
        if cancelled:
            log(f"🧹 paper: cancelled {len(cancelled)} order(s)")
        return CancelReply(tuple(cancelled), refused)

    def cancel_all(self) -> CancelReply:
        """Cancel every live order."""
        with self._lock:
            ids = list(self._live)
        return self.cancel(ids)

    def get_order(self, venue_order_id: str) -> VenueOrder | None:
        """One order, or None when this venue never accepted or killed it."""
        with self._lock:
            lines = self._expire_locked(self._clock.now())
            order = self._orders.get(venue_order_id)
            view = None if order is None else order.view()
        _log_all(lines)
        return view

    def open_orders(self) -> list[VenueOrder]:
        """Live orders, oldest first, after matching them against fresh books."""
        self._refresh()
        with self._lock:
            return [o.view() for o in self._live.values()]

    def fills(self, since_ms: int = 0) -> list[FillEvent]:
        """Fills at or after ``since_ms``, after matching resting orders against fresh
        books (so a watchdog resync finds maker fills)."""
        self._refresh()
        with self._lock:
            return [f for f in self._fills if f.at_ms >= since_ms]

    def collateral_micro(self) -> int:
        """Free plus reserved collateral."""
        with self._lock:
            return self._free + self._reserved

    def token_balances(self) -> dict[str, int]:
        """Tokens held (free plus reserved by resting SELLs), zero balances left out."""
        with self._lock:
            tokens = set(self._tokens) | set(self._reserved_tokens)
            held = {
                t: self._tokens.get(t, 0) + self._reserved_tokens.get(t, 0) for t in tokens
            }
        return {t: n for t, n in sorted(held.items()) if n}

    # --- markets and redemption -------------------------------------------------------

    def _learn(self, token_id: str) -> MarketInfo | None:
        """The market of ``token_id`` from Gamma, once (best effort: None when unknown)."""
        now = self._clock.now()
        with self._lock:
            info = self._markets.get(token_id)
            missed = self._missed.get(token_id)
        if info is not None:
            return info
        if missed is not None and now - missed < LOOKUP_RETRY_S:
            return None
        try:
            info = self._gamma.market_by_token(token_id)
        except Exception as exc:  # a lookup that fails must never fail an order
            log_warning(f"⚠️ paper: market of token {token_id[:10]}… unknown yet ({exc!r})")
            info = None
        with self._lock:
            if info is None:
                self._missed[token_id] = now
                return None
            self._missed.pop(token_id, None)
            for token in (info.up_token_id, info.down_token_id):
                self._markets[token] = info
            self._conditions[info.condition_id] = info
        return info

    def _market_of(self, condition_id: str) -> MarketInfo | None:
        with self._lock:
            info = self._conditions.get(condition_id)
            held = [t for t in self._held_tokens_locked() if t not in self._markets]
        if info is not None:
            return info
        for token in held:  # a lookup that failed when the token was traded
            learned = self._learn(token)
            if learned is not None and learned.condition_id == condition_id:
                return learned
        return None

    def _held_tokens_locked(self) -> list[str]:
        return [
            t
            for t in set(self._tokens) | set(self._reserved_tokens)
            if self._tokens.get(t, 0) or self._reserved_tokens.get(t, 0)
        ]

    def redeem(self, condition_id: str) -> int:
        """Burn both tokens of a resolved market, paying 1.00 per winning share; raises
        :class:`PaperRedeemError` when the market is unknown or not resolved yet."""
        info = self._market_of(condition_id)
        if info is None:
            raise PaperRedeemError(
                f"paper: market {condition_id} unknown (no token of it was traded here)"
            )
        try:
            resolved = self._gamma.market_by_slug(info.slug)
        except (MarketDataError, TransientHTTPError) as exc:
            raise VenueUnavailableError(f"paper redeem {info.slug}: {exc}") from exc
        if resolved is None or resolved.outcome is None:
            raise PaperRedeemError(
                f"paper: {info.slug} has not resolved yet; nothing redeemed"
            )
        winner = resolved.token_for(resolved.outcome)
        lines: list[str] = []
        with self._lock:
            for order in list(self._live.values()):
                if order.token_id in (info.up_token_id, info.down_token_id):
                    self._release_locked(order, CANCELED_MARKET_RESOLVED)
                    lines.append(f"🧹 paper: {order.venue_order_id[:10]}… market resolved")
            paid = 0
            for token in (info.up_token_id, info.down_token_id):
                held = self._tokens.pop(token, 0)
                if token == winner:
                    paid = held
            self._free += paid
        _log_all(lines)
        log(f"🏁 paper: redeemed {info.slug} ({resolved.outcome}): {micro_str(paid)} paid")
        return paid


def _log_all(lines: list[str]) -> None:
    for line in lines:
        log(line)
