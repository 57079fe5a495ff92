"""Reconciliation against the in-process venue: crashes at every step converge."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from src.data.db_connection import configure_database, db_connection
from src.data.ledger_store import cash_balance, insert_order_intent, record_cash
from src.data.market_data.windows import WindowRef
from src.data.migrations import run_migrations
from src.sim.venue import types as sim
from src.sim.venue.markets import VenueMarket
from src.sim.venue.venue import SimVenue
from src.trading.execution import intent_for
from src.trading.ledger.accounting import Side
from src.trading.position_manager.reconcile_runner import (
    ReconcileError,
    TokenInfo,
    compute_plan,
    reconcile,
)
from src.trading.position_manager.reconciliation import (
    AdoptOrder,
    BookFill,
    SetOrderStatus,
)
from src.trading.venue.in_process import InProcessVenue
from src.trading.venue.port import OrderSpec, OrderType, VenueUnavailableError
from src.utils.clock import SimClock

T0 = 1_767_225_600
M = 1_000_000


@pytest.fixture
def env(tmp_path: Path) -> dict:
    clock = SimClock(start=T0 + 60)
    venue = SimVenue(clock, seed=5)
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

    def token_info(token: str) -> TokenInfo | None:
        if token == market.up_token_id:
            return TokenInfo("BTC", "UP")
        if token == market.down_token_id:
            return TokenInfo("BTC", "DOWN")
        return None

    return {
        "clock": clock,
        "venue": venue,
        "market": market,
        "port": port,
        "info": token_info,
    }


def write_intent(env: dict, spec: OrderSpec) -> str:
    prepared = env["port"].prepare(spec)
    with db_connection() as cur:
        insert_order_intent(
            cur,
            intent_for(prepared, symbol="BTC", outcome="UP", intent="entry", mode="sim"),
            0,
        )
    return prepared.venue_order_id


def buy_spec(
    env: dict, cid: str, order_type: OrderType = OrderType.FAK, price: int = 550_000
) -> OrderSpec:
    return OrderSpec(cid, env["market"].up_token_id, Side.BUY, order_type, price, 10 * M)


def ask(env: dict, price: str = "0.55", size: str = "50") -> None:
    env["venue"].place(
        "0xmm",
        sim.OrderRequest.limit(
            env["market"].up_token_id, sim.Side.SELL, Decimal(price), Decimal(size)
        ),
    )


def settled_and_equal(env: dict) -> None:
    env["venue"].confirm()
    reconcile(env["port"], env["clock"], "sim", env["info"])
    assert compute_plan(env["port"]).empty
    with db_connection(readonly=True) as cur:
        assert cash_balance(cur) == env["port"].collateral_micro()
        ours = {
            r[0]: r[1]
            for r in cur.execute(
                "SELECT token_id, size_micro FROM positions WHERE size_micro > 0"
            )
        }
    assert ours == env["port"].token_balances()


def order_status(cid: str) -> str:
    with db_connection(readonly=True) as cur:
        return cur.execute(
            "SELECT status FROM orders WHERE client_order_id = ?", (cid,)
        ).fetchone()[0]


def test_an_agreeing_ledger_has_an_empty_plan(env: dict) -> None:
    assert compute_plan(env["port"]).empty


def test_crash_between_intent_and_post(env: dict) -> None:
    write_intent(env, buy_spec(env, "c-1"))  # written, never sent
    plan = compute_plan(env["port"])
    assert [type(a) for a in plan.actions] == [SetOrderStatus]
    settled_and_equal(env)
    assert order_status("c-1") == "rejected"


def test_crash_between_post_and_response(env: dict) -> None:
    ask(env)
    spec = buy_spec(env, "c-2")
    write_intent(env, spec)
    env["port"].submit(env["port"].prepare(spec))  # reached the venue; answer lost
    plan = compute_plan(env["port"])
    assert [type(a) for a in plan.actions] == [BookFill, SetOrderStatus]
    settled_and_equal(env)
    assert order_status("c-2") == "filled"


def test_resting_order_filled_while_we_were_down(env: dict) -> None:
    spec = buy_spec(env, "c-3", OrderType.GTC, 500_000)
    write_intent(env, spec)
    env["port"].submit(env["port"].prepare(spec))
    env["venue"].place(
        "0xmm",
        sim.OrderRequest.market(
            env["market"].up_token_id,
            sim.Side.SELL,
            Decimal("6"),
            Decimal("0.50"),
            sim.OrderType.FAK,
        ),
    )
    settled_and_equal(env)
    assert order_status("c-3") == "partially_filled"


def test_untracked_order_and_position_are_adopted(env: dict) -> None:
    ask(env)
    # an order placed by hand on the venue, unknown to the ledger
    env["venue"].place(
        "0xbot",
        sim.OrderRequest.market(
            env["market"].up_token_id,
            sim.Side.BUY,
            Decimal("5.50"),
            Decimal("0.55"),
            sim.OrderType.FOK,
        ),
    )
    # and tokens of another market that arrived with no order at all
    eth = VenueMarket.for_window(WindowRef("ETH", T0))
    env["venue"].register_market(eth)
    env["venue"].mint("0xbot", eth.condition_id, 3 * M)
    env["venue"].deposit("0xbot", 3 * M)  # the tokens came from elsewhere, not our cash
    info = env["info"]
    env["info"] = lambda t: (
        info(t)
        or (TokenInfo("ETH", "UP") if t == eth.up_token_id else TokenInfo("ETH", "DOWN"))
    )
    plan = compute_plan(env["port"])
    kinds = [a.kind for a in plan.actions]
    assert isinstance(plan.actions[0], AdoptOrder) and "book_fill" in kinds
    assert kinds.count("adopt_position") == 2
    settled_and_equal(env)
    with db_connection(readonly=True) as cur:
        adopted = cur.execute(
            "SELECT symbol, outcome, size_micro FROM positions "
            "WHERE adopted = 1 ORDER BY outcome"
        ).fetchall()
    assert [tuple(r) for r in adopted] == [("ETH", "DOWN", 3 * M), ("ETH", "UP", 3 * M)]


def test_a_size_no_fill_explains_is_reported_not_patched(env: dict) -> None:
    ask(env)
    spec = buy_spec(env, "c-5")
    write_intent(env, spec)
    env["port"].submit(env["port"].prepare(spec))
    env["venue"].confirm()
    reconcile(env["port"], env["clock"], "sim", env["info"])
    env["venue"].mint("0xbot", env["market"].condition_id, 2 * M)  # extra Up and Down
    done = reconcile(env["port"], env["clock"], "sim", env["info"])
    assert any("size mismatch" in line for line in done)
    assert any("cash mismatch" in line and "difference -2000000" in line for line in done)
    with db_connection(readonly=True) as cur:
        size = cur.execute(
            "SELECT size_micro FROM positions WHERE token_id = ?",
            (env["market"].up_token_id,),
        ).fetchone()[0]
    assert size == env["port"].token_balances()[env["market"].up_token_id] - 2 * M


def test_a_venue_that_does_not_answer_stops_reconciliation(env: dict) -> None:
    write_intent(env, buy_spec(env, "c-4"))

    class Down(InProcessVenue):
        def get_order(self, venue_order_id: str) -> None:
            raise VenueUnavailableError("timeout")

    with pytest.raises(ReconcileError, match="did not answer"):
        reconcile(Down(env["venue"], "0xbot"), env["clock"], "sim", env["info"])
    assert order_status("c-4") == "intent"  # nothing concluded from silence
