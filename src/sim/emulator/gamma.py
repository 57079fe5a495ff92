"""Gamma (``/gamma/…``): the market and event objects of the 15-minute Up/Down markets.

Field names and styles are Gamma's (``reference/polymarket_api.md`` §3.2–3.4): list fields
are JSON **strings** (``outcomes``, ``outcomePrices``, ``clobTokenIds``), times are ISO
with ``Z`` except ``closedTime``, numbers are numbers. After resolution ``closed`` is true
and ``outcomePrices`` is ``["1", "0"]`` or ``["0", "1"]``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from aiohttp import web

from src.sim.emulator.clob_views import LEGACY_BASE_FEE, market_description, tick_number
from src.sim.emulator.context import EmulatorContext, MarketSnapshot
from src.sim.emulator.http_util import (
    bool_query,
    error,
    int_query,
    json_response,
    multi_query,
)
from src.sim.emulator.routing import Route, ctx_of
from src.sim.emulator.wire import dec, gamma_closed_time, gamma_json_list, iso, num
from src.sim.emulator.world import ListedMarket
from src.sim.venue import Outcome
from src.utils.money import MICRO

GROUP = "gamma"
DEFAULT_LIMIT = 100
NOT_FOUND = "not found"
REBATE_RATE = 0.2


def gamma_id(kind: str, condition_id: str) -> str:
    """A stable numeric id (Gamma ids are decimal strings) for a market or its event."""
    digest = hashlib.sha256(f"{kind}:{condition_id}".encode()).digest()
    return str(1_000_000 + int.from_bytes(digest[:4], "big") % 9_000_000)


def _number(value: Any) -> int | float:
    as_float = float(value)
    return int(as_float) if as_float.is_integer() else as_float


def _outcome_prices(snapshot: MarketSnapshot) -> list[str]:
    if snapshot.winner is not None:
        return ["1", "0"] if snapshot.winner is Outcome.UP else ["0", "1"]
    up = snapshot.up_price
    return [dec(up), dec(MICRO - up)]


def _series_slug(market: ListedMarket) -> str:
    return f"{market.coin.lower()}-up-or-down-15m"


def market_body(snapshot: MarketSnapshot, *, with_event: bool = True) -> dict[str, Any]:
    """A Gamma market object."""
    market = snapshot.market
    fee_on = market.fee_rate > 0
    best_bid = snapshot.best_bid
    best_ask = snapshot.best_ask
    body: dict[str, Any] = {
        "id": gamma_id("market", market.condition_id),
        "question": market.question,
        "conditionId": market.condition_id,
        "questionID": market.question_id,
        "slug": market.slug,
        "resolutionSource": "",
        "description": market_description(market),
        "startDate": iso(market.listed_at),
        "eventStartTime": iso(market.start),
        "endDate": iso(market.end),
        "outcomes": gamma_json_list(["Up", "Down"]),
        "outcomePrices": gamma_json_list(_outcome_prices(snapshot)),
        "clobTokenIds": gamma_json_list(list(market.token_ids)),
        "active": True,
        "closed": snapshot.resolved,
        "archived": False,
        "acceptingOrders": snapshot.accepting_orders,
        "acceptingOrdersTimestamp": iso(market.listed_at),
        "enableOrderBook": True,
        "orderPriceMinTickSize": tick_number(snapshot.tick),
        "orderMinSize": _number(market.min_order_size),
        "negRisk": market.neg_risk,
        "bestBid": num(best_bid) if best_bid is not None else 0,
        "bestAsk": num(best_ask) if best_ask is not None else 1,
        "lastTradePrice": num(snapshot.last_trade) if snapshot.last_trade else 0,
        "spread": num(best_ask - best_bid)
        if best_bid is not None and best_ask is not None
        else 1,
        "makerBaseFee": LEGACY_BASE_FEE if fee_on else 0,
        "takerBaseFee": LEGACY_BASE_FEE if fee_on else 0,
        "feesEnabled": fee_on,
        "feeType": "crypto_fees_v2" if fee_on else None,
        "feeSchedule": {
            "exponent": 1,
            "rate": float(market.fee_rate),
            "takerOnly": True,
            "rebateRate": REBATE_RATE,
        },
        "cryptoMarketConfig": {
            "id": f"{market.coin.lower()}-15m",
            "asset": market.coin.lower(),
            "duration": "15m",
            "twapEnabled": False,
            "twapLookbackSeconds": 0,
        },
        "secondsDelay": 0,
        "clearBookOnStart": False,
        "rewardsMinSize": 50,
        "rewardsMaxSpread": 4.5,
        "umaResolutionStatus": None,
        "umaResolutionStatuses": "[]",
        "resolvedBy": None,
        "restricted": True,
        "ready": True,
        "funded": True,
        "approved": True,
        "volume": "0",
        "liquidity": "0",
    }
    if snapshot.resolved and snapshot.resolved_at is not None:
        body["closedTime"] = gamma_closed_time(snapshot.resolved_at)
    if with_event:
        body["events"] = [event_body(snapshot, with_markets=False)]
    return body


def event_body(snapshot: MarketSnapshot, *, with_markets: bool = True) -> dict[str, Any]:
    """A Gamma event object holding its one market."""
    market = snapshot.market
    metadata: dict[str, float] = {}
    if snapshot.price_to_beat is not None:
        metadata["priceToBeat"] = snapshot.price_to_beat
    if snapshot.resolved and snapshot.final_price is not None:
        metadata["finalPrice"] = snapshot.final_price
    series = _series_slug(market)
    body: dict[str, Any] = {
        "id": gamma_id("event", market.condition_id),
        "ticker": market.slug,
        "slug": market.slug,
        "title": market.question,
        "description": market_description(market),
        "resolutionSource": "",
        "startDate": iso(market.listed_at),
        "creationDate": iso(market.listed_at),
        "startTime": iso(market.start),
        "endDate": iso(market.end),
        "seriesSlug": series,
        "active": True,
        "closed": snapshot.resolved,
        "archived": False,
        "new": False,
        "featured": False,
        "restricted": True,
        "negRisk": market.neg_risk,
        "enableOrderBook": True,
        "eventMetadata": metadata,
        "series": [
            {
                "id": gamma_id("series", series),
                "ticker": series,
                "slug": series,
                "title": f"{market.coin} Up or Down 15m",
                "seriesType": "single",
                "recurrence": "15m",
                "active": True,
                "closed": False,
            }
        ],
    }
    if with_markets:
        body["markets"] = [market_body(snapshot, with_event=False)]
    return body


def _by_slug(ctx: EmulatorContext, slug: str) -> MarketSnapshot:
    market = ctx.source.by_slug(slug)
    if market is None:
        raise error(404, NOT_FOUND)
    return ctx.market_snapshot(market)


async def event_by_slug(request: web.Request) -> web.Response:
    """``GET /gamma/events/slug/{slug}``."""
    ctx = ctx_of(request)
    return json_response(event_body(_by_slug(ctx, request.match_info["slug"])))


async def market_by_slug(request: web.Request) -> web.Response:
    """``GET /gamma/markets/slug/{slug}``."""
    ctx = ctx_of(request)
    return json_response(market_body(_by_slug(ctx, request.match_info["slug"])))


def _select(request: web.Request, *, default_open_only: bool) -> list[MarketSnapshot]:
    """Markets matching the query's filters, with Gamma's ``limit``/``offset``."""
    ctx = ctx_of(request)
    slugs = set(multi_query(request, "slug"))
    conditions = set(multi_query(request, "condition_ids"))
    tokens = set(multi_query(request, "clob_token_ids"))
    closed = bool_query(request, "closed")
    if closed is None and default_open_only:
        closed = False  # Gamma's /markets default since 2026-04-09
    active = bool_query(request, "active")
    chosen = []
    for market in ctx.source.markets():
        if slugs and market.slug not in slugs:
            continue
        if conditions and market.condition_id not in conditions:
            continue
        if tokens and not tokens.intersection(market.token_ids):
            continue
        snapshot = ctx.market_snapshot(market)
        if closed is not None and snapshot.resolved != closed:
            continue
        if active is False:
            continue  # every listed market is active
        chosen.append(snapshot)
    if request.query.get("ascending", "true").lower() == "false":
        chosen.reverse()
    offset = int_query(request, "offset", 0)
    limit = int_query(request, "limit", DEFAULT_LIMIT)
    return chosen[offset : offset + limit]


async def events(request: web.Request) -> web.Response:
    """``GET /gamma/events?slug=&closed=&limit=&offset=``."""
    return json_response([event_body(s) for s in _select(request, default_open_only=False)])


async def markets(request: web.Request) -> web.Response:
    """``GET /gamma/markets?slug=&condition_ids=&clob_token_ids=&closed=&limit=&offset=``
    (open markets only unless ``closed`` is given, as Gamma does)."""
    return json_response([market_body(s) for s in _select(request, default_open_only=True)])


def routes() -> list[Route]:
    """The Gamma routes."""
    table = [
        ("GET", "/gamma/events/slug/{slug}", event_by_slug, "gamma-event"),
        ("GET", "/gamma/markets/slug/{slug}", market_by_slug, "gamma-market"),
        ("GET", "/gamma/events", events, "gamma-events"),
        ("GET", "/gamma/markets", markets, "gamma-markets"),
    ]
    return [Route(m, p, h, n, GROUP) for m, p, h, n in table]
