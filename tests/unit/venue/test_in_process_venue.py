"""The Venue port over SimVenue, and our ledger agreeing with the venue's to the micro-unit."""

from __future__ import annotations

import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from src.data.db_connection import configure_database, db_connection
from src.data.ledger_store import (
    apply_fill_event,
    cash_balance,
    insert_order_intent,
    record_cash,
    set_order_status,
)
from src.data.market_data.windows import WindowRef
from src.data.migrations import run_migrations
from src.sim.venue import types as sim
from src.sim.venue.markets import VenueMarket
from src.sim.venue.venue import SimVenue
from src.trading.execution import intent_for
from src.trading.ledger.accounting import Side
from src.trading.venue.in_process import InProcessVenue, order_id_for
from src.trading.venue.port import OrderSpec, OrderType, PlaceStatus
from src.utils.clock import SimClock

T0 = 1_767_225_600
M = 1_000_000
BOT, MM = "0xbot", "0xmaker"


def make_world(
    tmp_path: Path, failure_probability: float
) -> tuple[SimVenue, InProcessVenue, VenueMarket, SimClock]:
    clock = SimClock(start=T0 + 60)
    venue = SimVenue(clock, seed=1, failure_probability=failure_probability)
    market = VenueMarket.for_window(WindowRef("BTC", T0))
    venue.register_market(market)
    venue.open_account(BOT, 100 * M)
    venue.open_liquidity_account(MM)
    db = tmp_path / "bot.db"
    run_migrations(db)
    configure_database(db)
    with db_connection() as cur:
        record_cash(cur, "deposit", 100 * M, 0)
    return venue, InProcessVenue(venue, BOT), market, clock


@pytest.fixture
def world(tmp_path: Path) -> tuple[SimVenue, InProcessVenue, VenueMarket, SimClock]:
    return make_world(tmp_path, 0.0)


def quote(venue: SimVenue, token: str, side: sim.Side, price: str, size: str) -> None:
    result = venue.place(
        MM, sim.OrderRequest.limit(token, side, Decimal(price), Decimal(size))
    )
    assert result.success, result.error


def trade(port: InProcessVenue, spec: OrderSpec) -> PlaceStatus:
    """Intent first, then submit, then book every fill — as execute_trade will."""
    prepared = port.prepare(spec)
    with db_connection() as cur:
        insert_order_intent(
            cur,
            intent_for(
                prepared, symbol="BTC", outcome="UP", intent="entry", mode="backtest"
            ),
            0,
        )
    reply = port.submit(prepared)
    with db_connection() as cur:
        if reply.status is PlaceStatus.REJECTED:
            set_order_status(cur, spec.client_order_id, "rejected", 0, error=reply.error)
        else:
            set_order_status(
                cur, spec.client_order_id, "live" if reply.resting else "filled", 0
            )
        for fill in reply.fills:
            apply_fill_event(cur, fill, 0)
    return reply.status


def sync_fills(port: InProcessVenue) -> None:
    with db_connection() as cur:
        for fill in port.fills():
            apply_fill_event(cur, fill, 0)


def assert_ledger_matches(port: InProcessVenue, venue: SimVenue) -> None:
    """Once every pending trade has settled (tokens arrive at CONFIRMED), our ledger —
    built from fill events only — must equal the venue's to the micro-unit."""
    venue.confirm()
    sync_fills(port)
    with db_connection(readonly=True) as cur:
        assert cash_balance(cur) == port.collateral_micro()
        ours = {
            r[0]: r[1]
            for r in cur.execute(
                "SELECT token_id, size_micro FROM positions WHERE size_micro > 0"
            )
        }
    assert ours == port.token_balances()


def test_taker_buy_books_exactly_what_the_venue_did(world: tuple) -> None:
    venue, port, market, _ = world
    quote(venue, market.up_token_id, sim.Side.SELL, "0.51", "10")
    quote(venue, market.up_token_id, sim.Side.SELL, "0.52", "10")
    spec = OrderSpec("c-1", market.up_token_id, Side.BUY, OrderType.FAK, 520_000, 15 * M)
    assert trade(port, spec) is PlaceStatus.ACCEPTED
    assert_ledger_matches(port, venue)


def test_resting_order_fills_when_traded_through(world: tuple) -> None:
    venue, port, market, _ = world
    spec = OrderSpec(
        "c-2", market.up_token_id, Side.BUY, OrderType.GTC, 450_000, 10 * M, post_only=True
    )
    assert trade(port, spec) is PlaceStatus.ACCEPTED
    assert [o.venue_order_id for o in port.open_orders()] == [order_id_for("c-2")]
    result = venue.place(
        MM,
        sim.OrderRequest.market(
            market.up_token_id,
            sim.Side.SELL,
            Decimal("10"),
            Decimal("0.45"),
            sim.OrderType.FOK,
        ),
    )
    assert result.success
    sync_fills(port)
    assert_ledger_matches(port, venue)
    assert port.get_order(order_id_for("c-2")).matched_micro == 10 * M
    assert port.get_order("0xunknown") is None


def test_rejections_are_definitive_with_the_venue_text(world: tuple) -> None:
    _, port, market, _ = world
    spec = OrderSpec("c-3", market.up_token_id, Side.BUY, OrderType.GTC, 455_000, 10 * M)
    prepared = port.prepare(spec)
    reply = port.submit(prepared)
    assert reply.status is PlaceStatus.REJECTED
    assert "minimum tick size" in reply.error


def test_book_in_market_data_types(world: tuple) -> None:
    venue, port, market, _ = world
    quote(venue, market.up_token_id, sim.Side.BUY, "0.48", "20")
    quote(venue, market.up_token_id, sim.Side.SELL, "0.52", "30")
    book = port.book(market.up_token_id)
    assert book.best_bid == Decimal("0.48") and book.best_ask == Decimal("0.52")
    assert book.mid == Decimal("0.50") and book.tick_size == Decimal("0.01")


@settings(
    max_examples=25,
    deadline=None,
)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(
                ["buy_fak", "buy_gtc", "sell_fak", "cross", "cancel", "confirm"]
            ),
            st.integers(40, 60),
            st.integers(5, 30),
        ),
        max_size=20,
    )
)
def test_ledger_equals_venue_after_any_sequence(ops: list) -> None:
    """On a venue where a quarter of the trades FAIL at settlement (and must be reversed),
    any sequence of our orders, crosses, cancels and confirmations leaves our ledger equal
    to the venue's."""
    with tempfile.TemporaryDirectory() as tmp:
        venue, port, market, _ = make_world(Path(tmp), 0.25)
        run_sequence(venue, port, market.up_token_id, ops)


def run_sequence(venue: SimVenue, port: InProcessVenue, token: str, ops: list) -> None:
    for i, (op, cents, shares) in enumerate(ops):
        price = cents * 10_000
        cid = f"p-{i}"
        if op == "buy_fak":
            quote(venue, token, sim.Side.SELL, f"0.{cents}", str(shares))
            trade(port, OrderSpec(cid, token, Side.BUY, OrderType.FAK, price, shares * M))
        elif op == "buy_gtc":
            trade(port, OrderSpec(cid, token, Side.BUY, OrderType.GTC, price, shares * M))
        elif op == "sell_fak":
            held = port.token_balances().get(token, 0) // 10_000 * 10_000
            if held >= 5 * M:
                quote(venue, token, sim.Side.BUY, f"0.{cents}", str(held / M))
                trade(port, OrderSpec(cid, token, Side.SELL, OrderType.FAK, price, held))
        elif op == "cross":
            venue.place(
                MM,
                sim.OrderRequest.limit(
                    token,
                    sim.Side.SELL,
                    Decimal(f"0.{cents}"),
                    Decimal(shares),
                    sim.OrderType.FAK,
                ),
            )
        elif op == "cancel":
            port.cancel_all()
        else:
            venue.confirm()
        sync_fills(port)
    assert_ledger_matches(port, venue)
