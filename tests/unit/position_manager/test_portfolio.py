"""The position manager's read model over a real migrated ledger: open positions, working
orders, windows to resolve or redeem, and the account as the risk limits see it."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import pytest

from src.data.db_connection import connect, database_path, db_connection
from src.data.ledger_store import record_redemption, settle_position
from src.trading.ledger.accounting import Side
from src.trading.position_manager.portfolio import (
    AccountCache,
    AccountReader,
    account_state,
    open_positions,
    settled_tokens,
    window_by_slug,
    windows_to_redeem,
    windows_to_resolve,
    working_orders,
)
from tests.unit.position_manager.support import (
    DAY_MS,
    M,
    add_window,
    fill,
    migrated_db,
    place,
    token,
    trade,
)

T = TypeVar("T")
T0 = 1_767_225_600  # 2026-01-01 00:00 UTC
T0_MS = T0 * 1000


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return migrated_db(tmp_path)


def read(query: Callable[..., T], *args: object) -> T:
    with db_connection(readonly=True) as cur:
        return query(cur, *args)


# -- open positions ---------------------------------------------------------------------


def test_open_positions_carry_their_window(db: Path) -> None:
    w1 = add_window("BTC", T0)
    up, down = token("BTC", T0, "UP"), token("BTC", T0, "DOWN")
    trade(up, price=600_000, size=10 * M, window_id=w1)
    trade(down, price=300_000, size=5 * M, window_id=w1, outcome="DOWN")
    positions = read(open_positions)
    assert [(p.token_id, p.outcome, p.size_micro, p.cost_micro) for p in positions] == [
        (up, "UP", 10 * M, 6 * M),
        (down, "DOWN", 5 * M, 1_500_000),
    ]
    window = positions[0].window
    assert window is not None and window == positions[1].window
    assert window.id == w1
    assert (window.symbol, window.slug) == ("BTC", f"btc-updown-15m-{T0}")
    assert (window.start_ms, window.end_ms, window.outcome) == (
        T0_MS,
        T0_MS + 900_000,
        None,
    )
    assert window.condition_id == f"0xcond-btc-updown-15m-{T0}"
    assert (window.token_for("UP"), window.token_for("DOWN")) == (up, down)
    assert positions[0].symbol == "BTC" and positions[0].exit_reason is None


def test_closed_positions_are_not_open_and_a_windowless_one_is(db: Path) -> None:
    w = add_window("ETH", T0)
    eth = token("ETH", T0, "UP")
    trade(eth, window_id=w)
    trade(eth, Side.SELL, 600_000, window_id=w)  # sold out: closed
    trade("tok-adopted", price=400_000, size=5 * M)
    positions = read(open_positions)
    assert [(p.token_id, p.window) for p in positions] == [("tok-adopted", None)]


def test_a_partly_sold_position_stays_open_with_what_is_left(db: Path) -> None:
    w = add_window("BTC", T0)
    up = token("BTC", T0, "UP")
    trade(up, price=500_000, size=10 * M, window_id=w)
    trade(up, Side.SELL, 700_000, 4 * M, window_id=w)
    [p] = read(open_positions)
    assert (p.size_micro, p.cost_micro) == (6 * M, 3 * M)


# -- working orders ---------------------------------------------------------------------


def test_working_orders_are_the_ones_that_may_still_trade(db: Path) -> None:
    w = add_window("BTC", T0)
    up = token("BTC", T0, "UP")
    kept = {
        status: place(up, window_id=w, status=status, at_ms=T0_MS + i)
        for i, status in enumerate(("intent", "posting", "ambiguous", "live"))
    }
    for status in ("filled", "cancelled", "rejected", "expired"):
        place(up, window_id=w, status=status)
    partial = place(up, side=Side.BUY, price=400_000, size=10 * M, window_id=w)
    fill(partial, price=400_000, size=4 * M)
    orders = read(working_orders)
    assert [(o.venue_order_id, o.status) for o in orders] == [
        *((venue_id, status) for status, venue_id in kept.items()),
        (partial, "partially_filled"),
    ]
    last = orders[-1]
    assert (last.size_micro, last.filled_micro, last.remaining_micro) == (
        10 * M,
        4 * M,
        6 * M,
    )
    assert (last.token_id, last.side, last.intent, last.price_micro) == (
        up,
        "BUY",
        "entry",
        400_000,
    )
    assert last.window_id == w
    assert orders[0].created_ms == T0_MS


# -- windows to resolve -----------------------------------------------------------------


def test_windows_to_resolve_are_ended_unresolved_windows_we_hold(db: Path) -> None:
    now_ms = T0_MS + 3 * 900_000
    ended_first = add_window("ETH", T0)  # ends T0 + 900 s
    ended_now = add_window("BTC", T0 + 1800)  # ends exactly now
    running = add_window("SOL", T0 + 2700)
    resolved = add_window("XRP", T0, outcome="UP")
    add_window("SOL", T0)  # never held: never to resolve
    trade(token("ETH", T0, "UP"), window_id=ended_first)
    trade(token("ETH", T0, "DOWN"), window_id=ended_first, outcome="DOWN")  # 2 positions
    trade(token("BTC", T0 + 1800, "UP"), window_id=ended_now)
    trade(token("SOL", T0 + 2700, "UP"), window_id=running)
    trade(token("XRP", T0, "UP"), window_id=resolved)
    due = read(windows_to_resolve, now_ms)
    assert [w.id for w in due] == [ended_first, ended_now]  # once each, by end time
    assert read(windows_to_resolve, now_ms - 1) == [due[0]]


# -- windows to redeem, settled tokens ----------------------------------------------------


def settle(token_id: str, winner: str) -> int:
    with db_connection() as cur:
        return settle_position(cur, token_id, winner, T0_MS + 1_000_000)


def test_resolved_settled_windows_are_to_redeem_until_every_token_is_redeemed(
    db: Path,
) -> None:
    w = add_window("BTC", T0, outcome="UP")
    up, down = token("BTC", T0, "UP"), token("BTC", T0, "DOWN")
    trade(up, price=600_000, size=10 * M, window_id=w)
    trade(down, price=300_000, size=5 * M, window_id=w, outcome="DOWN")
    assert read(windows_to_redeem) == []  # resolved, but nothing settled yet
    assert settle(up, "UP") == 10 * M
    assert settle(down, "UP") == 0
    assert [x.id for x in read(windows_to_redeem)] == [w]
    assert read(settled_tokens, w) == [(up, 10 * M, 10 * M), (down, 5 * M, 0)]
    with db_connection() as cur:
        record_redemption(cur, up, 10 * M, T0_MS + 2_000_000, "ref")
    assert read(settled_tokens, w) == [(down, 5 * M, 0)]
    assert [x.id for x in read(windows_to_redeem)] == [w]  # the loser still to burn
    with db_connection() as cur:
        record_redemption(cur, down, 0, T0_MS + 2_000_000, "ref")
    assert read(settled_tokens, w) == []
    assert read(windows_to_redeem) == []


def test_settled_tokens_belong_to_their_window_only(db: Path) -> None:
    w1 = add_window("BTC", T0, outcome="DOWN")
    w2 = add_window("ETH", T0, outcome="DOWN")
    trade(token("BTC", T0, "DOWN"), window_id=w1, outcome="DOWN")
    trade(token("ETH", T0, "DOWN"), price=200_000, size=7 * M, window_id=w2, outcome="DOWN")
    settle(token("BTC", T0, "DOWN"), "DOWN")
    settle(token("ETH", T0, "DOWN"), "DOWN")
    assert read(settled_tokens, w2) == [(token("ETH", T0, "DOWN"), 7 * M, 7 * M)]
    assert [x.id for x in read(windows_to_redeem)] == [w1, w2]


def test_window_by_slug(db: Path) -> None:
    w = add_window("BTC", T0)
    found = read(window_by_slug, f"btc-updown-15m-{T0}")
    assert found is not None and found.id == w
    assert read(window_by_slug, "btc-updown-15m-0") is None


# -- the account ------------------------------------------------------------------------


def test_account_state_from_the_ledger(db: Path) -> None:
    day = T0_MS + 5 * DAY_MS  # 00:00 UTC
    now_ms = day + 10 * 3_600_000
    yesterday = day - 3_600_000
    w_old = add_window("BTC", (day - 2 * 3_600_000) // 1000)
    w_lost = add_window("ETH", (day + 3_600_000) // 1000)
    w_held = add_window("SOL", (now_ms - 60_000) // 1000)
    w_other = add_window("XRP", (now_ms - 60_000) // 1000)
    old, lost = f"tok-{w_old}", f"tok-{w_lost}"
    held = f"tok-{w_held}"
    # Yesterday: +1.00 (bought 10 @ 0.50, sold @ 0.60). Today: -2.00 (0.50 → 0.30).
    trade(old, price=500_000, window_id=w_old, at_ms=yesterday - 1000)
    trade(old, Side.SELL, 600_000, window_id=w_old, at_ms=yesterday)
    trade(lost, price=500_000, window_id=w_lost, at_ms=day + 1000)
    trade(lost, Side.SELL, 300_000, window_id=w_lost, at_ms=day + 2000)
    # Held now: 10 @ 0.40 in w_held, plus resting BUYs that reserve collateral.
    trade(held, price=400_000, window_id=w_held, at_ms=now_ms - 5000)
    place(held, price=300_000, size=10 * M, window_id=w_held)  # reserves 3.00
    partial = place(f"tok-{w_other}", price=500_000, size=10 * M, window_id=w_other)
    fill(partial, price=500_000, size=6 * M, at_ms=now_ms - 4000)  # reserves 4 × 0.50
    place(held, side=Side.SELL, price=990_000, size=10 * M, window_id=w_held)  # no cash
    place(held, price=200_000, size=10 * M, window_id=w_held, status="ambiguous")
    place(held, price=200_000, size=10 * M, window_id=w_held, status="cancelled")
    # cash = 100 + 1 − 2 − 4 − 3 (6 @ 0.50) = 92
    state = read(account_state, now_ms, w_held)
    assert state.balance == Decimal("87")  # 92 − (3.00 + 2.00) reserved
    assert state.equity == Decimal("99")  # cash 92 + cost held (4 + 3)
    assert state.open_exposure == Decimal("12")  # held 7 + reserved 5
    assert state.window_exposure == Decimal("7")  # w_held: 4 held + 3 reserved
    assert state.daily_pnl == Decimal("-2")  # yesterday's +1 is not today's
    assert state.day_start_equity == Decimal("101")
    assert read(account_state, now_ms, w_other).window_exposure == Decimal("5")
    assert read(account_state, now_ms).window_exposure == Decimal(0)


def test_free_balance_is_never_negative(db: Path) -> None:
    place("tok-x", price=900_000, size=200 * M)  # reserves 180 > 100 of cash
    state = read(account_state, T0_MS)
    assert state.balance == Decimal(0)
    assert state.open_exposure == Decimal(180)


def test_account_state_of_a_fresh_ledger(db: Path) -> None:
    state = read(account_state, T0_MS, 1)
    assert (state.balance, state.equity, state.open_exposure) == (
        Decimal(100),
        Decimal(100),
        Decimal(0),
    )
    assert (state.daily_pnl, state.day_start_equity, state.day_start) == (
        Decimal(0),
        None,
        Decimal(100),
    )


# -- the account, read once for many windows and kept while the ledger does not change ---


def _ledger_with_money(now_ms: int) -> list[int | None]:
    """Windows with held positions, resting buys, a partial fill and today's PnL."""
    day = now_ms - now_ms % DAY_MS
    w_lost = add_window("ETH", (day + 3_600_000) // 1000)
    w_held = add_window("SOL", (now_ms - 60_000) // 1000)
    w_other = add_window("XRP", (now_ms - 60_000) // 1000)
    lost, held = f"tok-{w_lost}", f"tok-{w_held}"
    trade(lost, price=500_000, window_id=w_lost, at_ms=day + 1000)
    trade(lost, Side.SELL, 300_000, window_id=w_lost, at_ms=day + 2000)
    trade(held, price=400_000, window_id=w_held, at_ms=now_ms - 5000)
    place(held, price=300_000, size=10 * M, window_id=w_held)
    partial = place(f"tok-{w_other}", price=500_000, size=10 * M, window_id=w_other)
    fill(partial, price=500_000, size=6 * M, at_ms=now_ms - 4000)
    place("tok-nowhere", price=100_000, size=10 * M)  # a resting buy outside any window
    return [w_lost, w_held, w_other, None, 999_999]


def test_one_reader_answers_like_account_state_for_every_window(db: Path) -> None:
    now_ms = T0_MS + 5 * DAY_MS + 10 * 3_600_000
    windows = _ledger_with_money(now_ms)
    with db_connection() as cur:
        reader = AccountReader(cur)
        for at_ms in (now_ms, now_ms + DAY_MS, now_ms):  # another day: its own PnL
            for w in windows:
                assert reader.state(at_ms, w) == account_state(cur, at_ms, w)
        assert reader.state(now_ms, windows[1]) is reader.state(now_ms, windows[1])


def test_the_cache_rereads_the_account_once_the_ledger_changes(db: Path) -> None:
    now_ms = T0_MS + 5 * DAY_MS + 10 * 3_600_000
    windows = _ledger_with_money(now_ms)
    cache = AccountCache()

    def step() -> tuple[object, object]:
        with db_connection() as cur:
            reader = cache.reader(cur)
            state = reader.state(now_ms, windows[1])
            assert state == account_state(cur, now_ms, windows[1])
            cache.keep(cur)
        return reader, state

    reader, state = step()
    assert step() == (reader, state)  # nothing changed: the same reader, the same answer
    place(f"tok-{windows[1]}", price=200_000, size=10 * M, window_id=windows[1])
    changed, after = step()  # this connection wrote: read again
    assert changed is not reader and after.window_exposure == state.window_exposure + 2
    assert step()[0] is changed
    with db_connection() as cur:  # a transaction that does not reach keep(): read again
        cache.reader(cur)
    assert step()[0] is not changed


def test_the_cache_sees_another_connections_commit(db: Path) -> None:
    now_ms = T0_MS + 5 * DAY_MS + 10 * 3_600_000
    windows = _ledger_with_money(now_ms)
    cache = AccountCache()

    def step() -> object:
        with db_connection() as cur:
            reader = cache.reader(cur)
            assert reader.state(now_ms, windows[1]) == account_state(
                cur, now_ms, windows[1]
            )
            cache.keep(cur)
        return reader

    first = step()
    assert step() is first
    other = connect(database_path())  # another connection, as another thread has
    other.execute(
        "INSERT INTO cash_ledger (at_ms, kind, amount_micro) VALUES (?, 'deposit', ?)",
        (now_ms, 5 * M),
    )
    other.close()
    assert step() is not first
