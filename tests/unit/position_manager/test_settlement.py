"""Settlement books the market's outcome on the window's open positions (once); redemption
books the collateral actually paid, all of it, against the settled winners."""

from __future__ import annotations

from pathlib import Path

import pytest

from src.data.db_connection import db_connection
from src.data.ledger_store import cash_balance
from src.trading.ledger.accounting import Side
from src.trading.position_manager.portfolio import (
    WindowRow,
    settled_tokens,
    window_by_slug,
    windows_to_redeem,
)
from src.trading.position_manager.settlement import (
    SettledPosition,
    book_redemption,
    settle_window,
)
from src.utils.clock import SimClock
from tests.unit.position_manager.support import M, add_window, migrated_db, token, trade

T0 = 1_767_225_600
SLUG = f"btc-updown-15m-{T0}"
UP, DOWN = token("BTC", T0, "UP"), token("BTC", T0, "DOWN")


@pytest.fixture
def clock() -> SimClock:
    return SimClock(start=T0 + 960)


@pytest.fixture
def window(tmp_path: Path) -> WindowRow:
    """BTC window holding 10 UP bought @ 0.60 and 5 DOWN bought @ 0.30 (cash 92.50)."""
    migrated_db(tmp_path)
    window_id = add_window("BTC", T0)
    trade(UP, price=600_000, size=10 * M, window_id=window_id)
    trade(DOWN, price=300_000, size=5 * M, window_id=window_id, outcome="DOWN")
    with db_connection(readonly=True) as cur:
        row = window_by_slug(cur, SLUG)
    assert row is not None
    return row


def cash() -> int:
    with db_connection(readonly=True) as cur:
        return cash_balance(cur)


def positions() -> dict[str, tuple]:
    with db_connection(readonly=True) as cur:
        rows = cur.execute(
            "SELECT token_id, status, size_micro, realized_pnl_micro, exit_reason "
            "FROM positions"
        ).fetchall()
    return {r[0]: tuple(r)[1:] for r in rows}


def window_outcome(window_id: int) -> tuple:
    with db_connection(readonly=True) as cur:
        return tuple(
            cur.execute(
                "SELECT outcome, resolved_ms FROM windows WHERE id = ?", (window_id,)
            ).fetchone()
        )


# -- settle_window ------------------------------------------------------------------------


def test_settle_window_settles_winners_and_losers(
    window: WindowRow, clock: SimClock
) -> None:
    settled = settle_window(window, "UP", clock)
    assert settled == [
        SettledPosition("BTC", "UP", True, 10 * M, 10 * M, 4 * M),
        SettledPosition("BTC", "DOWN", False, 5 * M, 0, -1_500_000),
    ]
    assert positions() == {
        UP: ("settled", 0, 4 * M, "settlement"),
        DOWN: ("settled", 0, -1_500_000, "settlement"),
    }
    assert window_outcome(window.id) == ("UP", (T0 + 960) * 1000)
    assert cash() == 92_500_000  # the cash arrives with the redemption, not before


def test_settle_window_records_down_wins(window: WindowRow, clock: SimClock) -> None:
    settled = settle_window(window, "DOWN", clock)
    assert [(s.outcome, s.won, s.payout_micro) for s in settled] == [
        ("UP", False, 0),
        ("DOWN", True, 5 * M),
    ]
    assert window_outcome(window.id)[0] == "DOWN"


def test_settle_window_is_idempotent(window: WindowRow, clock: SimClock) -> None:
    first = settle_window(window, "UP", clock)
    clock.advance(60)
    assert settle_window(window, "UP", clock) == []
    assert len(first) == 2
    assert window_outcome(window.id) == ("UP", (T0 + 960) * 1000)  # first resolution kept
    with db_connection(readonly=True) as cur:
        assert cur.execute("SELECT COUNT(*) FROM settlements").fetchone()[0] == 2
    assert positions()[UP] == ("settled", 0, 4 * M, "settlement")


def test_settle_window_leaves_closed_positions_and_other_windows_alone(
    window: WindowRow, clock: SimClock
) -> None:
    other = add_window("ETH", T0)
    eth = token("ETH", T0, "UP")
    trade(eth, window_id=other)
    sold = token("BTC", T0, "UP") + "-old"
    trade(sold, window_id=window.id)
    trade(sold, Side.SELL, 700_000, window_id=window.id)  # closed before the end
    settled = settle_window(window, "UP", clock)
    assert len(settled) == 2
    assert positions()[eth][0] == "open"
    assert positions()[sold][:2] == ("closed", 0)
    assert positions()[sold][2] == 2 * M  # its realised PnL is untouched


def test_a_settled_window_is_to_redeem(window: WindowRow, clock: SimClock) -> None:
    settle_window(window, "UP", clock)
    with db_connection(readonly=True) as cur:
        assert [w.id for w in windows_to_redeem(cur)] == [window.id]


def test_settlement_is_audited(window: WindowRow, clock: SimClock) -> None:
    settle_window(window, "UP", clock)
    with db_connection(readonly=True) as cur:
        rows = cur.execute(
            "SELECT kind, window_id, size_micro FROM audit_events ORDER BY id"
        ).fetchall()
    assert [tuple(r) for r in rows] == [
        ("settle", window.id, 10 * M),
        ("settle", window.id, 5 * M),
    ]


# -- book_redemption --------------------------------------------------------------------


def redemptions() -> list[tuple]:
    with db_connection(readonly=True) as cur:
        rows = cur.execute(
            "SELECT p.token_id, s.redeemed_micro, s.redeem_ref FROM settlements s "
            "JOIN positions p ON p.id = s.position_id ORDER BY p.id"
        ).fetchall()
    return [tuple(r) for r in rows]


def test_redemption_books_the_payout_to_the_winners(
    window: WindowRow, clock: SimClock
) -> None:
    settle_window(window, "UP", clock)
    before = cash()
    assert book_redemption(window, 10 * M, clock, "redeem:0xabc") == 2
    assert cash() == before + 10 * M
    assert redemptions() == [(UP, 10 * M, "redeem:0xabc"), (DOWN, 0, "redeem:0xabc")]
    assert {t: p[0] for t, p in positions().items()} == {UP: "redeemed", DOWN: "redeemed"}
    with db_connection(readonly=True) as cur:
        assert settled_tokens(cur, window.id) == []
        assert windows_to_redeem(cur) == []
        kinds = cur.execute(
            "SELECT amount_micro FROM cash_ledger WHERE kind = 'redemption'"
        ).fetchall()
    assert [k[0] for k in kinds] == [10 * M]


@pytest.mark.parametrize("paid", [10 * M + 250_000, 9 * M, 0])
def test_a_payment_different_from_the_expected_is_still_fully_booked(
    window: WindowRow, clock: SimClock, paid: int
) -> None:
    settle_window(window, "UP", clock)
    before = cash()
    assert book_redemption(window, paid, clock, "ref") == 2
    assert cash() == before + paid
    assert sum(r[1] for r in redemptions()) == paid
    assert {p[0] for p in positions().values()} == {"redeemed"}


def test_unexpected_cash_is_booked_even_when_the_loser_comes_first(
    tmp_path: Path, clock: SimClock
) -> None:
    migrated_db(tmp_path)
    window_id = add_window("BTC", T0)
    trade(DOWN, price=300_000, size=5 * M, window_id=window_id, outcome="DOWN")
    trade(UP, price=600_000, size=10 * M, window_id=window_id)
    with db_connection(readonly=True) as cur:
        window = window_by_slug(cur, SLUG)
    assert window is not None
    settle_window(window, "UP", clock)
    before = cash()
    book_redemption(window, 11 * M, clock, "ref")
    assert cash() == before + 11 * M
    assert sum(r[1] for r in redemptions()) == 11 * M


def test_a_second_redemption_books_nothing_more(window: WindowRow, clock: SimClock) -> None:
    settle_window(window, "UP", clock)
    book_redemption(window, 10 * M, clock, "first")
    after = cash()
    assert book_redemption(window, 0, clock, "again") == 0
    assert cash() == after
    assert redemptions()[0] == (UP, 10 * M, "first")


def test_redemption_is_audited_as_money(window: WindowRow, clock: SimClock) -> None:
    settle_window(window, "UP", clock)
    book_redemption(window, 10 * M, clock, "ref")
    with db_connection(readonly=True) as cur:
        row = cur.execute(
            "SELECT window_id, size_micro FROM audit_events WHERE kind = 'money'"
        ).fetchone()
    assert tuple(row) == (window.id, 10 * M)
