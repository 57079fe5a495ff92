"""The market and user websocket channels, read by a plain ``websockets`` client; and,
whatever the subscribes, unsubscribes and reconnects, a market client's books rebuilt
from its messages equal GET /book."""

from __future__ import annotations

import contextlib
import json
from decimal import Decimal
from typing import Any, Literal

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st
from py_clob_client_v2 import OrderArgs
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from src.sim.emulator.server import EmulatorHandle
from src.sim.emulator.world import ListedMarket
from src.sim.venue import OrderRequest, Side
from tests.integration.emulator.conftest import start_emulator
from tests.integration.emulator.support import MAKER, current_market, new_trader, quote

WAIT_S = 5.0


def _next(ws: ClientConnection) -> Any:
    return json.loads(ws.recv(timeout=WAIT_S))


def _until(ws: ClientConnection, event_type: str) -> dict[str, Any]:
    """Read messages until one of ``event_type`` arrives (others are skipped)."""
    for _ in range(50):
        message = _next(ws)
        if isinstance(message, dict) and message.get("event_type") == event_type:
            return message
    raise AssertionError(f"no {event_type} message")


def test_market_channel(emu: EmulatorHandle, market: ListedMarket) -> None:
    up = market.up_token_id
    quote(emu, up, Side.BUY, "0.48", "30")
    quote(emu, up, Side.BUY, "0.49", "20")
    quote(emu, up, Side.SELL, "0.53", "60")
    quote(emu, up, Side.SELL, "0.52", "25")
    url = emu.env()["POLYMARKET_WS_URL"] + "/market"
    with connect(url) as ws:
        ws.send(
            json.dumps(
                {"assets_ids": [up], "type": "market", "custom_feature_enabled": True}
            )
        )
        [book] = _next(ws)
        assert book["event_type"] == "book" and book["asset_id"] == up
        assert [lv["price"] for lv in book["bids"]] == ["0.48", "0.49"]
        assert [lv["price"] for lv in book["asks"]] == ["0.53", "0.52"]
        assert book["tick_size"] == "0.01" and book["last_trade_price"] == ""
        ws.send("PING")
        assert ws.recv(timeout=WAIT_S) == "PONG"

        quote(emu, up, Side.BUY, "0.50", "15")
        change = _until(ws, "price_change")
        [level] = change["price_changes"]
        assert level == {
            "asset_id": up,
            "price": "0.5",
            "size": "15",
            "side": "BUY",
            "hash": level["hash"],
            "best_bid": "0.5",
            "best_ask": "0.52",
        }
        top = _until(ws, "best_bid_ask")
        assert (top["best_bid"], top["best_ask"], top["spread"]) == ("0.5", "0.52", "0.02")

        trader = new_trader(emu)
        trader.client.create_and_post_order(
            OrderArgs(token_id=up, price=0.52, size=10, side="BUY")
        )
        last = _until(ws, "last_trade_price")
        assert (last["price"], last["size"], last["side"]) == ("0.52", "10", "BUY")
        after = _until(ws, "book")
        assert after["asks"][-1] == {"price": "0.52", "size": "15"}

        emu.venue.set_tick_size(up, "0.001")
        tick = _until(ws, "tick_size_change")
        assert (tick["old_tick_size"], tick["new_tick_size"]) == ("0.01", "0.001")

        emu.advance(market.resolves_at - emu.clock.now())
        resolved = _until(ws, "market_resolved")
        assert resolved["market"] == market.condition_id
        assert resolved["winning_outcome"] in ("Up", "Down")
        assert resolved["winning_asset_id"] in market.token_ids


def test_market_channel_unknown_asset_gets_an_empty_dump(emu: EmulatorHandle) -> None:
    with connect(emu.env()["POLYMARKET_WS_URL"] + "/market") as ws:
        ws.send(json.dumps({"assets_ids": ["123"], "type": "market"}))
        assert _next(ws) == []


def test_user_channel_order_and_trade_lifecycle(
    emu: EmulatorHandle, market: ListedMarket
) -> None:
    up = market.up_token_id
    trader = new_trader(emu)
    creds = trader.client.creds
    url = emu.env()["POLYMARKET_WS_URL"] + "/user"
    with connect(url) as ws:
        ws.send(
            json.dumps(
                {
                    "auth": {
                        "apiKey": creds.api_key,
                        "secret": creds.api_secret,
                        "passphrase": creds.api_passphrase,
                    },
                    "type": "user",
                    "markets": [market.condition_id],
                }
            )
        )
        ws.send("PING")
        assert ws.recv(timeout=WAIT_S) == "PONG"
        placed = trader.client.create_and_post_order(
            OrderArgs(token_id=up, price=0.45, size=10, side="BUY"), post_only=True
        )
        order = _until(ws, "order")
        assert order["type"] == "PLACEMENT" and order["status"] == "LIVE"
        assert order["id"] == placed["orderID"] and order["owner"] == creds.api_key
        assert order["original_size"] == "10" and order["size_matched"] == "0"

        emu.venue.open_liquidity_account(MAKER)
        taken = emu.venue.place(MAKER, OrderRequest.limit(up, Side.SELL, "0.45", "10"))
        assert taken.success
        update = _until(ws, "order")
        assert (update["type"], update["status"], update["size_matched"]) == (
            "UPDATE",
            "MATCHED",
            "10",
        )
        matched = _until(ws, "trade")
        assert matched["status"] == "MATCHED" and matched["trader_side"] == "MAKER"
        assert matched["maker_orders"][0]["order_id"] == placed["orderID"]
        emu.step()
        confirmed = _until(ws, "trade")
        assert confirmed["status"] == "CONFIRMED" and confirmed["id"] == matched["id"]

        emu.set_faults("engine:fail=1")
        quote(emu, up, Side.SELL, "0.60", "10")
        trader.client.create_and_post_order(
            OrderArgs(token_id=up, price=0.60, size=5, side="BUY")
        )
        first = _until(ws, "trade")
        assert (first["status"], first["trader_side"]) == ("MATCHED", "TAKER")
        emu.step()
        failed = _until(ws, "trade")
        assert failed["status"] == "FAILED" and failed["id"] == first["id"]
    kinds = [n["type"] for n in trader.client.get_notifications()]
    assert kinds == [2, 2, 8]  # two fills, then the failed one


def test_user_channel_refuses_bad_credentials(emu: EmulatorHandle) -> None:
    trader = new_trader(emu)
    creds = trader.client.creds
    with connect(emu.env()["POLYMARKET_WS_URL"] + "/user") as ws:
        bad = {
            "apiKey": creds.api_key,
            "secret": "wrong",
            "passphrase": creds.api_passphrase,
        }
        ws.send(json.dumps({"auth": bad, "type": "user"}))
        with pytest.raises(ConnectionClosed) as caught:
            ws.recv(timeout=WAIT_S)
    assert caught.value.rcvd is not None and caught.value.rcvd.code == 4001


# -- every connection's book matches GET /book ---------------------------------------------

Levels = dict[tuple[str, Decimal], Decimal]
BARRIER_PRICE = "0.99"
BARRIER_SIZE = "5"


def levels_of(body: dict[str, Any]) -> Levels:
    """A ``book`` (REST or websocket) as ``{(side, price): size}``."""
    sides = (("BUY", body["bids"]), ("SELL", body["asks"]))
    return {
        (side, Decimal(lv["price"])): Decimal(lv["size"])
        for side, rows in sides
        for lv in rows
    }


def rest_levels(emu: EmulatorHandle, token_id: str) -> Levels:
    """GET /book of ``token_id``."""
    reply = requests.get(f"{emu.base_url}/book", params={"token_id": token_id}, timeout=5)
    reply.raise_for_status()
    return levels_of(reply.json())


def top_of(levels: Levels) -> tuple[Decimal | None, Decimal | None]:
    """(best bid, best ask) of a book."""
    bids = [p for side, p in levels if side == "BUY"]
    asks = [p for side, p in levels if side == "SELL"]
    return (max(bids, default=None), min(asks, default=None))


def _opt(text: str) -> Decimal | None:
    return Decimal(text) if text else None


class BookClient:
    """One market-channel client: its connection, its subscriptions and the books (and
    ``best_bid_ask`` tops) rebuilt only from the messages it received.

    Every connection also follows ``barrier`` (a token no one else changes): one more
    ask at 0.99 there, placed after a test's changes, is dispatched after all of them,
    so once the client has seen it every earlier update has reached it too."""

    def __init__(self, emu: EmulatorHandle, barrier: str) -> None:
        self.emu = emu
        self.barrier = barrier
        self.url = emu.env()["POLYMARKET_WS_URL"] + "/market"
        self.ws: ClientConnection | None = None
        self._socket = contextlib.ExitStack()
        self.assets: set[str] = set()
        self.books: dict[str, Levels] = {}
        self.tops: dict[str, tuple[Decimal | None, Decimal | None]] = {}

    def connect(self, tokens: set[str]) -> None:
        """(Re)connect, subscribing to ``tokens`` and the barrier in the first message."""
        self.close()
        self.ws = self._socket.enter_context(connect(self.url))
        self.assets = {*tokens, self.barrier}
        first = {
            "assets_ids": sorted(self.assets),
            "type": "market",
            "custom_feature_enabled": True,
        }
        self.ws.send(json.dumps(first))
        self.read("dump")

    def subscribe(self, token_id: str) -> None:
        """Add a token on the open connection and wait for its ``book``."""
        assert self.ws is not None
        self.ws.send(json.dumps({"operation": "subscribe", "assets_ids": [token_id]}))
        self.assets.add(token_id)
        self.read("dump")

    def unsubscribe(self, token_id: str) -> None:
        """Drop a token on the open connection, forget its book, and wait until the
        server has read the request."""
        assert self.ws is not None
        self.ws.send(json.dumps({"operation": "unsubscribe", "assets_ids": [token_id]}))
        self.assets.discard(token_id)
        self.books.pop(token_id, None)
        self.tops.pop(token_id, None)
        self.ws.send("PING")
        self.read("pong")

    def close(self) -> None:
        """Close the connection; its books are gone with it."""
        self._socket.close()
        self.ws = None
        self.assets.clear()
        self.books.clear()
        self.tops.clear()

    def apply(self, message: dict[str, Any]) -> None:
        """One event: ``book`` replaces, ``price_change`` sets sizes (0 removes)."""
        kind = message.get("event_type")
        if kind == "book":
            token = message["asset_id"]
            if token not in self.assets:
                return
            levels = self.books[token] = levels_of(message)
            self.tops[token] = top_of(levels)
        elif kind == "price_change":
            for row in message["price_changes"]:
                levels = self.books.get(row["asset_id"])
                if levels is None or row["asset_id"] not in self.assets:
                    continue  # in flight from before an unsubscribe, or its book is due
                key = (row["side"], Decimal(row["price"]))
                if Decimal(row["size"]) == 0:
                    levels.pop(key, None)
                else:
                    levels[key] = Decimal(row["size"])
        elif kind == "best_bid_ask":
            token = message["asset_id"]
            if token in self.books and token in self.assets:
                self.tops[token] = (_opt(message["best_bid"]), _opt(message["best_ask"]))

    def read(self, until: Literal["barrier", "dump", "pong"] = "barrier") -> None:
        """Apply frames until the reply to a subscription (``dump``: an array), to a
        ``PING`` (``pong``: the server has read what was sent before it) or, by default,
        until the client holds the barrier's current size (see the class doc)."""
        assert self.ws is not None
        key = ("SELL", Decimal(BARRIER_PRICE))
        want = rest_levels(self.emu, self.barrier)[key] if until == "barrier" else None
        while until != "barrier" or self.books.get(self.barrier, {}).get(key) != want:
            text = self.ws.recv(timeout=WAIT_S)
            if text == "PONG":
                if until == "pong":
                    return
                continue
            frame = json.loads(text)
            for message in frame if isinstance(frame, list) else [frame]:
                self.apply(message)
            if until == "dump" and isinstance(frame, list):
                return

    def assert_matches_rest(self) -> None:
        """Every subscribed token's rebuilt book and top equal GET /book."""
        for token in sorted(self.assets):
            expected = rest_levels(self.emu, token)
            assert self.books.get(token) == expected, token
            assert self.tops.get(token) == top_of(expected), token


def barrier_token(emu: EmulatorHandle, market: ListedMarket) -> str:
    """The next window's Up token, with a resting barrier ask."""
    following = [m for m in emu.source.markets() if m.start >= market.end]
    token = min(following, key=lambda m: m.start).up_token_id
    quote(emu, token, Side.SELL, BARRIER_PRICE, BARRIER_SIZE)
    return token


def sync(emu: EmulatorHandle, clients: list[BookClient]) -> None:
    """Raise the barrier, let every connected client catch up, compare with REST."""
    quote(emu, clients[0].barrier, Side.SELL, BARRIER_PRICE, BARRIER_SIZE)
    for client in clients:
        if client.ws is not None:
            client.read()
            client.assert_matches_rest()


def test_a_reconnected_client_sees_levels_that_changed_while_no_one_watched(
    emu: EmulatorHandle, market: ListedMarket
) -> None:
    up, down = market.up_token_id, market.down_token_id
    barrier = barrier_token(emu, market)
    quote(emu, up, Side.BUY, "0.40", "10")
    quote(emu, up, Side.SELL, "0.60", "10")
    client = BookClient(emu, barrier)
    client.connect({up, down})
    sync(emu, [client])
    client.close()  # no one follows up or down now

    added = quote(emu, up, Side.BUY, "0.45", "10")  # a new best bid while unwatched
    grown = quote(emu, up, Side.SELL, "0.60", "5")  # 10 → 15 while unwatched
    quote(emu, down, Side.SELL, "0.58", "7")
    client.connect({up, down})
    sync(emu, [client])

    for order_id in (added, grown):  # back to what was published before the gap
        assert emu.venue.cancel(MAKER, order_id).canceled
    sync(emu, [client])


def test_a_client_subscribing_later_on_its_connection_gets_a_consistent_book(
    emu: EmulatorHandle, market: ListedMarket
) -> None:
    up, down = market.up_token_id, market.down_token_id
    barrier = barrier_token(emu, market)
    quote(emu, up, Side.BUY, "0.40", "10")
    first, second = BookClient(emu, barrier), BookClient(emu, barrier)
    first.connect({up})
    second.connect({down})
    sync(emu, [first, second])
    first.unsubscribe(up)  # up unwatched, both connections still open

    extra = quote(emu, up, Side.BUY, "0.41", "10")
    grown = quote(emu, up, Side.BUY, "0.40", "5")
    sync(emu, [first, second])
    second.subscribe(up)
    sync(emu, [first, second])
    for order_id in (extra, grown):
        assert emu.venue.cancel(MAKER, order_id).canceled
    sync(emu, [first, second])

    first.subscribe(up)
    quote(emu, up, Side.SELL, "0.57", "6")
    sync(emu, [first, second])
    first.close()
    second.close()


BID_PRICES = ("0.40", "0.41", "0.42", "0.43")
ASK_PRICES = ("0.57", "0.58", "0.59", "0.60")  # never crossing the bids: no trades
CLIENTS = 2
QUOTE = st.tuples(
    st.just("quote"),
    st.integers(0, 1),
    st.booleans(),
    st.integers(0, len(BID_PRICES) - 1),
    st.integers(5, 9),
)
CANCEL = st.tuples(st.just("cancel"), st.integers(0, 3))  # 0: the newest order
STEPS = st.one_of(
    QUOTE,
    QUOTE,
    CANCEL,
    CANCEL,
    st.tuples(st.just("connect"), st.integers(0, CLIENTS - 1), st.sets(st.integers(0, 1))),
    st.tuples(st.just("close"), st.integers(0, CLIENTS - 1)),
    st.tuples(st.just("subscribe"), st.integers(0, CLIENTS - 1), st.integers(0, 1)),
    st.tuples(st.just("unsubscribe"), st.integers(0, CLIENTS - 1), st.integers(0, 1)),
    st.tuples(st.just("unwatch"), st.integers(0, 1)),  # every client drops the token
    st.tuples(st.just("sync")),
)


@settings(max_examples=15, deadline=None)
@given(steps=st.lists(STEPS, min_size=10, max_size=40))
def test_every_connection_rebuilds_the_rest_book_whatever_the_subscriptions(
    steps: list[tuple[Any, ...]],
) -> None:
    run_steps(steps)


def run_steps(steps: list[tuple[Any, ...]]) -> None:
    """Play ``steps`` on a fresh emulator; every ``sync`` (and one at the end) checks
    each connected client against GET /book."""
    emu = start_emulator()
    clients: list[BookClient] = []
    try:
        market = current_market(emu)
        tokens = (market.up_token_id, market.down_token_id)
        barrier = barrier_token(emu, market)
        clients = [BookClient(emu, barrier) for _ in range(CLIENTS)]
        resting: list[str] = []
        for step in steps:
            kind, args = step[0], step[1:]
            if kind == "quote":
                token, bid, level, size = args
                price = (BID_PRICES if bid else ASK_PRICES)[level]
                side = Side.BUY if bid else Side.SELL
                resting.append(quote(emu, tokens[token], side, price, str(size)))
            elif kind == "cancel" and resting:
                order_id = resting.pop(-1 - args[0] % len(resting))
                assert emu.venue.cancel(MAKER, order_id).canceled
            elif kind == "connect":
                clients[args[0]].connect({tokens[i] for i in args[1]})
            elif kind == "close":
                clients[args[0]].close()
            elif kind == "subscribe":
                client, token = clients[args[0]], tokens[args[1]]
                if client.ws is None:
                    client.connect({token})
                else:
                    client.subscribe(token)
            elif kind == "unsubscribe" and clients[args[0]].ws is not None:
                clients[args[0]].unsubscribe(tokens[args[1]])
            elif kind == "unwatch":
                for client in clients:
                    if client.ws is not None:
                        client.unsubscribe(tokens[args[0]])
            elif kind == "sync":
                sync(emu, clients)
        sync(emu, clients)
    finally:
        for client in clients:
            client.close()
        emu.stop()
