"""The CLOB's authenticated routes: API keys (L1), orders, cancels and account data (L2).

Order handling follows ``docs/EMULATOR_AUTH.md`` §5: verify L2, parse the body, find the
token's market (its exchange domain), check owner, signer and signature, then route the
order into the venue keyed by its EIP-712 hash. Signature recovery runs on the worker
pool; the venue decides everything else with its exact texts.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from src.sim.emulator import clob_views as views
from src.sim.emulator.auth import L2Auth
from src.sim.emulator.context import EmulatorContext
from src.sim.emulator.errors import OrderRejectedError
from src.sim.emulator.http_util import (
    INVALID_PAYLOAD,
    HttpError,
    error,
    json_response,
    parse_json_body,
    token_id_of,
)
from src.sim.emulator.orders import (
    ParsedOrderV2,
    accept_order,
    exchange_domain,
    parse_order_body,
    parse_orders_body,
)
from src.sim.emulator.routing import Route, ctx_of
from src.sim.emulator.wire import RejectStyle, page
from src.sim.venue import (
    Order,
    PlaceResult,
    Trade,
    UnknownMarketError,
)
from src.utils.logger import log

GROUP = "clob"
MAX_CANCEL_IDS = 3000
INVALID_ASSET_TYPE = "Invalid asset type"


async def _l2(request: web.Request) -> tuple[EmulatorContext, L2Auth, bytes]:
    ctx = ctx_of(request)
    body = await request.read()
    return ctx, ctx.verify_l2(request, body), body


# -- API keys (L1) --------------------------------------------------------------------------


async def create_api_key(request: web.Request) -> web.Response:
    """``POST /auth/api-key``: (idempotently) create the key of (address, nonce)."""
    ctx = ctx_of(request)
    auth = await ctx.blocking(ctx.verify_l1, dict(request.headers))
    creds = ctx.keys.create(auth.address, auth.nonce)
    ctx.accounts.ensure(auth.address)
    log(f"🔑 API key for {auth.address} (nonce {auth.nonce})")
    return json_response(creds.response_body())


async def derive_api_key(request: web.Request) -> web.Response:
    """``GET /auth/derive-api-key``: the key created before (400 otherwise)."""
    ctx = ctx_of(request)
    auth = await ctx.blocking(ctx.verify_l1, dict(request.headers))
    creds = ctx.keys.derive(auth.address, auth.nonce)
    ctx.accounts.ensure(auth.address)
    return json_response(creds.response_body())


async def api_keys(request: web.Request) -> web.Response:
    """``GET /auth/api-keys``: the caller's keys."""
    ctx, auth, _ = await _l2(request)
    return json_response({"apiKeys": list(ctx.keys.keys_for(auth.address))})


async def delete_api_key(request: web.Request) -> web.Response:
    """``DELETE /auth/api-key``: forget the key used for this request."""
    ctx, auth, _ = await _l2(request)
    ctx.keys.delete(auth.api_key)
    return json_response("OK")


async def closed_only(request: web.Request) -> web.Response:
    """``GET /auth/ban-status/closed-only``: nobody is restricted here."""
    await _l2(request)
    return json_response({"closed_only": False})


# -- orders ---------------------------------------------------------------------------------


def _place(ctx: EmulatorContext, auth: L2Auth, order: ParsedOrderV2) -> PlaceResult:
    """Verify one parsed order and submit it; a refusal comes back as a failed result."""
    market = ctx.source.by_token(order.token_id)
    neg_risk = market.neg_risk if market is not None else False
    domain = exchange_domain(neg_risk=neg_risk, chain_id=ctx.config.chain_id)
    try:
        signed = accept_order(order, auth=auth, domain=domain)
    except OrderRejectedError as exc:
        return PlaceResult(False, order.hash_in(domain), exc.message)
    funder = signed.maker
    ctx.accounts.link_funder(auth.address, funder)
    ctx.accounts.ensure(funder)
    try:
        tick = ctx.venue.tick_size(signed.token_id)
    except UnknownMarketError:
        tick = 10_000  # the engine answers "orderbook does not exist" with its own text
    result = ctx.venue.place(funder, signed.to_request(tick))
    mark = "🎯" if result.success else "❌"
    log(
        f"{mark} order {result.order_id[:10]}… {signed.side} {signed.size} @ {signed.price} "
        f"{signed.order_type}{' post-only' if signed.post_only else ''} → "
        f"{result.status or result.error}"
    )
    return result


def _place_batch(
    ctx: EmulatorContext, auth: L2Auth, orders: tuple[ParsedOrderV2, ...]
) -> list[PlaceResult]:
    return [_place(ctx, auth, order) for order in orders]


async def post_order(request: web.Request) -> web.Response:
    """``POST /order``: one signed order."""
    ctx, auth, body = await _l2(request)
    parsed = parse_order_body(body)
    result = await ctx.blocking(_place, ctx, auth, parsed)
    if not result.success and ctx.config.reject_style is RejectStyle.HTTP_400:
        raise error(400, result.error)
    return json_response(views.placement_body(result))


async def post_orders(request: web.Request) -> web.Response:
    """``POST /orders``: up to 15 orders; per-order refusals inside the 200 array."""
    ctx, auth, body = await _l2(request)
    parsed = parse_orders_body(body)
    results = await ctx.blocking(_place_batch, ctx, auth, parsed)
    return json_response([views.placement_body(r) for r in results])


def _ids(payload: Any, maximum: int) -> list[str]:
    if not isinstance(payload, list) or not all(isinstance(i, str) for i in payload):
        raise error(400, INVALID_PAYLOAD)
    if len(payload) > maximum:
        raise error(400, INVALID_PAYLOAD)
    return payload


async def cancel_order(request: web.Request) -> web.Response:
    """``DELETE /order`` with ``{"orderID": "0x…"}``."""
    ctx, auth, body = await _l2(request)
    payload = parse_json_body(body)
    order_id = payload.get("orderID") if isinstance(payload, dict) else None
    if not isinstance(order_id, str) or not order_id:
        raise error(400, INVALID_PAYLOAD)
    result = ctx.venue.cancel(ctx.funder(auth), order_id)
    _log_cancel(result.canceled)
    return json_response(views.cancel_body(result))


async def cancel_orders(request: web.Request) -> web.Response:
    """``DELETE /orders`` with ``["0x…", …]``."""
    ctx, auth, body = await _l2(request)
    ids = _ids(parse_json_body(body), MAX_CANCEL_IDS)
    result = ctx.venue.cancel_orders(ctx.funder(auth), ids)
    _log_cancel(result.canceled)
    return json_response(views.cancel_body(result))


async def cancel_all(request: web.Request) -> web.Response:
    """``DELETE /cancel-all``."""
    ctx, auth, _ = await _l2(request)
    result = ctx.venue.cancel_all(ctx.funder(auth))
    _log_cancel(result.canceled)
    return json_response(views.cancel_body(result))


async def cancel_market_orders(request: web.Request) -> web.Response:
    """``DELETE /cancel-market-orders`` with ``{"market"?, "asset_id"?}``."""
    ctx, auth, body = await _l2(request)
    payload = parse_json_body(body) if body else {}
    if not isinstance(payload, dict):
        raise error(400, INVALID_PAYLOAD)
    market = payload.get("market") or None
    asset = payload.get("asset_id") or None
    if not isinstance(market, str | None) or not isinstance(asset, str | None):
        raise error(400, INVALID_PAYLOAD)
    result = ctx.venue.cancel_market_orders(ctx.funder(auth), market, asset)
    _log_cancel(result.canceled)
    return json_response(views.cancel_body(result))


def _log_cancel(ids: tuple[str, ...]) -> None:
    if ids:
        log(f"🧹 cancelled {len(ids)} order(s)")


# -- account data ---------------------------------------------------------------------------


def _order_rows(ctx: EmulatorContext, auth: L2Auth, orders: list[Order]) -> list[Any]:
    style = ctx.config.status_style
    return [views.order_body(o, auth.api_key, style) for o in orders]


async def open_orders(request: web.Request) -> web.Response:
    """``GET /data/orders?market=&asset_id=&id=&next_cursor=``: live orders (any status
    when asked by ``id``)."""
    ctx, auth, _ = await _l2(request)
    funder = ctx.funder(auth)
    query = request.query
    wanted = query.get("id")
    if wanted:
        order = ctx.venue.order(wanted)
        found = [order] if order is not None and order.account == funder else []
    else:
        found = ctx.venue.open_orders(
            funder,
            condition_id=query.get("market") or None,
            token_id=query.get("asset_id") or None,
        )
    chunk, following = page(found, query.get("next_cursor"), ctx.config.page_size)
    return json_response(
        {
            "limit": ctx.config.page_size,
            "count": len(chunk),
            "next_cursor": following,
            "data": _order_rows(ctx, auth, chunk),
        }
    )


async def one_order(request: web.Request) -> web.Response:
    """``GET /data/order/{id}`` (and ``/order/{id}``): the order in any status, or
    ``null`` when the caller has no such order [INF: live reports an empty answer]."""
    ctx, auth, _ = await _l2(request)
    order = ctx.venue.order(request.match_info["order_id"])
    if order is None or order.account != ctx.funder(auth):
        return json_response(None)
    return json_response(views.order_body(order, auth.api_key, ctx.config.status_style))


def _trade_matches(trade: Trade, query: Any) -> bool:
    if query.get("id") and trade.trade_id != query["id"]:
        return False
    if query.get("market") and trade.market != query["market"]:
        return False
    if query.get("asset_id") and trade.token_id != query["asset_id"]:
        return False
    after, before = query.get("after"), query.get("before")
    if after and after.isdigit() and trade.match_time < int(after):
        return False
    return not (before and before.isdigit() and trade.match_time > int(before))


async def trades(request: web.Request) -> web.Response:
    """``GET /data/trades?market=&asset_id=&after=&before=&id=&next_cursor=``."""
    ctx, auth, _ = await _l2(request)
    funder = ctx.funder(auth)
    query = request.query
    found = [t for t in ctx.venue.trades(funder) if _trade_matches(t, query)]
    chunk, following = page(found, query.get("next_cursor"), ctx.config.page_size)
    style = ctx.config.status_style
    return json_response(
        {
            "limit": ctx.config.page_size,
            "count": len(chunk),
            "next_cursor": following,
            "data": [views.trade_body(t, funder, ctx.key_of, style) for t in chunk],
        }
    )


async def pre_migration_orders(request: web.Request) -> web.Response:
    """``GET /data/pre-migration-orders``: the emulator has no V1 history."""
    await _l2(request)
    return json_response({"limit": 0, "count": 0, "next_cursor": "LTE=", "data": []})


async def notifications(request: web.Request) -> web.Response:
    """``GET /notifications``: fills, failed fills and venue cancellations."""
    ctx, auth, _ = await _l2(request)
    return json_response(ctx.notifications.list(ctx.funder(auth)))


async def drop_notifications(request: web.Request) -> web.Response:
    """``DELETE /notifications?ids=1,2`` (no ids: all)."""
    ctx, auth, _ = await _l2(request)
    raw = request.query.get("ids", "")
    ids = {int(i) for i in raw.split(",") if i.strip().isdigit()} if raw else None
    ctx.notifications.drop(ctx.funder(auth), ids)
    return json_response("OK")


def _spenders(ctx: EmulatorContext) -> tuple[str, ...]:
    chain = ctx.config.chain_id
    return tuple(
        exchange_domain(neg_risk=n, chain_id=chain).verifying_contract
        for n in (False, True)
    )


async def balance_allowance(request: web.Request) -> web.Response:
    """``GET /balance-allowance?asset_type=COLLATERAL|CONDITIONAL&token_id=`` (and the
    ``/update`` twin): the balance in base units (6 decimals), unlimited allowances."""
    ctx, auth, _ = await _l2(request)
    funder = ctx.funder(auth)
    asset_type = request.query.get("asset_type", "COLLATERAL").upper()
    if asset_type == "COLLATERAL":
        micro = ctx.venue.balance(funder).balance
    elif asset_type == "CONDITIONAL":
        token = token_id_of(request.query.get("token_id"))
        try:
            micro = ctx.venue.position(funder, token).size
        except UnknownMarketError:
            micro = 0
    else:
        raise error(400, INVALID_ASSET_TYPE)
    return json_response(views.balance_body(micro, _spenders(ctx)))


async def order_scoring(request: web.Request) -> web.Response:
    """``GET /order-scoring?order_id=``: a live order "scores" (rewards not emulated)."""
    ctx, auth, _ = await _l2(request)
    order = ctx.venue.order(request.query.get("order_id", ""))
    live = order is not None and order.is_live and order.account == ctx.funder(auth)
    return json_response({"scoring": live})


async def orders_scoring(request: web.Request) -> web.Response:
    """``POST /orders-scoring`` with ``["0x…"]`` → ``{id: bool}``."""
    ctx, auth, body = await _l2(request)
    funder = ctx.funder(auth)
    answer = {}
    for order_id in _ids(parse_json_body(body), MAX_CANCEL_IDS):
        order = ctx.venue.order(order_id)
        answer[order_id] = bool(order and order.is_live and order.account == funder)
    return json_response(answer)


async def heartbeat(request: web.Request) -> web.Response:
    """``POST /v1/heartbeats`` with ``{"heartbeat_id": "…"|null}``."""
    ctx, auth, body = await _l2(request)
    payload = parse_json_body(body) if body else {}
    if not isinstance(payload, dict):
        raise error(400, INVALID_PAYLOAD)
    given = payload.get("heartbeat_id")
    if given is not None and not isinstance(given, str):
        raise error(400, INVALID_PAYLOAD)
    answer = ctx.heartbeats.beat(ctx.funder(auth), given, ctx.clock.now())
    if not answer.accepted:
        raise HttpError(400, answer.body())
    return json_response(answer.body())


def routes() -> list[Route]:
    """The authenticated CLOB routes."""
    table = [
        ("POST", "/auth/api-key", create_api_key, "api-key"),
        ("GET", "/auth/derive-api-key", derive_api_key, "derive-api-key"),
        ("GET", "/auth/api-keys", api_keys, "api-keys"),
        ("DELETE", "/auth/api-key", delete_api_key, "delete-api-key"),
        ("GET", "/auth/ban-status/closed-only", closed_only, "closed-only"),
        ("POST", "/order", post_order, "order"),
        ("POST", "/orders", post_orders, "orders"),
        ("DELETE", "/order", cancel_order, "cancel"),
        ("DELETE", "/orders", cancel_orders, "cancel-orders"),
        ("DELETE", "/cancel-all", cancel_all, "cancel-all"),
        ("DELETE", "/cancel-market-orders", cancel_market_orders, "cancel-market-orders"),
        ("GET", "/data/orders", open_orders, "data-orders"),
        ("GET", "/data/order/{order_id}", one_order, "data-order"),
        ("GET", "/order/{order_id}", one_order, "order-by-id"),
        ("GET", "/data/trades", trades, "data-trades"),
        ("GET", "/data/pre-migration-orders", pre_migration_orders, "pre-migration-orders"),
        ("GET", "/notifications", notifications, "notifications"),
        ("DELETE", "/notifications", drop_notifications, "drop-notifications"),
        ("GET", "/balance-allowance", balance_allowance, "balance-allowance"),
        ("GET", "/balance-allowance/update", balance_allowance, "balance-allowance-update"),
        ("GET", "/order-scoring", order_scoring, "order-scoring"),
        ("POST", "/orders-scoring", orders_scoring, "orders-scoring"),
        ("POST", "/v1/heartbeats", heartbeat, "heartbeats"),
    ]
    return [Route(m, p, h, n, GROUP) for m, p, h, n in table]
