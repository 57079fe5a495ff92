"""Pure parts of the CLOB websockets: subscribe messages, frame parsing, order updates,
reconnect backoff, and logging a malformed message once (reference §6)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from src.trading.ledger.accounting import Side
from src.trading.venue.port import VenueOrder
from src.utils.logger import log_warning
from src.utils.money import AmountError, to_micro
from src.utils.safe_json import loads_bounded

PING = "PING"
PONG = "PONG"
MAX_LOGGED_KEYS = 1000


class OrderEventType(StrEnum):
    """Why an order status report was produced."""

    PLACEMENT = "PLACEMENT"
    UPDATE = "UPDATE"
    CANCELLATION = "CANCELLATION"
    RESYNC = "RESYNC"  # read back from REST (watchdog or notification)


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """One order's state as the venue reported it (user channel or REST)."""

    venue_order_id: str
    token_id: str
    side: Side
    price_micro: int
    size_micro: int
    matched_micro: int
    status: str
    event: OrderEventType
    at_ms: int = 0

    @property
    def live(self) -> bool:
        """Still resting on the book."""
        return self.status in ("LIVE", "DELAYED", "UNMATCHED")


class MalformedMessageError(ValueError):
    """A websocket message we cannot use (its text never includes credentials)."""


def channel_url(base: str, channel: str) -> str:
    """``POLYMARKET_WS_URL`` (…/ws) plus ``/market`` or ``/user``."""
    return f"{base.rstrip('/')}/{channel}"


def user_subscribe_message(
    api_key: str, secret: str, passphrase: str, markets: Iterable[str]
) -> str:
    """The user channel's first message. It carries the secret: never log it."""
    return json.dumps(
        {
            "auth": {"apiKey": api_key, "secret": secret, "passphrase": passphrase},
            "type": "user",
            "markets": sorted(set(markets)),
        }
    )


def user_markets_message(markets: Iterable[str]) -> str:
    """Add markets to a live user subscription."""
    return json.dumps({"operation": "subscribe", "markets": sorted(set(markets))})


def market_subscribe_message(assets: Iterable[str], *, initial: bool = True) -> str:
    """The market channel's subscription (first message or an addition), with the custom
    events (``best_bid_ask``, ``market_resolved``) enabled."""
    body: dict[str, Any] = {
        "assets_ids": sorted(set(assets)),
        "type": "market",
        "custom_feature_enabled": True,
    }
    if not initial:
        body["operation"] = "subscribe"
    return json.dumps(body)


def parse_frame(text: str) -> list[dict[str, Any]]:
    """A text frame → its event objects (the venue sends one object or an array of them,
    e.g. the initial ``book`` dump). ``PONG`` and an empty array give ``[]``."""
    if text.strip() in (PONG, PING):
        return []
    try:
        payload = loads_bounded(text)
    except ValueError as exc:
        raise MalformedMessageError("not JSON") from exc
    items = payload if isinstance(payload, list) else [payload]
    if not all(isinstance(item, dict) for item in items):
        raise MalformedMessageError("not an event object")
    return items


def event_type(message: Mapping[str, Any]) -> str:
    """The message's ``event_type`` (lower case), ``""`` when absent."""
    return str(message.get("event_type") or "").lower()


def _micro(value: object, what: str) -> int:
    try:
        return to_micro(str(value if value not in (None, "") else "0"))
    except (AmountError, ValueError, ArithmeticError) as exc:
        raise MalformedMessageError(f"bad {what}: {value!r}") from exc


def order_update_of(message: Mapping[str, Any]) -> OrderUpdate:
    """A user-channel ``order`` message → :class:`OrderUpdate`."""
    try:
        kind = OrderEventType(str(message.get("type") or "UPDATE").upper())
        status = str(message["status"]).upper().removeprefix("ORDER_STATUS_")
        return OrderUpdate(
            venue_order_id=str(message["id"]),
            token_id=str(message["asset_id"]),
            side=Side(str(message["side"]).upper()),
            price_micro=_micro(message.get("price"), "price"),
            size_micro=_micro(message.get("original_size"), "original_size"),
            matched_micro=_micro(message.get("size_matched"), "size_matched"),
            status=status,
            event=kind,
            at_ms=int(str(message.get("timestamp") or 0)),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise MalformedMessageError(f"bad order message: {exc}") from exc


def order_update_from_venue(order: VenueOrder, at_ms: int) -> OrderUpdate:
    """A REST-read order (``open_orders`` / ``get_order``) as an update."""
    return OrderUpdate(
        venue_order_id=order.venue_order_id,
        token_id=order.token_id,
        side=order.side,
        price_micro=order.price_micro,
        size_micro=order.size_micro,
        matched_micro=order.matched_micro,
        status=order.status,
        event=OrderEventType.RESYNC,
        at_ms=at_ms,
    )


def backoff_s(attempt: int, base_s: float = 0.5, cap_s: float = 30.0) -> float:
    """Seconds to wait before reconnect attempt ``attempt`` (0-based): doubling, capped."""
    if attempt < 0:
        raise ValueError("attempt must be >= 0")
    return min(cap_s, base_s * (2 ** min(attempt, 30)))


class OnceLog:
    """Logs a warning the first time a key is seen, so a venue sending the same broken
    message every second does not flood the log. Thread-safe, bounded."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def warn(self, key: str, text: str) -> bool:
        """Log ``text`` unless ``key`` was logged before; True when it was logged."""
        with self._lock:
            if key in self._seen:
                return False
            if len(self._seen) >= MAX_LOGGED_KEYS:
                self._seen.clear()  # bounded memory; a rare repeat line is acceptable
            self._seen.add(key)
        log_warning(text)
        return True


def excerpt(text: str, limit: int = 160) -> str:
    """The start of a message for a log line (market messages hold no secrets)."""
    return text if len(text) <= limit else f"{text[:limit]}…"
