"""The user websocket, REST polling and notifications against the emulator: every fill
booked exactly once, and a fill missed during a websocket cut is caught by the watchdog.

Real websockets and HTTP on 127.0.0.1; the emulator's clock is manual (moved by the test).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from src.sim.venue import OrderRequest
from src.sim.venue import OrderType as SimOrderType
from src.sim.venue import Side as SimSide
from src.trading.execution import execute_trade
from src.trading.ledger.events import FillOutcome
from src.trading.ledger.recorder import record_fills
from src.trading.state import RecentFills
from src.trading.venue.port import OrderType
from src.trading.venue.streams import (
    NotificationPoller,
    OrderEventType,
    OrderUpdate,
    ResyncReason,
    UserStream,
    Watchdog,
    WatchdogConfig,
    WsOptions,
)
from tests.integration.emulator.support import MAKER
from tests.integration.ledger.test_ledger_against_emulator import (
    assert_ledgers_equal,
    order,
    params,
)
from tests.integration.streams.conftest import Stoppers, World

pytestmark = pytest.mark.integration

WAIT_S = 5.0


def user_stream(world: World, updates: list[OrderUpdate], **options: float) -> UserStream:
    return UserStream.for_venue(
        world.venue,
        world.emu.env()["POLYMARKET_WS_URL"],
        world.emu.clock,
        markets=[world.market.condition_id],
        recent=world.ctx.recent,
        on_order=updates.append,
        options=WsOptions(**options),
    )


def rest_on_book(world: World, cid: str) -> str:
    """Our resting post-only BUY 10 @ 0.45; returns its venue id."""
    execute_trade(
        params(world, cid, price="0.45", order_type=OrderType.GTC, post_only=True),
        context=world.ctx,
    )
    status, venue_id, _ = order(cid)
    assert status == "live"
    return venue_id


def hit(world: World, size: str) -> None:
    """A taker sells into our bid (in-process, as another trader would)."""
    world.emu.venue.open_liquidity_account(MAKER)
    result = world.emu.venue.place(
        MAKER,
        OrderRequest.market(
            world.market.up_token_id, SimSide.SELL, size, "0.45", SimOrderType.FAK
        ),
    )
    assert result.success, result.error


def test_a_fill_from_ws_rest_and_a_notification_is_booked_once(
    world: World, started: Stoppers
) -> None:
    venue_id = rest_on_book(world, "ws-once")
    updates: list[OrderUpdate] = []
    stream = started.add(user_stream(world, updates))
    assert stream.wait_connected(timeout=WAIT_S) and subscribed(world)

    hit(world, "10")  # MATCHED, then CONFIRMED on the next step
    assert stream.signal.wait_for(
        lambda: stream.outcomes.count(FillOutcome.BOOKED) >= 1, WAIT_S
    )
    world.emu.step()
    assert stream.signal.wait_for(lambda: FillOutcome.PROMOTED in stream.outcomes, WAIT_S)
    assert list(stream.outcomes) == [FillOutcome.BOOKED, FillOutcome.PROMOTED]
    assert stream.signal.wait_for(
        lambda: any(u.matched_micro == 10_000_000 for u in updates), WAIT_S
    )
    matched = [u for u in updates if u.venue_order_id == venue_id]
    assert matched and matched[-1].event is OrderEventType.UPDATE

    # the same reports again from REST polling: deduplicated by recent_fills…
    polled = world.venue.fills(0)
    assert polled
    assert set(record_fills(polled, world.emu.clock, world.ctx.recent)) == {
        FillOutcome.DUPLICATE
    }
    # …and by the database's unique trade id when the in-memory filter is empty
    fresh = record_fills(polled, world.emu.clock, RecentFills())
    assert FillOutcome.BOOKED not in fresh

    # and from the fill notification: a targeted resync of its trade, then dropped
    poller = NotificationPoller(world.venue, world.emu.clock, recent=RecentFills())
    result = poller.poll_once()
    assert result is not None and result.seen >= 1 and result.dropped
    assert result.outcomes and FillOutcome.BOOKED not in result.outcomes
    assert world.venue.notifications() == []

    assert_ledgers_equal(world)


def test_a_fill_during_a_ws_cut_is_caught_by_the_watchdog_resync(
    world: World, started: Stoppers
) -> None:
    rest_on_book(world, "ws-cut")
    updates: list[OrderUpdate] = []
    # a long first backoff keeps the socket down while the fill happens
    stream = user_stream(world, updates, backoff_base_s=1.0)
    watchdog = Watchdog(
        world.venue,
        world.emu.clock,
        last_message_at=lambda: stream.last_message_at,
        recent=world.ctx.recent,
        config=WatchdogConfig(stale_after_s=1000, poll_s=0.05),
    )
    stream.on_connect(watchdog.kick)
    started.add(watchdog)
    started.add(stream)
    assert stream.wait_connected(timeout=WAIT_S) and subscribed(world)
    assert watchdog.signal.wait_for(lambda: len(watchdog.results) >= 1, WAIT_S)

    world.emu.set_faults("ws-user:drop=1s")
    # Each tick cuts user sockets older than 1 s. The server may still be registering the
    # subscription when the first tick comes, so tick until the cut is seen (bounded).
    for _ in range(10):
        world.emu.advance(2)
        if stream.signal.wait_for(lambda: stream.disconnects >= 1, WAIT_S / 10):
            break
    assert stream.disconnects >= 1
    world.emu.set_faults("")
    hit(world, "6")  # while disconnected: no websocket message reaches us

    assert stream.wait_connected(count=2, timeout=WAIT_S)
    assert watchdog.signal.wait_for(
        lambda: any(r.booked for r in list(watchdog.results)[1:]), WAIT_S
    )
    caught = [r for r in list(watchdog.results)[1:] if r.booked]
    assert caught[0].reason is ResyncReason.RECONNECT
    assert FillOutcome.BOOKED not in stream.outcomes  # the socket never saw it
    assert any(u.live for u in caught[0].orders)  # the 4 left still rest on the book

    # CONFIRMED must go out over the new connection, so let its subscription land first.
    assert wait_until(
        lambda: (
            world.venue.address.lower() in {a.lower() for a in world.emu.user_subscribers()}
        )
    )
    world.emu.step()  # CONFIRMED now arrives over the new connection
    assert stream.signal.wait_for(lambda: FillOutcome.PROMOTED in stream.outcomes, WAIT_S)
    assert_ledgers_equal(world)


def subscribed(world: World) -> bool:
    """Wait until the emulator has our user-channel subscription (the client's "connected"
    comes before the server has processed the subscribe message)."""
    me = world.venue.address.lower()
    return wait_until(lambda: me in {a.lower() for a in world.emu.user_subscribers()})


def wait_until(condition: Callable[[], bool], timeout_s: float = WAIT_S) -> bool:
    """Poll ``condition`` on an Event's timeout (a state on another thread's loop)."""
    pause = threading.Event()
    for _ in range(int(timeout_s / 0.02)):
        if condition():
            return True
        pause.wait(0.02)
    return condition()
