"""The order placer: one job per key, cancel-then-place, SELLs wait for their cancels,
redemptions booked, failures contained; over an in-process venue and a real ledger."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import pytest

from src.bot.order_placer import OrderPlacer
from src.data.db_connection import configure_database, db_connection
from src.data.ledger_store import cash_balance, record_cash
from src.data.market_data.polymarket import MarketInfo
from src.data.market_data.windows import WindowRef
from src.data.migrations import run_migrations
from src.data.windows_store import upsert_window
from src.notifications.notifier import Notification
from src.sim.venue import types as sim
from src.sim.venue.markets import VenueMarket
from src.sim.venue.venue import SimVenue
from src.trading.execution import ExecutionContext, TradeParams, execute_trade
from src.trading.ledger.accounting import Side
from src.trading.position_manager.jobs import Job, RedeemRequest
from src.trading.position_manager.portfolio import window_by_slug
from src.trading.position_manager.settlement import settle_window
from src.trading.state import RecentFills
from src.trading.venue.clob import RedeemNotSupportedError
from src.trading.venue.in_process import InProcessVenue
from src.trading.venue.port import CancelReply, OrderType
from src.utils.clock import SimClock

T0 = 1_767_225_600
M = 1_000_000
WAIT_S = 10.0  # generous bound on a thread handing back; never reached when green


class Recorder:
    """Stands in for the notifier: keeps what it was asked to send."""

    def __init__(self) -> None:
        self.sent: list[Notification] = []

    def notify(self, notification: Notification) -> bool:
        self.sent.append(notification)
        return True


class GatedVenue(InProcessVenue):
    """``cancel`` waits for the test to open the gate (to hold a job mid-run)."""

    def __init__(self, venue: SimVenue, address: str) -> None:
        super().__init__(venue, address)
        self.entered = threading.Event()
        self.gate = threading.Event()

    def cancel(self, venue_order_ids: Sequence[str]) -> CancelReply:
        self.entered.set()
        if not self.gate.wait(WAIT_S):
            raise TimeoutError("the test never opened the gate")
        return super().cancel(venue_order_ids)


class BrokenVenue(InProcessVenue):
    """A venue whose cancel blows up with a bug-like error."""

    def cancel(self, venue_order_ids: Sequence[str]) -> CancelReply:
        raise ValueError("boom")


class NoRedeemVenue(InProcessVenue):
    """A venue that cannot redeem (the real CLOB adapter before on-chain redemption)."""

    def redeem(self, condition_id: str) -> int:
        raise RedeemNotSupportedError("redeem on chain")


@pytest.fixture
def env(tmp_path: Path) -> dict:
    clock = SimClock(start=T0 + 60)
    venue = SimVenue(clock, seed=3)
    market = VenueMarket.for_window(WindowRef("BTC", T0))
    venue.register_market(market)
    venue.open_account("0xbot", 100 * M)
    venue.open_liquidity_account("0xmm")
    venue.place(
        "0xmm",
        sim.OrderRequest.limit(
            market.up_token_id, sim.Side.SELL, Decimal("0.55"), Decimal("50")
        ),
    )
    db = tmp_path / "bot.db"
    run_migrations(db)
    configure_database(db)
    with db_connection() as cur:
        record_cash(cur, "deposit", 100 * M, 0)
        window_id = upsert_window(cur, market_info(market), 0)
    recorder = Recorder()
    ctx = ExecutionContext(
        InProcessVenue(venue, "0xbot"),
        clock,
        "backtest",
        notifier=recorder,  # type: ignore[arg-type]
        recent=RecentFills(),
    )
    placer = OrderPlacer(ctx)
    yield {
        "clock": clock,
        "venue": venue,
        "market": market,
        "ctx": ctx,
        "placer": placer,
        "window_id": window_id,
        "sent": recorder.sent,
    }
    placer.stop(WAIT_S)


def market_info(market: VenueMarket) -> MarketInfo:
    return MarketInfo(
        slug=market.slug,
        coin="BTC",
        start=T0,
        end=T0 + 900,
        condition_id=market.condition_id,
        up_token_id=market.up_token_id,
        down_token_id=market.down_token_id,
        tick_size=market.tick_size,
        min_order_size=market.min_order_size,
        fee_rate=market.fee_rate,
        fee_exponent=1,
        neg_risk=False,
        accepting_orders=True,
        closed=False,
        outcome=None,
    )


def params(env: dict, **changes: object) -> TradeParams:
    base: dict[str, object] = {
        "symbol": "BTC",
        "outcome": "UP",
        "token_id": env["market"].up_token_id,
        "side": Side.BUY,
        "price": Decimal("0.40"),
        "size": Decimal("10"),
        "order_type": OrderType.GTC,
        "window_id": env["window_id"],
    }
    base.update(changes)
    return TradeParams(**base)  # type: ignore[arg-type]


def orders() -> list[tuple]:
    with db_connection(readonly=True) as cur:
        rows = cur.execute(
            "SELECT intent, side, price_micro, status, venue_order_id "
            "FROM orders ORDER BY id"
        ).fetchall()
    return [tuple(r) for r in rows]


def cash() -> int:
    with db_connection(readonly=True) as cur:
        return cash_balance(cur)


def buy_up(env: dict) -> int:
    """Take 10 UP at 0.55 from the maker; returns the shares held (after the fee)."""
    assert execute_trade(
        params(env, price=Decimal("0.55"), order_type=OrderType.FAK), context=env["ctx"]
    )
    env["venue"].confirm()  # the shares are the account's once the trade settles
    with db_connection(readonly=True) as cur:
        return int(
            cur.execute(
                "SELECT size_micro FROM positions WHERE token_id = ?",
                (env["market"].up_token_id,),
            ).fetchone()[0]
        )


def position_of(env: dict) -> tuple:
    with db_connection(readonly=True) as cur:
        return tuple(
            cur.execute(
                "SELECT id, status, exit_reason FROM positions WHERE token_id = ?",
                (env["market"].up_token_id,),
            ).fetchone()
        )


# -- one job per key --------------------------------------------------------------------


def test_a_second_job_with_the_same_key_is_refused_while_queued(env: dict) -> None:
    placer: OrderPlacer = env["placer"]
    job = Job("exit:tok", "exit plan", place=params(env))
    assert placer.submit(job)
    assert placer.is_pending("exit:tok")
    assert not placer.submit(Job("exit:tok", "exit plan again", place=params(env)))
    assert placer.submit(Job("exit:other", "another purpose"))
    placer.start()
    assert placer.wait_idle(WAIT_S)
    assert not placer.is_pending("exit:tok")
    assert placer.stats.jobs == 2  # the refused duplicate never ran
    assert [o[0] for o in orders()] == ["entry"]
    assert placer.submit(job)  # done: the key is free again


def test_a_second_job_with_the_same_key_is_refused_while_running(env: dict) -> None:
    gated = GatedVenue(env["venue"], "0xbot")
    ctx = env["ctx"]
    placer = OrderPlacer(
        ExecutionContext(gated, ctx.clock, "backtest", recent=RecentFills())
    )
    placer.start()
    try:
        assert placer.submit(Job("stop:tok", "stop", cancel=("0xunknown",)))
        assert gated.entered.wait(WAIT_S)  # the job is running, held in the cancel
        assert not placer.submit(Job("stop:tok", "stop again", cancel=("0xunknown",)))
        assert placer.is_pending("stop:tok")
        gated.gate.set()
        assert placer.wait_idle(WAIT_S)
        assert placer.stats.jobs == 1
    finally:
        gated.gate.set()
        placer.stop(WAIT_S)


# -- cancel, then place -----------------------------------------------------------------


def test_run_job_cancels_then_places(env: dict) -> None:
    placer: OrderPlacer = env["placer"]
    assert execute_trade(params(env), context=env["ctx"])
    old_venue_id = orders()[0][4]
    placer.run_job(
        Job(
            "exit:tok",
            "replace",
            cancel=(old_venue_id,),
            place=params(env, price=Decimal("0.45"), intent="scale_in"),
        )
    )
    rows = orders()
    assert [(r[0], r[2], r[3]) for r in rows] == [
        ("entry", 400_000, "cancelled"),
        ("scale_in", 450_000, "live"),
    ]
    assert [o.venue_order_id for o in env["ctx"].venue.open_orders()] == [rows[1][4]]
    assert env["venue"].order(old_venue_id).is_live is False
    with db_connection(readonly=True) as cur:
        kinds = [r[0] for r in cur.execute("SELECT kind FROM audit_events ORDER BY id")]
    assert kinds.index("cancel") < len(kinds) - kinds[::-1].index("place") - 1
    assert (placer.stats.cancels, placer.stats.orders, placer.stats.failures) == (1, 1, 0)


def test_a_sell_is_not_placed_while_a_cancel_was_refused(env: dict) -> None:
    placer: OrderPlacer = env["placer"]
    held = buy_up(env)
    sell = params(
        env,
        side=Side.SELL,
        price=Decimal("0.99"),
        size=Decimal(held) / M,
        intent="exit_plan",
    )
    before = orders()
    placer.run_job(Job("exit:tok", "exit plan", cancel=("0xnot-an-order",), place=sell))
    assert orders() == before  # nothing sent: the shares may still be reserved
    assert placer.stats.orders == 0 and placer.stats.failures == 0
    with db_connection(readonly=True) as cur:
        race = cur.execute(
            "SELECT venue_order_id FROM audit_events WHERE kind = 'race'"
        ).fetchall()
    assert [r[0] for r in race] == ["0xnot-an-order"]
    placer.run_job(Job("exit:tok", "exit plan", place=sell))  # nothing to cancel: placed
    assert orders()[-1][:4] == ("exit_plan", "SELL", 990_000, "live")
    assert placer.stats.orders == 1


def test_a_buy_is_placed_even_when_a_cancel_was_refused(env: dict) -> None:
    placer: OrderPlacer = env["placer"]
    placer.run_job(Job("k", "entry", cancel=("0xnot-an-order",), place=params(env)))
    assert [o[3] for o in orders()] == ["live"]


def test_a_stop_loss_that_traded_marks_its_position(env: dict) -> None:
    placer: OrderPlacer = env["placer"]
    held = buy_up(env)
    position_id = position_of(env)[0]
    env["venue"].place(  # a bid for 5 of the 9.68 shares: the FAK sells 5
        "0xmm",
        sim.OrderRequest.limit(
            env["market"].up_token_id, sim.Side.BUY, Decimal("0.30"), Decimal("5")
        ),
    )
    sell = params(
        env,
        side=Side.SELL,
        price=Decimal("0.30"),
        size=Decimal(held) / M,
        order_type=OrderType.FAK,
        intent="stop_loss",
    )
    placer.run_job(
        Job("stop:tok", "stop", place=sell, mark_position=(position_id, "stop_loss"))
    )
    assert position_of(env) == (position_id, "open", "stop_loss")  # partly sold, marked


def test_a_reversal_marks_the_position_only_once_it_traded(env: dict) -> None:
    placer: OrderPlacer = env["placer"]
    market: VenueMarket = env["market"]
    buy_up(env)
    position_id = position_of(env)[0]
    down = {"outcome": "DOWN", "token_id": market.down_token_id, "intent": "reversal"}
    resting = params(env, price=Decimal("0.20"), **down)  # nobody sells DOWN that low
    placer.run_job(
        Job(
            "rev:1",
            "reversal",
            place=resting,
            is_reversal=True,
            mark_position=(position_id, "reversal"),
        )
    )
    assert orders()[-1][3] == "live"
    assert position_of(env)[2] is None  # nothing traded: no reason yet
    env["venue"].place(
        "0xmm",
        sim.OrderRequest.limit(
            market.down_token_id, sim.Side.SELL, Decimal("0.45"), Decimal("50")
        ),
    )
    taken = params(env, price=Decimal("0.45"), order_type=OrderType.FAK, **down)
    placer.run_job(
        Job(
            "rev:2",
            "reversal",
            place=taken,
            is_reversal=True,
            mark_position=(position_id, "reversal"),
        )
    )
    assert orders()[-1][3] == "filled"
    assert position_of(env) == (position_id, "open", "reversal")


def test_a_duplicate_order_does_not_mark_the_position(env: dict) -> None:
    placer: OrderPlacer = env["placer"]
    held = buy_up(env)
    position_id = position_of(env)[0]
    env["venue"].place(
        "0xmm",
        sim.OrderRequest.limit(
            env["market"].up_token_id, sim.Side.BUY, Decimal("0.30"), Decimal("5")
        ),
    )
    sell = params(
        env,
        side=Side.SELL,
        price=Decimal("0.30"),
        size=Decimal(held) / M,
        order_type=OrderType.FAK,
        intent="stop_loss",
        client_order_id="fixed-id",
    )
    placer.run_job(Job("a", "first", place=sell))  # trades, without a mark
    placer.run_job(Job("b", "again", place=sell, mark_position=(position_id, "stop_loss")))
    assert position_of(env)[2] is None  # the duplicate was not recorded, nor marked
    assert placer.stats.orders == 1


# -- redemption -------------------------------------------------------------------------


def resolve_and_settle(env: dict) -> None:
    market: VenueMarket = env["market"]
    env["clock"].set(T0 + 960)
    env["venue"].resolve_market(market.condition_id, sim.Outcome.UP)
    with db_connection(readonly=True) as cur:
        window = window_by_slug(cur, market.slug)
    assert window is not None
    settle_window(window, "UP", env["clock"])


def test_a_redeem_job_books_the_redemption(env: dict) -> None:
    placer: OrderPlacer = env["placer"]
    market: VenueMarket = env["market"]
    held = buy_up(env)
    resolve_and_settle(env)
    before = cash()
    venue_before = env["ctx"].venue.collateral_micro()
    placer.run_job(
        Job(
            "redeem:w",
            "redeem",
            redeem=RedeemRequest(market.condition_id, env["window_id"], market.slug),
        )
    )
    assert env["ctx"].venue.collateral_micro() - venue_before == held  # 1.00 a share
    assert cash() == before + held
    assert position_of(env)[1] == "redeemed"
    assert placer.stats.redemptions == 1 and placer.stats.failures == 0


def test_a_venue_that_cannot_redeem_turns_redemption_off(env: dict) -> None:
    ctx = env["ctx"]
    placer = OrderPlacer(
        ExecutionContext(
            NoRedeemVenue(env["venue"], "0xbot"),
            ctx.clock,
            "backtest",
            recent=RecentFills(),
        )
    )
    market: VenueMarket = env["market"]
    request = RedeemRequest(market.condition_id, env["window_id"], market.slug)
    placer.run_job(Job("redeem:w", "redeem", redeem=request))
    assert placer.redeem_supported is False
    assert (placer.stats.redemptions, placer.stats.failures) == (0, 0)


# -- failures ---------------------------------------------------------------------------


def test_an_exception_inside_a_job_is_logged_and_counted_never_raised(
    env: dict, caplog: pytest.LogCaptureFixture
) -> None:
    ctx = env["ctx"]
    recorder = Recorder()
    placer = OrderPlacer(
        ExecutionContext(
            BrokenVenue(env["venue"], "0xbot"),
            ctx.clock,
            "backtest",
            notifier=recorder,  # type: ignore[arg-type]
            recent=RecentFills(),
        )
    )
    with caplog.at_level(logging.ERROR, logger="polyflup"):
        placer.run_job(Job("stop:tok", "stop-loss", cancel=("0xabc",), place=params(env)))
    assert (placer.stats.jobs, placer.stats.failures, placer.stats.orders) == (1, 1, 0)
    assert any(
        "stop:tok" in r.getMessage() and "boom" in r.getMessage() for r in caplog.records
    )
    assert [n.title for n in recorder.sent] == ["Order job failed"]
    assert "ValueError: boom" in recorder.sent[0].body
    assert orders() == []  # the place after the failed cancel never happened


def test_a_failing_job_does_not_stop_the_placer_thread(env: dict) -> None:
    ctx = env["ctx"]
    placer = OrderPlacer(
        ExecutionContext(
            BrokenVenue(env["venue"], "0xbot"), ctx.clock, "backtest", recent=RecentFills()
        )
    )
    placer.start()
    try:
        assert placer.submit(Job("bad", "bad", cancel=("0xabc",)))
        assert placer.submit(Job("good", "good", place=params(env)))
        assert placer.wait_idle(WAIT_S)
    finally:
        placer.stop(WAIT_S)
    assert (placer.stats.jobs, placer.stats.failures, placer.stats.orders) == (2, 1, 1)
    assert not placer.is_pending("bad")  # a failed job frees its key


# -- the thread -------------------------------------------------------------------------


def test_stop_finishes_the_queued_jobs(env: dict) -> None:
    placer: OrderPlacer = env["placer"]
    for i in range(3):
        assert placer.submit(
            Job(f"k{i}", "entry", place=params(env, price=Decimal(f"0.4{i}")))
        )
    placer.start()
    placer.stop(WAIT_S)
    assert placer.wait_idle(0)
    assert placer.stats.jobs == 3
    assert [o[2] for o in orders()] == [400_000, 410_000, 420_000]  # in submission order
    placer.stop()  # idempotent


def test_wait_idle_returns_once_the_queue_is_empty(env: dict) -> None:
    placer: OrderPlacer = env["placer"]
    assert placer.wait_idle(0)  # nothing queued
    placer.submit(Job("k", "entry", place=params(env)))
    assert not placer.wait_idle(0)  # queued, no thread yet
    placer.start()
    assert placer.wait_idle(WAIT_S)
    assert [o[3] for o in orders()] == ["live"]


def test_a_sync_job_updates_orders_the_venue_closed(env: dict) -> None:
    placer: OrderPlacer = env["placer"]
    assert execute_trade(params(env), context=env["ctx"])
    env["venue"].cancel("0xbot", orders()[0][4])
    placer.run_job(Job("sync", "sync", sync_orders=True))
    assert orders()[0][3] == "cancelled"


def test_an_order_whose_window_closed_while_queued_is_dropped(env: dict) -> None:
    """A job that waited past its window's end is not sent (the venue would refuse it)."""
    placer: OrderPlacer = env["placer"]
    market = env["market"]
    job = Job(
        key="late",
        reason="late entry",
        place=TradeParams(
            "BTC",
            "UP",
            market.up_token_id,
            Side.BUY,
            Decimal("0.55"),
            Decimal("10"),
            OrderType.FAK,
            window_id=env["window_id"],
        ),
        not_after=env["clock"].now() - 1,
    )
    placer.run_job(job)
    assert placer.stats.expired == 1 and placer.stats.orders == 0
    with db_connection(readonly=True) as cur:
        assert cur.execute("SELECT COUNT(*) FROM orders").fetchone()[0] == 0


def test_a_plan_older_than_a_finished_job_cannot_repeat_it(env: dict) -> None:
    """The monitor read the ledger before the job's order was written: its plan would
    place the same order again; the placer refuses it."""
    import time as _time

    placer: OrderPlacer = env["placer"]
    planned_at = _time.monotonic()
    job = Job(key="exit:t", reason="exit plan", cancel=())
    assert placer.submit(job)
    placer.drain()
    assert not placer.submit(job, planned_at)  # planned before the first one finished
    assert placer.submit(job, _time.monotonic())  # a fresh plan may ask again
