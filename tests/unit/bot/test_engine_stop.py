"""The engine's stop rules and its start-up, without starting a thread: a Bot over fakes
and an in-process venue on a manual clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import src.trading.execution as execution
from src.bot.engine import SETTLE_GRACE_S, Bot, RunOptions, StartupError
from src.bot.wiring import Adapters
from src.config.modes import Mode
from src.config.settings import Settings
from src.data.db_connection import db_connection
from src.data.ledger_store import record_redemption, settle_position
from src.data.market_data.binance import KlineSnapshot
from src.data.market_data.polymarket import MarketInfo
from src.sim.venue.venue import SimVenue
from src.trading.venue.in_process import InProcessVenue
from src.trading.venue.port import VenueOrder, VenueUnavailableError
from src.utils.clock import SimClock
from tests.unit.position_manager.support import M, add_window, migrated_db, token, trade

T0 = 1_767_225_600  # aligned to 15 minutes
START = T0 + 60
W = 900


class Gamma:
    """Knows no market (nothing here needs one)."""

    def market_by_slug(self, slug: str) -> MarketInfo | None:
        return None

    def market_by_token(self, token_id: str) -> MarketInfo | None:
        return None


class Binance:
    def refresh(self, coin: str) -> KlineSnapshot:
        return self.snapshot(coin)

    def snapshot(self, coin: str) -> KlineSnapshot:
        return KlineSnapshot(f"{coin}USDT", (), None, None)

    def strike_price(self, coin: str, window_start: int) -> float | None:
        return None


class SilentVenue(InProcessVenue):
    """Lists no orders: the venue does not answer."""

    def open_orders(self) -> list[VenueOrder]:
        raise VenueUnavailableError("HTTP 503 from /data/orders")


class NoBalanceVenue(InProcessVenue):
    def collateral_micro(self) -> int:
        raise VenueUnavailableError("HTTP 503 from /balance-allowance")


@pytest.fixture(autouse=True)
def own_execution_context(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Bot installs its execution context process-wide; keep it out of other tests."""
    monkeypatch.setattr(execution, "_active", [])


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return migrated_db(tmp_path, deposit=0)


@pytest.fixture
def make_bot() -> Iterator:
    made: list[Bot] = []

    def make(
        options: RunOptions | None = None,
        venue_class: type[InProcessVenue] = InProcessVenue,
        clock: SimClock | None = None,
        sim_venue: SimVenue | None = None,
    ) -> Bot:
        clock = clock or SimClock(start=START)
        if sim_venue is None:
            sim_venue = SimVenue(clock, seed=1)
            sim_venue.open_account("0xbot", 250 * M)
        adapters = Adapters(
            mode=Mode.SIM,
            settings=Settings(),
            clock=clock,
            venue=venue_class(sim_venue, "0xbot"),
            gamma=Gamma(),  # type: ignore[arg-type]
            binance=Binance(),  # type: ignore[arg-type]
            speed=None,
        )
        bot = Bot(adapters, options or RunOptions())
        made.append(bot)
        return bot

    yield make
    for bot in made:
        bot.directory.close()


def at(bot: Bot, timestamp: float) -> None:
    bot.clock.set(timestamp)  # type: ignore[attr-defined]


# --- windows_done ------------------------------------------------------------------------


def test_windows_done_counts_the_boundaries_crossed(db: Path, make_bot) -> None:
    bot = make_bot(RunOptions(windows=3))
    assert bot.windows_done() == 0
    at(bot, T0 + W - 0.001)
    assert bot.windows_done() == 0  # still the first window, however long ago it began
    at(bot, T0 + W)
    assert bot.windows_done() == 1
    at(bot, T0 + 3 * W + 899)
    assert bot.windows_done() == 3


def test_a_start_just_before_a_boundary_counts_it_at_once(db: Path, make_bot) -> None:
    bot = make_bot(RunOptions(windows=1), clock=SimClock(start=T0 + W - 1))
    assert bot.windows_done() == 0
    at(bot, T0 + W)
    assert bot.windows_done() == 1


# --- _finished: --duration ---------------------------------------------------------------


def test_duration_stops_at_the_stop_time(db: Path, make_bot) -> None:
    bot = make_bot(RunOptions(duration_s=600))
    assert bot.run_info.stop_at == START + 600
    assert bot._finished() is None
    at(bot, START + 599.999)
    assert bot._finished() is None
    at(bot, START + 600)
    assert bot._finished() == "duration"


def test_without_a_target_the_run_never_finishes_by_itself(db: Path, make_bot) -> None:
    bot = make_bot(RunOptions())
    at(bot, T0 + 100 * W)
    assert bot._finished() is None


# --- _finished: --windows ----------------------------------------------------------------


def test_windows_target_reached_with_nothing_to_settle(db: Path, make_bot) -> None:
    bot = make_bot(RunOptions(windows=2))
    at(bot, T0 + W + 10)
    assert bot._finished() is None  # one of two
    at(bot, T0 + 2 * W)
    assert bot._finished() == "windows"


@pytest.fixture
def held(db: Path) -> dict:
    """An open BTC Up position in the run's first window."""
    window_id = add_window("BTC", T0)
    up = token("BTC", T0, "UP")
    trade(up, window_id=window_id, at_ms=START * 1000)
    return {"window_id": window_id, "token": up}


def _resolve(held: dict, winner: str, at_s: float) -> None:
    with db_connection() as cur:
        cur.execute(
            "UPDATE windows SET outcome = ?, resolved_ms = ? WHERE id = ?",
            (winner, int(at_s * 1000), held["window_id"]),
        )
        settle_position(cur, held["token"], winner, int(at_s * 1000))


def test_the_last_window_must_resolve_and_be_redeemed(held: dict, make_bot) -> None:
    bot = make_bot(RunOptions(windows=1))
    at(bot, T0 + W + 1)
    assert bot._finished() is None  # ended, not resolved yet
    _resolve(held, "UP", T0 + W + 30)
    at(bot, T0 + W + 31)
    assert bot._finished() is None  # settled, its tokens not redeemed yet
    with db_connection() as cur:
        record_redemption(cur, held["token"], 10 * M, (T0 + W + 40) * 1000, "0xredeem")
    at(bot, T0 + W + 41)
    assert bot._finished() == "windows"


def test_a_lost_window_is_redeemed_too(held: dict, make_bot) -> None:
    bot = make_bot(RunOptions(windows=1))
    _resolve(held, "DOWN", T0 + W + 30)
    at(bot, T0 + W + 31)
    assert bot._finished() is None  # losing tokens are redeemed (for nothing) as well
    with db_connection() as cur:
        record_redemption(cur, held["token"], 0, (T0 + W + 40) * 1000, "0xredeem")
    assert bot._finished() == "windows"


def test_without_redemption_support_settlement_is_enough(held: dict, make_bot) -> None:
    bot = make_bot(RunOptions(windows=1))
    bot.placer.redeem_supported = False
    _resolve(held, "UP", T0 + W + 30)
    at(bot, T0 + W + 31)
    assert bot._finished() == "windows"


def test_a_position_in_the_running_window_does_not_hold_the_stop(
    db: Path, make_bot
) -> None:
    window_id = add_window("BTC", T0 + W)
    trade(token("BTC", T0 + W, "UP"), window_id=window_id, at_ms=(T0 + W + 5) * 1000)
    bot = make_bot(RunOptions(windows=1))
    at(bot, T0 + W + 10)
    assert bot._finished() == "windows"


def test_the_wait_gives_up_after_the_grace_period(held: dict, make_bot) -> None:
    bot = make_bot(RunOptions(windows=1))
    deadline = T0 + W + SETTLE_GRACE_S
    at(bot, deadline - 0.001)
    assert bot._finished() is None
    at(bot, deadline)
    assert bot._finished() == "windows"  # never resolved, but the run ends


def test_the_grace_period_counts_from_the_target_window_not_the_start(
    held: dict, make_bot
) -> None:
    # Started late in its window: the target is still measured in whole windows.
    bot = make_bot(RunOptions(windows=2), clock=SimClock(start=T0 + 800))
    at(bot, T0 + 2 * W + SETTLE_GRACE_S - 1)
    assert bot._finished() is None
    at(bot, T0 + 2 * W + SETTLE_GRACE_S)
    assert bot._finished() == "windows"


# --- prepare -----------------------------------------------------------------------------


def _deposits() -> list[tuple]:
    with db_connection(readonly=True) as cur:
        return [
            tuple(r)
            for r in cur.execute(
                "SELECT kind, amount_micro, at_ms, note FROM cash_ledger ORDER BY id"
            )
        ]


def test_prepare_books_the_opening_balance_once(db: Path, make_bot) -> None:
    bot = make_bot()
    assert bot.prepare() == []  # nothing to reconcile on a fresh account
    assert _deposits() == [("deposit", 250 * M, START * 1000, "opening balance")]
    assert bot.cash_start == 250 * M
    at(bot, START + 60)
    bot.prepare()
    assert len(_deposits()) == 1 and bot.cash_start == 250 * M


def test_a_later_run_does_not_book_the_opening_balance_again(db: Path, make_bot) -> None:
    clock = SimClock(start=START)
    venue = SimVenue(clock, seed=1)
    venue.open_account("0xbot", 250 * M)
    make_bot(clock=clock, sim_venue=venue).prepare()
    clock.advance(3600)
    second = make_bot(clock=clock, sim_venue=venue)
    second.prepare()
    assert len(_deposits()) == 1 and second.cash_start == 250 * M


def test_a_venue_that_does_not_answer_refuses_the_start(db: Path, make_bot) -> None:
    bot = make_bot(venue_class=SilentVenue)
    with pytest.raises(StartupError, match="polyflup reconcile") as caught:
        bot.prepare()
    assert "did not answer" in str(caught.value) and "HTTP 503" in str(caught.value)


def test_a_venue_without_a_balance_books_nothing(db: Path, make_bot) -> None:
    bot = make_bot(venue_class=NoBalanceVenue)
    with pytest.raises(StartupError, match="did not answer"):
        bot.prepare()
    assert _deposits() == []


def test_no_new_entry_once_the_last_window_is_over(db: Path, make_bot) -> None:
    """After --windows N the bot waits for settlement but opens no new position."""
    bot = make_bot(RunOptions(windows=1))
    assert bot.signals.entries_open
    at(bot, T0 + 60)
    bot._finished()
    assert bot.signals.entries_open  # the window is still running
    at(bot, T0 + W + 1)
    bot._finished()
    assert not bot.signals.entries_open
