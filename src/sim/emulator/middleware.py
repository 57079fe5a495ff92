"""Request middleware: fault injection around every public route, and one place that turns
errors into the venue's envelopes (``{"error": …}``, Binance's ``{"code", "msg"}``)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from src.sim.binance_api import BinanceApiError
from src.sim.emulator.errors import RejectedRequestError
from src.sim.emulator.faults import AfterAction
from src.sim.emulator.http_util import HttpError, json_response
from src.sim.emulator.routing import CONTEXT, ROUTE_GROUPS, Handler
from src.sim.venue import VenueError
from src.utils.logger import log, log_error

INTERNAL_ERROR = "Internal server error"
LOOPBACK = frozenset({"127.0.0.1", "::1", "::ffff:127.0.0.1"})
ADMIN_GROUP = "admin"
FORBIDDEN = "admin endpoints answer on 127.0.0.1 only"


@web.middleware
async def fault_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Apply the fault plan's decision for this route: delay, replace the answer, or act
    and then hold or drop the answer. Admin and websocket routes are never faulted here."""
    name = request.match_info.route.name or ""
    group = request.app[ROUTE_GROUPS].get(name)
    if group is None or group == ADMIN_GROUP:
        return await handler(request)
    context = request.app[CONTEXT]
    decision = context.faults.decide(name, group)
    if decision.clean:
        return await handler(request)
    context.fault_counts.record(decision)
    if decision.latency:
        await asyncio.sleep(decision.latency)
    rejection = decision.rejection
    if rejection is not None:
        log(f"💥 fault {name}: {rejection.status} instead of an answer")
        return json_response(rejection.body, rejection.status, rejection.headers)
    response = await handler(request)
    if decision.after is AfterAction.HOLD:
        log(f"💥 fault {name}: acted, holding the answer {decision.hold:g}s")
        await asyncio.sleep(decision.hold)
    elif decision.after is AfterAction.DROP:
        log(f"💥 fault {name}: acted, dropping the connection")
        transport = request.transport
        if transport is not None:
            transport.abort()
    return response


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error as the venue shapes it; unexpected ones are logged and become 500."""
    try:
        return await handler(request)
    except HttpError as exc:
        return json_response(exc.body, exc.status, exc.headers)
    except RejectedRequestError as exc:
        return json_response(exc.body(), exc.status)
    except BinanceApiError as exc:
        return json_response(exc.body(), exc.status)
    except web.HTTPException as exc:
        if exc.status >= 400 and exc.empty_body is False:
            return json_response({"error": exc.reason}, exc.status)
        raise
    except VenueError as exc:
        log_error(f"❌ venue refused {request.method} {request.path}: {exc}", False)
        return json_response({"error": str(exc)}, 400)
    except Exception as exc:  # the server must answer whatever a handler does
        log_error(f"❌ {request.method} {request.path} failed: {exc!r}")
        return json_response({"error": INTERNAL_ERROR}, 500)


@web.middleware
async def admin_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Admin routes answer loopback clients only, whatever address the server binds."""
    name = request.match_info.route.name or ""
    if (
        request.app[ROUTE_GROUPS].get(name) == ADMIN_GROUP
        and request.remote not in LOOPBACK
    ):
        return json_response({"error": FORBIDDEN}, 403)
    return await handler(request)
