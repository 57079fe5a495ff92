"""The recorder's pure row builder and its daily files: rotation at UTC midnight, resume
without duplicates, repair of a cut line, atomic outcome fill-in, permissions, one writer
per folder."""

from __future__ import annotations

import os
import stat
import warnings
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

import src.recording.files as files_module
from src.data.market_data.polymarket import BookLevel, OrderBook
from src.data.market_data.windows import WindowRef
from src.data.quotes import COLUMNS, QuoteRow, QuotesFileError, load_recordings, read_quotes
from src.recording.files import (
    DailyQuoteFiles,
    RecordingLockedError,
    drop_unfinished_line,
)
from src.recording.rows import (
    daily_file_name,
    parse_daily_file_name,
    quote_row,
    quote_time,
)

DAY_END = 1_767_312_000  # 2026-01-02 00:00 UTC
LAST = WindowRef("BTC", DAY_END - 900)  # 2026-01-01 23:45, the day's last window
FIRST = WindowRef("BTC", DAY_END)  # 2026-01-02 00:00
DAY1 = "btc-updown-15m-quotes-2026-01-01.csv"
DAY2 = "btc-updown-15m-quotes-2026-01-02.csv"


def book(token: str, bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> OrderBook:
    return OrderBook(
        token_id=token,
        bids=tuple(BookLevel(Decimal(p), Decimal(s)) for p, s in bids),
        asks=tuple(BookLevel(Decimal(p), Decimal(s)) for p, s in asks),
        timestamp_ms=0,
    )


UP = book("up", [("0.52", "100"), ("0.51", "5")], [("0.53", "40")])
DOWN = book("down", [("0.47", "40")], [("0.48", "100"), ("0.49", "7")])


def row(window: WindowRef, t_s: float, outcome: str | None = None) -> QuoteRow:
    return quote_row(window, t_s, UP, DOWN, 88_500.0, outcome)


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[DailyQuoteFiles]:
    files = DailyQuoteFiles(tmp_path / "quotes")
    files.open(DAY_END)
    yield files
    files.close()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- rows ---------------------------------------------------------------------------------


def test_quote_row_takes_the_best_levels_and_their_sizes() -> None:
    r = row(FIRST, DAY_END + 1.23456)
    assert (r.slug, r.window_start, r.t_s) == (FIRST.slug, DAY_END, DAY_END + 1.235)
    assert (r.up_bid, r.up_ask, r.down_bid, r.down_ask) == tuple(
        Decimal(p) for p in ("0.52", "0.53", "0.47", "0.48")
    )
    assert (r.up_bid_size, r.up_ask_size, r.down_bid_size, r.down_ask_size) == tuple(
        Decimal(s) for s in ("100", "40", "40", "100")
    )
    assert r.spot == 88_500.0 and r.outcome is None


def test_quote_row_with_empty_sides_and_a_bad_spot() -> None:
    empty = book("up", [], [("0.99", "3")])
    r = quote_row(FIRST, DAY_END, empty, book("down", [], []), float("nan"))
    assert (r.up_bid, r.up_bid_size, r.up_ask, r.up_ask_size) == (
        None,
        None,
        Decimal("0.99"),
        Decimal(3),
    )
    assert (r.down_bid, r.down_ask, r.spot) == (None, None, None)
    assert quote_row(FIRST, DAY_END, UP, DOWN, -1.0).spot is None


def test_daily_file_names() -> None:
    assert daily_file_name("BTC", date(2026, 1, 2)) == DAY2
    assert parse_daily_file_name(DAY2) == ("BTC", date(2026, 1, 2))
    for other in ("btc-updown-15m-quotes-2026-01-02.csv.gz", "BTC" + DAY2[3:], "x.csv"):
        assert parse_daily_file_name(other) is None
    assert parse_daily_file_name("btc-updown-15m-quotes-20260102.csv") is None
    assert quote_time(1.0004) == 1.0 and quote_time(2.0006) == 2.001


# --- writing and rotation -----------------------------------------------------------------


def test_rows_rotate_to_a_new_file_at_utc_midnight(folder: DailyQuoteFiles) -> None:
    assert folder.append(row(LAST, DAY_END - 2))
    assert folder.append(row(LAST, DAY_END - 0.001))
    assert folder.append(row(FIRST, DAY_END))
    assert folder.append(row(FIRST, DAY_END + 1))
    folder.close()
    names = sorted(p.name for p in folder.folder.glob("*.csv"))
    assert names == [DAY1, DAY2]
    for name in names:
        path = folder.folder / name
        assert path.read_text().splitlines()[0] == ",".join(COLUMNS)
        assert mode(path) == 0o600
    assert [r.t_s for r in read_quotes(folder.folder / DAY1)] == [
        DAY_END - 2,
        DAY_END - 0.001,
    ]
    assert [r.slug for r in read_quotes(folder.folder / DAY2)] == [FIRST.slug] * 2
    assert mode(folder.folder / ".record.lock") == 0o600


def test_each_row_is_on_disk_as_soon_as_it_is_appended(folder: DailyQuoteFiles) -> None:
    folder.append(row(FIRST, DAY_END + 1))
    path = folder.folder / DAY2
    assert read_quotes(path) == [row(FIRST, DAY_END + 1)]  # flushed, not buffered
    folder.append(row(FIRST, DAY_END + 2))
    assert len(read_quotes(path)) == 2


def test_a_time_already_there_or_older_is_never_written(folder: DailyQuoteFiles) -> None:
    assert folder.append(row(FIRST, DAY_END + 5))
    assert not folder.append(row(FIRST, DAY_END + 5))
    assert not folder.append(row(FIRST, DAY_END + 4))
    assert folder.append(row(FIRST.next(), DAY_END + 901))  # another window: its own times
    assert len(read_quotes(folder.folder / DAY2)) == 2


# --- resuming -----------------------------------------------------------------------------


def test_a_restart_appends_without_duplicates(tmp_path: Path) -> None:
    first = DailyQuoteFiles(tmp_path)
    first.open(DAY_END)
    for t in range(5):
        first.append(row(FIRST, DAY_END + t))
    first.append(row(LAST, DAY_END - 1))
    first.close()

    again = DailyQuoteFiles(tmp_path)
    report = again.open(DAY_END + 4.5)
    assert (report.files, report.windows, report.rows, report.unresolved) == (2, 2, 6, 2)
    entry = again.window(FIRST.slug)
    assert entry is not None and entry.last_t == DAY_END + 4 and entry.rows == 5
    for t in (0, 3, 4):  # what a restarted loop would try again
        assert not again.append(row(FIRST, DAY_END + t))
    assert again.append(row(FIRST, DAY_END + 5))
    again.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        windows = load_recordings(sorted(tmp_path.glob("*.csv")))
    assert [len(w.rows) for w in windows] == [1, 6]


def test_a_line_cut_short_by_a_kill_is_dropped_on_restart(tmp_path: Path) -> None:
    files = DailyQuoteFiles(tmp_path)
    files.open(DAY_END)
    files.append(row(FIRST, DAY_END + 1))
    files.close()
    path = tmp_path / DAY2
    whole = path.read_bytes()
    path.write_bytes(whole + b"btc-updown-15m-1767312000,17673")  # killed mid-write

    again = DailyQuoteFiles(tmp_path)
    assert again.open(DAY_END + 2).repaired_lines == 1
    assert path.read_bytes() == whole
    assert again.append(row(FIRST, DAY_END + 2))
    again.close()
    assert len(read_quotes(path)) == 2


def test_drop_unfinished_line_cases(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    for content, kept in (
        (b"", b""),
        (b"a,b\n", b"a,b\n"),
        (b"a,b\nc,", b"a,b\n"),
        (b"no newline at all", b""),
        (b"x\n" + b"y" * 200_000, b"x\n"),
    ):
        path.write_bytes(content)
        assert drop_unfinished_line(path) == len(content) - len(kept)
        assert path.read_bytes() == kept


def test_old_files_are_not_indexed_and_foreign_files_are_ignored(tmp_path: Path) -> None:
    (tmp_path / "btc-updown-15m-quotes-2025-12-01.csv").write_text("not even csv\x00")
    (tmp_path / "notes.txt").write_text("hello")
    files = DailyQuoteFiles(tmp_path)
    assert files.open(DAY_END).files == 0
    files.close()


def test_a_file_that_is_not_a_recording_is_refused_with_its_name(tmp_path: Path) -> None:
    bad = tmp_path / DAY2
    bad.write_text("slug,t_s\nx,1\n")
    files = DailyQuoteFiles(tmp_path)
    with pytest.raises(QuotesFileError, match=DAY2):
        files.open(DAY_END)
    files.close()


def test_appending_to_a_file_with_other_columns_is_refused(tmp_path: Path) -> None:
    (tmp_path / DAY2).write_text(",".join(reversed(COLUMNS)) + "\n")
    files = DailyQuoteFiles(tmp_path)
    files.open(DAY_END)
    with pytest.raises(QuotesFileError, match="columns differ"):
        files.append(row(FIRST, DAY_END + 1))
    files.close()


def test_one_recorder_per_folder(tmp_path: Path) -> None:
    first = DailyQuoteFiles(tmp_path)
    first.open(DAY_END)
    second = DailyQuoteFiles(tmp_path)
    with pytest.raises(RecordingLockedError, match=str(os.getpid())):
        second.open(DAY_END)
    first.close()
    second.open(DAY_END)  # released by the first
    second.close()


# --- outcomes -----------------------------------------------------------------------------


def test_unresolved_lists_windows_over_without_an_outcome(folder: DailyQuoteFiles) -> None:
    folder.append(row(LAST, DAY_END - 10))
    folder.append(row(FIRST, DAY_END + 10))
    folder.append(row(FIRST.next(), DAY_END + 910, outcome="UP"))
    assert [w.slug for w in folder.unresolved(DAY_END + 899)] == [LAST.slug]
    assert [w.slug for w in folder.unresolved(DAY_END + 2000)] == [LAST.slug, FIRST.slug]


def test_fill_outcome_rewrites_only_that_window_atomically(folder: DailyQuoteFiles) -> None:
    for t in range(3):
        folder.append(row(FIRST, DAY_END + t))
        folder.append(row(WindowRef("BTC", DAY_END + 900), DAY_END + 900 + t))
    path = folder.folder / DAY2
    before = path.read_text().splitlines()
    inode = path.stat().st_ino

    assert folder.fill_outcome(FIRST.slug, "DOWN") == 3
    after = path.read_text().splitlines()
    assert path.stat().st_ino != inode  # a new file took the old one's place
    assert mode(path) == 0o600
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert len(changed) == 3
    assert all(a.replace(",,", ",Down,", 1) == b for a, b in changed)
    assert not list(folder.folder.glob(".*.tmp"))
    assert folder.fill_outcome(FIRST.slug, "DOWN") == 0  # already there: nothing written
    assert folder.unresolved(DAY_END + 5000)[0].slug != FIRST.slug

    # appending goes on in the new file
    assert folder.append(row(WindowRef("BTC", DAY_END + 900), DAY_END + 903))
    windows = load_recordings([path])
    assert [(w.outcome, len(w.rows)) for w in windows] == [("DOWN", 3), (None, 4)]


def test_a_rewrite_that_fails_leaves_the_old_file_whole(
    folder: DailyQuoteFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder.append(row(FIRST, DAY_END + 1))
    path = folder.folder / DAY2
    folder.close()
    before = path.read_bytes()

    def crash(_src: object, _dst: object) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(files_module.os, "replace", crash)
    again = DailyQuoteFiles(folder.folder)
    again.open(DAY_END + 1000)
    with pytest.raises(OSError, match="disk gone"):
        again.fill_outcome(FIRST.slug, "UP")
    assert path.read_bytes() == before
    assert not list(folder.folder.glob(".*.tmp"))
    again.close()


def test_a_temp_file_left_by_a_kill_is_removed_and_the_old_file_kept(
    tmp_path: Path,
) -> None:
    files = DailyQuoteFiles(tmp_path)
    files.open(DAY_END)
    files.append(row(FIRST, DAY_END + 1))
    files.close()
    leftover = tmp_path / f".{DAY2}.tmp"
    leftover.write_text("half a rewri")
    again = DailyQuoteFiles(tmp_path)
    assert again.open(DAY_END).removed_temps == 1
    assert not leftover.exists()
    assert again.fill_outcome(FIRST.slug, "UP") == 1
    again.close()
    [window] = load_recordings([tmp_path / DAY2])
    assert window.outcome == "UP"


def test_fill_outcome_refuses_anything_but_up_or_down(folder: DailyQuoteFiles) -> None:
    with pytest.raises(ValueError, match="UP or DOWN"):
        folder.fill_outcome(FIRST.slug, "Up")
    assert folder.fill_outcome("btc-updown-15m-0", "UP") == 0  # nothing recorded of it
