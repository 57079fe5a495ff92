"""Order sync over an in-process venue: working orders the venue no longer lists take the
status the venue proves; listed ones stay; fills are left to the fill streams."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import pytest

from src.data.db_connection import configure_database, db_connection
from src.data.ledger_store import insert_order_intent, record_cash, set_order_status
from src.data.market_data.windows import WindowRef
from src.data.migrations import run_migrations
from src.sim.venue import types as sim
from src.sim.venue.markets import VenueMarket
from src.sim.venue.venue import SimVenue
from src.trading.execution import ExecutionContext, TradeParams, execute_trade
from src.trading.ledger.accounting import Side
from src.trading.ledger.events import OrderIntent
from src.trading.position_manager.order_sync import sync_orders
from src.trading.state import RecentFills
from src.trading.venue.in_process import InProcessVenue
from src.trading.venue.port import (
    OrderType,
    PlaceReply,
    PreparedOrder,
    VenueOrder,
    VenueUnavailableError,
)
from src.utils.clock import SimClock

T0 = 1_767_225_600
M = 1_000_000


class TimeoutAfterAccept(InProcessVenue):
    """The order reaches the venue, but the answer never comes back (→ ambiguous)."""

    def submit(self, order: PreparedOrder) -> PlaceReply:
        super().submit(order)
        raise VenueUnavailableError("read timeout")

    def submit_batch(self, orders: Sequence[PreparedOrder]) -> list[PlaceReply]:
        raise NotImplementedError


class Unreachable(InProcessVenue):
    """Every query times out."""

    def open_orders(self) -> list[VenueOrder]:
        raise VenueUnavailableError("connect timeout")


@pytest.fixture
def env(tmp_path: Path) -> dict:
    clock = SimClock(start=T0 + 60)
    venue = SimVenue(clock, seed=3)
    market = VenueMarket.for_window(WindowRef("BTC", T0))
    venue.register_market(market)
    venue.open_account("0xbot", 100 * M)
    venue.open_liquidity_account("0xmm")
    db = tmp_path / "bot.db"
    run_migrations(db)
    configure_database(db)
    with db_connection() as cur:
        record_cash(cur, "deposit", 100 * M, 0)
    port = InProcessVenue(venue, "0xbot")
    ctx = ExecutionContext(port, clock, "backtest", recent=RecentFills())
    return {"clock": clock, "venue": venue, "market": market, "port": port, "ctx": ctx}


def rest(env: dict, price: str = "0.40", *, context: ExecutionContext | None = None) -> str:
    """A resting GTC BUY of 10 UP; returns its client order id."""
    order_id = execute_trade(
        TradeParams(
            "BTC",
            "UP",
            env["market"].up_token_id,
            Side.BUY,
            Decimal(price),
            Decimal(10),
            OrderType.GTC,
        ),
        context=context or env["ctx"],
    )
    assert order_id is not None
    with db_connection(readonly=True) as cur:
        return str(
            cur.execute(
                "SELECT client_order_id FROM orders WHERE id = ?", (order_id,)
            ).fetchone()[0]
        )


def local(client_id: str) -> tuple[str, str]:
    with db_connection(readonly=True) as cur:
        row = cur.execute(
            "SELECT status, venue_order_id FROM orders WHERE client_order_id = ?",
            (client_id,),
        ).fetchone()
    return row[0], row[1]


def unknown_order(client_id: str, status: str) -> None:
    """An order the ledger has (with a venue id) that never reached the venue."""
    with db_connection() as cur:
        insert_order_intent(
            cur,
            OrderIntent(
                client_id,
                "tok-up",
                "BTC",
                "UP",
                Side.BUY,
                "entry",
                "GTC",
                400_000,
                10 * M,
                "backtest",
                venue_order_id=f"0x{client_id}",
            ),
            0,
        )
        if status != "intent":
            set_order_status(cur, client_id, status, 0)


def sync(env: dict, venue: InProcessVenue | None = None) -> int:
    return sync_orders(venue or env["port"], env["clock"])


def audit_rows() -> list[tuple]:
    with db_connection(readonly=True) as cur:
        rows = cur.execute(
            "SELECT kind, client_order_id, message FROM audit_events WHERE message "
            "LIKE 'order now%' ORDER BY id"
        ).fetchall()
    return [tuple(r) for r in rows]


def test_an_order_the_venue_cancelled_becomes_cancelled(env: dict) -> None:
    client_id = rest(env)
    status, venue_id = local(client_id)
    assert status == "live"
    env["venue"].cancel("0xbot", venue_id)  # behind our back
    assert sync(env) == 1
    assert local(client_id)[0] == "cancelled"
    assert audit_rows() == [("cancel", client_id, "order now cancelled (venue: CANCELED)")]
    assert sync(env) == 0  # no longer working: nothing more to do


def test_orders_cancelled_when_the_market_closed_become_cancelled(env: dict) -> None:
    first, second = rest(env, "0.40"), rest(env, "0.41")
    env["venue"].close_market(env["market"].condition_id)
    assert sync(env) == 2
    assert [local(c)[0] for c in (first, second)] == ["cancelled", "cancelled"]


def test_an_ambiguous_order_the_venue_never_saw_is_rejected(env: dict) -> None:
    unknown_order("lost", "ambiguous")
    unknown_order("unsent", "posting")
    assert sync(env) == 2
    assert local("lost")[0] == "rejected"
    assert local("unsent")[0] == "rejected"


def test_a_live_order_the_venue_does_not_know_is_expired(env: dict) -> None:
    unknown_order("gone", "live")
    assert sync(env) == 1
    assert local("gone")[0] == "expired"


def test_an_order_still_listed_stays(env: dict) -> None:
    client_id = rest(env)
    assert sync(env) == 0
    assert local(client_id)[0] == "live"
    assert audit_rows() == []


def test_an_ambiguous_order_the_venue_lists_is_live(env: dict) -> None:
    flaky = ExecutionContext(
        TimeoutAfterAccept(env["venue"], "0xbot"),
        env["clock"],
        "backtest",
        recent=RecentFills(),
    )
    client_id = rest(env, context=flaky)
    assert local(client_id)[0] == "ambiguous"
    assert sync(env) == 1
    assert local(client_id)[0] == "live"
    assert audit_rows()[0][:2] == ("info", client_id)


def test_an_order_that_traded_is_left_to_its_fills(env: dict) -> None:
    client_id = rest(env, "0.50")
    env["venue"].place(  # fills our bid completely; its fill reaches us via the streams
        "0xmm",
        sim.OrderRequest.limit(
            env["market"].up_token_id, sim.Side.SELL, Decimal("0.50"), Decimal(10)
        ),
    )
    assert env["venue"].order(local(client_id)[1]).is_live is False
    assert sync(env) == 0
    assert local(client_id)[0] == "live"  # the fill, not the sync, will say "filled"


def test_orders_without_a_venue_id_are_not_looked_up(env: dict) -> None:
    with db_connection() as cur:
        insert_order_intent(
            cur,
            OrderIntent(
                "no-id",
                "tok",
                "BTC",
                "UP",
                Side.BUY,
                "entry",
                "GTC",
                400_000,
                10 * M,
                "backtest",
            ),
            0,
        )
    assert sync(env) == 0
    assert local("no-id")[0] == "intent"


def test_an_unreachable_venue_changes_nothing(env: dict) -> None:
    client_id = rest(env)
    env["venue"].cancel("0xbot", local(client_id)[1])
    with pytest.raises(VenueUnavailableError):
        sync(env, Unreachable(env["venue"], "0xbot"))
    assert local(client_id)[0] == "live"
