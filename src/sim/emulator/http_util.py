"""Small HTTP helpers shared by the route modules: JSON answers, errors, parameters."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from src.utils.safe_json import JsonBodyError, loads_bounded

INVALID_PAYLOAD = "Invalid payload"
INVALID_TOKEN_ID = "Invalid token id"
NO_ORDERBOOK = "No orderbook exists for the requested token id"

_TOKEN_ID = re.compile(r"[0-9]{1,78}")


class HttpError(Exception):
    """An answer other than 200, raised from a handler: status, JSON body, headers."""

    def __init__(
        self,
        status: int,
        body: Any,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {body}")
        self.status = status
        self.body = body
        self.headers = dict(headers or {})


def error(status: int, message: str) -> HttpError:
    """The CLOB's error envelope: ``{"error": message}``."""
    return HttpError(status, {"error": message})


def dumps(data: Any) -> bytes:
    """Compact UTF-8 JSON."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """A JSON answer (the venue never sends anything but JSON, except ``/`` and ``/ok``)."""
    return web.Response(
        body=dumps(data),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def parse_json_body(body: bytes) -> Any:
    """Decode a request body with the depth-bounded decoder; 400 ``Invalid payload``."""
    try:
        return loads_bounded(body)
    except JsonBodyError:
        raise error(400, INVALID_PAYLOAD) from None


def token_id_of(value: object) -> str:
    """A token id from a query or body: decimal digits, else 400 ``Invalid token id``."""
    if not isinstance(value, str) or _TOKEN_ID.fullmatch(value) is None:
        raise error(400, INVALID_TOKEN_ID)
    return value


def query_token(request: web.Request, name: str = "token_id") -> str:
    """The ``token_id`` query parameter, validated."""
    return token_id_of(request.query.get(name))


def int_query(request: web.Request, name: str, default: int) -> int:
    """A non-negative integer query parameter (400 ``Invalid payload`` if malformed)."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit():
        raise error(400, f"invalid {name}")
    return int(raw)


def bool_query(request: web.Request, name: str) -> bool | None:
    """``true``/``false`` (any case) or None when absent."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    return raw.strip().lower() in ("true", "1", "yes")


def multi_query(request: web.Request, name: str) -> list[str]:
    """A list parameter sent repeated (``a=1&a=2``) or comma-separated (``a=1,2``)."""
    values: list[str] = []
    for raw in request.query.getall(name, []):
        values.extend(part.strip() for part in raw.split(",") if part.strip())
    return values
