"""The monitor's plan for one instant: stop-loss, reversal, scale-in, exit plan, stale
entries, each turned into the right Job (and never twice)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from src.data.market_data.polymarket import BookLevel, OrderBook
from src.trading.ledger.accounting import Side
from src.trading.position_manager.jobs import Job
from src.trading.position_manager.monitor import (
    ENTRY_ORDER_TTL_S,
    MonitorInputs,
    SignalView,
    plan_monitor,
    plan_position,
    stale_entry_jobs,
)
from src.trading.position_manager.portfolio import OpenPosition, WindowRow, WorkingOrder
from src.trading.position_manager.rules import PositionRules
from src.trading.venue.port import OrderType

M = 1_000_000
START = 1_767_225_600
END = START + 900
UP_TOKEN = "tok-up"
DOWN_TOKEN = "tok-down"
WINDOW = WindowRow(
    7,
    "BTC",
    f"btc-updown-15m-{START}",
    "0xcond",
    UP_TOKEN,
    DOWN_TOKEN,
    START * 1000,
    END * 1000,
    None,
)
MID_WINDOW = END - 600.0  # 10 minutes left: too early to scale in
LATE = END - 200.0  # 200 s left


def position(
    size: int = 10 * M,
    cost: int = 6 * M,
    window: WindowRow | None = WINDOW,
    token: str = UP_TOKEN,
    outcome: str = "UP",
    position_id: int = 1,
) -> OpenPosition:
    return OpenPosition(
        position_id, token, "BTC", outcome, size, cost, 0, None, None, window
    )


def book(
    bid: str | None, ask: str | None, tick: str = "0.01", token: str = UP_TOKEN
) -> OrderBook:
    return OrderBook(
        token_id=token,
        bids=() if bid is None else (BookLevel(Decimal(bid), Decimal(100)),),
        asks=() if ask is None else (BookLevel(Decimal(ask), Decimal(100)),),
        timestamp_ms=0,
        tick_size=Decimal(tick),
    )


def order(
    client_id: str,
    intent: str,
    side: str,
    *,
    venue_id: str | None = "auto",
    token: str = UP_TOKEN,
    price: int = 990_000,
    size: int = 10 * M,
    filled: int = 0,
    status: str = "live",
    created_ms: int = int(MID_WINDOW * 1000),
    window_id: int | None = WINDOW.id,
) -> WorkingOrder:
    return WorkingOrder(
        client_id,
        f"0x{client_id}" if venue_id == "auto" else venue_id,
        token,
        "BTC",
        "UP",
        intent,
        side,
        price,
        size,
        filled,
        status,
        created_ms,
        window_id,
    )


def signal(
    direction: str = "UP",
    confidence: float = 0.8,
    p_up: float = 0.9,
    window_id: int | None = WINDOW.id,
    action: str | None = None,
    limit_price: Decimal | None = Decimal("0.70"),
    shares: Decimal = Decimal(10),
) -> SignalView:
    return SignalView(
        window_id=window_id,
        action=direction if action is None else action,
        confidence=confidence,
        direction=direction,
        p_up=p_up,
        limit_price=limit_price,
        shares=shares,
        decision_id=42,
    )


def inputs(
    *,
    now: float = MID_WINDOW,
    positions: tuple[OpenPosition, ...] = (),
    orders: tuple[WorkingOrder, ...] = (),
    books: tuple[OrderBook, ...] = (),
    signals: dict[str, SignalView] | None = None,
    rules: PositionRules | None = None,
    scaled: frozenset[str] = frozenset(),
    reversed_windows: frozenset[int] = frozenset(),
) -> MonitorInputs:
    return MonitorInputs(
        now=now,
        positions=positions,
        orders=orders,
        books={b.token_id: b for b in books},
        signals=signals or {},
        rules=rules or PositionRules(),
        scaled_in_tokens=scaled,
        reversed_windows=reversed_windows,
    )


def plan(p: OpenPosition, **kwargs: object) -> list[Job]:
    return plan_position(p, inputs(positions=(p,), **kwargs))  # type: ignore[arg-type]


def keys(jobs: list[Job]) -> list[str]:
    return [j.key for j in jobs]


def only(jobs: list[Job], prefix: str) -> list[Job]:
    return [j for j in jobs if j.key.startswith(prefix)]


# -- no window, ended window --------------------------------------------------------------


def test_a_position_without_a_window_needs_nothing() -> None:
    p = position(window=None)
    assert plan(p, books=(book("0.10", "0.12"),)) == []


@pytest.mark.parametrize("now", [float(END), END + 30.0])
def test_an_ended_window_needs_nothing_even_when_the_book_collapsed(now: float) -> None:
    p = position()
    assert plan(p, now=now, books=(book("0.05", "0.07"),)) == []


# -- stop-loss ----------------------------------------------------------------------------


def test_stop_loss_at_the_trigger_cancels_exit_and_scale_ins_and_sells_everything() -> None:
    p = position(size=10 * M + 5_000)  # a fee left a partial lot: sold in whole lots
    exit_order = order("exit1", "exit_plan", "SELL", size=10 * M)
    scale = order("scale1", "scale_in", "BUY", price=700_000, size=5 * M)
    other_token = order("other", "scale_in", "BUY", token="tok-elsewhere")
    unsent = order("nosent", "scale_in", "BUY", venue_id=None)
    jobs = plan(
        p,
        orders=(exit_order, scale, other_token, unsent),
        books=(book("0.29", "0.31"),),  # mid 0.30 = the stop price
    )
    assert len(jobs) == 1
    job = jobs[0]
    assert job.key == f"stop:{UP_TOKEN}"
    assert job.cancel == ("0xexit1", "0xscale1")
    assert job.mark_position == (1, "stop_loss")
    assert job.place is not None
    place = job.place
    assert (place.side, place.order_type, place.intent) == (
        Side.SELL,
        OrderType.FAK,
        "stop_loss",
    )
    assert place.token_id == UP_TOKEN and place.outcome == "UP"
    assert place.price == Decimal("0.29")  # down to the best bid
    assert place.size == Decimal("10")
    assert place.window_id == WINDOW.id


def test_stop_loss_triggers_on_the_bid_alone_when_the_ask_is_gone() -> None:
    jobs = plan(position(), books=(book("0.20", None),))
    assert keys(jobs) == [f"stop:{UP_TOKEN}"]
    assert jobs[0].place is not None and jobs[0].place.price == Decimal("0.20")


def test_no_stop_loss_above_the_trigger() -> None:
    jobs = plan(position(), books=(book("0.30", "0.32"),))  # mid 0.31
    assert not only(jobs, "stop:")


def test_no_stop_loss_without_a_book() -> None:
    assert not only(plan(position()), "stop:")


def test_stop_loss_wins_over_a_reversal() -> None:
    rules = PositionRules(enable_reversal=True)
    jobs = plan(
        position(),
        books=(book("0.10", "0.12"),),
        signals={"BTC": signal("DOWN", confidence=0.9, p_up=0.1)},
        rules=rules,
    )
    assert keys(jobs) == [f"stop:{UP_TOKEN}"]


# -- reversal ---------------------------------------------------------------------------

FLIP = {"BTC": signal("DOWN", confidence=0.75, p_up=0.25)}
CALM = book("0.40", "0.42")


def test_reversal_buys_the_other_side_when_the_signal_flips_confidently() -> None:
    jobs = plan(
        position(), books=(CALM,), signals=FLIP, rules=PositionRules(enable_reversal=True)
    )
    assert len(jobs) == 1  # a reversal is the position's only job this instant
    job = jobs[0]
    assert job.key == f"reversal:{WINDOW.id}"
    assert job.is_reversal
    assert job.mark_position == (1, "reversal")
    assert job.cancel == ()
    place = job.place
    assert place is not None
    assert (place.side, place.outcome, place.token_id) == (Side.BUY, "DOWN", DOWN_TOKEN)
    assert (place.order_type, place.intent) == (OrderType.FAK, "reversal")
    assert (place.price, place.size) == (Decimal("0.70"), Decimal(10))
    assert (place.window_id, place.decision_id) == (WINDOW.id, 42)


def test_no_reversal_when_the_rules_disable_it() -> None:
    jobs = plan(position(), books=(CALM,), signals=FLIP)  # default: reversal off
    assert not only(jobs, "reversal:")


def test_no_reversal_below_the_minimum_confidence() -> None:
    weak = {"BTC": signal("DOWN", confidence=0.69, p_up=0.31)}
    jobs = plan(
        position(), books=(CALM,), signals=weak, rules=PositionRules(enable_reversal=True)
    )
    assert not only(jobs, "reversal:")


def test_no_reversal_when_the_window_already_reversed() -> None:
    jobs = plan(
        position(),
        books=(CALM,),
        signals=FLIP,
        rules=PositionRules(enable_reversal=True),
        reversed_windows=frozenset({WINDOW.id}),
    )
    assert not only(jobs, "reversal:")
    assert only(jobs, "exit:")  # the position is still managed


def test_no_reversal_on_a_signal_about_another_window() -> None:
    elsewhere = {"BTC": signal("DOWN", confidence=0.95, p_up=0.05, window_id=WINDOW.id + 1)}
    jobs = plan(
        position(),
        books=(CALM,),
        signals=elsewhere,
        rules=PositionRules(enable_reversal=True),
    )
    assert not only(jobs, "reversal:")


def test_no_reversal_when_the_signal_points_the_same_way() -> None:
    same = {"BTC": signal("UP", confidence=0.95)}
    jobs = plan(
        position(), books=(CALM,), signals=same, rules=PositionRules(enable_reversal=True)
    )
    assert not only(jobs, "reversal:")


def test_no_reversal_without_an_order_to_place() -> None:
    no_size = {"BTC": signal("DOWN", confidence=0.9, p_up=0.1, shares=Decimal(0))}
    jobs = plan(
        position(),
        books=(CALM,),
        signals=no_size,
        rules=PositionRules(enable_reversal=True),
    )
    assert not only(jobs, "reversal:")


# -- scale-in -----------------------------------------------------------------------------

WINNING = book("0.68", "0.70")
CONFIDENT_UP = {"BTC": signal("UP", confidence=0.8, p_up=0.9)}


def test_scale_in_late_inside_the_band_buys_half_at_the_ask() -> None:
    jobs = plan(position(), now=LATE, books=(WINNING,), signals=CONFIDENT_UP)
    scale = only(jobs, "scale:")
    assert len(scale) == 1
    place = scale[0].place
    assert place is not None
    assert (place.side, place.order_type, place.intent) == (
        Side.BUY,
        OrderType.FAK,
        "scale_in",
    )
    assert place.token_id == UP_TOKEN
    assert place.price == Decimal("0.70")
    assert place.size == Decimal("5")  # 0.5 × 10 shares
    assert scale[0].cancel == ()
    assert keys(jobs) == [f"scale:{UP_TOKEN}", f"exit:{UP_TOKEN}"]


def test_scale_in_only_once_per_token() -> None:
    jobs = plan(
        position(),
        now=LATE,
        books=(WINNING,),
        signals=CONFIDENT_UP,
        scaled=frozenset({UP_TOKEN}),
    )
    assert not only(jobs, "scale:")


def test_no_scale_in_early_in_the_window() -> None:
    jobs = plan(position(), now=END - 800.0, books=(WINNING,), signals=CONFIDENT_UP)
    assert not only(jobs, "scale:")


@pytest.mark.parametrize(
    ("ask", "inside"),
    [("0.59", False), ("0.60", True), ("0.85", True), ("0.86", False)],
)
def test_scale_in_only_inside_the_price_band(ask: str, inside: bool) -> None:
    sure = {"BTC": signal("UP", confidence=0.8, p_up=0.99)}  # edge at any of these asks
    bid = str(Decimal(ask) - Decimal("0.02"))
    jobs = plan(position(), now=LATE, books=(book(bid, ask),), signals=sure)
    assert bool(only(jobs, "scale:")) is inside


def test_higher_confidence_scales_in_earlier() -> None:
    now = END - 400.0  # beyond the 300 s window, inside its confidence-stretched length
    strong = {"BTC": signal("UP", confidence=0.8, p_up=0.9)}
    weak = {"BTC": signal("UP", confidence=0.55, p_up=0.9)}
    assert only(plan(position(), now=now, books=(WINNING,), signals=strong), "scale:")
    assert not only(plan(position(), now=now, books=(WINNING,), signals=weak), "scale:")


def test_scale_in_is_capped_by_the_window_exposure() -> None:
    p = position()
    capped = MonitorInputs(
        now=LATE,
        positions=(p,),
        orders=(),
        books={UP_TOKEN: WINNING},
        signals=CONFIDENT_UP,
        rules=PositionRules(),
        window_cap_micro=6 * M + 3_500_000,  # room for 5 shares at 0.70, no more
    )
    scale = only(plan_position(p, capped), "scale:")
    assert scale and scale[0].place is not None
    assert scale[0].place.size == Decimal(5)
    full = MonitorInputs(
        now=LATE,
        positions=(p,),
        orders=(),
        books={UP_TOKEN: WINNING},
        signals=CONFIDENT_UP,
        rules=PositionRules(),
        window_cap_micro=6 * M + M,  # room for 1.42 shares: under the minimum order
    )
    assert not only(plan_position(p, full), "scale:")


def test_no_scale_in_without_edge() -> None:
    # Without a signal the fair value is the entry price (0.60): no edge at 0.70.
    jobs = plan(position(), now=LATE, books=(WINNING,))
    assert not only(jobs, "scale:")


# -- exit plan ----------------------------------------------------------------------------


def exit_job(jobs: list[Job]) -> Job:
    found = only(jobs, "exit:")
    assert len(found) == 1, keys(jobs)
    return found[0]


def test_exit_plan_is_placed_when_there_is_no_exit_order() -> None:
    job = exit_job(plan(position(), books=(CALM,)))
    assert job.key == f"exit:{UP_TOKEN}"
    assert job.cancel == ()
    place = job.place
    assert place is not None
    assert (place.side, place.order_type, place.intent) == (
        Side.SELL,
        OrderType.GTC,
        "exit_plan",
    )
    assert (place.price, place.size) == (Decimal("0.99"), Decimal(10))
    assert place.window_id == WINDOW.id


def test_exit_plan_is_replaced_when_the_position_grew() -> None:
    resting = order("exit1", "exit_plan", "SELL", size=5 * M)
    job = exit_job(
        plan(position(size=15 * M, cost=9 * M), orders=(resting,), books=(CALM,))
    )
    assert job.cancel == ("0xexit1",)
    assert job.place is not None
    assert (job.place.price, job.place.size) == (Decimal("0.99"), Decimal(15))


def test_exit_plan_counts_what_is_left_of_a_partly_filled_exit_order() -> None:
    resting = order("exit1", "exit_plan", "SELL", size=12 * M, filled=2 * M)
    jobs = plan(position(size=10 * M), orders=(resting,), books=(CALM,))
    assert not only(jobs, "exit:")  # 10 left on the order = 10 held: in sync


def test_nothing_to_do_when_the_exit_order_is_in_sync() -> None:
    resting = order("exit1", "exit_plan", "SELL", size=10 * M)
    assert plan(position(), orders=(resting,), books=(CALM,)) == []


def test_an_exit_order_of_another_token_does_not_count() -> None:
    elsewhere = order("exit9", "exit_plan", "SELL", token="tok-elsewhere")
    job = exit_job(plan(position(), orders=(elsewhere,), books=(CALM,)))
    assert job.cancel == ()  # placed, and the other token's order is left alone


def test_exit_plan_at_0999_with_a_fine_tick_and_high_confidence() -> None:
    fine = book("0.95", "0.96", tick="0.001")
    confident = {"BTC": signal("UP", confidence=0.85, p_up=0.97)}
    job = exit_job(plan(position(), books=(fine,), signals=confident))
    assert job.place is not None and job.place.price == Decimal("0.999")


def test_exit_plan_stays_at_099_with_a_fine_tick_but_low_confidence() -> None:
    fine = book("0.95", "0.96", tick="0.001")
    unsure = {"BTC": signal("UP", confidence=0.6, p_up=0.7)}
    job = exit_job(plan(position(), books=(fine,), signals=unsure))
    assert job.place is not None and job.place.price == Decimal("0.99")


def test_exit_plan_moves_to_0999_when_confidence_rises() -> None:
    resting = order("exit1", "exit_plan", "SELL", size=10 * M, price=990_000)
    fine = book("0.95", "0.96", tick="0.001")
    confident = {"BTC": signal("UP", confidence=0.85, p_up=0.97)}
    job = exit_job(plan(position(), orders=(resting,), books=(fine,), signals=confident))
    assert job.cancel == ("0xexit1",)
    assert job.place is not None and job.place.price == Decimal("0.999")


def test_exit_order_is_cancelled_when_the_position_is_too_small_to_sell() -> None:
    resting = order("exit1", "exit_plan", "SELL", size=10 * M)
    job = exit_job(plan(position(size=3 * M, cost=2 * M), orders=(resting,), books=(CALM,)))
    assert job.cancel == ("0xexit1",)
    assert job.place is None


# -- stale entry orders ---------------------------------------------------------------

NOW = MID_WINDOW
ENDS = {WINDOW.id: END * 1000, 99: int(NOW * 1000)}  # window 99 ends right now


def created(age_s: float) -> int:
    return int((NOW - age_s) * 1000)


def test_entry_orders_older_than_the_ttl_are_cancelled() -> None:
    stale = order("old", "entry", "BUY", created_ms=created(ENTRY_ORDER_TTL_S))
    fresh = order("new", "entry", "BUY", created_ms=created(ENTRY_ORDER_TTL_S - 1))
    jobs = stale_entry_jobs([stale, fresh], NOW, ENDS)
    assert len(jobs) == 1
    assert jobs[0].key == "cancel:old"
    assert jobs[0].cancel == ("0xold",)
    assert jobs[0].place is None


def test_entry_orders_past_their_window_end_are_cancelled_even_when_fresh() -> None:
    over = order("over", "entry", "BUY", created_ms=created(1), window_id=99)
    assert keys(stale_entry_jobs([over], NOW, ENDS)) == ["cancel:over"]


@pytest.mark.parametrize("intent", ["entry", "reversal", "scale_in"])
def test_every_kind_of_buy_entry_goes_stale(intent: str) -> None:
    stale = order("o", intent, "BUY", created_ms=created(ENTRY_ORDER_TTL_S + 5))
    assert keys(stale_entry_jobs([stale], NOW, ENDS)) == ["cancel:o"]


def test_partly_filled_entries_go_stale_too() -> None:
    stale = order(
        "o", "entry", "BUY", status="partially_filled", filled=M, created_ms=created(500)
    )
    assert keys(stale_entry_jobs([stale], NOW, ENDS)) == ["cancel:o"]


@pytest.mark.parametrize(
    "working",
    [
        order("sell", "entry", "SELL", created_ms=created(10_000), window_id=99),
        order("exit", "exit_plan", "SELL", created_ms=created(10_000), window_id=99),
        order("stop", "stop_loss", "SELL", created_ms=created(10_000)),
        order("unsent", "entry", "BUY", venue_id=None, created_ms=created(10_000)),
        order("unknown", "entry", "BUY", status="ambiguous", created_ms=created(10_000)),
    ],
    ids=["sell-entry", "exit-plan", "stop-loss", "no-venue-id", "ambiguous"],
)
def test_orders_that_are_never_stale_entries(working: WorkingOrder) -> None:
    assert stale_entry_jobs([working], NOW, ENDS) == []


def test_an_entry_without_a_known_window_goes_stale_by_age_only() -> None:
    fresh = order("a", "entry", "BUY", window_id=None, created_ms=created(5))
    old = order("b", "entry", "BUY", window_id=12345, created_ms=created(500))
    assert keys(stale_entry_jobs([fresh, old], NOW, ENDS)) == ["cancel:b"]


# -- the whole plan ---------------------------------------------------------------------


def test_plan_monitor_plans_every_position_then_stale_entries() -> None:
    up = position()
    down = position(token=DOWN_TOKEN, outcome="DOWN", size=8 * M, cost=4 * M, position_id=2)
    orphan = position(window=None, token="tok-old", position_id=3)
    stale = order("old", "entry", "BUY", created_ms=created(ENTRY_ORDER_TTL_S + 1))
    jobs = plan_monitor(
        inputs(
            positions=(up, down, orphan),
            orders=(stale,),
            books=(CALM, book("0.20", "0.22", token=DOWN_TOKEN)),
        ),
        ENDS,
    )
    assert keys(jobs) == [f"exit:{UP_TOKEN}", f"stop:{DOWN_TOKEN}", "cancel:old"]
    assert jobs[1].mark_position == (2, "stop_loss")


def test_signal_helpers() -> None:
    s = signal("DOWN", confidence=0.7, p_up=0.2)
    assert s.confidence_for("DOWN") == 0.7
    assert s.confidence_for("UP") == 0.0
    assert s.fair_value_for("UP") == pytest.approx(0.2)
    assert s.fair_value_for("DOWN") == pytest.approx(0.8)


def test_a_reversal_takes_the_ask_not_a_resting_price() -> None:
    flip = replace(FLIP["BTC"], limit_price=Decimal("0.60"), taker_price=Decimal("0.66"))
    jobs = plan(
        position(),
        books=(CALM,),
        signals={"BTC": flip},
        rules=PositionRules(enable_reversal=True),
    )
    [job] = jobs
    assert job.is_reversal and job.place is not None
    assert job.place.price == Decimal("0.66")
