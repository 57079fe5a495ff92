"""The Venue port over an in-process :class:`SimVenue` (backtests; no HTTP, no signing).

Orders reach the engine exactly as ``run --sim``'s do through the official client and the
emulator: signed amounts by the client's own rounding (:func:`signed_amounts`), turned
into the engine's request by the emulator's own ``OrderRequest.from_amounts`` — so the
same decisions make the same fills, fees and cash to the micro-unit.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from src.data.market_data.polymarket import BookLevel, OrderBook
from src.sim.venue import errors as sim_errors
from src.sim.venue import types as sim
from src.sim.venue.venue import SimVenue
from src.trading.ledger.accounting import Side
from src.trading.ledger.events import FillEvent, FillStatus
from src.trading.venue.mapping import (
    MakerLeg,
    signed_amounts,
    signed_shares,
    trade_fills,
)
from src.trading.venue.port import (
    CancelReply,
    OrderSpec,
    PlaceReply,
    PlaceStatus,
    PreparedOrder,
    VenueOrder,
)
from src.utils.money import from_micro

DEFAULT_TICK_MICRO = 10_000  # a token the venue does not list: the emulator's fallback
LEVELS_KEPT = 4_096  # book levels kept converted (a day's distinct ones, many times over)


def order_id_for(client_order_id: str) -> str:
    """A deterministic 0x-hash id, shaped like the venue's (the order hash)."""
    return "0x" + hashlib.sha256(client_order_id.encode()).hexdigest()


def engine_request(order: PreparedOrder, tick: int) -> sim.OrderRequest:
    """The engine's input exactly as the emulator builds it from the signed order that
    ``run --sim`` posts: the same signed amounts, read by the same ``from_amounts``."""
    spec = order.spec
    side, order_type = sim.Side(str(spec.side)), sim.OrderType(str(spec.order_type))
    if spec.price_micro % tick:
        # Off the tick (the bot prices on the book's tick, so only a stale tick gets
        # here): the venue refuses it with its text, where the client would round it.
        return sim.OrderRequest.limit(
            spec.token_id,
            side,
            from_micro(spec.price_micro),
            from_micro(spec.size_micro),
            order_type,
            expiration=spec.expiration_s,
            post_only=spec.post_only,
            order_id=order.venue_order_id,
        )
    maker, taker = order.payload  # type: ignore[misc]
    return sim.OrderRequest.from_amounts(
        spec.token_id,
        side,
        maker,
        taker,
        tick,
        order_type,
        expiration=spec.expiration_s,
        post_only=spec.post_only,
        order_id=order.venue_order_id,
    )


def _fill_status(status: sim.TradeStatus) -> FillStatus:
    return FillStatus(str(status))


class InProcessVenue:
    """One account on a SimVenue, seen through the Venue port."""

    def __init__(self, venue: SimVenue, address: str) -> None:
        self._venue = venue
        self._address = address
        # Decimals and market-data levels by micro-units: books are read every tick,
        # their levels seldom change, and building the Decimals is most of a read
        self._decimals: dict[int, Decimal] = {}
        self._levels: dict[tuple[int, int], BookLevel] = {}
        # our trades as (stamp ms, fills), the newest stamp and the venue's trade count
        # they were read at: fills are asked for every tick, trades happen seldom, and
        # while the count stands still the history is the same (FillEvents are frozen)
        self._trade_count: int | None = None
        self._trade_fills: list[tuple[float, list[FillEvent]]] = []
        self._newest_ms = -math.inf
        # each trade's fills by trade id, with the (status, last update) they were built
        # at: when the count moves, only the trades that changed are converted again (a
        # long run holds thousands; fee, legs and parties never change after the match)
        self._converted: dict[str, tuple[tuple[object, float], list[FillEvent]]] = {}

    @property
    def address(self) -> str:
        """The trading account."""
        return self._address

    def _tick(self, token_id: str) -> int:
        try:
            return self._venue.tick_size(token_id)
        except sim_errors.UnknownMarketError:
            return DEFAULT_TICK_MICRO  # the venue refuses it with its own text

    def prepare(self, spec: OrderSpec) -> PreparedOrder:
        """Fix the amounts as the official client would sign them (and the shares they
        carry, as :class:`~src.trading.venue.clob.ClobVenue` records them); the id is
        derived from the client order id: a retry can never be a new order."""
        maker, taker = signed_amounts(spec, self._tick(spec.token_id))
        shares = signed_shares(spec, maker, taker)
        if shares > 0 and shares != spec.size_micro:
            spec = dataclasses.replace(spec, size_micro=shares)
        return PreparedOrder(spec, order_id_for(spec.client_order_id), (maker, taker))

    def submit(self, order: PreparedOrder) -> PlaceReply:
        """Place on the simulator; its refusals are definitive."""
        if 0 in order.payload:  # type: ignore[operator]
            return self._refused(order)
        request = engine_request(order, self._tick(order.spec.token_id))
        return self._reply(order, self._venue.place(self._address, request))

    def submit_batch(self, orders: Sequence[PreparedOrder]) -> list[PlaceReply]:
        """Place up to 15 orders, each on its own."""
        if any(0 in o.payload for o in orders):  # type: ignore[operator]
            return [self._refused(o) for o in orders]  # the emulator refuses the body
        requests = [engine_request(o, self._tick(o.spec.token_id)) for o in orders]
        results = self._venue.place_batch(self._address, requests)
        return [self._reply(o, r) for o, r in zip(orders, results, strict=True)]

    @staticmethod
    def _refused(order: PreparedOrder) -> PlaceReply:
        """A zero signed amount: the emulator refuses the body before the engine."""
        return PlaceReply(
            order.spec.client_order_id,
            order.venue_order_id,
            PlaceStatus.REJECTED,
            error=sim_errors.INVALID_ORDER_PAYLOAD,
        )

    def _reply(self, order: PreparedOrder, result: sim.PlaceResult) -> PlaceReply:
        if not result.success:
            return PlaceReply(
                order.spec.client_order_id,
                order.venue_order_id,
                PlaceStatus.REJECTED,
                error=result.error,
            )
        fills = tuple(
            f for tid in result.trade_ids for f in self._fills_of(self._venue.trade(tid))
        )
        return PlaceReply(
            order.spec.client_order_id,
            order.venue_order_id,
            PlaceStatus.ACCEPTED,
            resting=result.status is sim.PlacementStatus.LIVE,
            fills=fills,
        )

    def _fills_of(self, trade: sim.Trade | None) -> list[FillEvent]:
        """Our side(s) of one venue trade as fill events (taker and/or maker legs)."""
        if trade is None:
            return []
        return trade_fills(
            account=self._address,
            trade_id=trade.trade_id,
            taker_order_id=trade.taker_order_id,
            taker_account=trade.taker_account,
            side=Side(str(trade.side)),
            status=_fill_status(trade.status),
            fee_micro=trade.fee,
            at_ms=int(trade.last_update * 1000),
            legs=tuple(
                MakerLeg(
                    leg.order_id,
                    leg.account,
                    Side(str(leg.side)),
                    leg.price,
                    leg.size,
                    leg.notional,
                )
                for leg in trade.maker_fills
            ),
        )

    def cancel(self, venue_order_ids: Sequence[str]) -> CancelReply:
        """Cancel these orders."""
        result = self._venue.cancel_orders(self._address, venue_order_ids)
        return CancelReply(result.canceled, dict(result.not_canceled))

    def cancel_all(self) -> CancelReply:
        """Cancel everything the account has open."""
        result = self._venue.cancel_all(self._address)
        return CancelReply(result.canceled, dict(result.not_canceled))

    def get_order(self, venue_order_id: str) -> VenueOrder | None:
        """One of our orders, or None when the venue has never seen it."""
        order = self._venue.order(venue_order_id)
        if order is None or order.account != self._address:
            return None
        return _venue_order(order)

    def open_orders(self) -> list[VenueOrder]:
        """Our live orders."""
        return [_venue_order(o) for o in self._venue.open_orders(self._address)]

    def fills(self, since_ms: int = 0) -> list[FillEvent]:
        """Our fills whose status changed at or after ``since_ms``."""
        count = self._venue.trade_changes()  # read first: a later change re-reads
        if count != self._trade_count:
            self._trade_fills = [
                (t.last_update * 1000, self._converted_fills(t))
                for t in self._venue.trades(self._address)
            ]
            self._newest_ms = max((s for s, _ in self._trade_fills), default=-math.inf)
            self._trade_count = count
        if self._newest_ms < since_ms:  # the usual tick: nothing changed since
            return []
        return [f for stamp, fs in self._trade_fills if stamp >= since_ms for f in fs]

    def _converted_fills(self, trade: sim.Trade) -> list[FillEvent]:
        """``_fills_of(trade)``, converted again only when its status or time moved."""
        version = (trade.status, trade.last_update)
        kept = self._converted.get(trade.trade_id)
        if kept is not None and kept[0] == version:
            return kept[1]
        fills = self._fills_of(trade)
        self._converted[trade.trade_id] = (version, fills)
        return fills

    def collateral_micro(self) -> int:
        """Free plus reserved collateral."""
        return self._venue.balance(self._address).balance

    def token_balances(self) -> dict[str, int]:
        """Tokens held (free plus reserved by resting SELLs)."""
        return {p.token_id: p.size for p in self._venue.positions(self._address) if p.size}

    def book(self, token_id: str) -> OrderBook:
        """The simulator's book in the market-data types."""
        return self._order_book(self._venue.book(token_id))

    def _order_book(self, snap: sim.BookSnapshot) -> OrderBook:
        """A simulator book in the market-data types."""
        last = snap.last_trade_price
        # positional, in OrderBook's field order: a keyword call costs more
        return OrderBook(
            snap.token_id,
            self._market_levels(snap.bids),
            self._market_levels(snap.asks),
            int(snap.timestamp * 1000),
            self._decimal(snap.tick_size),
            self._decimal(snap.min_order_size),
            None if last is None else self._decimal(last),
        )

    def _market_levels(self, raw: tuple[sim.BookLevel, ...]) -> tuple[BookLevel, ...]:
        """Venue levels (micro-units) as market-data levels (Decimal)."""
        if len(raw) == 1:  # a tape's single quote: the usual side, without a generator
            return (self._level(raw[0].price, raw[0].size),)
        return tuple(self._level(lv.price, lv.size) for lv in raw)

    def _level(self, price: int, size: int) -> BookLevel:
        """``BookLevel(from_micro(price), from_micro(size))``, built once and shared."""
        key = (price, size)
        level = self._levels.get(key)
        if level is None:
            level = BookLevel(self._decimal(price), self._decimal(size))
            _keep(self._levels, key, level)
        return level

    def _decimal(self, micro: int) -> Decimal:
        """``from_micro(micro)``, built once and shared (a Decimal is immutable)."""
        value = self._decimals.get(micro)
        if value is None:
            value = from_micro(micro)
            _keep(self._decimals, micro, value)
        return value

    def books(self, token_ids: Sequence[str]) -> dict[str, OrderBook]:
        """Every requested book (the simulator answers for any token it lists), read in
        one venue call."""
        snaps = self._venue.books(dict.fromkeys(token_ids))
        return {token: self._order_book(snap) for token, snap in snaps.items()}

    def redeem(self, condition_id: str) -> int:
        """Redeem at the simulator (winning tokens pay 1.00)."""
        return self._venue.redeem(self._address, condition_id).paid


def _keep(memo: dict[Any, Any], key: Any, value: Any) -> None:
    """Remember ``value``, forgetting the oldest entry past ``LEVELS_KEPT``."""
    if len(memo) >= LEVELS_KEPT:
        del memo[next(iter(memo))]
    memo[key] = value


def _venue_order(order: sim.Order) -> VenueOrder:
    return VenueOrder(
        venue_order_id=order.order_id,
        token_id=order.token_id,
        side=Side(str(order.side)),
        price_micro=order.price,
        size_micro=order.size,
        matched_micro=order.matched,
        live=order.is_live,
        status=str(order.status),
    )
