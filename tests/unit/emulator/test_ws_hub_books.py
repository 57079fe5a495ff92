"""The market channel's books, per connection, in-process: the hub without its loop or
sockets, so a test decides exactly when the queued venue events are fanned out
(:meth:`WsHub.flush`) relative to the subscriptions. Whatever the order, the messages a
connection received rebuild the venue's book and top."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from src.sim.emulator.config import EmulatorConfig
from src.sim.emulator.context import EmulatorContext
from src.sim.emulator.server import Emulator
from src.sim.emulator.sources import calendar_source
from src.sim.emulator.ws_hub import Connection, WsHub
from src.sim.emulator.ws_views import Levels, levels_of
from src.sim.venue import OrderRequest, Side
from src.utils.money import MICRO

MAKER = "0x" + "11" * 20
BID_PRICES = ("0.40", "0.41", "0.42")
ASK_PRICES = ("0.58", "0.59", "0.60")  # never crossing the bids: no trades
Top = tuple[int | None, int | None]


@dataclass
class Client:
    """One market connection and what its messages add up to (micro-units, as the
    venue's levels)."""

    conn: Connection
    books: dict[str, Levels] = field(default_factory=dict)
    tops: dict[str, Top] = field(default_factory=dict)

    def read(self) -> None:
        """Apply every message queued for the connection so far."""
        queue = self.conn.queue
        while not queue.empty():
            text = queue.get_nowait()
            assert text is not None
            frame = json.loads(text)
            for message in frame if isinstance(frame, list) else [frame]:
                self.apply(message)

    def apply(self, message: dict[str, Any]) -> None:
        kind = message["event_type"]
        if kind == "book":
            sides = (("BUY", message["bids"]), ("SELL", message["asks"]))
            levels = {
                (side, _micro(lv["price"])): _micro(lv["size"])
                for side, rows in sides
                for lv in rows
            }
            self.books[message["asset_id"]] = levels
            self.tops[message["asset_id"]] = _top(levels)
        elif kind == "price_change":
            for row in message["price_changes"]:
                levels = self.books[row["asset_id"]]  # never before the token's book
                key = (row["side"], _micro(row["price"]))
                if row["size"] == "0":
                    levels.pop(key, None)
                else:
                    levels[key] = _micro(row["size"])
        elif kind == "best_bid_ask":
            bid, ask = message["best_bid"], message["best_ask"]
            self.tops[message["asset_id"]] = (
                _micro(bid) if bid else None,
                _micro(ask) if ask else None,
            )


def _micro(text: str) -> int:
    return int(Decimal(text) * MICRO)


def _top(levels: Levels) -> Top:
    bids = [p for side, p in levels if side == "BUY"]
    asks = [p for side, p in levels if side == "SELL"]
    return (max(bids, default=None), min(asks, default=None))


class World:
    """A built emulator world, its hub (events wait for :meth:`flush`) and clients."""

    def __init__(self) -> None:
        config = EmulatorConfig(port=0, speed=None, seed=7, coins=("BTC",))
        self.ctx: EmulatorContext = Emulator(config, source_factory=calendar_source).build()
        self.hub = WsHub(self.ctx)
        self.ctx.venue.subscribe(self.hub._on_event)  # what start() installs
        self.ctx.venue.open_liquidity_account(MAKER)
        now = self.ctx.clock.now()
        market = next(m for m in self.ctx.source.markets() if m.start <= now < m.end)
        self.tokens = (market.up_token_id, market.down_token_id)
        self.clients: list[Client] = []
        self.resting: list[str] = []

    def connect(self, tokens: list[str]) -> Client:
        conn = Connection(cast(Any, None), cast(Any, None), "ws-market", 0.0, custom=True)
        self.hub.connections.add(conn)
        client = Client(conn)
        self.clients.append(client)
        self.hub.subscribe_market(conn, tokens, dump=True)
        return client

    def disconnect(self, client: Client) -> None:
        self.hub.connections.discard(client.conn)
        self.clients.remove(client)

    def subscribe(self, client: Client, token: str) -> None:
        client.read()
        self.hub.subscribe_market(client.conn, [token], dump=True)

    def unsubscribe(self, client: Client, token: str) -> None:
        client.read()  # what was in flight before the request is for the old book
        self.hub.unsubscribe_market(client.conn, [token])
        client.books.pop(token, None)
        client.tops.pop(token, None)

    def quote(self, token: str, side: Side, price: str, size: str) -> str:
        result = self.ctx.venue.place(MAKER, OrderRequest.limit(token, side, price, size))
        assert result.success, result.error
        self.resting.append(result.order_id)
        return result.order_id

    def cancel(self, order_id: str) -> None:
        self.resting.remove(order_id)
        assert self.ctx.venue.cancel(MAKER, order_id).canceled

    def check(self) -> None:
        """Fan out what is queued; every client then holds the venue's books and tops."""
        self.hub.flush()
        for client in self.clients:
            client.read()
            for token in client.conn.assets:
                book = self.ctx.venue.book(token)
                assert client.books[token] == levels_of(book), token
                assert client.tops[token] == (book.best_bid, book.best_ask), token


@pytest.fixture
def world() -> Iterator[World]:
    yield World()


def test_a_subscriber_arriving_between_a_change_and_its_dispatch_sees_it_undone(
    world: World,
) -> None:
    up = world.tokens[0]
    world.quote(up, Side.BUY, "0.40", "10")
    world.connect([up])
    world.check()
    extra = world.quote(up, Side.BUY, "0.41", "10")  # queued, not fanned out yet
    world.connect([up])  # its snapshot already holds 0.41 …
    world.cancel(extra)  # … which is gone again before the pump runs
    world.check()


def test_a_token_unwatched_while_it_changes_is_diffed_per_connection(world: World) -> None:
    up, down = world.tokens
    world.quote(up, Side.SELL, "0.60", "10")
    watcher, other = world.connect([up]), world.connect([down])
    world.check()
    world.unsubscribe(watcher, up)
    world.check()
    added = world.quote(up, Side.BUY, "0.42", "10")
    grown = world.quote(up, Side.SELL, "0.60", "5")
    world.check()
    world.subscribe(other, up)
    world.subscribe(watcher, up)
    world.check()
    world.cancel(added)
    world.cancel(grown)
    world.check()


def test_without_the_initial_dump_the_deltas_start_from_the_current_book(
    world: World,
) -> None:
    up = world.tokens[0]
    world.quote(up, Side.BUY, "0.40", "10")
    conn = world.connect([]).conn
    assert conn.queue.get_nowait() == "[]"
    world.hub.subscribe_market(conn, [up], dump=False)
    assert conn.queue.empty()
    world.quote(up, Side.BUY, "0.41", "10")
    world.hub.flush()
    [change] = json.loads(conn.queue.get_nowait())["price_changes"]
    assert (change["side"], change["price"], change["size"]) == ("BUY", "0.41", "10")


TOKEN = st.sampled_from((0, 0, 0, 1))  # mostly one token: its gaps and reverts meet
CLIENT = st.integers(0, 2)
QUOTE = st.tuples(
    st.just("quote"),
    TOKEN,
    st.booleans(),
    st.integers(0, len(BID_PRICES) - 1),
    st.integers(5, 7),
)
CANCEL = st.tuples(st.just("cancel"), st.integers(0, 2))  # 0: the newest order
FLUSH = st.tuples(st.just("flush"))  # the pump runs (else events wait, as in a race)
STEPS = st.one_of(
    QUOTE,
    QUOTE,
    CANCEL,
    CANCEL,
    st.tuples(st.just("connect"), st.sets(TOKEN)),
    st.tuples(st.just("disconnect"), CLIENT),
    st.tuples(st.just("subscribe"), CLIENT, TOKEN),
    st.tuples(st.just("unsubscribe"), CLIENT, TOKEN),
    st.tuples(st.just("unwatch"), TOKEN),  # every client drops the token
    FLUSH,
    FLUSH,
    FLUSH,
)


@settings(max_examples=80, deadline=None)
@given(steps=st.lists(STEPS, min_size=5, max_size=40))
def test_any_interleaving_of_changes_subscriptions_and_dispatch_rebuilds_the_book(
    steps: list[tuple[Any, ...]],
) -> None:
    world = World()
    for kind, *args in steps:
        clients = world.clients
        if kind == "quote":
            token, bid, level, size = args
            price = (BID_PRICES if bid else ASK_PRICES)[level]
            side = Side.BUY if bid else Side.SELL
            world.quote(world.tokens[token], side, price, str(size))
        elif kind == "cancel" and world.resting:
            world.cancel(world.resting[-1 - args[0] % len(world.resting)])
        elif kind == "connect" and len(clients) < 3:
            world.connect([world.tokens[i] for i in sorted(args[0])])
        elif kind == "disconnect" and clients:
            world.disconnect(clients[args[0] % len(clients)])
        elif kind == "subscribe" and clients:
            world.subscribe(clients[args[0] % len(clients)], world.tokens[args[1]])
        elif kind == "unsubscribe" and clients:
            world.unsubscribe(clients[args[0] % len(clients)], world.tokens[args[1]])
        elif kind == "unwatch":
            for client in clients:
                world.unsubscribe(client, world.tokens[args[0]])
        elif kind == "flush":
            world.hub.flush()
    world.check()
