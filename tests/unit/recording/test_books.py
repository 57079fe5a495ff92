"""Where the recorder's books come from: the market channel's cache while the socket is
live and has sent the token since it connected, else one REST batch for this observation
only. The socket is not opened: frames are handed to the stream as its reader would."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal

import pytest

from src.data.market_data.polymarket import BookLevel, OrderBook
from src.recording.books import FollowingMarketStream, StreamBooks, unsubscribe_message
from src.utils.clock import SimClock

MAX_AGE = 10.0


def dump(token: str, bid: str, ask: str) -> str:
    return json.dumps(
        [
            {
                "event_type": "book",
                "asset_id": token,
                "market": "0xm",
                "bids": [{"price": bid, "size": "10"}],
                "asks": [{"price": ask, "size": "20"}],
                "timestamp": "1",
            }
        ]
    )


def change(token: str, price: str, size: str) -> str:
    return json.dumps(
        {
            "event_type": "price_change",
            "market": "0xm",
            "timestamp": "2",
            "price_changes": [
                {"asset_id": token, "price": price, "size": size, "side": "BUY"}
            ],
        }
    )


class Rest:
    """A REST ``/books`` reader answering ``0.40/0.60`` for every token asked."""

    def __init__(self) -> None:
        self.asked: list[list[str]] = []
        self.fail = False

    def __call__(self, tokens: Sequence[str]) -> Mapping[str, OrderBook]:
        self.asked.append(list(tokens))
        if self.fail:
            raise ConnectionError("down")
        return {
            t: OrderBook(
                t,
                (BookLevel(Decimal("0.40"), Decimal(1)),),
                (BookLevel(Decimal("0.60"), Decimal(1)),),
                0,
            )
            for t in tokens
        }


class Sent(list[str]):
    def __call__(self, text: str) -> bool:
        self.append(text)
        return True


@pytest.fixture
def clock() -> SimClock:
    return SimClock(start=1000.0)


def connected_stream(clock: SimClock) -> tuple[FollowingMarketStream, Sent]:
    stream = FollowingMarketStream("ws://127.0.0.1:9/ws/market", clock)
    sent = Sent()
    stream.send = sent  # type: ignore[method-assign]
    stream._ws = object()  # type: ignore[assignment]  # what a live connection sets
    stream._connected_now(1)
    return stream, sent


def test_rest_only_reads_every_time_and_never_reuses_a_snapshot(clock: SimClock) -> None:
    rest = Rest()
    books = StreamBooks(clock, None, rest)
    assert books.books(["a", "b"])["a"].best_bid == Decimal("0.40")
    clock.advance(1)
    books.books(["a", "b"])
    assert rest.asked == [["a", "b"], ["a", "b"]]
    assert (books.rest_books, books.ws_books, books.last_source) == (4, 0, "rest")


def test_a_failing_rest_read_leaves_the_tokens_out(clock: SimClock) -> None:
    rest = Rest()
    rest.fail = True
    books = StreamBooks(clock, None, rest)
    assert books.books(["a"]) == {} and books.books(["a"]) == {}
    assert books.rest_failures == 2
    rest.fail = False
    assert set(books.books(["a"])) == {"a"}


def test_the_live_socket_serves_the_tokens_it_has_sent(clock: SimClock) -> None:
    stream, _ = connected_stream(clock)
    rest = Rest()
    books = StreamBooks(clock, stream, rest, MAX_AGE)
    stream.handle_text(dump("a", "0.51", "0.53"))
    got = books.books(["a", "b"])  # b: never sent by the socket → REST
    assert (got["a"].best_bid, got["a"].best_ask) == (Decimal("0.51"), Decimal("0.53"))
    assert got["b"].best_bid == Decimal("0.40")
    assert rest.asked == [["b"]]

    stream.handle_text(change("a", "0.52", "5"))
    clock.advance(MAX_AGE - 1)
    assert books.books(["a"])["a"].best_bid == Decimal("0.52")
    assert rest.asked == [["b"]]  # still from the socket
    assert books.ws_books == 2 and books.last_source == "ws"


def test_a_silent_socket_hands_over_to_rest(clock: SimClock) -> None:
    stream, _ = connected_stream(clock)
    rest = Rest()
    books = StreamBooks(clock, stream, rest, MAX_AGE)
    stream.handle_text(dump("a", "0.51", "0.53"))
    clock.advance(MAX_AGE + 1)
    stream.handle_text("PONG")  # a keep-alive is not data
    assert books.books(["a"])["a"].best_bid == Decimal("0.40")
    assert rest.asked == [["a"]]
    stream.handle_text(change("a", "0.52", "5"))  # data again: the socket is trusted
    assert books.books(["a"])["a"].best_bid == Decimal("0.52")
    assert rest.asked == [["a"]]


def test_after_a_reconnect_only_what_the_new_connection_sent_counts(
    clock: SimClock,
) -> None:
    stream, _ = connected_stream(clock)
    rest = Rest()
    books = StreamBooks(clock, stream, rest, MAX_AGE)
    stream.handle_text(dump("a", "0.51", "0.53"))
    stream.handle_text(dump("b", "0.31", "0.33"))
    stream._ws = None  # type: ignore[assignment]  # the link dropped
    assert books.books(["a"])["a"].best_bid == Decimal("0.40")
    clock.advance(1)
    stream._ws = object()  # type: ignore[assignment]
    stream._connected_now(2)
    stream.handle_text(dump("a", "0.55", "0.57"))  # b's dump has not come yet
    got = books.books(["a", "b"])
    assert got["a"].best_bid == Decimal("0.55")
    assert got["b"].best_bid == Decimal("0.40")
    assert rest.asked == [["a"], ["b"]]


def test_follow_subscribes_new_tokens_and_unsubscribes_old_ones(clock: SimClock) -> None:
    stream, sent = connected_stream(clock)
    stream.follow(["a", "b"])
    stream.follow(["b", "c"])
    stream.follow(["b", "c"])  # no change: nothing sent
    first, added, removed = (json.loads(m) for m in sent)
    assert first["assets_ids"] == ["a", "b"] and first["operation"] == "subscribe"
    assert added["assets_ids"] == ["c"] and added["custom_feature_enabled"] is True
    assert removed == json.loads(unsubscribe_message(["a"]))
    [subscribe] = stream.subscribe_messages()  # what a reconnect sends
    assert json.loads(subscribe)["assets_ids"] == ["b", "c"]
    assert "operation" not in json.loads(subscribe)


def test_a_stream_or_rest_is_needed(clock: SimClock) -> None:
    with pytest.raises(ValueError):
        StreamBooks(clock, None, None)


def test_a_crossed_cached_book_is_read_over_rest_and_the_cache_healed(
    clock: SimClock,
) -> None:
    stream, _ = connected_stream(clock)
    rest = Rest()
    books = StreamBooks(clock, stream, rest, MAX_AGE)
    stream.handle_text(dump("a", "0.51", "0.53"))
    stream.handle_text(change("a", "0.55", "5"))  # a bid above the ask: a missed update
    assert books.books(["a"])["a"].best_bid == Decimal("0.40")  # REST, not the cache
    assert rest.asked == [["a"]]
    healed = stream.cache.book("a")
    assert healed is not None and (healed.best_bid, healed.best_ask) == (
        Decimal("0.40"),
        Decimal("0.60"),
    )
    stream.handle_text(change("a", "0.45", "5"))  # the socket goes on from the REST book
    assert books.books(["a"])["a"].best_bid == Decimal("0.45")
    assert rest.asked == [["a"]]


def test_every_resync_interval_the_cache_is_checked_against_rest(clock: SimClock) -> None:
    stream, _ = connected_stream(clock)
    rest = Rest()
    books = StreamBooks(clock, stream, rest, max_age_s=1000, resync_every_s=60)
    stream.handle_text(dump("a", "0.51", "0.53"))
    books.books(["a"])
    clock.advance(59)
    stream.handle_text(change("a", "0.52", "5"))
    assert books.books(["a"])["a"].best_bid == Decimal("0.52")
    assert rest.asked == []
    clock.advance(1)
    assert books.books(["a"])["a"].best_bid == Decimal("0.40")  # the resync's answer
    assert rest.asked == [["a"]]
    clock.advance(1)
    assert books.books(["a"])["a"].best_bid == Decimal("0.40")  # the healed cache
    assert rest.asked == [["a"]]


def test_tokens_followed_while_connecting_are_subscribed_once_connected(
    clock: SimClock,
) -> None:
    stream = FollowingMarketStream("ws://127.0.0.1:9/ws/market", clock)
    sent = Sent()
    stream.send = sent  # type: ignore[method-assign]
    stream.follow(["a"])
    [first] = stream.subscribe_messages()  # the connection's first message
    stream.follow(["a", "b"])  # before the connection is marked open: lost by the venue
    sent.clear()
    stream._connected_now(1)
    [late] = (json.loads(m) for m in sent)
    assert json.loads(first)["assets_ids"] == ["a"]
    assert late["assets_ids"] == ["b"] and late["operation"] == "subscribe"
