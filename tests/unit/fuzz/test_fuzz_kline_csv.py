"""Fuzz: Binance kline CSV files with garbage lines and columns.

The reader's contract (``src/sim/feeds/binance_csv.py``): a :class:`KlineTable`, or a
:class:`KlineFileError` naming the file and the offending line (``None`` only for
whole-file problems); repairs warn with :class:`KlineRepairWarning`. No other exception
and no other warning, whatever the bytes.
"""

from __future__ import annotations

import gzip
import tempfile
import warnings
from pathlib import Path

from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from src.sim.feeds.binance_csv import (
    BINANCE_COLUMNS,
    GapPolicy,
    parse_klines_csv,
    read_klines_csv,
)
from src.sim.feeds.errors import KlineFileError, KlineRepairWarning
from src.sim.feeds.table import KlineTable

FUZZ = settings(max_examples=150, deadline=None)
HEADER = ",".join(BINANCE_COLUMNS)
T0 = 1_767_225_600_000  # 2026-01-01 00:00 UTC, ms
SOURCE = "fuzz.csv"


def line(minute: int, unit: int = 1) -> list[str]:
    """The fields of one valid row ``minute`` minutes after T0 (``unit`` 1000: µs)."""
    t = (T0 + minute * 60_000) * unit
    return [
        str(t),
        "100.0",
        "101.0",
        "99.0",
        "100.5",
        "10.000",
        str(t + 60_000 * unit - 1),
        "1000.50",
        "42",
        "6.000",
        "600.25",
        "0",
    ]


garbage_fields = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "nan",
            "NaN",
            "inf",
            "-inf",
            "1e400",
            "-1",
            "0",
            "1.7e12",
            "0x10",
            "1_000",
            "１２",  # full-width digits
            "²",  # a digit to str.isdigit(), not to int()
            '"100.0"',
            "9" * 19,
            str(2**63 - 1),
            str(-(2**63)),
            str(T0 + 60_001),
        ]
    ),
    st.text(st.characters(blacklist_characters=",\n\r"), max_size=8),
    st.integers(-(2**63), 2**63 - 1).map(str),
    st.floats().map(repr),
)


@st.composite
def csv_texts(draw: st.DrawFn, out_of_range: bool = True) -> str:
    """A valid file, then a few corruptions: fields replaced, dropped or added; lines
    deleted, repeated, swapped or inserted; a header where it should not be; CRLF, BOM,
    blank lines; the end cut off."""
    n = draw(st.integers(1, 6))
    rows: list[list[str]] = [line(m, draw(st.sampled_from([1, 1, 1000]))) for m in range(n)]
    for _ in range(draw(st.integers(0, 3))):
        op = draw(st.integers(0, 7))
        i = draw(st.integers(0, len(rows) - 1)) if rows else 0
        if not rows:
            rows.append(line(0))
        elif op <= 2:
            rows[i][draw(st.integers(0, len(rows[i]) - 1))] = draw(garbage_fields)
        elif op == 3:
            del rows[i][draw(st.integers(0, len(rows[i]) - 1))]
        elif op == 4:
            rows[i].append(draw(garbage_fields))
        elif op == 5:
            rows.insert(i, list(rows[i]) if draw(st.booleans()) else HEADER.split(","))
        elif op == 6:
            del rows[i]
        else:
            j = draw(st.integers(0, len(rows) - 1))
            rows[i], rows[j] = rows[j], rows[i]
    lines = [",".join(r) for r in rows]
    if draw(st.booleans()):
        lines.insert(0, HEADER)
    if draw(st.integers(0, 4)) == 0:
        lines.insert(
            draw(st.integers(0, len(lines))), draw(st.sampled_from(["", "  ", ","]))
        )
    text = draw(st.sampled_from(["\n", "\r\n"])).join(lines) + "\n"
    if draw(st.integers(0, 5)) == 0:
        text = text[: draw(st.integers(0, len(text)))]
    if draw(st.integers(0, 9)) == 0:
        text = "\ufeff" + text
    return text


def check(text: str, gaps: GapPolicy = GapPolicy.ERROR) -> None:
    """The reader gives a table or a KlineFileError for this file and a line of it."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            table = parse_klines_csv(text, source=SOURCE, gaps=gaps)
        except KlineFileError as exc:
            event(f"refused: {exc.reason.split(':')[0][:30]}")
            assert exc.path == SOURCE and str(exc).startswith(f"{SOURCE}:")
            lines = text.split("\n")
            assert exc.line is None or 1 <= exc.line <= len(lines), exc.line
            assert exc.reason
        else:
            event("read")
            assert isinstance(table, KlineTable) and len(table) >= 1
    for warning in caught:
        assert issubclass(warning.category, KlineRepairWarning), warning.message
        assert SOURCE in str(warning.message)


@FUZZ
@given(text=csv_texts(), gaps=st.sampled_from(list(GapPolicy)))
def test_garbage_lines_give_a_table_or_an_error_naming_file_and_line(
    text: str, gaps: GapPolicy
) -> None:
    check(text, gaps)


@settings(max_examples=60, deadline=None)
@given(
    text=st.text(max_size=200) | st.binary(max_size=60).map(lambda b: b.decode("latin-1"))
)
def test_any_text_gives_a_table_or_an_error(text: str) -> None:
    check(text)


@settings(max_examples=40, deadline=None)
@given(data=st.binary(max_size=120), zipped=st.booleans(), cut=st.integers(0, 40))
def test_any_file_bytes_give_a_table_or_an_error(
    data: bytes, zipped: bool, cut: int
) -> None:
    body = gzip.compress(data)[: -cut or None] if zipped else data
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "k.csv.gz"
        path.write_bytes(body)
        try:
            read_klines_csv(path)
        except KlineFileError as exc:
            assert exc.path == str(path)


# Found by fuzzing (fixed): an integer column beyond int64 raised OverflowError, naming no
# line
@FUZZ
@example(value="99999999999999999999", index=0)
@given(
    value=st.integers(2**63, 10**30).map(str)
    | st.integers(-(10**30), -(2**63) - 1).map(str),
    index=st.sampled_from([0, 6, 8]),
)
def test_an_integer_beyond_64_bits_is_a_kline_file_error(value: str, index: int) -> None:
    fields = line(1)
    fields[index] = value
    check("\n".join([HEADER, ",".join(line(0)), ",".join(fields)]) + "\n")


# Found by fuzzing (fixed): an open_time at the int64 minimum made numpy warn of an
# overflow
@settings(max_examples=20, deadline=None)
@example(time=-(2**63))
@given(time=st.integers(-(2**63), -(2**63) + 59_999))
def test_a_time_at_the_int64_minimum_only_gives_a_kline_file_error(time: int) -> None:
    fields = line(0)
    fields[0] = fields[6] = str(time)
    check(f"{HEADER}\n{','.join(fields)}\n")
