"""The Data API (``/data-api/…``): positions, trades, activity and value of a wallet.

Shapes follow the fixtures (``data_api_*.json``) and ``reference/polymarket_api.md`` §4:
v1 rows are camelCase with numbers; ``/v2/positions`` wraps snake_case rows in
``{"data", "pagination"}``. Like the real Data API it shows what settled on chain:
CONFIRMED trades only, settled positions only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from src.sim.emulator.accounts import AddressError, canonical_address
from src.sim.emulator.context import EmulatorContext
from src.sim.emulator.http_util import bool_query, error, int_query, json_response
from src.sim.emulator.routing import Route, ctx_of
from src.sim.emulator.wire import iso, transaction_hash
from src.sim.emulator.world import ListedMarket
from src.sim.venue import (
    FeeAsset,
    Outcome,
    Side,
    SimVenue,
    Trade,
    TradeStatus,
    UnknownMarketError,
)
from src.utils.money import MICRO

GROUP = "data"
USER_REQUIRED = "required query param 'user' not provided"
USER_REQUIRED_V2 = "required query param 'user' or 'condition' not provided"
DEFAULT_LIMIT = 100
MAX_LIMIT = 500


@dataclass(frozen=True, slots=True)
class Fill:
    """One account's side of a confirmed trade: what it bought or sold, and for how much
    (shares net of share fees; collateral net of collateral fees)."""

    trade: Trade
    side: Side
    shares: int
    cash: int
    price: int
    is_taker: bool


def fills_of(trades: Iterable[Trade], account: str) -> list[Fill]:
    """``account``'s fills in ``trades`` (CONFIRMED ones only), in match order."""
    found: list[Fill] = []
    for trade in trades:
        if trade.status is not TradeStatus.CONFIRMED:
            continue
        if trade.taker_account == account:
            shares, cash = trade.size, trade.notional
            if trade.fee_asset is FeeAsset.SHARES:
                shares -= trade.fee
            else:
                cash -= trade.fee
            found.append(Fill(trade, trade.side, shares, cash, trade.price, True))
        for fill in trade.maker_fills:
            if fill.account == account:
                found.append(
                    Fill(trade, fill.side, fill.size, fill.notional, fill.price, False)
                )
    return found


@dataclass(frozen=True, slots=True)
class PositionStats:
    """A token's position built from fills: average cost and realised PnL (micro)."""

    bought: int
    cost: int
    sold: int
    proceeds: int

    @property
    def avg_price(self) -> float:
        """Average price paid per share bought (0 without buys)."""
        return self.cost / self.bought if self.bought else 0.0

    @property
    def realized(self) -> float:
        """Proceeds of sales minus their average cost, in collateral."""
        return (self.proceeds - self.sold * self.avg_price) / MICRO


def position_stats(fills: Iterable[Fill], token_id: str) -> PositionStats:
    """Sum the buys and sells of ``token_id``."""
    bought = cost = sold = proceeds = 0
    for fill in fills:
        if fill.trade.token_id != token_id:
            continue
        if fill.side is Side.BUY:
            bought += fill.shares
            cost += fill.cash
        else:
            sold += fill.shares
            proceeds += fill.cash
    return PositionStats(bought, cost, sold, proceeds)


def _current_price(venue: SimVenue, market: ListedMarket, token_id: str) -> float:
    status = venue.market_status(market.condition_id)
    if status.winner is not None:
        return 1.0 if market.outcome_of(token_id) is status.winner else 0.0
    book = venue.book(token_id, depth=1)
    mid = book.midpoint
    if mid is None:
        mid = book.last_trade_price if book.last_trade_price is not None else 500_000
    return mid / MICRO


@dataclass(frozen=True, slots=True)
class PositionRow:
    """Everything both position shapes need about one holding."""

    market: ListedMarket
    token_id: str
    size: float
    stats: PositionStats
    cur_price: float
    resolved: bool
    won: bool

    @property
    def outcome(self) -> Outcome:
        """The token's outcome."""
        return self.market.outcome_of(self.token_id)


def position_rows(
    ctx: EmulatorContext, user: str, include_closed: bool
) -> list[PositionRow]:
    """``user``'s holdings (settled), plus fully closed ones when asked."""
    venue = ctx.venue
    if not venue.has_account(user):
        return []
    fills = fills_of(venue.trades(user), user)
    held = {p.token_id: p.size for p in venue.positions(user)}
    tokens = list(held)
    if include_closed:
        tokens += [
            t for t in dict.fromkeys(f.trade.token_id for f in fills) if t not in held
        ]
    rows = []
    for token_id in tokens:
        market = ctx.source.by_token(token_id)
        if market is None:
            continue
        try:
            status = venue.market_status(market.condition_id)
            cur = _current_price(venue, market, token_id)
        except UnknownMarketError:
            continue
        outcome = market.outcome_of(token_id)
        rows.append(
            PositionRow(
                market,
                token_id,
                held.get(token_id, 0) / MICRO,
                position_stats(fills, token_id),
                cur,
                status.resolved,
                status.winner is outcome,
            )
        )
    return rows


def v1_position(row: PositionRow, user: str) -> dict[str, Any]:
    """A ``/positions`` row (camelCase, numbers)."""
    market = row.market
    avg = row.stats.avg_price
    initial = row.size * avg
    current = row.size * row.cur_price
    outcome = row.outcome
    other = Outcome.DOWN if outcome is Outcome.UP else Outcome.UP
    return {
        "proxyWallet": user,
        "asset": row.token_id,
        "conditionId": market.condition_id,
        "size": row.size,
        "avgPrice": round(avg, 6),
        "initialValue": round(initial, 6),
        "currentValue": round(current, 6),
        "cashPnl": round(current - initial, 6),
        "percentPnl": round((current - initial) / initial * 100, 4) if initial else 0.0,
        "totalBought": row.stats.bought / MICRO,
        "realizedPnl": round(row.stats.realized, 6),
        "percentRealizedPnl": 0.0,
        "curPrice": row.cur_price,
        "redeemable": row.resolved and row.size > 0,
        "mergeable": False,
        "title": market.question,
        "slug": market.slug,
        "icon": "",
        "eventSlug": market.slug,
        "outcome": str(outcome),
        "outcomeIndex": 0 if outcome is Outcome.UP else 1,
        "oppositeOutcome": str(other),
        "oppositeAsset": market.other_token(row.token_id),
        "endDate": iso(market.end),
        "negativeRisk": market.neg_risk,
    }


def v2_status(row: PositionRow) -> str:
    """OPEN, REDEEMABLE, REDEEMABLE_LOST or CLOSED."""
    if row.size <= 0:
        return "CLOSED"
    if row.resolved:
        return "REDEEMABLE" if row.won else "REDEEMABLE_LOST"
    return "OPEN"


def v2_position(row: PositionRow, user: str) -> dict[str, Any]:
    """A ``/v2/positions`` row (snake_case, numbers)."""
    avg = row.stats.avg_price
    entry = row.size * avg
    current = row.size * row.cur_price
    return {
        "proxy_wallet": user,
        "condition_id": row.market.condition_id,
        "token_id": row.token_id,
        "outcome": str(row.outcome),
        "outcome_index": 0 if row.outcome is Outcome.UP else 1,
        "title": row.market.question,
        "slug": row.market.slug,
        "status": v2_status(row),
        "current_size": row.size,
        "avg_price": round(avg, 6),
        "entry_cost_usdc": round(entry, 6),
        "current_value": round(current, 6),
        "cur_price": row.cur_price,
        "realized_pnl": round(row.stats.realized, 6),
        "unrealized_pnl": round(current - entry, 6),
        "end_date": iso(row.market.end),
    }


def trade_row(fill: Fill, market: ListedMarket, user: str) -> dict[str, Any]:
    """A ``/trades`` row."""
    outcome = fill.trade.outcome
    return {
        "proxyWallet": user,
        "side": str(fill.side),
        "asset": fill.trade.token_id,
        "conditionId": fill.trade.market,
        "size": fill.shares / MICRO,
        "price": fill.price / MICRO,
        "timestamp": int(fill.trade.match_time),
        "title": market.question,
        "slug": market.slug,
        "icon": "",
        "eventSlug": market.slug,
        "outcome": str(outcome),
        "outcomeIndex": 0 if outcome is Outcome.UP else 1,
        "name": "",
        "pseudonym": "",
        "bio": "",
        "profileImage": "",
        "profileImageOptimized": "",
        "transactionHash": transaction_hash(fill.trade.trade_id),
    }


def _user(request: web.Request, message: str = USER_REQUIRED) -> str:
    raw = request.query.get("user")
    if not raw:
        raise error(400, message)
    try:
        return canonical_address(raw)
    except AddressError:
        raise error(400, f"invalid user address: {raw}") from None


def _limits(request: web.Request) -> tuple[int, int]:
    limit = min(int_query(request, "limit", DEFAULT_LIMIT), MAX_LIMIT)
    return limit, int_query(request, "offset", 0)


def _market_filter(request: web.Request) -> set[str]:
    raw = request.query.get("market", "")
    return {part.strip() for part in raw.split(",") if part.strip()}


async def positions(request: web.Request) -> web.Response:
    """``GET /data-api/positions?user=&market=&sizeThreshold=1&redeemable=&limit=&offset=``."""
    ctx = ctx_of(request)
    user = _user(request)
    markets = _market_filter(request)
    try:
        threshold = float(request.query.get("sizeThreshold") or 1)
    except ValueError:
        raise error(400, "invalid sizeThreshold") from None
    redeemable = bool_query(request, "redeemable")
    rows = [
        v1_position(r, user)
        for r in position_rows(ctx, user, include_closed=False)
        if (not markets or r.market.condition_id in markets) and r.size >= threshold
    ]
    if redeemable is not None:
        rows = [r for r in rows if r["redeemable"] is redeemable]
    limit, offset = _limits(request)
    return json_response(rows[offset : offset + limit])


async def positions_v2(request: web.Request) -> web.Response:
    """``GET /data-api/v2/positions?user=&status=&limit=&offset=`` (envelope)."""
    ctx = ctx_of(request)
    user = _user(request, USER_REQUIRED_V2)
    wanted = {s.strip().upper() for s in request.query.get("status", "").split(",") if s}
    markets = _market_filter(request)
    rows = [
        v2_position(r, user)
        for r in position_rows(ctx, user, include_closed=True)
        if not markets or r.market.condition_id in markets
    ]
    if wanted:
        rows = [r for r in rows if r["status"] in wanted]
    else:
        rows = [r for r in rows if r["status"] != "CLOSED"]
    limit, offset = _limits(request)
    chunk = rows[offset : offset + limit]
    more = offset + limit < len(rows)
    return json_response(
        {
            "data": chunk,
            "pagination": {
                "limit": limit,
                "offset": offset,
                "has_more": more,
                "next_cursor": str(offset + limit) if more else None,
            },
        }
    )


def _user_fills(ctx: EmulatorContext, user: str) -> list[Fill]:
    if not ctx.venue.has_account(user):
        return []
    return fills_of(ctx.venue.trades(user), user)


async def trades(request: web.Request) -> web.Response:
    """``GET /data-api/trades?user=&market=&side=&takerOnly=true&limit=&offset=``."""
    ctx = ctx_of(request)
    user = _user(request)
    markets = _market_filter(request)
    taker_only = bool_query(request, "takerOnly")
    side = request.query.get("side", "").upper()
    rows = []
    for fill in reversed(_user_fills(ctx, user)):
        if taker_only is not False and not fill.is_taker:
            continue
        if markets and fill.trade.market not in markets:
            continue
        if side and str(fill.side) != side:
            continue
        market = ctx.source.by_token(fill.trade.token_id)
        if market is not None:
            rows.append(trade_row(fill, market, user))
    limit, offset = _limits(request)
    return json_response(rows[offset : offset + limit])


async def activity(request: web.Request) -> web.Response:
    """``GET /data-api/activity?user=&type=TRADE,REDEEM&limit=&offset=``, newest first."""
    ctx = ctx_of(request)
    user = _user(request)
    types = {t.strip().upper() for t in request.query.get("type", "").split(",") if t}
    rows: list[dict[str, Any]] = []
    if not types or "TRADE" in types:
        for fill in _user_fills(ctx, user):
            market = ctx.source.by_token(fill.trade.token_id)
            if market is None:
                continue
            row = trade_row(fill, market, user)
            rows.append({**row, "type": "TRADE", "usdcSize": fill.cash / MICRO})
    if not types or "REDEEM" in types:
        for done, when in ctx.redemptions(user):
            market = ctx.source.by_condition(done.market)
            if market is None:
                continue
            rows.append(
                {
                    "proxyWallet": user,
                    "timestamp": int(when),
                    "conditionId": done.market,
                    "type": "REDEEM",
                    "size": (done.winning_burned + done.losing_burned) / MICRO,
                    "usdcSize": done.paid / MICRO,
                    "transactionHash": transaction_hash(f"redeem:{user}:{done.market}"),
                    "price": 0,
                    "asset": "",
                    "side": "",
                    "outcomeIndex": 999,
                    "title": market.question,
                    "slug": market.slug,
                    "icon": "",
                    "eventSlug": market.slug,
                    "outcome": "",
                    "name": "",
                    "pseudonym": "",
                    "bio": "",
                    "profileImage": "",
                    "profileImageOptimized": "",
                }
            )
    rows.sort(key=lambda r: r["timestamp"], reverse=True)
    limit, offset = _limits(request)
    return json_response(rows[offset : offset + limit])


async def value(request: web.Request) -> web.Response:
    """``GET /data-api/value?user=`` → ``[{"user", "value"}]`` (positions at mid)."""
    ctx = ctx_of(request)
    user = _user(request)
    total = sum(r.size * r.cur_price for r in position_rows(ctx, user, False))
    return json_response([{"user": user, "value": round(total, 6)}])


def routes() -> list[Route]:
    """The Data API routes (v1 and the v2 positions)."""
    table = [
        ("GET", "/data-api/positions", positions, "positions"),
        ("GET", "/data-api/v2/positions", positions_v2, "positions-v2"),
        ("GET", "/data-api/trades", trades, "trades"),
        ("GET", "/data-api/activity", activity, "activity"),
        ("GET", "/data-api/value", value, "value"),
    ]
    return [Route(m, p, h, n, GROUP) for m, p, h, n in table]
