"""Orders → the ledger against the emulator, with its fault injection.

Real HTTP on 127.0.0.1, the unmodified ``py_clob_client_v2`` behind ``ClobVenue``, a
generated key and a real sqlite ledger. After every scenario the local ledger must equal
the emulator's to the micro-unit (cash, each token position, each fill with its fee) and
``polyflup reconcile --dry-run --json`` must print an empty plan.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from click.testing import CliRunner

from src.cli import cli
from src.cli.venue_cmd import gamma_token_info
from src.data.db_connection import db_connection
from src.data.ledger_store import cash_balance, insert_order_intent
from src.sim.venue import OrderRequest
from src.sim.venue import OrderType as SimOrderType
from src.sim.venue import Side as SimSide
from src.trading.execution import TradeParams, execute_trade, intent_for
from src.trading.ledger.accounting import Side
from src.trading.ledger.events import FillOutcome, FillStatus
from src.trading.ledger.recorder import record_fills
from src.trading.position_manager.reconcile_runner import compute_plan, reconcile
from src.trading.position_manager.reconciliation import (
    AdoptOrder,
    AdoptPosition,
    BookFill,
    SetOrderStatus,
)
from src.trading.state import RecentFills
from src.trading.venue.clob import ClobVenue
from src.trading.venue.port import OrderSpec, OrderType, PlaceStatus, PreparedOrder
from tests.integration.emulator.support import MAKER, micro, quote
from tests.integration.ledger.conftest import World

pytestmark = pytest.mark.integration

M = 1_000_000


# --- helpers -------------------------------------------------------------------------------


def params(
    world: World,
    cid: str,
    *,
    side: Side = Side.BUY,
    price: str = "0.55",
    size: str = "10",
    order_type: OrderType = OrderType.FAK,
    post_only: bool = False,
) -> TradeParams:
    return TradeParams(
        symbol="BTC",
        outcome="UP",
        token_id=world.market.up_token_id,
        side=side,
        price=Decimal(price),
        size=Decimal(size),
        order_type=order_type,
        post_only=post_only,
        client_order_id=cid,
    )


def order(cid: str) -> tuple[str, str, int]:
    """(status, venue id, filled) of a local order."""
    with db_connection(readonly=True) as cur:
        row = cur.execute(
            "SELECT status, venue_order_id, filled_micro FROM orders "
            "WHERE client_order_id = ?",
            (cid,),
        ).fetchone()
    return row[0], row[1], row[2]


def venue_orders(world: World) -> list[dict]:
    return world.emu.ledger(world.venue.address)["accounts"][0]["orders"]


def settle_and_reconcile(world: World) -> list[str]:
    """The venue settles what is pending; startup reconciliation brings the ledger along."""
    world.emu.step()
    return reconcile(world.venue, world.emu.clock, "sim", gamma_token_info(world.gamma))


def expected_fills(world: World) -> dict[str, tuple]:
    """Every fill of ours as the emulator's ledger has it: id → (status, size, notional,
    fee, fee asset) — taker legs by trade id, maker legs by trade id/order id."""
    me = world.venue.address.lower()
    out: dict[str, tuple] = {}
    for trade in world.emu.ledger(world.venue.address)["accounts"][0]["trades"]:
        if trade["trader_side"] == "TAKER":
            out[trade["id"]] = (
                trade["status"],
                micro(trade["size"]),
                micro(trade["notional"]),
                micro(trade["fee"]),
                trade["fee_asset"].lower(),
            )
        for leg in trade["maker_orders"]:
            if leg["maker_address"].lower() == me:
                size = micro(leg["matched_amount"])
                out[f"{trade['id']}/{leg['order_id']}"] = (
                    trade["status"],
                    size,
                    size * micro(leg["price"]) // M,
                    0,
                    "collateral",
                )
    return out


def assert_ledgers_equal(world: World) -> None:
    """Our ledger equals the emulator's to the micro-unit, and reconcile has nothing to do."""
    account = world.emu.ledger(world.venue.address)["accounts"][0]
    with db_connection(readonly=True) as cur:
        cash = cash_balance(cur)
        positions = {
            r[0]: r[1]
            for r in cur.execute(
                "SELECT token_id, size_micro FROM positions WHERE size_micro > 0"
            )
        }
        fills = {
            r[0]: (r[1], r[2], r[3], r[4], r[5])
            for r in cur.execute(
                "SELECT venue_trade_id, status, size_micro, notional_micro, fee_micro, "
                "fee_asset FROM fills"
            )
        }
    assert cash == micro(account["collateral"]["balance"])
    assert positions == {
        p["token_id"]: micro(p["size"]) for p in account["positions"] if micro(p["size"])
    }
    assert fills == expected_fills(world)
    assert compute_plan(world.venue).empty
    assert cli_dry_run(world) == {"actions": [], "unresolved": []}


def cli_dry_run(world: World) -> dict:
    """``polyflup reconcile --dry-run --json`` with the environment pointing at the
    emulator (as a user does after ``polyflup emulator``)."""
    env = {
        **world.emu.env(),
        "POLYMARKET_PRIVATE_KEY": world.key,
        "POLYFLUP_DB": str(world.db),
        "POLYFLUP_LOG_DIR": str(world.db.parent / "logs"),
    }
    result = CliRunner().invoke(
        cli,
        [
            "--env-file",
            str(world.db.parent / "absent.env"),
            "reconcile",
            "--dry-run",
            "--json",
            "--db",
            str(world.db),
        ],
        env=env,
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def write_intent(world: World, spec: OrderSpec) -> PreparedOrder:
    """Step one of execute_trade alone: the intent, with the order's venue id, is written
    (signing is not idempotent on the CLOB — a fresh salt — so the prepared order is the
    one to send)."""
    prepared = world.venue.prepare(spec)
    with db_connection() as cur:
        insert_order_intent(
            cur,
            intent_for(prepared, symbol="BTC", outcome="UP", intent="entry", mode="sim"),
            0,
        )
    return prepared


def spec(world: World, cid: str, order_type: OrderType = OrderType.FAK) -> OrderSpec:
    return OrderSpec(cid, world.market.up_token_id, Side.BUY, order_type, 550_000, 10 * M)


# --- scenarios -----------------------------------------------------------------------------


def test_prepared_id_is_the_venue_order_id_and_a_plain_fill_books_exactly(
    world: World,
) -> None:
    quote(world.emu, world.market.up_token_id, SimSide.SELL, "0.55", "50")
    execute_trade(params(world, "plain"), context=world.ctx)
    status, venue_id, filled = order("plain")
    assert status == "filled" and filled == 10 * M
    [row] = venue_orders(world)
    assert row["id"] == venue_id  # the hash we wrote before sending is the venue's id
    settle_and_reconcile(world)
    assert_ledgers_equal(world)


def test_lost_response_is_found_and_booked_once_never_posted_twice(world: World) -> None:
    quote(world.emu, world.market.up_token_id, SimSide.SELL, "0.55", "50")
    world.emu.set_faults("order:drop=1")
    execute_trade(params(world, "lost"), context=world.ctx)
    status, venue_id, _ = order("lost")
    assert status == "ambiguous"  # never "rejected": the order may exist
    world.emu.set_faults("")
    plan = compute_plan(world.venue)
    assert [type(a) for a in plan.actions] == [BookFill, SetOrderStatus]
    settle_and_reconcile(world)
    assert order("lost")[0] == "filled"
    assert [o["id"] for o in venue_orders(world)] == [venue_id]  # posted exactly once
    # the same decision again collides with the first attempt instead of re-posting
    assert execute_trade(params(world, "lost"), context=world.ctx) is None
    assert len(venue_orders(world)) == 1
    assert_ledgers_equal(world)


def test_timeout_after_accept_resolves_to_the_resting_order(
    world: World, short_client_timeout: None
) -> None:
    world.emu.set_faults("order:timeout=1/1s")
    execute_trade(
        params(world, "held", price="0.40", order_type=OrderType.GTC, post_only=True),
        context=world.ctx,
    )
    assert order("held")[0] == "ambiguous"
    world.emu.set_faults("")
    settle_and_reconcile(world)
    assert order("held")[0] == "live"  # the real state: resting on the book
    assert_ledgers_equal(world)


def test_rejection_is_definitive_with_the_venue_text(world: World) -> None:
    # nothing to match: a FAK is refused with the venue's own words
    execute_trade(params(world, "refused"), context=world.ctx)
    assert order("refused")[0] == "rejected"
    with db_connection(readonly=True) as cur:
        (error,) = cur.execute(
            "SELECT error FROM orders WHERE client_order_id = 'refused'"
        ).fetchone()
    assert error.startswith("no orders found to match with FAK order")
    settle_and_reconcile(world)
    assert_ledgers_equal(world)


def test_server_errors_are_ambiguous_never_rejected(world: World) -> None:
    world.emu.set_faults("order:5xx=1")
    reply = world.venue.submit(world.venue.prepare(spec(world, "five")))
    assert reply.status is PlaceStatus.AMBIGUOUS
    world.emu.set_faults("order:429=1")
    reply = world.venue.submit(world.venue.prepare(spec(world, "four")))
    assert reply.status is PlaceStatus.AMBIGUOUS


def test_a_fill_during_a_cancel_is_kept(world: World) -> None:
    up = world.market.up_token_id
    execute_trade(
        params(world, "rest", price="0.45", order_type=OrderType.GTC, post_only=True),
        context=world.ctx,
    )
    _, venue_id, _ = order("rest")
    # a taker trades through part of our resting order just before our cancel lands
    world.emu.venue.open_liquidity_account(MAKER)
    hit = world.emu.venue.place(
        MAKER, OrderRequest.market(up, SimSide.SELL, "6", "0.45", SimOrderType.FAK)
    )
    assert hit.success, hit.error
    reply = world.venue.cancel([venue_id])
    assert reply.cancelled == (venue_id,)  # the remainder was cancelled…
    settle_and_reconcile(world)
    status, _, filled = order("rest")
    assert (status, filled) == ("cancelled", 6 * M)  # …and the fill is kept
    assert_ledgers_equal(world)


def test_duplicate_and_out_of_order_fill_events_apply_once(world: World) -> None:
    quote(world.emu, world.market.up_token_id, SimSide.SELL, "0.55", "50")
    prepared = world.venue.prepare(spec(world, "dup"))
    with db_connection() as cur:
        insert_order_intent(
            cur,
            intent_for(prepared, symbol="BTC", outcome="UP", intent="entry", mode="sim"),
            0,
        )
    reply = world.venue.submit(prepared)  # its answer's fills are not booked here
    [matched] = reply.fills
    world.emu.step()
    [confirmed] = world.venue.fills()
    assert confirmed.status is FillStatus.CONFIRMED
    assert confirmed.venue_trade_id == matched.venue_trade_id
    # CONFIRMED arrives first (REST poll), then the late MATCHED (websocket), then repeats;
    # a fresh RecentFills each time, so the database alone has to refuse the repeats
    outcomes = [
        record_fills([event], world.emu.clock, RecentFills())[0]
        for event in (confirmed, matched, confirmed, matched)
    ]
    assert outcomes == [
        FillOutcome.BOOKED,
        FillOutcome.STALE,
        FillOutcome.DUPLICATE,
        FillOutcome.STALE,
    ]
    settle_and_reconcile(world)
    assert_ledgers_equal(world)


def test_a_failed_fill_is_reversed(world: World) -> None:
    quote(world.emu, world.market.up_token_id, SimSide.SELL, "0.55", "50")
    start = world.venue.collateral_micro()
    world.emu.set_faults("engine:fail=1")
    execute_trade(params(world, "fails"), context=world.ctx)
    with db_connection(readonly=True) as cur:
        assert cash_balance(cur) == start - 5_500_000  # booked at MATCHED
    world.emu.set_faults("")
    settle_and_reconcile(world)  # the venue rolls the trade back: FAILED
    with db_connection(readonly=True) as cur:
        assert cash_balance(cur) == start
        (status,) = cur.execute("SELECT status FROM fills").fetchone()
    assert status == "FAILED"
    assert_ledgers_equal(world)


def test_crash_between_intent_and_post_converges(world: World) -> None:
    quote(world.emu, world.market.up_token_id, SimSide.SELL, "0.55", "50")
    write_intent(world, spec(world, "never-sent"))  # …and the process died
    plan = compute_plan(world.venue)
    assert [type(a) for a in plan.actions] == [SetOrderStatus]
    settle_and_reconcile(world)
    assert order("never-sent")[0] == "rejected"
    assert venue_orders(world) == []
    assert_ledgers_equal(world)


def test_crash_between_post_and_response_converges(world: World) -> None:
    quote(world.emu, world.market.up_token_id, SimSide.SELL, "0.55", "50")
    prepared = write_intent(world, spec(world, "no-answer"))
    # posted, then the process died before reading the answer (a new venue: new process)
    world.venue.submit(prepared)
    restarted = ClobVenue(
        world.venue.client, data_url=world.emu.env()["POLYMARKET_DATA_URL"]
    )
    plan = compute_plan(restarted)
    assert [type(a) for a in plan.actions] == [BookFill, SetOrderStatus]
    settle_and_reconcile(world)
    assert order("no-answer")[0] == "filled"
    assert_ledgers_equal(world)


def test_untracked_venue_order_and_position_are_adopted(world: World) -> None:
    up = world.market.up_token_id
    quote(world.emu, up, SimSide.SELL, "0.55", "50")
    # an order placed by hand (same account, not through the bot) …
    by_hand = world.venue.prepare(spec(world, "by-hand"))
    assert world.venue.submit(by_hand).status is PlaceStatus.ACCEPTED
    # … and complete sets of the next window that arrived without any order (cash
    # deposited alongside, so the tokens did not come out of the ledger's cash)
    other = next(
        m
        for m in world.emu.source.markets()
        if m.start == world.market.end and m.coin == "BTC"
    )
    address = world.venue.address
    world.emu.venue.deposit(address, 3 * M)
    world.emu.venue.mint(address, other.condition_id, 3 * M)
    world.emu.step()
    plan = compute_plan(world.venue)
    kinds = [type(a) for a in plan.actions]
    assert kinds[0] is AdoptOrder and BookFill in kinds
    assert kinds.count(AdoptPosition) == 2
    settle_and_reconcile(world)
    with db_connection(readonly=True) as cur:
        adopted = cur.execute(
            "SELECT p.symbol, p.outcome, p.size_micro, w.slug FROM positions p "
            "JOIN windows w ON w.id = p.window_id WHERE p.adopted = 1 ORDER BY p.outcome"
        ).fetchall()
    assert [tuple(r) for r in adopted] == [
        ("BTC", "DOWN", 3 * M, other.slug),
        ("BTC", "UP", 3 * M, other.slug),
    ]
    assert order("adopted-" + by_hand.venue_order_id)[0] == "filled"
    assert_ledgers_equal(world)


def test_an_order_on_a_tick_that_got_finer_after_the_client_cached_it(world: World) -> None:
    """The client caches a market's tick for good; when the market moves to 0.001 an
    exit at 0.999 is still signed (the venue adapter refreshes the client's cache)."""
    up = world.market.up_token_id
    assert world.venue.client.get_tick_size(up) == "0.01"  # cached now
    world.emu.venue.set_tick_size(up, "0.001")
    spec = OrderSpec("fine", up, Side.BUY, OrderType.GTC, 1_000, 5_000_000, post_only=True)
    prepared = world.venue.prepare(spec)
    assert prepared.spec.price_micro == 1_000
    assert world.venue.client.get_tick_size(up) == "0.001"


def _set_tick(world: World, tick: str) -> None:
    for token in world.market.token_ids:
        world.emu.venue.set_tick_size(token, tick)


def test_a_market_buy_on_the_coarse_tick_after_trading_on_the_fine_one(
    world: World,
) -> None:
    """The client keeps a token's tick for good once it signed a market order there:
    after a market BUY at 0.999 (tick 0.001) it signed a later one at 0.86 with 5-decimal
    shares, which the venue refuses. Orders are signed on the tick of the adapter's last
    book read."""
    up = world.market.up_token_id
    # the bot prices on its book's tick (the engine's ``_tick_of``)
    world.ctx.tick_micro = lambda token: micro(str(world.venue.book(token).tick_size))
    _set_tick(world, "0.001")
    quote(world.emu, up, SimSide.SELL, "0.999", "10")
    execute_trade(params(world, "fine", price="0.999", size="10"), context=world.ctx)
    assert order("fine")[0] == "filled"  # $9.99: 10 shares exactly
    assert world.venue.client.get_tick_size(up) == "0.001"  # cached for good
    _set_tick(world, "0.01")  # the price moved back
    quote(world.emu, up, SimSide.SELL, "0.86", "100")
    # $22.37 at 0.86: 26.0116 shares on 0.01 (26.01162 as the stale 0.001 signed it)
    execute_trade(params(world, "coarse", price="0.86", size="26.02"), context=world.ctx)
    status, _, filled = order("coarse")
    # accepted, and took the whole lots of its 26.0116 shares (a FAK: the rest is killed)
    assert status == "partially_filled" and filled == micro("26.01")
    assert world.venue.client.get_tick_size(up) == "0.001"  # still: it did not matter
    settle_and_reconcile(world)
    assert_ledgers_equal(world)


def test_a_refusal_for_the_tick_re_reads_it_and_the_next_order_is_signed_on_it(
    world: World,
) -> None:
    """The tick changed between the book read and the post: the venue refuses the order
    (REJECTED, no replacement posted: its intent holds the refused hash); the tick is
    re-read, so the next prepared order is signed on the new one."""
    up = world.market.up_token_id
    _set_tick(world, "0.001")
    assert world.venue.book(up).tick_size == Decimal("0.001")
    assert world.venue.client.get_tick_size(up) == "0.001"
    _set_tick(world, "0.01")  # after our read
    fine = OrderSpec("stale", up, Side.BUY, OrderType.GTC, 955_000, 5 * M, post_only=True)
    reply = world.venue.submit(world.venue.prepare(fine))
    assert reply.status is PlaceStatus.REJECTED
    assert "breaks minimum tick size rule: 0.01" in reply.error
    assert venue_orders(world) == []  # nothing was accepted
    assert world.venue.client.get_tick_size(up) == "0.01"  # its cache re-read too
    quote(world.emu, up, SimSide.SELL, "0.86", "100")
    fak = OrderSpec("fresh", up, Side.BUY, OrderType.FAK, 860_000, 26_020_000)
    prepared = world.venue.prepare(fak)
    assert prepared.spec.size_micro == micro("26.0116")  # 4 decimals: signed on 0.01
    assert world.venue.submit(prepared).status is PlaceStatus.ACCEPTED
