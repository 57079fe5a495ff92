"""The recording loop on a manual clock with in-memory Gamma, books and spot: rows each
interval while a window runs, rollover, outcome fill-in, the stop conditions, and a
restart that neither duplicates nor forgets an outcome."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path

import pytest

from src.data.market_data.polymarket import BookLevel, MarketInfo, OrderBook, Outcome
from src.data.market_data.windows import WINDOW_SECONDS, parse_slug
from src.data.quotes import RecordedWindow, load_recordings
from src.recording.files import DailyQuoteFiles
from src.recording.recorder import Recorder, RecorderConfig, RecordSummary
from src.utils.clock import SimClock

T0 = 1_767_312_000  # 2026-01-02 00:00 UTC, a window start
RESOLVE_DELAY = 60


class FakeGamma:
    """Markets for every window; resolved RESOLVE_DELAY after the end (Up for BTC,
    Down otherwise), or never."""

    def __init__(self, clock: SimClock, resolves: bool = True) -> None:
        self.clock = clock
        self.resolves = resolves
        self.asked: list[str] = []

    def market_by_slug(self, slug: str) -> MarketInfo | None:
        self.asked.append(slug)
        window = parse_slug(slug)
        resolved = self.resolves and self.clock.now() >= window.end + RESOLVE_DELAY
        winner = Outcome.UP if window.coin == "BTC" else Outcome.DOWN
        return MarketInfo(
            slug=slug,
            coin=window.coin,
            start=window.start,
            end=window.end,
            condition_id=f"0x{slug}",
            up_token_id=f"{slug}:up",
            down_token_id=f"{slug}:down",
            tick_size=Decimal("0.01"),
            min_order_size=Decimal(5),
            fee_rate=Decimal(0),
            fee_exponent=1,
            neg_risk=False,
            accepting_orders=not resolved,
            closed=resolved,
            outcome=winner if resolved else None,
        )


def level(price: str, size: str = "10") -> tuple[BookLevel, ...]:
    return (BookLevel(Decimal(price), Decimal(size)),)


class FakeBooks:
    """Mirrored books for any token; ``missing`` tokens have none."""

    def __init__(self) -> None:
        self.followed: list[set[str]] = []
        self.missing: set[str] = set()
        self.closed = False
        self.ws_books = self.rest_books = 0

    def follow(self, tokens: Iterable[str]) -> None:
        self.followed.append(set(tokens))

    def books(self, tokens: Sequence[str]) -> dict[str, OrderBook]:
        result = {}
        for token in tokens:
            if token in self.missing:
                continue
            up = token.endswith(":up")
            result[token] = OrderBook(
                token_id=token,
                bids=level("0.55" if up else "0.44"),
                asks=level("0.56" if up else "0.45"),
                timestamp_ms=0,
            )
        return result

    def close(self) -> None:
        self.closed = True


class FakeSpot:
    def __init__(self, stop_after: int | None = None) -> None:
        self.calls = 0
        self.stop_after = stop_after
        self.recorder: Recorder | None = None

    def prices(self, coins: Sequence[str]) -> dict[str, float | None]:
        self.calls += 1
        if self.stop_after is not None and self.calls >= self.stop_after:
            assert self.recorder is not None
            self.recorder.request_stop("signal")
        return {c: 100.0 if c == "BTC" else None for c in coins}

    def close(self) -> None:
        pass


def make(
    tmp_path: Path,
    clock: SimClock,
    *,
    coins: tuple[str, ...] = ("BTC", "ETH"),
    gamma: FakeGamma | None = None,
    books: FakeBooks | None = None,
    spot: FakeSpot | None = None,
    **config: object,
) -> Recorder:
    spot = spot or FakeSpot()
    recorder = Recorder(
        RecorderConfig(coins=coins, synchronous=True, **config),  # type: ignore[arg-type]
        clock,
        gamma or FakeGamma(clock),
        books or FakeBooks(),
        spot,
        DailyQuoteFiles(tmp_path),
    )
    spot.recorder = recorder
    return recorder


def windows_in(folder: Path) -> list[RecordedWindow]:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not even an exact duplicate
        return load_recordings(sorted(folder.glob("*.csv")))


def test_records_each_interval_rolls_over_and_fills_outcomes(tmp_path: Path) -> None:
    clock = SimClock(start=T0 + 600)  # 5 minutes before the first window ends
    books = FakeBooks()
    recorder = make(tmp_path, clock, books=books, interval_s=10, windows=2)
    summary = recorder.run()

    assert summary.stop_reason == "windows"
    windows = windows_in(tmp_path)
    assert [(w.coin, w.window_start, w.outcome) for w in windows] == [
        ("BTC", T0, "UP"),
        ("ETH", T0, "DOWN"),
        ("BTC", T0 + 900, "UP"),
        ("ETH", T0 + 900, "DOWN"),
    ]
    first, full = windows[0], windows[2]
    assert [r.t_s for r in first.rows] == [float(t) for t in range(T0 + 600, T0 + 900, 10)]
    assert [r.t_s for r in full.rows] == [float(t) for t in range(T0 + 900, T0 + 1800, 10)]
    row = full.rows[0]
    assert (row.up_bid, row.up_ask, row.down_bid, row.down_ask) == tuple(
        Decimal(p) for p in ("0.55", "0.56", "0.44", "0.45")
    )
    assert row.up_bid_size == Decimal(10) and row.spot == 100.0
    assert windows[1].rows[0].spot is None  # no price for ETH: left empty, row kept
    # it followed the current and next windows' tokens, then nothing once over
    assert {f"btc-updown-15m-{T0}:up", f"btc-updown-15m-{T0 + 900}:down"} <= books.followed[
        0
    ]
    assert books.followed[-1] == set() and books.closed
    assert summary.rows_by_coin == {"BTC": 120, "ETH": 120}
    assert {slug for slug, _ in summary.resolved} == {w.slug for w in windows}
    assert summary.unresolved == 0
    assert [p.name for p in summary.files] == [
        "btc-updown-15m-quotes-2026-01-02.csv",
        "eth-updown-15m-quotes-2026-01-02.csv",
    ]
    # stopped once the last outcome was in: a check every 15 s from 10 s after the end
    assert T0 + 1800 + RESOLVE_DELAY <= clock.now() <= T0 + 1800 + RESOLVE_DELAY + 20


def test_the_tick_grid_starts_on_a_multiple_of_the_interval(tmp_path: Path) -> None:
    clock = SimClock(start=T0 + 3.7)
    summary = make(tmp_path, clock, coins=("BTC",), interval_s=2, duration_s=9).run()
    assert summary.stop_reason == "duration"
    [window] = windows_in(tmp_path)
    assert [r.t_s for r in window.rows] == [
        T0 + 4.0,
        T0 + 6.0,
        T0 + 8.0,
        T0 + 10.0,
        T0 + 12.0,
    ]


def test_a_coin_without_both_books_gets_no_row(tmp_path: Path) -> None:
    clock = SimClock(start=T0)
    books = FakeBooks()
    books.missing = {f"eth-updown-15m-{T0}:down"}
    recorder = make(tmp_path, clock, books=books, interval_s=5, duration_s=30)
    summary = recorder.run()
    assert summary.rows_by_coin == {"BTC": 6, "ETH": 0}
    assert recorder.status().coins[1].missed == 6
    assert [w.coin for w in windows_in(tmp_path)] == ["BTC"]


def test_a_stop_request_ends_the_run_at_once(tmp_path: Path) -> None:
    clock = SimClock(start=T0)
    spot = FakeSpot(stop_after=3)
    summary = make(tmp_path, clock, spot=spot, interval_s=1).run()
    assert summary.stop_reason == "signal"
    assert summary.rows_by_coin == {"BTC": 3, "ETH": 3}
    assert clock.now() == T0 + 2


def test_it_gives_up_waiting_for_outcomes_after_resolve_wait(tmp_path: Path) -> None:
    clock = SimClock(start=T0 + 880)
    gamma = FakeGamma(clock, resolves=False)
    recorder = make(
        tmp_path, clock, coins=("BTC",), gamma=gamma, interval_s=5, windows=1,
        resolve_wait_s=120,
    )  # fmt: skip
    summary = recorder.run()
    assert summary.stop_reason == "windows" and summary.unresolved == 1
    assert T0 + 900 + 120 <= clock.now() < T0 + 900 + 130
    assert [w.outcome for w in windows_in(tmp_path)] == [None]


def test_a_restart_resumes_without_duplicates_and_fills_the_outcome(
    tmp_path: Path,
) -> None:
    clock = SimClock(start=T0 + 800)
    first = make(tmp_path, clock, coins=("BTC",), interval_s=5, duration_s=50).run()
    assert first.stop_reason == "duration" and first.rows_by_coin == {"BTC": 10}
    assert first.resolved == ()  # the window ended at T0 + 900, unresolved then

    # a second recorder started "too early" (a clock behind the files) writes nothing old
    behind = SimClock(start=T0 + 820)
    early = make(tmp_path, behind, coins=("BTC",), interval_s=5, duration_s=15).run()
    assert early.rows_by_coin == {"BTC": 0}
    # on time again: goes on up to the window's end
    resumed = SimClock(start=T0 + 850)
    second = make(tmp_path, resumed, coins=("BTC",), interval_s=5, duration_s=50).run()
    assert second.rows_by_coin == {"BTC": 10}

    # back after the window resolved: its outcome is written, the new window recorded
    later = SimClock(start=T0 + 900 + RESOLVE_DELAY + 5)
    gamma = FakeGamma(later)
    third = make(
        tmp_path, later, coins=("BTC",), gamma=gamma, interval_s=5, duration_s=20
    ).run()
    assert third.resolved == ((f"btc-updown-15m-{T0}", "UP"),)
    assert third.resume is not None and third.resume.unresolved == 1
    old, new = windows_in(tmp_path)
    assert (old.outcome, len(old.rows)) == ("UP", 20)
    assert old.rows[-1].t_s == T0 + 895
    assert (new.outcome, len(new.rows)) == (None, 4)


def test_status_and_summary(tmp_path: Path) -> None:
    clock = SimClock(start=T0)
    recorder = make(tmp_path, clock, interval_s=1, duration_s=20, status_every_s=5)
    summary: RecordSummary = recorder.run()
    status = recorder.status()
    assert status.rows == summary.rows == 40
    assert status.rows_per_s == pytest.approx(2.0)
    assert status.coins[0].slug == f"btc-updown-15m-{T0}"
    assert status.coins[0].window_rows == 20
    assert status.coins[0].last is not None and status.coins[0].last.t_s == T0 + 19


def test_config_is_checked() -> None:
    for bad in (
        {"coins": ()},
        {"coins": ("BTC",), "interval_s": 0},
        {"coins": ("BTC",), "duration_s": -1},
        {"coins": ("BTC",), "windows": 0},
    ):
        with pytest.raises(ValueError):
            RecorderConfig(**bad)  # type: ignore[arg-type]
    assert WINDOW_SECONDS == 900
