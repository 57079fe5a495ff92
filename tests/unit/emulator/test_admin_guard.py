"""Admin routes answer loopback clients only, whatever address the server binds."""

from __future__ import annotations

import asyncio
from unittest import mock

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from src.sim.emulator.middleware import admin_guard
from src.sim.emulator.routing import ROUTE_GROUPS


def _request(remote: str, route: str) -> web.Request:
    app = web.Application()
    app[ROUTE_GROUPS] = {"admin-ledger": "admin", "book": "clob"}
    transport = mock.Mock()
    transport.get_extra_info.return_value = (remote, 40000)
    request = make_mocked_request("GET", "/x", app=app, transport=transport, match_info={})
    request.match_info.route.name = route  # type: ignore[misc]
    return request


async def _ok(request: web.Request) -> web.StreamResponse:
    return web.Response(text="ok")


@pytest.mark.parametrize(
    ("remote", "route", "status"),
    [
        ("127.0.0.1", "admin-ledger", 200),
        ("::1", "admin-ledger", 200),
        ("10.1.2.3", "admin-ledger", 403),
        ("10.1.2.3", "book", 200),
    ],
)
def test_admin_guard(remote: str, route: str, status: int) -> None:
    response = asyncio.run(admin_guard(_request(remote, route), _ok))
    assert response.status == status
