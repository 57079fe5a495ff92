"""Binance 1-minute kline CSV files: a strict reader and a writer in the same layout.

The layout is Binance's data-dump layout, twelve columns, with or without a header row::

    open_time,open,high,low,close,volume,close_time,quote_volume,count,
    taker_buy_volume,taker_buy_quote_volume,ignore

Files may be plain or gzip (recognised by their first bytes, not their name). Times are
epoch milliseconds or, in Binance's newer dumps, microseconds: a timestamp of 10^14 or more
is microseconds (millisecond times stay below that until the year 5138).

Rules — anything else is a :class:`~src.sim.feeds.errors.KlineFileError` naming the file,
the earliest offending line and the reason:

* every data row has exactly 12 fields; times and the trade count are integers, the other
  columns except ``ignore`` finite decimal numbers;
* a header row, if present, is the first line and has exactly the Binance column names;
* times fit in 64 bits; open times are from 1970 on and before 10^14 ms (the year 5138),
  whole minutes, strictly one minute apart, oldest first; the close time is the open time
  plus 59,999 ms (59,999,999 µs);
* prices are positive, ``low <= open, close <= high``; volumes, quote volumes and trade
  counts are not negative; taker-buy volume and quote volume do not exceed their totals.

Repairs, each reported with a :class:`~src.sim.feeds.errors.KlineRepairWarning`:

* a row repeating the previous row's open time with the same values is dropped (overlapping
  downloads); with different values it is an error;
* a file mixing millisecond and microsecond rows is read row by row by magnitude;
* a header line repeated inside the file (concatenated dumps) is skipped;
* with ``gaps=GapPolicy.FILL`` missing minutes become flat candles at the previous close
  with zero volume and zero trades (what the exchange shows for a minute without trades);
  with the default ``GapPolicy.ERROR`` a gap is an error.

Blank lines are ignored.
"""

from __future__ import annotations

import gzip
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np

from src.sim.feeds.base import MINUTE_MS
from src.sim.feeds.errors import KlineFileError, KlineRepairWarning
from src.sim.feeds.table import CLOSE_OFFSET_MS, KlineTable

BINANCE_COLUMNS = (
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_volume",
    "count",
    "taker_buy_volume",
    "taker_buy_quote_volume",
    "ignore",
)
_N_COLUMNS = len(BINANCE_COLUMNS)
_INT_FIELDS = (0, 6, 8)
_FLOAT_FIELDS = (1, 2, 3, 4, 5, 7, 9, 10)
# Millisecond timestamps stay below this until the year 5138; microseconds are above.
_MICROSECOND_THRESHOLD = 10**14
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_GZIP_MAGIC = b"\x1f\x8b"


class GapPolicy(StrEnum):
    """What the reader does with missing minutes."""

    ERROR = "error"
    FILL = "fill"


class TimeUnit(StrEnum):
    """Unit of the time columns the writer produces."""

    MS = "ms"
    US = "us"


@dataclass(frozen=True, slots=True)
class CsvDecimals:
    """Decimals written per kind of column; ``None`` uses as many as the values need.

    Binance writes a fixed number per symbol (e.g. BTCUSDT futures: prices 2, volumes 3);
    ``None`` picks the fewest decimals that still read back as exactly the same floats.
    """

    price: int | None = None
    volume: int | None = None
    quote_volume: int | None = None


def read_klines_csv(path: str | Path, *, gaps: GapPolicy = GapPolicy.ERROR) -> KlineTable:
    """Read a Binance kline CSV file (plain or gzip) into a :class:`KlineTable`."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == _GZIP_MAGIC:
            raw = gzip.decompress(raw)
        text = raw.decode("utf-8")
    except (OSError, EOFError, gzip.BadGzipFile, UnicodeDecodeError) as exc:
        raise KlineFileError(path, None, f"cannot read: {exc}") from exc
    return parse_klines_csv(text, source=str(path), gaps=gaps)


def parse_klines_csv(
    text: str, *, source: str = "<text>", gaps: GapPolicy = GapPolicy.ERROR
) -> KlineTable:
    """Parse Binance kline CSV text; ``source`` names it in errors and warnings."""
    rows, line_numbers = _split_rows(text.removeprefix("\ufeff"), source)
    columns = list(zip(*rows, strict=True))
    lines = np.asarray(line_numbers, dtype=np.int64)
    ints = {i: _parse_column(columns[i], i, np.int64, lines, source) for i in _INT_FIELDS}
    floats = {
        i: _parse_column(columns[i], i, np.float64, lines, source) for i in _FLOAT_FIELDS
    }
    open_ms = _to_ms(ints[0], lines, source)
    close_ms = _to_ms(ints[6], lines, source)
    table_columns = {
        "open_time_ms": open_ms,
        "open": floats[1],
        "high": floats[2],
        "low": floats[3],
        "close": floats[4],
        "volume": floats[5],
        "quote_volume": floats[7],
        "trades": ints[8],
        "taker_buy_volume": floats[9],
        "taker_buy_quote_volume": floats[10],
    }
    _check_rows(table_columns, close_ms, lines, source)
    table_columns, lines = _drop_duplicates(table_columns, lines, source)
    return _close_gaps(table_columns, lines, source, gaps)


def _split_rows(text: str, source: str) -> tuple[list[list[str]], list[int]]:
    rows: list[list[str]] = []
    line_numbers: list[int] = []
    repeated_headers: list[int] = []
    seen_content = False
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        fields = line.rstrip("\r").split(",")
        if not fields[0].strip().isdigit():
            header = tuple(f.strip().lower() for f in fields)
            if header == BINANCE_COLUMNS:
                if seen_content:
                    repeated_headers.append(number)
                seen_content = True
                continue
            if not seen_content:
                raise KlineFileError(
                    source,
                    number,
                    f"unexpected header {','.join(header)!r}; expected "
                    f"{','.join(BINANCE_COLUMNS)!r}",
                )
        if len(fields) != _N_COLUMNS:
            raise KlineFileError(
                source, number, f"expected {_N_COLUMNS} fields, found {len(fields)}"
            )
        seen_content = True
        rows.append(fields)
        line_numbers.append(number)
    if repeated_headers:
        warnings.warn(
            KlineRepairWarning(
                f"{source}:{repeated_headers[0]}: skipped {len(repeated_headers)} repeated "
                f"header line(s) (concatenated files)"
            ),
            stacklevel=3,
        )
    if not rows:
        raise KlineFileError(source, None, "no kline rows")
    return rows, line_numbers


def _parse_column(
    values: tuple[str, ...],
    index: int,
    dtype: type[np.generic],
    lines: np.ndarray,
    source: str,
) -> np.ndarray:
    try:
        column = np.array(values, dtype=dtype)
    except (ValueError, OverflowError):
        # Slow path, only to name the line: numpy parses with Python's int/float rules.
        convert: Callable[[str], int | float] = int if dtype is np.int64 else float
        parsed: list[int | float] = []
        for row, value in enumerate(values):
            try:
                number = convert(value)
            except (ValueError, OverflowError):
                raise KlineFileError(
                    source,
                    int(lines[row]),
                    f"{BINANCE_COLUMNS[index]} is not a number: {value.strip()!r}",
                ) from None
            # int() takes any size; numpy refused this column because of such a value.
            if dtype is np.int64 and not _INT64_MIN <= number <= _INT64_MAX:
                raise KlineFileError(
                    source,
                    int(lines[row]),
                    f"{BINANCE_COLUMNS[index]} does not fit in 64 bits: {value.strip()!r}",
                ) from None
            parsed.append(number)
        column = np.array(parsed, dtype=dtype)
    if dtype is np.float64:
        bad = np.flatnonzero(~np.isfinite(column))
        if len(bad):
            raise KlineFileError(
                source,
                int(lines[bad[0]]),
                f"{BINANCE_COLUMNS[index]} is not finite: {values[bad[0]].strip()!r}",
            )
    return column


def _to_ms(times: np.ndarray, lines: np.ndarray, source: str) -> np.ndarray:
    micro = times >= _MICROSECOND_THRESHOLD
    if micro.any() and not micro.all():
        first_change = int(np.flatnonzero(micro != micro[0])[0])
        warnings.warn(
            KlineRepairWarning(
                f"{source}:{lines[first_change]}: millisecond and microsecond timestamps "
                f"mixed; each row read by its magnitude"
            ),
            stacklevel=4,
        )
    return np.where(micro, times // 1000, times)


def _check_rows(
    c: dict[str, np.ndarray],
    close_ms: np.ndarray,
    lines: np.ndarray,
    source: str,
) -> None:
    """Raise for the earliest line that breaks a rule (first rule listed wins on a line)."""
    t = c["open_time_ms"]
    # Compared, not subtracted: a time near the int64 limits would overflow a difference.
    before_previous = np.concatenate(([False], t[1:] < t[:-1]))
    rules: list[tuple[np.ndarray, Callable[[int], str]]] = [
        # First, so that an absurd time is named as such; refusing it at all keeps the
        # gap arithmetic below, which subtracts times, far from the int64 limits.
        (
            (t < 0) | (t >= _MICROSECOND_THRESHOLD),
            lambda i: f"open_time {t[i]} ms is before 1970 or after the year 5138",
        ),
        (t % MINUTE_MS != 0, lambda i: f"open_time {t[i]} ms is not a whole minute"),
        (
            close_ms != t + CLOSE_OFFSET_MS,
            lambda i: (
                f"close_time {close_ms[i]} ms is not open_time + {CLOSE_OFFSET_MS} ms"
            ),
        ),
        (
            (c["open"] <= 0) | (c["high"] <= 0) | (c["low"] <= 0) | (c["close"] <= 0),
            lambda i: "prices must be positive",
        ),
        (c["high"] < c["low"], lambda i: f"high {c['high'][i]} < low {c['low'][i]}"),
        (
            (c["open"] > c["high"])
            | (c["open"] < c["low"])
            | (c["close"] > c["high"])
            | (c["close"] < c["low"]),
            lambda i: (
                f"open {c['open'][i]} or close {c['close'][i]} outside "
                f"[low {c['low'][i]}, high {c['high'][i]}]"
            ),
        ),
        (
            (c["volume"] < 0)
            | (c["quote_volume"] < 0)
            | (c["trades"] < 0)
            | (c["taker_buy_volume"] < 0)
            | (c["taker_buy_quote_volume"] < 0),
            lambda i: "volumes and trade count must not be negative",
        ),
        (
            (c["taker_buy_volume"] > c["volume"])
            | (c["taker_buy_quote_volume"] > c["quote_volume"]),
            lambda i: "taker-buy volume exceeds total volume",
        ),
        (
            before_previous,
            lambda i: f"open_time {t[i]} ms is before the previous row's {t[i - 1]} ms",
        ),
    ]
    first_bad: tuple[int, int] | None = None
    for rule, (mask, _) in enumerate(rules):
        hits = np.flatnonzero(mask)
        if len(hits) and (first_bad is None or hits[0] < first_bad[0]):
            first_bad = (int(hits[0]), rule)
    if first_bad is not None:
        row, rule = first_bad
        raise KlineFileError(source, int(lines[row]), rules[rule][1](row))


def _drop_duplicates(
    c: dict[str, np.ndarray], lines: np.ndarray, source: str
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    t = c["open_time_ms"]
    repeat = np.flatnonzero(np.diff(t) == 0) + 1
    if not len(repeat):
        return c, lines
    for i in repeat.tolist():
        if any(c[name][i] != c[name][i - 1] for name in c):
            raise KlineFileError(
                source,
                int(lines[i]),
                f"open_time {t[i]} ms repeats line {lines[i - 1]} with different values",
            )
    warnings.warn(
        KlineRepairWarning(
            f"{source}: dropped {len(repeat)} duplicate row(s), first at line "
            f"{lines[repeat[0]]}"
        ),
        stacklevel=4,
    )
    keep = np.ones(len(t), dtype=bool)
    keep[repeat] = False
    return {name: column[keep] for name, column in c.items()}, lines[keep]


def _close_gaps(
    c: dict[str, np.ndarray], lines: np.ndarray, source: str, gaps: GapPolicy
) -> KlineTable:
    t = c["open_time_ms"]
    after_gap = np.flatnonzero(np.diff(t) != MINUTE_MS) + 1
    if not len(after_gap):
        return KlineTable(**c)
    i = int(after_gap[0])
    missing = int((t[-1] - t[0]) // MINUTE_MS + 1 - len(t))
    if gaps is GapPolicy.ERROR:
        raise KlineFileError(
            source,
            int(lines[i]),
            f"gap: {(t[i] - t[i - 1]) // MINUTE_MS - 1} minute(s) missing before open_time "
            f"{t[i]} ms ({missing} missing in the file)",
        )
    warnings.warn(
        KlineRepairWarning(
            f"{source}: filled {missing} missing minute(s) with flat candles, first gap "
            f"before line {lines[i]}"
        ),
        stacklevel=4,
    )
    return flat_filled(c)


def flat_filled(c: dict[str, np.ndarray]) -> KlineTable:
    """The table of columns ``c`` (open times increasing, whole minutes) with every
    missing minute added as a flat candle at the previous close, zero volume and trades
    (what the exchange shows for a minute without trades)."""
    t = c["open_time_ms"]
    full_t = np.arange(t[0], t[-1] + MINUTE_MS, MINUTE_MS, dtype=np.int64)
    slot = (t - t[0]) // MINUTE_MS
    row_at_slot = np.full(len(full_t), -1, dtype=np.int64)
    row_at_slot[slot] = np.arange(len(t))
    # A filled minute repeats the close of the last real candle before it.
    prev_close = c["close"][np.maximum.accumulate(row_at_slot)]
    out: dict[str, np.ndarray] = {"open_time_ms": full_t}
    for name, column in c.items():
        if name == "open_time_ms":
            continue
        if name in ("open", "high", "low", "close"):
            filled = prev_close.copy()
        else:
            filled = np.zeros(len(full_t), dtype=column.dtype)
        filled[slot] = column
        out[name] = filled
    return KlineTable(**out)


def write_klines_csv(
    path: str | Path,
    table: KlineTable,
    *,
    header: bool = True,
    time_unit: TimeUnit = TimeUnit.MS,
    decimals: CsvDecimals | None = None,
) -> None:
    """Write ``table`` in Binance's layout (gzip if ``path`` ends in ``.gz``) atomically."""
    path = Path(path)
    text = format_klines_csv(table, header=header, time_unit=time_unit, decimals=decimals)
    data = text.encode()
    if path.suffix == ".gz":
        # mtime=0: the same table always gives the same bytes.
        data = gzip.compress(data, compresslevel=6, mtime=0)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def format_klines_csv(
    table: KlineTable,
    *,
    header: bool = True,
    time_unit: TimeUnit = TimeUnit.MS,
    decimals: CsvDecimals | None = None,
) -> str:
    """The CSV text :func:`write_klines_csv` writes."""
    d = decimals or CsvDecimals()
    scale = 1000 if time_unit is TimeUnit.US else 1
    close_offset = (MINUTE_MS * scale) - 1
    open_t = table.open_time_ms * scale
    price_d = (
        d.price
        if d.price is not None
        else _decimals_needed(table.open, table.high, table.low, table.close)
    )
    volume_d = (
        d.volume
        if d.volume is not None
        else _decimals_needed(table.volume, table.taker_buy_volume)
    )
    quote_d = (
        d.quote_volume
        if d.quote_volume is not None
        else _decimals_needed(table.quote_volume, table.taker_buy_quote_volume)
    )
    columns = [
        [str(v) for v in open_t.tolist()],
        _fmt(table.open, price_d),
        _fmt(table.high, price_d),
        _fmt(table.low, price_d),
        _fmt(table.close, price_d),
        _fmt(table.volume, volume_d),
        [str(v) for v in (open_t + close_offset).tolist()],
        _fmt(table.quote_volume, quote_d),
        [str(v) for v in table.trades.tolist()],
        _fmt(table.taker_buy_volume, volume_d),
        _fmt(table.taker_buy_quote_volume, quote_d),
        ["0"] * len(table),
    ]
    body = [",".join(row) for row in zip(*columns, strict=True)]
    if header:
        body.insert(0, ",".join(BINANCE_COLUMNS))
    return "\n".join(body) + "\n"


def _fmt(values: np.ndarray, decimals: int) -> list[str]:
    spec = f".{decimals}f"
    return [format(v, spec) for v in values.tolist()]


def _decimals_needed(*columns: np.ndarray) -> int:
    """The fewest decimals with which every value reads back as the same float."""
    values = np.unique(np.concatenate(columns))
    for decimals in range(16):
        # round(x, d) == x means x is the double nearest to a d-decimal number, which
        # format(x, f".{d}f") then prints exactly: it reads back as x.
        if np.array_equal(np.round(values, decimals), values):
            return decimals
    # Tiny or very precise values: the shortest repr says how many decimals they need.
    needed = 0
    for v in values.tolist():
        text = np.format_float_positional(v, trim="-")
        if "." in text:
            needed = max(needed, len(text) - text.index(".") - 1)
    return needed
