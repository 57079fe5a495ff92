"""Live channels of the CLOB: the user and market websockets, the staleness watchdog with
its REST resync, ``/notifications`` polling and the heartbeat loop (docs/LEDGER.md,
"Streams"). Every fill they see goes through ``record_fills``: applied once."""

from src.trading.venue.streams.heartbeat import HeartbeatConfig, HeartbeatLoop
from src.trading.venue.streams.market_stream import BookCache, MarketStream
from src.trading.venue.streams.messages import (
    OrderEventType,
    OrderUpdate,
    channel_url,
)
from src.trading.venue.streams.notifications import NotificationPoller, notice_refs
from src.trading.venue.streams.user_stream import UserStream
from src.trading.venue.streams.watchdog import ResyncReason, Watchdog, WatchdogConfig
from src.trading.venue.streams.ws_client import WsOptions

__all__ = [
    "BookCache",
    "HeartbeatConfig",
    "HeartbeatLoop",
    "MarketStream",
    "NotificationPoller",
    "OrderEventType",
    "OrderUpdate",
    "ResyncReason",
    "UserStream",
    "Watchdog",
    "WatchdogConfig",
    "WsOptions",
    "channel_url",
    "notice_refs",
]
