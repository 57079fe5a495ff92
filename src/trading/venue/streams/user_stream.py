"""The user channel (reference §6.2): our orders' status and our trades, as they happen.

``trade`` messages become :class:`FillEvent` s through the same mapping as REST
(:func:`fills_from_trade`) and are booked by :func:`record_fills`, so a fill reported here,
by REST polling and by a notification is applied once. ``order`` messages become
:class:`OrderUpdate` s for a typed callback. Anything else is ignored; a malformed message
is logged once and skipped.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Sequence

from src.trading.ledger.events import FillEvent, FillOutcome
from src.trading.ledger.recorder import record_fills
from src.trading.state import RecentFills, recent_fills
from src.trading.venue.clob import ClobVenue, ClobVenueError, fills_from_trade
from src.trading.venue.streams.messages import (
    MalformedMessageError,
    OnceLog,
    OrderUpdate,
    channel_url,
    event_type,
    order_update_of,
    parse_frame,
    user_markets_message,
    user_subscribe_message,
)
from src.trading.venue.streams.ws_client import WsChannel, WsOptions
from src.utils.clock import Clock
from src.utils.logger import log_error

OUTCOMES_KEPT = 1000
OrderCallback = Callable[[OrderUpdate], None]
Recorder = Callable[[Iterable[FillEvent], Clock, RecentFills], list[FillOutcome]]


class UserStream(WsChannel):
    """One account's user channel. ``last_message_at`` (Clock time) feeds the watchdog."""

    name = "ws-user"

    def __init__(
        self,
        url: str,
        *,
        api_key: str,
        secret: str,
        passphrase: str,
        account: str,
        clock: Clock,
        markets: Iterable[str] = (),
        recent: RecentFills = recent_fills,
        on_order: OrderCallback | None = None,
        record: Recorder = record_fills,
        options: WsOptions | None = None,
    ) -> None:
        super().__init__(url, options)
        self._creds = (api_key, secret, passphrase)  # never logged, never in repr
        self.account = account
        self.clock = clock
        self.recent = recent
        self.on_order = on_order
        self._record = record
        self._markets: set[str] = set(markets)
        self._markets_lock = threading.Lock()
        self._bad = OnceLog()
        self.last_message_at: float | None = None
        # the latest booking results, for status lines and tests (bounded)
        self.outcomes: deque[FillOutcome] = deque(maxlen=OUTCOMES_KEPT)

    @classmethod
    def for_venue(
        cls, venue: ClobVenue, ws_base: str, clock: Clock, **kwargs: object
    ) -> UserStream:
        """A stream with a :class:`ClobVenue`'s L2 credentials and account."""
        creds = venue.client.creds
        return cls(
            channel_url(ws_base, "user"),
            api_key=creds.api_key,
            secret=creds.api_secret,
            passphrase=creds.api_passphrase,
            account=venue.address,
            clock=clock,
            **kwargs,  # type: ignore[arg-type]
        )

    def __repr__(self) -> str:
        return f"UserStream(url={self.url!r}, account={self.account!r})"

    def subscribe_messages(self) -> Sequence[str]:
        """Authenticate and subscribe to the account's markets (none: all of them)."""
        with self._markets_lock:
            markets = set(self._markets)
        return [user_subscribe_message(*self._creds, markets)]

    def add_markets(self, markets: Iterable[str]) -> None:
        """Follow more markets (condition ids); sent at once when connected."""
        new = set(markets)
        with self._markets_lock:
            new -= self._markets
            self._markets |= new
        if new:
            self.send(user_markets_message(new))

    def handle_text(self, text: str) -> None:
        """One frame: PONG, or order/trade events (see the module's rules)."""
        self.last_message_at = self.clock.now()
        try:
            messages = parse_frame(text)
        except MalformedMessageError as exc:
            # user frames may echo account data: log the reason, not the text
            self._bad.warn(f"frame:{exc}", f"⚠️ ws-user: ignoring a frame ({exc})")
            return
        for message in messages:
            kind = event_type(message)
            try:
                if kind == "trade":
                    self._trade(message)
                elif kind == "order":
                    self._order(order_update_of(message))
            except (MalformedMessageError, ClobVenueError) as exc:
                self._bad.warn(
                    f"{kind}:{exc}",
                    f"⚠️ ws-user: ignoring a {kind} message "
                    f"(id {str(message.get('id', '?'))[:18]}): {exc}",
                )

    def _trade(self, message: dict) -> None:
        fills = fills_from_trade(message, self.account)
        try:
            outcomes = self._record(fills, self.clock, self.recent)
        except Exception:
            # the recorder forgot the report; REST resync will book it
            log_error(f"❌ ws-user: booking trade {message.get('id')} failed")
            return
        self.outcomes.extend(outcomes)

    def _order(self, update: OrderUpdate) -> None:
        if self.on_order is not None:
            self.on_order(update)
