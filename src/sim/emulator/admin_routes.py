"""Admin routes (loopback only): fund an address, read the venue's full ledger, set faults,
move a manual clock, redeem (the on-chain step the CLOB does not do)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from src.sim.emulator import clob_views as views
from src.sim.emulator.accounts import AddressError, canonical_address
from src.sim.emulator.context import EmulatorContext
from src.sim.emulator.faults import FaultPlan, FaultSpecError
from src.sim.emulator.http_util import error, json_response, parse_json_body
from src.sim.emulator.middleware import ADMIN_GROUP
from src.sim.emulator.routing import Route, ctx_of
from src.sim.emulator.wire import StatusStyle, dec, parse_amount, transaction_hash
from src.sim.venue import FEE_COLLECTOR, MarketStateError, SimVenue, UnknownMarketError
from src.utils.logger import log

STEP: web.AppKey[Callable[[float], float]] = web.AppKey("emulator_step")
"""The emulator's ``advance(seconds) → now`` (manual clocks only; set by the server)."""


def account_ledger(
    venue: SimVenue, address: str, key_of: Callable[[str], str], style: StatusStyle
) -> dict[str, Any]:
    """One account: collateral, positions, every order and trade, fees paid (as taker)."""
    balance = venue.balance(address)
    trades = venue.trades(address)
    paid = [t for t in trades if t.taker_account == address]
    return {
        "address": address,
        "collateral": {
            "balance": dec(balance.balance),
            "available": dec(balance.available),
            "reserved": dec(balance.reserved),
        },
        "positions": [
            {
                "market": p.market,
                "token_id": p.token_id,
                "outcome": str(p.outcome),
                "size": dec(p.size),
                "available": dec(p.available),
                "reserved": dec(p.reserved),
            }
            for p in venue.positions(address)
        ],
        "orders": [
            views.order_body(o, key_of(address), style) for o in venue.orders(address)
        ],
        "trades": [
            {
                **views.trade_body(t, address, key_of, style),
                "fee": dec(t.fee),
                "fee_asset": str(t.fee_asset),
                "notional": dec(t.notional),
            }
            for t in trades
        ],
        "fees_paid": {
            "collateral": dec(sum(t.fee for t in paid if t.fee_asset == "COLLATERAL")),
            "shares": dec(sum(t.fee for t in paid if t.fee_asset == "SHARES")),
        },
    }


def ledger_body(ctx: EmulatorContext, address: str | None) -> dict[str, Any]:
    """The venue's ledger: every trader account (or one), fees collected and totals."""
    venue = ctx.venue
    style = ctx.config.status_style
    addresses = (
        [address] if address else [a for a in venue.accounts() if a != FEE_COLLECTOR]
    )
    totals = venue.totals()
    collector = venue.balance(FEE_COLLECTOR)
    return {
        "time": ctx.clock.now(),
        "accounts": [account_ledger(venue, a, ctx.key_of, style) for a in addresses],
        "fees": {
            "collector": FEE_COLLECTOR,
            "collateral": dec(collector.balance),
            "shares": {p.token_id: dec(p.size) for p in venue.positions(FEE_COLLECTOR)},
        },
        "totals": {
            "deposited": dec(totals.deposited),
            "withdrawn": dec(totals.withdrawn),
            "held": dec(totals.held),
            "in_escrow": dec(totals.in_escrow),
            "backing": dec(totals.backing),
            "fees_collateral": dec(totals.fees_collateral),
        },
    }


async def _json(request: web.Request) -> dict[str, Any]:
    payload = parse_json_body(await request.read())
    if not isinstance(payload, dict):
        raise error(400, "expected a JSON object")
    return payload


def _address(value: object) -> str:
    try:
        return canonical_address(str(value))
    except AddressError as exc:
        raise error(400, str(exc)) from None


async def ledger(request: web.Request) -> web.Response:
    """``GET /admin/ledger[?address=0x…]``."""
    ctx = ctx_of(request)
    address = request.query.get("address")
    if address:
        address = _address(address)
        if not ctx.venue.has_account(address):
            raise error(404, f"no account {address}")
    return json_response(ledger_body(ctx, address))


async def fund(request: web.Request) -> web.Response:
    """``POST /admin/fund {"address": "0x…", "amount": "250.5"}``: deposit collateral."""
    ctx = ctx_of(request)
    payload = await _json(request)
    address = _address(payload.get("address"))
    try:
        amount = parse_amount(payload.get("amount", "0"))
    except ValueError as exc:
        raise error(400, str(exc)) from None
    ctx.accounts.fund(address, amount)
    log(f"💰 funded {address} with {dec(amount)}")
    balance = ctx.venue.balance(address)
    return json_response({"address": address, "balance": dec(balance.balance)})


async def get_faults(request: web.Request) -> web.Response:
    """``GET /admin/faults``: the active spec and its parsed rules."""
    ctx = ctx_of(request)
    plan = ctx.faults
    return json_response(
        {
            "spec": plan.spec,
            "rules": plan.describe(),
            "injected": ctx.fault_counts.snapshot(),
        }
    )


async def set_faults(request: web.Request) -> web.Response:
    """``PUT /admin/faults {"spec": "…"}``: replace the faults (empty spec: none)."""
    ctx = ctx_of(request)
    payload = await _json(request)
    spec = payload.get("spec", "")
    if not isinstance(spec, str):
        raise error(400, "spec must be a string")
    try:
        plan = FaultPlan.from_spec(spec, ctx.config.seed)
    except FaultSpecError as exc:
        raise error(400, str(exc)) from None
    ctx.set_faults(plan)
    log(f"💥 faults set to {plan.spec or '(none)'}")
    return json_response({"spec": plan.spec, "rules": plan.describe()})


async def clear_faults(request: web.Request) -> web.Response:
    """``DELETE /admin/faults``: no faults."""
    ctx = ctx_of(request)
    ctx.set_faults(FaultPlan((), ctx.config.seed))
    log("💥 faults cleared")
    return json_response({"spec": "", "rules": []})


async def advance(request: web.Request) -> web.Response:
    """``POST /admin/advance {"seconds": 5}``: move a manual clock and step the world."""
    payload = await _json(request)
    seconds = payload.get("seconds", 0)
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        raise error(400, "seconds must be a number ≥ 0")
    step = request.app[STEP]
    now = await ctx_of(request).blocking(step, float(seconds))
    return json_response({"time": now})


async def redeem(request: web.Request) -> web.Response:
    """``POST /admin/redeem {"address", "condition_id"}``: the on-chain redemption of a
    resolved market's shares (1.00 per winning share); recorded as Data API activity."""
    ctx = ctx_of(request)
    payload = await _json(request)
    address = _address(payload.get("address"))
    condition_id = str(payload.get("condition_id", ""))
    try:
        done = ctx.venue.redeem(address, condition_id)
    except (MarketStateError, UnknownMarketError) as exc:
        raise error(400, str(exc)) from None
    ctx.record_redemption(done)
    log(f"🏁 {address} redeemed {condition_id[:10]}…: {dec(done.paid)} paid")
    return json_response(
        {
            "address": address,
            "condition_id": condition_id,
            "winner": str(done.winner),
            "paid": dec(done.paid),
            "transaction_hash": transaction_hash(f"redeem:{address}:{condition_id}"),
        }
    )


async def status(request: web.Request) -> web.Response:
    """``GET /admin/status``: clock, listed markets, accounts, faults."""
    ctx = ctx_of(request)
    return json_response(
        {
            "time": ctx.clock.now(),
            "speed": ctx.config.speed,
            "markets": len(ctx.source.markets()),
            "accounts": len(ctx.venue.accounts()) - 1,
            "post_only_mode": ctx.venue.post_only_mode,
            "faults": ctx.faults.spec,
            "heartbeats": ctx.heartbeats.active(),
        }
    )


def routes() -> list[Route]:
    """The admin routes (loopback only, never faulted)."""
    table = [
        ("GET", "/admin/ledger", ledger, "admin-ledger"),
        ("POST", "/admin/fund", fund, "admin-fund"),
        ("GET", "/admin/faults", get_faults, "admin-faults"),
        ("PUT", "/admin/faults", set_faults, "admin-set-faults"),
        ("POST", "/admin/faults", set_faults, "admin-post-faults"),
        ("DELETE", "/admin/faults", clear_faults, "admin-clear-faults"),
        ("POST", "/admin/advance", advance, "admin-advance"),
        ("POST", "/admin/redeem", redeem, "admin-redeem"),
        ("GET", "/admin/status", status, "admin-status"),
    ]
    return [Route(m, p, h, n, ADMIN_GROUP) for m, p, h, n in table]
