"""The quote recordings' reader and row formatter (src/data/quotes.py): good files (plain,
gzip, the shared real recording), every refusal naming file and line, the repairs, and the
formatter → reader round trip."""

from __future__ import annotations

import gzip
import warnings
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from src.data.quotes import (
    COLUMNS,
    REQUIRED_COLUMNS,
    QuoteRow,
    QuotesFileError,
    QuotesRepairWarning,
    format_row,
    load_recordings,
    parse_quotes,
    read_quotes,
)
from tests.conftest import shared_path

START = 1_767_312_000  # 2026-01-02 00:00 UTC, a window start
SLUG = f"btc-updown-15m-{START}"
HEADER = ",".join(REQUIRED_COLUMNS)
SHARED_FILE = ("data", "polymarket", "btc-updown-15m-quotes-2025-12-26_29.csv.gz")


def csv_text(*lines: str, header: str = HEADER) -> str:
    return "\n".join((header, *lines)) + "\n"


def line(t_s: object = START + 1, **values: object) -> str:
    fields = {
        "slug": SLUG,
        "window_start": START,
        "t_s": t_s,
        "up_best_bid": "0.52",
        "up_best_ask": "0.53",
        "down_best_bid": "0.47",
        "down_best_ask": "0.48",
        "outcome": "",
        **values,
    }
    return ",".join(str(fields[c]) for c in REQUIRED_COLUMNS)


def write(tmp_path: Path, text: str, name: str = "quotes.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- good files ---------------------------------------------------------------------------


def test_reads_a_plain_file_with_every_value(tmp_path: Path) -> None:
    path = write(tmp_path, csv_text(line(), line(START + 2, outcome="Up")))
    rows = read_quotes(path)
    assert rows[0] == QuoteRow(
        slug=SLUG,
        window_start=START,
        t_s=float(START + 1),
        up_bid=Decimal("0.52"),
        up_ask=Decimal("0.53"),
        down_bid=Decimal("0.47"),
        down_ask=Decimal("0.48"),
    )
    assert rows[1].outcome == "UP"
    assert rows[0].coin == "BTC"
    assert rows[0].up_mid == pytest.approx(0.525)


def test_reads_gzip_by_its_first_bytes_whatever_the_name(tmp_path: Path) -> None:
    text = csv_text(line(), line(START + 2))
    path = tmp_path / "quotes.csv"  # no .gz: the magic bytes decide
    path.write_bytes(gzip.compress(text.encode()))
    assert read_quotes(path) == parse_quotes(text)


def test_columns_in_any_order_optional_ones_and_unknown_ones(tmp_path: Path) -> None:
    header = "extra," + ",".join(reversed(COLUMNS))
    values = {
        "extra": "ignored",
        **dict(zip(REQUIRED_COLUMNS, line().split(","), strict=True)),
        "up_bid_size": "120.5",
        "up_ask_size": "",
        "down_bid_size": "0",
        "down_ask_size": "7",
        "spot": "88500.25",
    }
    row_text = ",".join(values[c] for c in ["extra", *reversed(COLUMNS)])
    [row] = read_quotes(write(tmp_path, csv_text(row_text, header=header)))
    assert row.up_bid == Decimal("0.52")
    assert (row.up_bid_size, row.up_ask_size) == (Decimal("120.5"), None)
    assert (row.down_bid_size, row.down_ask_size) == (Decimal(0), Decimal(7))
    assert row.spot == 88500.25


def test_blank_lines_and_a_bom_are_fine(tmp_path: Path) -> None:
    text = "\ufeff" + csv_text("", line(), ",,,,,,,", line(START + 2))
    rows = read_quotes(write(tmp_path, text))
    assert [r.t_s for r in rows] == [START + 1, START + 2]


def test_the_shared_real_recording_reads_whole() -> None:
    path = shared_path(*SHARED_FILE)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no repair needed either
        windows = load_recordings([path])
    assert len(windows) == 68
    assert sum(w.outcome is None for w in windows) == 2
    assert {w.coin for w in windows} == {"BTC"}
    for window in windows:
        times = [r.t_s for r in window.rows]
        assert times == sorted(times) and len(set(times)) == len(times)
        assert all(r.outcome in (None, window.outcome) for r in window.rows)


def test_windows_spread_over_files_and_interleaved(tmp_path: Path) -> None:
    eth = f"eth-updown-15m-{START}"
    first = write(
        tmp_path,
        csv_text(line(), line(START + 1, slug=eth), line(START + 2)),
        "a.csv",
    )
    second = write(tmp_path, csv_text(line(START + 3, outcome="Down")), "b.csv")
    windows = load_recordings([first, second])
    assert [(w.coin, len(w.rows), w.outcome) for w in windows] == [
        ("BTC", 3, "DOWN"),
        ("ETH", 1, None),
    ]


# --- refusals -----------------------------------------------------------------------------


def refusal(tmp_path: Path, text: str) -> QuotesFileError:
    path = write(tmp_path, text)
    with pytest.raises(QuotesFileError) as caught:
        load_recordings([path])
    assert str(path) in str(caught.value)
    return caught.value


@pytest.mark.parametrize("missing", ["slug", "t_s", "outcome", "down_best_ask"])
def test_a_missing_column_is_named(tmp_path: Path, missing: str) -> None:
    header = ",".join(c for c in REQUIRED_COLUMNS if c != missing)
    error = refusal(tmp_path, header + "\n")
    assert error.line == 1 and missing in error.reason


@pytest.mark.parametrize(
    ("text", "line_no", "words"),
    [
        (csv_text(line(), line(START + 2, slug="btc-updown-5m-1")), 3, "not a 15-minute"),
        (csv_text(line(slug=f"btc-updown-15m-{START + 60}")), 2, "not aligned"),
        (csv_text(line(window_start=START + 900)), 2, "does not match the slug"),
        (csv_text(line(window_start="soon")), 2, "not an integer"),
        (csv_text(line(t_s="noon")), 2, "t_s 'noon' is not a number"),
        (csv_text(line(t_s="-5")), 2, "is not a time"),
        (csv_text(line(up_best_bid="abc")), 2, "up_best_bid 'abc' is not a number"),
        (csv_text(line(up_best_ask="1")), 2, "up_best_ask 1 is not a price in (0, 1)"),
        (csv_text(line(down_best_bid="1.2")), 2, "not a price in (0, 1)"),
        (csv_text(line(down_best_ask="-0.1")), 2, "not a price in (0, 1)"),
        (csv_text(line(outcome="Maybe")), 2, "is not Up, Down or empty"),
        (csv_text(line() + ",extra"), 2, "9 fields, the header has 8"),
        ("", None, "empty file"),
    ],
)
def test_each_bad_value_is_named_with_its_line(
    tmp_path: Path, text: str, line_no: int | None, words: str
) -> None:
    error = refusal(tmp_path, text)
    assert error.line == line_no
    assert words in error.reason


def test_bad_optional_values(tmp_path: Path) -> None:
    header = HEADER + ",up_bid_size,spot"
    for extra, words in (("-1,", "not a size"), ("x,", "not a number"), (",0", "positive")):
        error = refusal(tmp_path, csv_text(line() + "," + extra, header=header))
        assert error.line == 2 and words in error.reason


def test_zero_price_reads_as_an_empty_side(tmp_path: Path) -> None:
    [row] = read_quotes(write(tmp_path, csv_text(line(up_best_bid="0", down_best_ask=""))))
    assert row.up_bid is None and row.down_ask is None
    assert row.up_ask == Decimal("0.53")
    assert row.up_mid is None


def test_going_back_in_time_within_a_window(tmp_path: Path) -> None:
    error = refusal(tmp_path, csv_text(line(START + 5), line(START + 4)))
    assert error.line == 3 and "goes back in time" in error.reason


def test_going_back_in_time_across_files_names_the_second(tmp_path: Path) -> None:
    first = write(tmp_path, csv_text(line(START + 5)), "a.csv")
    second = write(tmp_path, csv_text(line(START + 4)), "b.csv")
    with pytest.raises(QuotesFileError) as caught:
        load_recordings([first, second])
    assert caught.value.path == str(second) and caught.value.line == 2


def test_a_conflicting_duplicate_is_an_error(tmp_path: Path) -> None:
    error = refusal(tmp_path, csv_text(line(), line(up_best_bid="0.51")))
    assert error.line == 3 and "two different rows" in error.reason


def test_an_exact_duplicate_is_dropped_with_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path, csv_text(line(), line(), line(START + 2)))
    with pytest.warns(QuotesRepairWarning, match=rf"{path}:3: .*repeats t_s"):
        [window] = load_recordings([path])
    assert [r.t_s for r in window.rows] == [START + 1, START + 2]


def test_conflicting_outcomes_in_one_window(tmp_path: Path) -> None:
    error = refusal(tmp_path, csv_text(line(outcome="Up"), line(START + 2, outcome="Down")))
    assert error.line == 3 and "outcome DOWN after UP" in error.reason


def test_an_unreadable_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.csv.gz"
    broken.write_bytes(b"\x1f\x8b" + b"not really gzip")
    with pytest.raises(QuotesFileError, match="cannot read"):
        read_quotes(broken)
    with pytest.raises(QuotesFileError, match="cannot read"):
        read_quotes(tmp_path / "absent.csv")


# --- the formatter ------------------------------------------------------------------------


def round_trip(row: QuoteRow) -> QuoteRow:
    text = ",".join(COLUMNS) + "\n" + ",".join(format_row(row)) + "\n"
    [back] = parse_quotes(text)
    return back


def test_format_row_writes_the_layout_and_reads_back() -> None:
    row = QuoteRow(
        slug=SLUG,
        window_start=START,
        t_s=START + 12.5,
        up_bid=Decimal("0.52"),
        up_ask=None,
        down_bid=Decimal("0.47"),
        down_ask=Decimal("0.48"),
        outcome="DOWN",
        up_bid_size=Decimal("10.25"),
        down_ask_size=Decimal(0),
        spot=88500.5,
    )
    fields = format_row(row)
    assert len(fields) == len(COLUMNS)
    assert fields[:6] == [SLUG, str(START), f"{START + 12.5:.3f}", "0.52", "", "0.47"]
    assert fields[7] == "Down" and fields[-1] == "88500.5"
    assert format_row(QuoteRow(SLUG, START, float(START), None, None, None, None))[2] == (
        str(START)
    )
    assert round_trip(row) == row


PRICES = st.one_of(
    st.none(),
    st.integers(1, 9999).map(lambda n: Decimal(n).scaleb(-4).normalize()),
)
SIZES = st.one_of(
    st.none(),
    st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False),
)


@st.composite
def quote_rows(draw: st.DrawFn) -> QuoteRow:
    coin = draw(st.sampled_from(["btc", "eth", "sol", "xrp"]))
    start = draw(st.integers(1_600_000_000 // 900, 2_000_000_000 // 900)) * 900
    return QuoteRow(
        slug=f"{coin}-updown-15m-{start}",
        window_start=start,
        t_s=draw(st.integers(0, 4_000_000_000_000)) / 1000,  # milliseconds
        up_bid=draw(PRICES),
        up_ask=draw(PRICES),
        down_bid=draw(PRICES),
        down_ask=draw(PRICES),
        outcome=draw(st.sampled_from([None, "UP", "DOWN"])),
        up_bid_size=draw(SIZES),
        up_ask_size=draw(SIZES),
        down_bid_size=draw(SIZES),
        down_ask_size=draw(SIZES),
        spot=draw(
            st.one_of(
                st.none(),
                st.floats(min_value=1e-8, max_value=1e12, allow_nan=False),
            )
        ),
    )


@given(quote_rows())
def test_format_then_parse_is_the_identity(row: QuoteRow) -> None:
    assert round_trip(row) == row
