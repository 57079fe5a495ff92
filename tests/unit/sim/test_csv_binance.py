"""Binance kline CSV reader and writer: layouts, bad-data rules, repairs, round trips."""

from __future__ import annotations

import gzip
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from src.sim.feeds.binance_csv import (
    BINANCE_COLUMNS,
    CsvDecimals,
    GapPolicy,
    TimeUnit,
    format_klines_csv,
    parse_klines_csv,
    read_klines_csv,
    write_klines_csv,
)
from src.sim.feeds.errors import KlineFileError, KlineRepairWarning
from src.sim.feeds.generator import DEFAULT_COINS, generate_tables
from src.sim.feeds.table import KlineTable
from tests.conftest import SHARED

SHARED_DATA = SHARED / "data"
HEADER = ",".join(BINANCE_COLUMNS)
T0 = 1_767_225_600_000  # 2026-01-01 00:00 UTC


def row(
    minute: int = 0,
    o: str = "100.0",
    h: str = "101.0",
    lo: str = "99.0",
    c: str = "100.5",
    v: str = "10.000",
    qv: str = "1000.50",
    n: str = "42",
    tb: str = "6.000",
    tbq: str = "600.25",
    *,
    unit: int = 1,
    close: int | None = None,
) -> str:
    """One data line, ``minute`` minutes after T0 (``unit`` 1000 for microseconds)."""
    t = (T0 + minute * 60_000) * unit
    ct = t + 60_000 * unit - 1 if close is None else close
    return f"{t},{o},{h},{lo},{c},{v},{ct},{qv},{n},{tb},{tbq},0"


def lines(*rows: str, header: bool = True) -> str:
    return "\n".join(([HEADER] if header else []) + list(rows)) + "\n"


GOOD = [
    row(0),
    row(1, "100.5", "102.0", "100.1", "101.9"),
    row(2, "101.9", "102.5", c="100.0"),
]


def test_with_and_without_header_give_the_same_table() -> None:
    with_header = parse_klines_csv(lines(*GOOD))
    without = parse_klines_csv(lines(*GOOD, header=False))
    assert with_header.same_as(without)
    assert len(with_header) == 3
    k = with_header.kline(1)
    assert (k.open_time_ms, k.open, k.high, k.low, k.close) == (
        T0 + 60_000,
        100.5,
        102.0,
        100.1,
        101.9,
    )
    assert k.close_time_ms == T0 + 119_999
    assert (k.volume, k.quote_volume, k.trades) == (10.0, 1000.5, 42)
    assert (k.taker_buy_volume, k.taker_buy_quote_volume) == (6.0, 600.25)


def test_microsecond_timestamps_become_milliseconds() -> None:
    micro = [row(i, unit=1000) for i in range(3)]
    table = parse_klines_csv(lines(*micro, header=False))
    assert table.open_time_ms.tolist() == [T0, T0 + 60_000, T0 + 120_000]
    assert table.same_as(parse_klines_csv(lines(*[row(i) for i in range(3)])))


def test_gzip_and_plain_files_read_alike(tmp_path: Path) -> None:
    text = lines(*GOOD)
    plain = tmp_path / "k.csv"
    plain.write_text(text)
    # Recognised by content, whatever the name says.
    zipped = tmp_path / "k.bin"
    zipped.write_bytes(gzip.compress(text.encode()))
    assert read_klines_csv(plain).same_as(read_klines_csv(zipped))


def test_crlf_bom_and_blank_lines_are_accepted() -> None:
    text = "\ufeff" + HEADER + "\r\n" + "\r\n".join(GOOD) + "\r\n\r\n"
    assert parse_klines_csv(text).same_as(parse_klines_csv(lines(*GOOD)))


def test_reported_line_numbers_count_the_header_and_blank_lines() -> None:
    text = HEADER + "\n\n" + GOOD[0] + "\n" + row(1, h="98.0") + "\n"
    with pytest.raises(KlineFileError) as caught:
        parse_klines_csv(text, source="f.csv")
    assert caught.value.line == 4


BAD_CASES = {
    "too few fields": (row(1)[:-2], 3, "expected 12 fields, found 11"),
    "too many fields": (row(1) + ",x", 3, "expected 12 fields, found 13"),
    "price not a number": (row(1, h="abc"), 3, "high is not a number: 'abc'"),
    "empty price": (row(1, c=""), 3, "close is not a number: ''"),
    "text in a time column": ("abc" + row(1)[13:], 3, "open_time is not a number: 'abc'"),
    "count not an integer": (row(1, n="4.5"), 3, "count is not a number: '4.5'"),
    "time not an integer": (
        row(1).replace(str(T0 + 60_000), "1.7e12", 1),
        3,
        "open_time is not a number",
    ),
    "nan": (row(1, v="nan"), 3, "volume is not finite: 'nan'"),
    "inf": (row(1, o="inf"), 3, "open is not finite: 'inf'"),
    "not a whole minute": (
        row(1).replace(str(T0 + 60_000), str(T0 + 60_001), 1),
        3,
        "is not a whole minute",
    ),
    "wrong close time": (row(1, close=T0 + 60_000 + 59_000), 3, "is not open_time + 59999"),
    "high below low": (
        row(1, h="98.0", lo="99.0", o="98.5", c="98.5"),
        3,
        "high 98.0 < low",
    ),
    "open above high": (row(1, o="101.5"), 3, "outside [low 99.0, high 101.0]"),
    "close below low": (row(1, c="98.0"), 3, "outside [low 99.0, high 101.0]"),
    "zero price": (row(1, lo="0"), 3, "prices must be positive"),
    "negative price": (row(1, o="-1", lo="-2"), 3, "prices must be positive"),
    "negative volume": (row(1, v="-1", tb="-2"), 3, "must not be negative"),
    "negative count": (row(1, n="-3"), 3, "must not be negative"),
    "taker volume above volume": (row(1, tb="10.5"), 3, "taker-buy volume exceeds"),
    "taker quote above quote": (row(1, tbq="1000.51"), 3, "taker-buy volume exceeds"),
    "out of order": (row(-5), 3, "is before the previous row's"),
    "conflicting duplicate": (row(0, c="100.4"), 3, "repeats line 2 with different values"),
    "gap": (row(3), 3, "gap: 2 minute(s) missing"),
}


@pytest.mark.parametrize("name", list(BAD_CASES))
def test_bad_data_names_file_and_line(name: str, tmp_path: Path) -> None:
    bad_row, line, reason = BAD_CASES[name]
    path = tmp_path / "bad.csv.gz"
    path.write_bytes(gzip.compress(lines(GOOD[0], bad_row, row(9)).encode()))
    with pytest.raises(KlineFileError) as caught:
        read_klines_csv(path)
    err = caught.value
    assert err.path == str(path)
    assert err.line == line
    assert reason in err.reason
    assert str(err).startswith(f"{path}:{line}: ")


def test_the_earliest_offending_line_is_reported() -> None:
    # Line 3 breaks a later rule (taker volume), line 4 an earlier one (high < low).
    text = lines(GOOD[0], row(1, tb="11"), row(2, h="98", lo="99", o="98.5", c="98.5"))
    with pytest.raises(KlineFileError) as caught:
        parse_klines_csv(text)
    assert caught.value.line == 3


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("", None, "no kline rows"),
        (HEADER + "\n", None, "no kline rows"),
        ("\n\n", None, "no kline rows"),
        ("time,o,h,l,c\n" + GOOD[0], 1, "unexpected header"),
    ],
)
def test_empty_or_foreign_files(text: str, line: int | None, reason: str) -> None:
    with pytest.raises(KlineFileError) as caught:
        parse_klines_csv(text, source="x.csv")
    assert caught.value.line == line
    assert reason in str(caught.value)
    assert "x.csv" in str(caught.value)


def test_unreadable_files(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.csv.gz"
    corrupt.write_bytes(gzip.compress(lines(*GOOD).encode())[:-12])
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"\xff\xfe" + lines(*GOOD).encode())
    for path in (corrupt, latin, tmp_path / "missing.csv"):
        with pytest.raises(KlineFileError, match="cannot read") as caught:
            read_klines_csv(path)
        assert caught.value.path == str(path)


def test_identical_duplicates_are_dropped_with_a_warning() -> None:
    text = lines(GOOD[0], GOOD[1], GOOD[1], GOOD[2], GOOD[2])
    with pytest.warns(KlineRepairWarning, match=r"f\.csv: dropped 2 duplicate row\(s\)"):
        table = parse_klines_csv(text, source="f.csv")
    assert table.same_as(parse_klines_csv(lines(*GOOD)))


def test_duplicate_with_other_formatting_but_same_values_is_identical() -> None:
    same = GOOD[0].replace("100.0,", "100.00,", 1)
    with pytest.warns(KlineRepairWarning):
        table = parse_klines_csv(lines(GOOD[0], same, GOOD[1]))
    assert len(table) == 2


def test_gaps_are_filled_flat_on_request() -> None:
    text = lines(GOOD[0], row(3, "100.2", "100.9", "100.1", "100.3"), row(4, c="100.2"))
    with pytest.warns(KlineRepairWarning, match="filled 2 missing minute"):
        table = parse_klines_csv(text, gaps=GapPolicy.FILL)
    assert table.open_time_ms.tolist() == [T0 + i * 60_000 for i in range(5)]
    for i in (1, 2):
        k = table.kline(i)
        assert k.open == k.high == k.low == k.close == 100.5
        assert (k.volume, k.quote_volume, k.trades, k.taker_buy_volume) == (0, 0, 0, 0)
    assert table.kline(3).open == 100.2


def test_mixed_time_units_are_read_row_by_row_with_a_warning() -> None:
    text = lines(row(0), row(1, unit=1000), row(2))
    with pytest.warns(KlineRepairWarning, match=":3: millisecond and microsecond"):
        table = parse_klines_csv(text)
    assert table.open_time_ms.tolist() == [T0, T0 + 60_000, T0 + 120_000]


def test_repeated_headers_of_concatenated_files_are_skipped_with_a_warning() -> None:
    text = lines(GOOD[0]) + lines(GOOD[1]) + lines(GOOD[2])
    with pytest.warns(KlineRepairWarning, match=r":3: skipped 2 repeated header"):
        table = parse_klines_csv(text)
    assert table.same_as(parse_klines_csv(lines(*GOOD)))


def test_clean_files_raise_no_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parse_klines_csv(lines(*GOOD))


@pytest.mark.parametrize("unit", [TimeUnit.MS, TimeUnit.US])
@pytest.mark.parametrize("header", [True, False])
@pytest.mark.parametrize("name", ["k.csv", "k.csv.gz"])
def test_writer_round_trip(tmp_path: Path, unit: TimeUnit, header: bool, name: str) -> None:
    table = parse_klines_csv(lines(*GOOD))
    path = tmp_path / name
    write_klines_csv(path, table, header=header, time_unit=unit)
    raw = path.read_bytes()
    assert (raw[:2] == b"\x1f\x8b") == name.endswith(".gz")
    text = (gzip.decompress(raw) if name.endswith(".gz") else raw).decode()
    assert text.startswith(HEADER) == header
    if unit is TimeUnit.US:
        assert str(T0 * 1000) in text
    assert read_klines_csv(path).same_as(table)
    assert not list(tmp_path.glob("*.tmp"))


def test_writer_uses_binance_layout_and_fixed_decimals() -> None:
    table = parse_klines_csv(lines(*GOOD))
    text = format_klines_csv(table, decimals=CsvDecimals(price=2, volume=3, quote_volume=5))
    first = text.splitlines()[1].split(",")
    assert first == [
        str(T0),
        "100.00",
        "101.00",
        "99.00",
        "100.50",
        "10.000",
        str(T0 + 59_999),
        "1000.50000",
        "42",
        "6.000",
        "600.25000",
        "0",
    ]


def test_writer_is_deterministic(tmp_path: Path) -> None:
    table = generate_tables(3, T0, 120)["BTCUSDT"]
    write_klines_csv(tmp_path / "a.csv.gz", table)
    write_klines_csv(tmp_path / "b.csv.gz", table)
    assert (tmp_path / "a.csv.gz").read_bytes() == (tmp_path / "b.csv.gz").read_bytes()


def test_generated_tables_round_trip_with_their_coin_decimals(tmp_path: Path) -> None:
    tables = generate_tables(11, T0, 600)
    for coin in DEFAULT_COINS:
        path = tmp_path / f"{coin.symbol}.csv"
        write_klines_csv(path, tables[coin.symbol], decimals=coin.csv_decimals())
        assert read_klines_csv(path).same_as(tables[coin.symbol])


@st.composite
def tables(draw: st.DrawFn) -> KlineTable:
    """Valid tables with arbitrary decimal precision and magnitudes."""
    n = draw(st.integers(1, 30))
    decimals = draw(st.integers(0, 8))
    scale = 10.0**decimals
    ticks = st.integers(1, 10**9)
    prices = np.array([[draw(ticks) for _ in range(4)] for _ in range(n)], dtype=np.float64)
    prices.sort(axis=1)
    low, a, b, high = (prices[:, i] / scale for i in range(4))
    swap = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    volume = np.array([draw(ticks) for _ in range(n)], dtype=np.float64) / 1000
    taker = np.round(volume * draw(st.floats(0, 1)), 3)
    start = draw(st.integers(25_000_000, 40_000_000)) * 60_000  # 2017 .. 2046
    return KlineTable(
        open_time_ms=start + np.arange(n) * 60_000,
        open=np.where(swap, a, b),
        high=high,
        low=low,
        close=np.where(swap, b, a),
        volume=volume,
        quote_volume=np.round(volume * high, 5),
        trades=np.array([draw(st.integers(0, 10**6)) for _ in range(n)]),
        taker_buy_volume=taker,
        taker_buy_quote_volume=np.round(taker * low, 5),
    )


@settings(max_examples=60, deadline=None)
@given(table=tables(), header=st.booleans(), unit=st.sampled_from(list(TimeUnit)))
def test_format_parse_round_trip(table: KlineTable, header: bool, unit: TimeUnit) -> None:
    text = format_klines_csv(table, header=header, time_unit=unit)
    assert parse_klines_csv(text).same_as(table)


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="shared data absent")
def test_real_files_read_and_round_trip(tmp_path: Path) -> None:
    files = sorted(SHARED_DATA.glob("*-1m-*.csv.gz"))
    if not files:
        pytest.skip("no kline files in the shared data")
    for path in files:
        table = read_klines_csv(path)
        assert len(table) >= 4_000
        assert np.all(np.diff(table.open_time_ms) == 60_000)
        out = tmp_path / path.name
        write_klines_csv(out, table)
        assert read_klines_csv(out).same_as(table)


def test_awkward_floats_round_trip_exactly() -> None:
    base = parse_klines_csv(lines(*GOOD))
    awkward = KlineTable(
        open_time_ms=base.open_time_ms,
        open=np.array([0.1 + 0.2, 1.5e-12, 123456789.123]),
        high=np.array([0.5, 2e-12, 123456790.0]),
        low=np.array([0.1, 1e-12, 123456789.0]),
        close=np.array([0.3, 1.25e-12, 123456789.5]),
        volume=np.array([1 / 3, 2.0, 1e-9]),
        quote_volume=np.array([1.0, 2.0, 3.0]),
        trades=np.array([1, 2, 3]),
        taker_buy_volume=np.array([0.1, 1.0, 0.0]),
        taker_buy_quote_volume=np.array([0.5, 1.0, 0.0]),
    )
    text = format_klines_csv(awkward)
    assert "e" not in text.split("\n", 1)[1]
    assert parse_klines_csv(text).same_as(awkward)
