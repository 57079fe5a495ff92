"""How numbers, times, ids and statuses are spelled on the emulated venue's wire.

One place for every formatting rule the response builders share: the CLOB sends amounts as
decimal strings (``"0.52"``, ``"5"``), timestamps in milliseconds as strings, cursors in
base64, and statuses in one of two spellings (V1 ``LIVE`` or V2 ``ORDER_STATUS_LIVE``).
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from src.sim.venue import CancelReason, OrderStatus, TradeStatus, micro_text
from src.sim.venue.errors import FAK_NOT_FILLED, FOK_NOT_FILLED
from src.utils.money import MICRO

FIRST_CURSOR = "MA=="
"""base64("0"): where the client starts paginating."""

END_CURSOR = "LTE="
"""base64("-1"): the last page. Anything else makes the client ask again."""


class StatusStyle(StrEnum):
    """How order and trade statuses are spelled: V1 (``LIVE``) or V2-prefixed."""

    PLAIN = "plain"
    PREFIXED = "prefixed"


class RejectStyle(StrEnum):
    """How a refused order is answered: HTTP 400 ``{"error"}`` (what 2026 clients see) or
    HTTP 200 ``{"success": false, "errorMsg"}`` (what the docs describe)."""

    HTTP_400 = "http400"
    BODY = "body"


def dec(micro: int) -> str:
    """Micro-units as the venue's decimal text: ``520000 → "0.52"``, ``5000000 → "5"``."""
    return micro_text(micro)


def dec_or_empty(micro: int | None) -> str:
    """Like :func:`dec`, with ``""`` for a missing value (no trade yet, empty side)."""
    return "" if micro is None else micro_text(micro)


def num(micro: int) -> float:
    """Micro-units as a JSON number (Gamma and the Data API send numbers)."""
    return micro / MICRO


def ms_text(t: float) -> str:
    """Unix seconds as milliseconds text (``"1757908892351"``)."""
    return str(round(t * 1000))


def iso(t: float) -> str:
    """Unix seconds as Gamma's ISO time with ``Z`` (``"2026-09-13T19:15:00Z"``)."""
    return datetime.fromtimestamp(int(t), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def gamma_closed_time(t: float) -> str:
    """Gamma's ``closedTime``, which is not ISO (``"2026-09-28 17:46:27+00"``)."""
    return datetime.fromtimestamp(int(t), tz=UTC).strftime("%Y-%m-%d %H:%M:%S+00")


def json_text(value: Any) -> str:
    """Compact JSON, the way the venue serialises (and Gamma nests JSON in strings)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def gamma_json_list(values: list[str]) -> str:
    """Gamma's JSON-in-a-string lists: ``'["Up", "Down"]'`` (with a space, as sent)."""
    return json.dumps(values)


def transaction_hash(trade_id: str) -> str:
    """A stable fake settlement transaction hash for a trade (0x + 64 hex)."""
    return "0x" + hashlib.sha256(f"tx:{trade_id}".encode()).hexdigest()


def encode_cursor(offset: int) -> str:
    """The cursor of the page starting at ``offset``."""
    return base64.b64encode(str(offset).encode()).decode("ascii")


def decode_cursor(cursor: str | None) -> int | None:
    """The offset of a cursor; ``None`` for the end cursor or garbage."""
    if not cursor:
        return 0
    try:
        text = base64.b64decode(cursor, validate=True).decode("ascii")
        offset = int(text)
    except (ValueError, UnicodeDecodeError):
        return None
    return offset if offset >= 0 else None


def page(items: list[Any], cursor: str | None, size: int) -> tuple[list[Any], str]:
    """One page of ``items`` and the next cursor (``END_CURSOR`` after the last)."""
    offset = decode_cursor(cursor)
    if offset is None:
        return [], END_CURSOR
    chunk = items[offset : offset + size]
    following = offset + size
    return chunk, encode_cursor(following) if following < len(items) else END_CURSOR


_CANCEL_SUFFIX: dict[str, str] = {
    CancelReason.FOK_KILLED: FOK_NOT_FILLED,
    CancelReason.FAK_REMAINDER: FAK_NOT_FILLED,
}


def order_status_text(
    status: OrderStatus | str,
    style: StatusStyle,
    reason: CancelReason | str | None = None,
) -> str:
    """An order status on the wire; a killed FOK/FAK carries the venue's reason suffix
    (``CANCELED_order couldn't be fully filled…``), as observed live."""
    text = str(status)
    if style is StatusStyle.PREFIXED:
        return f"ORDER_STATUS_{text}"
    suffix = _CANCEL_SUFFIX.get(str(reason)) if reason else None
    if text == OrderStatus.CANCELED and suffix:
        return f"{text}_{suffix}"
    return text


def trade_status_text(status: TradeStatus | str, style: StatusStyle) -> str:
    """A trade status on the wire (``CONFIRMED`` or ``TRADE_STATUS_CONFIRMED``)."""
    text = str(status)
    return f"TRADE_STATUS_{text}" if style is StatusStyle.PREFIXED else text


def fee_rate_bps(rate_micro: int) -> str:
    """A fee rate (micro-units, 70_000 = 0.07) as basis points text (``"700"``)."""
    return str(rate_micro * 10_000 // MICRO)


def parse_amount(text: object) -> int:
    """A collateral amount given as decimal text or number (``"1.5"``) → micro-units.

    Raises ``ValueError`` for anything negative, non-finite or finer than 6 decimals.
    """
    try:
        value = Decimal(str(text))
    except InvalidOperation:
        raise ValueError(f"not a number: {text!r}") from None
    if not value.is_finite() or value < 0:
        raise ValueError(f"not a non-negative amount: {text!r}")
    scaled = value * MICRO
    if scaled != scaled.to_integral_value():
        raise ValueError(f"more than 6 decimals: {text!r}")
    return int(scaled)
