"""The CLOB's public (L0) routes: health, time, books, prices and market parameters."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from src.sim.emulator import clob_views as views
from src.sim.emulator.context import EmulatorContext, MarketSnapshot
from src.sim.emulator.http_util import (
    INVALID_PAYLOAD,
    HttpError,
    error,
    json_response,
    parse_json_body,
    query_token,
    token_id_of,
)
from src.sim.emulator.routing import Route, ctx_of
from src.sim.emulator.wire import page
from src.sim.venue import BookSnapshot

GROUP = "clob"
MAX_BOOKS = 500
PAYLOAD_TOO_LARGE = "Payload exceeds the limit"
INVALID_SIDE = "Invalid side"
MARKET_NOT_FOUND = "market not found"


def _book(request: web.Request, token_id: str) -> BookSnapshot:
    ctx = ctx_of(request)
    route = request.match_info.route.name or ""
    return ctx.books.snapshot(token_id, ctx.faults.staleness(route, GROUP))


async def _token_list(request: web.Request) -> list[dict[str, Any]]:
    """The ``[{"token_id": …, "side"?: …}]`` body of the batch read routes."""
    payload = parse_json_body(await request.read())
    if not isinstance(payload, list) or not all(isinstance(p, dict) for p in payload):
        raise error(400, INVALID_PAYLOAD)
    if len(payload) > MAX_BOOKS:
        raise error(400, PAYLOAD_TOO_LARGE)
    return payload


async def ok(request: web.Request) -> web.Response:
    """``GET /`` and ``GET /ok``: the text ``"OK"`` as a JSON string."""
    return json_response("OK")


async def server_time(request: web.Request) -> web.Response:
    """``GET /time``: the emulator's clock, bare integer seconds."""
    return json_response(int(ctx_of(request).clock.now()))


async def version(request: web.Request) -> web.Response:
    """``GET /version``: ``{"version": 2}`` (the V2 order format)."""
    return json_response({"version": 2})


async def book(request: web.Request) -> web.Response:
    """``GET /book?token_id=``."""
    return json_response(views.book_body(_book(request, query_token(request))))


async def books(request: web.Request) -> web.Response:
    """``POST /books`` with ``[{"token_id"}]``: the books, unknown tokens left out."""
    answers = []
    for item in await _token_list(request):
        try:
            answers.append(
                views.book_body(_book(request, token_id_of(item.get("token_id"))))
            )
        except HttpError as exc:  # one unknown token must not cost the others
            if exc.status not in (400, 404):
                raise
    return json_response(answers)


async def midpoint(request: web.Request) -> web.Response:
    """``GET /midpoint?token_id=`` → ``{"mid": "0.505"}``."""
    return json_response({"mid": views.midpoint_text(_book(request, query_token(request)))})


async def midpoints(request: web.Request) -> web.Response:
    """``POST /midpoints`` → ``{token_id: "0.505"}``."""
    result: dict[str, str] = {}
    for item in await _token_list(request):
        token = token_id_of(item.get("token_id"))
        result[token] = views.midpoint_text(_book(request, token))
    return json_response(result)


def _side(value: object) -> str:
    if value not in ("BUY", "SELL"):
        raise error(400, INVALID_SIDE)
    return str(value)


async def price(request: web.Request) -> web.Response:
    """``GET /price?token_id=&side=`` → ``{"price": "0.50"}`` (BUY: best bid)."""
    token = query_token(request)
    side = _side(request.query.get("side"))
    return json_response({"price": views.price_text(_book(request, token), side)})


async def prices(request: web.Request) -> web.Response:
    """``POST /prices`` → ``{token_id: {side: price}}``."""
    result: dict[str, dict[str, str]] = {}
    for item in await _token_list(request):
        token = token_id_of(item.get("token_id"))
        side = _side(item.get("side"))
        result.setdefault(token, {})[side] = views.price_text(_book(request, token), side)
    return json_response(result)


async def spread(request: web.Request) -> web.Response:
    """``GET /spread?token_id=`` → ``{"spread": "0.01"}``."""
    return json_response(
        {"spread": views.spread_text(_book(request, query_token(request)))}
    )


async def spreads(request: web.Request) -> web.Response:
    """``POST /spreads`` → ``{token_id: "0.01"}``."""
    result = {}
    for item in await _token_list(request):
        token = token_id_of(item.get("token_id"))
        result[token] = views.spread_text(_book(request, token))
    return json_response(result)


async def last_trade_price(request: web.Request) -> web.Response:
    """``GET /last-trade-price?token_id=`` → ``{"price", "side"}``."""
    return json_response(views.last_trade_body(_book(request, query_token(request))))


async def last_trades_prices(request: web.Request) -> web.Response:
    """``POST /last-trades-prices`` → ``[{"token_id", "price", "side"}]``."""
    result = []
    for item in await _token_list(request):
        token = token_id_of(item.get("token_id"))
        result.append({"token_id": token, **views.last_trade_body(_book(request, token))})
    return json_response(result)


async def tick_size(request: web.Request) -> web.Response:
    """``GET /tick-size?token_id=`` → ``{"minimum_tick_size": 0.01}`` (a number)."""
    ctx = ctx_of(request)
    token = query_token(request)
    ctx.market_of_token(token)
    return json_response(
        {"minimum_tick_size": views.tick_number(ctx.venue.tick_size(token))}
    )


async def neg_risk(request: web.Request) -> web.Response:
    """``GET /neg-risk?token_id=`` → ``{"neg_risk": false}``."""
    market = ctx_of(request).market_of_token(query_token(request))
    return json_response({"neg_risk": market.neg_risk})


async def fee_rate(request: web.Request) -> web.Response:
    """``GET /fee-rate?token_id=`` → ``{"base_fee": 1000}`` on fee-enabled markets."""
    market = ctx_of(request).market_of_token(query_token(request))
    return json_response({"base_fee": views.LEGACY_BASE_FEE if market.fee_rate > 0 else 0})


def _market_by_condition(ctx: EmulatorContext, condition_id: str) -> MarketSnapshot:
    market = ctx.source.by_condition(condition_id)
    if market is None:
        raise error(404, MARKET_NOT_FOUND)
    return ctx.market_snapshot(market)


async def market(request: web.Request) -> web.Response:
    """``GET /markets/{condition_id}``."""
    ctx = ctx_of(request)
    snapshot = _market_by_condition(ctx, request.match_info["condition_id"])
    return json_response(views.clob_market_body(snapshot))


async def markets(request: web.Request) -> web.Response:
    """``GET /markets?next_cursor=`` (also the simplified and sampling lists)."""
    ctx = ctx_of(request)
    rows = [views.clob_market_body(ctx.market_snapshot(m)) for m in ctx.source.markets()]
    chunk, following = page(rows, request.query.get("next_cursor"), 1000)
    return json_response(
        {"limit": 1000, "count": len(chunk), "next_cursor": following, "data": chunk}
    )


async def clob_market(request: web.Request) -> web.Response:
    """``GET /clob-markets/{condition_id}``: compact parameters (tick, fees, tokens)."""
    ctx = ctx_of(request)
    snapshot = _market_by_condition(ctx, request.match_info["condition_id"])
    return json_response(views.clob_market_info_body(snapshot))


async def markets_by_token(request: web.Request) -> web.Response:
    """``GET /markets-by-token/{token_id}`` → ``{"condition_id", …}``."""
    ctx = ctx_of(request)
    found = ctx.market_of_token(token_id_of(request.match_info["token_id"]))
    return json_response(
        {
            "condition_id": found.condition_id,
            "primary_token_id": found.up_token_id,
            "secondary_token_id": found.down_token_id,
        }
    )


async def prices_history(request: web.Request) -> web.Response:
    """``GET /prices-history``: not recorded by the emulator, an empty history."""
    return json_response({"history": []})


async def live_activity(request: web.Request) -> web.Response:
    """``GET /markets/live-activity/{condition_id}``: no feed of others' trades."""
    return json_response([])


def routes() -> list[Route]:
    """The public CLOB routes."""
    table = [
        ("GET", "/", ok, "root"),
        ("GET", "/ok", ok, "ok"),
        ("GET", "/time", server_time, "time"),
        ("GET", "/version", version, "version"),
        ("GET", "/book", book, "book"),
        ("POST", "/books", books, "books"),
        ("GET", "/midpoint", midpoint, "midpoint"),
        ("POST", "/midpoints", midpoints, "midpoints"),
        ("GET", "/price", price, "price"),
        ("POST", "/prices", prices, "prices"),
        ("GET", "/spread", spread, "spread"),
        ("POST", "/spreads", spreads, "spreads"),
        ("GET", "/last-trade-price", last_trade_price, "last-trade-price"),
        ("POST", "/last-trades-prices", last_trades_prices, "last-trades-prices"),
        ("GET", "/tick-size", tick_size, "tick-size"),
        ("GET", "/neg-risk", neg_risk, "neg-risk"),
        ("GET", "/fee-rate", fee_rate, "fee-rate"),
        ("GET", "/markets", markets, "markets"),
        ("GET", "/simplified-markets", markets, "simplified-markets"),
        ("GET", "/sampling-markets", markets, "sampling-markets"),
        ("GET", "/sampling-simplified-markets", markets, "sampling-simplified-markets"),
        ("GET", "/markets/live-activity/{condition_id}", live_activity, "live-activity"),
        ("GET", "/markets/{condition_id}", market, "market"),
        ("GET", "/clob-markets/{condition_id}", clob_market, "clob-market"),
        ("GET", "/markets-by-token/{token_id}", markets_by_token, "markets-by-token"),
        ("GET", "/prices-history", prices_history, "prices-history"),
    ]
    return [Route(m, p, h, n, GROUP) for m, p, h, n in table]
