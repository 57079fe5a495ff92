"""Where the recorder's books come from: the market channel while it is live, otherwise one
batched REST ``POST /books`` per observation.

A token's book is taken from the websocket cache only when the socket is connected, has
delivered data (not just ``PONG``) within ``max_age_s``, and has sent something for that
token since the current connection opened (its initial ``book`` dump at the least). Any
other token — socket down, silent (the venue is reported to stop sending after a while),
or not yet subscribed — is read over REST for this observation, never reused for the next
one: a row always holds a book seen at that time.

The cache is also checked: a crossed book (best bid ≥ best ask) means a missed update, so
that token is read over REST and the cache replaced with the answer; every
``resync_every_s`` the same is done for every token, which bounds any silent drift.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from src.data.market_data.polymarket import OrderBook
from src.trading.venue.streams import BookCache, MarketStream, WsOptions
from src.trading.venue.streams.messages import PING, PONG, market_subscribe_message
from src.utils.clock import Clock
from src.utils.logger import log, log_warning

BookFetch = Callable[[Sequence[str]], Mapping[str, OrderBook]]


class _SeenCache(BookCache):
    """A book cache that also notes when the socket last said something about a token."""

    def __init__(self) -> None:
        super().__init__()
        self._seen_lock = threading.Lock()
        self._seen: dict[str, float] = {}

    def apply(self, message: Mapping[str, Any], now: float) -> list[str]:
        """Apply a market-channel event and note the tokens it touched."""
        tokens = super().apply(message, now)
        with self._seen_lock:
            for token in tokens:
                self._seen[token] = now
        return tokens

    def seen_at(self, token_id: str) -> float | None:
        """Clock time of the socket's last event for ``token_id`` (None: never)."""
        with self._seen_lock:
            return self._seen.get(token_id)

    def forget(self, token_ids: Iterable[str]) -> None:
        """Drop the notes of tokens no longer followed."""
        with self._seen_lock:
            for token in token_ids:
                self._seen.pop(token, None)


def unsubscribe_message(assets: Iterable[str]) -> str:
    """Stop following ``assets`` on a live market-channel subscription (reference §6.1)."""
    return json.dumps({"operation": "unsubscribe", "assets_ids": sorted(set(assets))})


class FollowingMarketStream(MarketStream):
    """The market channel following exactly the tokens it is told to, as windows pass:
    new tokens are subscribed (with their book dump), old ones unsubscribed, and a
    reconnect subscribes the current set only."""

    def __init__(self, url: str, clock: Clock, options: WsOptions | None = None) -> None:
        super().__init__(url, clock, cache=_SeenCache(), options=options)
        self._followed: set[str] = set()
        self._on_connect_sent: set[str] = set()  # what the last subscribe message held
        self._follow_lock = threading.Lock()
        self.last_data_at: float | None = None
        self.connected_at: float | None = None
        self.on_connect(self._connected_now)

    @property
    def seen(self) -> _SeenCache:
        """The cache, with the time of each token's last websocket event."""
        return self.cache  # type: ignore[return-value]

    def _connected_now(self, _count: int) -> None:
        self.connected_at = self.clock.now()
        with self._follow_lock:  # followed while the connection was being opened
            late = self._followed - self._on_connect_sent
        if late:
            self.send(market_subscribe_message(late, initial=False))

    def subscribe_messages(self) -> Sequence[str]:
        """The followed tokens, with the initial ``book`` dump."""
        with self._follow_lock:
            assets = set(self._followed)
            self._on_connect_sent = assets
        return [market_subscribe_message(assets)] if assets else []

    def follow(self, tokens: Iterable[str]) -> None:
        """Follow exactly ``tokens`` from now on."""
        wanted = set(tokens)
        with self._follow_lock:
            new, gone = wanted - self._followed, self._followed - wanted
            self._followed = wanted
        if new:
            self.send(market_subscribe_message(new, initial=False))
        if gone:
            self.send(unsubscribe_message(gone))
            self.seen.forget(gone)

    def handle_text(self, text: str) -> None:
        """Note the time of any data frame, then apply it to the cache."""
        if text.strip() not in (PING, PONG):
            self.last_data_at = self.clock.now()
        super().handle_text(text)

    def live(self, now: float, max_age_s: float) -> bool:
        """Connected, and data arrived within ``max_age_s``."""
        last = self.last_data_at
        return (
            self.connected
            and self.connected_at is not None
            and last is not None
            and now - last <= max_age_s
        )

    def fresh(self, token_id: str, now: float, max_age_s: float) -> bool:
        """The cached book of ``token_id`` is the venue's book now."""
        if not self.live(now, max_age_s):
            return False
        seen = self.seen.seen_at(token_id)
        connected = self.connected_at
        return seen is not None and connected is not None and seen >= connected


def _crossed(book: OrderBook) -> bool:
    bid, ask = book.best_bid, book.best_ask
    return bid is not None and ask is not None and bid >= ask


class StreamBooks:
    """Books for the recorder: websocket first, REST for whatever the socket cannot vouch
    for. ``stream`` None: REST only."""

    def __init__(
        self,
        clock: Clock,
        stream: FollowingMarketStream | None,
        rest: BookFetch | None,
        max_age_s: float = 10.0,
        resync_every_s: float | None = 60.0,
    ) -> None:
        if stream is None and rest is None:
            raise ValueError("StreamBooks needs a stream, a REST reader or both")
        self.clock = clock
        self.stream = stream
        self.rest = rest
        self.max_age_s = max_age_s
        self.resync_every_s = resync_every_s
        self._resynced_at: float | None = None
        self._crossed_logged: set[str] = set()
        self.ws_books = 0
        self.rest_books = 0
        self.rest_failures = 0
        self._started = False
        self._rest_failing = False
        self.last_source = ""

    def follow(self, tokens: Iterable[str]) -> None:
        """Follow exactly ``tokens`` (the stream starts with the first ones)."""
        if self.stream is None:
            return
        wanted = list(tokens)
        self.stream.follow(wanted)
        if wanted and not self._started:
            self._started = True
            self.stream.start()

    def books(self, tokens: Sequence[str]) -> dict[str, OrderBook]:
        """The book of each token as the venue has it now; a token neither the socket nor
        REST could answer for is left out."""
        now = self.clock.now()
        wanted = list(dict.fromkeys(tokens))
        resync = self._resync_due(now)
        result: dict[str, OrderBook] = {}
        missing: list[str] = []
        heal: set[str] = set()
        for token in wanted:
            book = None
            if self.stream is not None and self.stream.fresh(token, now, self.max_age_s):
                book = self.stream.cache.book(token)
                if book is not None and (resync or _crossed(book)):
                    if not resync:
                        self._log_crossed(token, book)
                    heal.add(token)
                    book = None
            if book is None:
                missing.append(token)
            else:
                result[token] = book
        self.ws_books += len(result)
        if missing and self.rest is not None:
            fetched = self._rest(missing)
            for token in missing:
                book = fetched.get(token)
                if book is None:
                    continue
                result[token] = book
                self.rest_books += 1
                if token in heal and self.stream is not None:
                    self.stream.cache.store(book, now)  # the socket goes on from here
        self.last_source = "rest" if missing else "ws"
        return result

    def _resync_due(self, now: float) -> bool:
        every = self.resync_every_s
        if every is None or self.stream is None or self.rest is None:
            return False
        if self._resynced_at is None:
            self._resynced_at = now  # the first dump is fresh: the first resync later
            return False
        if now - self._resynced_at < every:
            return False
        self._resynced_at = now
        return True

    def _log_crossed(self, token: str, book: OrderBook) -> None:
        if token in self._crossed_logged:
            return
        self._crossed_logged.add(token)
        log_warning(
            f"⚠️ ws-market: cached book of {token[:12]}… is crossed ({book.best_bid} ≥ "
            f"{book.best_ask}): an update was missed; reading it over REST"
        )

    def _rest(self, tokens: Sequence[str]) -> Mapping[str, OrderBook]:
        assert self.rest is not None
        try:
            fetched = self.rest(tokens)
        except Exception as exc:  # no answer this time: those rows wait for the next
            self.rest_failures += 1
            if not self._rest_failing:
                self._rest_failing = True
                log_warning(f"⚠️ record: REST books failed ({exc}); retrying each interval")
            return {}
        if self._rest_failing:
            self._rest_failing = False
            log("✅ record: REST books answer again")
        return fetched

    def close(self) -> None:
        """Close the socket (idempotent)."""
        if self.stream is not None and self._started:
            self.stream.stop()
