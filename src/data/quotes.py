"""Polymarket quote recordings: the file layout, a strict reader and the row formatter.

One CSV row per observation of one window's two books (plain or gzip, recognised by the
first bytes). The layout is the one of the shared real recordings
(``../shared/data/polymarket/``), with optional columns of our own after it::

    slug,window_start,t_s,up_best_bid,up_best_ask,down_best_bid,down_best_ask,outcome
    [,up_bid_size,up_ask_size,down_bid_size,down_ask_size,spot]

* ``slug`` — ``{coin}-updown-15m-{window_start}``; ``window_start`` — unix seconds, aligned
  to 15 minutes, equal to the slug's; ``t_s`` — observation time, unix seconds (fractions
  allowed), never decreasing within a window;
* prices — decimals in (0, 1), empty when that side of the book is empty (``0``, as the
  shared recordings' logger wrote an empty side, reads as empty too);
* ``outcome`` — ``Up``, ``Down`` or empty (not known yet), the same on every row of a
  window once known (a recorder fills it in after resolution);
* sizes — shares at the best price (empty: unknown); ``spot`` — the underlying's price on
  Binance at ``t_s`` (empty: unknown).

Columns may come in any order; unknown columns are ignored (newer files stay readable).
Anything else is a :class:`QuotesFileError` naming the file, the line and the reason. An
exact repeat of a row (same window and time, same values) is dropped with a
:class:`QuotesRepairWarning`; a repeat with different values is an error.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from src.data.market_data.windows import SlugError, WindowRef, parse_slug
from src.utils.file_errors import FileLineError

REQUIRED_COLUMNS = (
    "slug",
    "window_start",
    "t_s",
    "up_best_bid",
    "up_best_ask",
    "down_best_bid",
    "down_best_ask",
    "outcome",
)
OPTIONAL_COLUMNS = ("up_bid_size", "up_ask_size", "down_bid_size", "down_ask_size", "spot")
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
OUTCOMES = {"up": "UP", "down": "DOWN"}
_GZIP_MAGIC = b"\x1f\x8b"


class QuotesFileError(FileLineError):
    """A recording that cannot be used as is: names the file, the line and the reason."""


class QuotesRepairWarning(UserWarning):
    """Bad data the reader repaired (what, in which file and line)."""


@dataclass(frozen=True, slots=True)
class QuoteRow:
    """One observation of a window's two books (prices in (0, 1); None: side empty)."""

    slug: str
    window_start: int
    t_s: float
    up_bid: Decimal | None
    up_ask: Decimal | None
    down_bid: Decimal | None
    down_ask: Decimal | None
    outcome: str | None = None  # "UP" / "DOWN"
    up_bid_size: Decimal | None = None
    up_ask_size: Decimal | None = None
    down_bid_size: Decimal | None = None
    down_ask_size: Decimal | None = None
    spot: float | None = None

    @property
    def coin(self) -> str:
        """The coin, from the slug (``BTC``)."""
        return parse_slug(self.slug).coin

    @property
    def up_mid(self) -> float | None:
        """Mid of the Up book (None unless both sides are quoted)."""
        if self.up_bid is None or self.up_ask is None:
            return None
        return float(self.up_bid + self.up_ask) / 2


@dataclass(frozen=True, slots=True)
class RecordedWindow:
    """Every observation of one window, oldest first, and its outcome."""

    slug: str
    coin: str
    window_start: int
    outcome: str | None
    rows: tuple[QuoteRow, ...]

    @property
    def window(self) -> WindowRef:
        """The window."""
        return WindowRef(self.coin, self.window_start)


def format_row(row: QuoteRow) -> list[str]:
    """The CSV fields of ``row`` in :data:`COLUMNS` order (the writer's one formatter)."""

    def text(value: object) -> str:
        return "" if value is None else str(value)

    t_s = row.t_s
    return [
        row.slug,
        str(row.window_start),
        str(int(t_s)) if float(t_s).is_integer() else f"{t_s:.3f}",
        text(row.up_bid),
        text(row.up_ask),
        text(row.down_bid),
        text(row.down_ask),
        {"UP": "Up", "DOWN": "Down"}.get(row.outcome or "", ""),
        text(row.up_bid_size),
        text(row.up_ask_size),
        text(row.down_bid_size),
        text(row.down_ask_size),
        "" if row.spot is None else repr(float(row.spot)),
    ]


def read_quotes(path: str | Path) -> list[QuoteRow]:
    """Every row of one recording file, in file order (validated; see the module doc)."""
    return [row for row, _ in _read_numbered(Path(path))]


def parse_quotes(text: str, *, source: str = "<text>") -> list[QuoteRow]:
    """Parse recording CSV text; ``source`` names it in errors and warnings."""
    return [row for row, _ in _numbered_rows(text, source)]


def _read_numbered(path: Path) -> list[tuple[QuoteRow, int]]:
    try:
        raw = path.read_bytes()
        if raw[:2] == _GZIP_MAGIC:
            raw = gzip.decompress(raw)
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except (OSError, EOFError, gzip.BadGzipFile, UnicodeDecodeError) as exc:
        raise QuotesFileError(path, None, f"cannot read: {exc}") from exc
    return _numbered_rows(text, str(path))


def records(
    lines: Iterable[str], source: str | Path, *, empty_ok: bool = False
) -> Iterator[tuple[list[str], list[str], int]]:
    """``(header, fields, line number)`` of each data row of recording CSV ``lines``:
    blank lines skipped, the header checked for the required columns and every row for
    its field count (a :class:`QuotesFileError` otherwise). The one place that reads the
    layout's frame: the full reader and the recorder's light scan both go through it.
    A file without even a header is an error unless ``empty_ok``."""
    reader = csv.reader(lines)
    header: list[str] | None = None
    for fields in reader:
        line = reader.line_num
        if not fields or all(not f.strip() for f in fields):
            continue
        if header is None:
            header = [f.strip() for f in fields]
            missing = [c for c in REQUIRED_COLUMNS if c not in header]
            if missing:
                raise QuotesFileError(
                    source, line, f"header lacks column(s) {', '.join(missing)}"
                )
            continue
        if len(fields) != len(header):
            raise QuotesFileError(
                source, line, f"{len(fields)} fields, the header has {len(header)}"
            )
        yield header, fields, line
    if header is None and not empty_ok:
        raise QuotesFileError(source, None, "empty file (no header)")


def _numbered_rows(text: str, source: str) -> list[tuple[QuoteRow, int]]:
    rows: list[tuple[QuoteRow, int]] = []
    for header, fields, line in records(io.StringIO(text), source):
        values = dict(zip(header, (f.strip() for f in fields), strict=True))
        rows.append((_row(values, source, line), line))
    return rows


def _row(values: dict[str, str], source: str, line: int) -> QuoteRow:
    def fail(reason: str) -> QuotesFileError:
        return QuotesFileError(source, line, reason)

    slug = values["slug"]
    try:
        window = parse_slug(slug)
    except SlugError as exc:
        raise fail(str(exc)) from None
    try:
        start = int(values["window_start"])
    except ValueError:
        raise fail(f"window_start {values['window_start']!r} is not an integer") from None
    if start != window.start:
        raise fail(f"window_start {start} does not match the slug {slug!r}")
    try:
        t_s = float(values["t_s"])
    except ValueError:
        raise fail(f"t_s {values['t_s']!r} is not a number") from None
    if not math.isfinite(t_s) or t_s < 0:
        raise fail(f"t_s {values['t_s']!r} is not a time")
    outcome_text = values["outcome"]
    outcome = OUTCOMES.get(outcome_text.lower()) if outcome_text else None
    if outcome_text and outcome is None:
        raise fail(f"outcome {outcome_text!r} is not Up, Down or empty")
    prices = {
        name: _decimal(values[name], name, fail, price=True)
        for name in ("up_best_bid", "up_best_ask", "down_best_bid", "down_best_ask")
    }
    sizes = {
        name: _decimal(values.get(name, ""), name, fail, price=False)
        for name in ("up_bid_size", "up_ask_size", "down_bid_size", "down_ask_size")
    }
    spot_text = values.get("spot", "")
    spot: float | None = None
    if spot_text:
        try:
            spot = float(spot_text)
        except ValueError:
            raise fail(f"spot {spot_text!r} is not a number") from None
        if not (math.isfinite(spot) and spot > 0):
            raise fail(f"spot {spot_text!r} is not a positive price")
    return QuoteRow(
        slug=slug,
        window_start=start,
        t_s=t_s,
        up_bid=prices["up_best_bid"],
        up_ask=prices["up_best_ask"],
        down_bid=prices["down_best_bid"],
        down_ask=prices["down_best_ask"],
        outcome=outcome,
        spot=spot,
        **sizes,
    )


def _decimal(text: str, name: str, fail: object, *, price: bool) -> Decimal | None:
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise fail(f"{name} {text!r} is not a number") from None  # type: ignore[operator]
    if price and value == 0:
        return None  # the shared recordings' logger wrote an empty side as 0
    if price and not (value.is_finite() and 0 < value < 1):
        raise fail(f"{name} {text} is not a price in (0, 1)")  # type: ignore[operator]
    if not price and not (value.is_finite() and value >= 0):
        raise fail(f"{name} {text} is not a size")  # type: ignore[operator]
    return value


def load_recordings(paths: Iterable[str | Path]) -> list[RecordedWindow]:
    """The windows of one or more recording files, by window start then coin.

    Rows of one window may be spread over several files (a recorder's daily files) and may
    interleave with other windows' rows; within a window, times never go back.
    """
    by_slug: dict[str, list[tuple[QuoteRow, str, int]]] = {}
    for path in paths:
        for row, line in _read_numbered(Path(path)):
            by_slug.setdefault(row.slug, []).append((row, str(path), line))
    windows = [_window(slug, entries) for slug, entries in by_slug.items()]
    windows.sort(key=lambda w: (w.window_start, w.coin))
    return windows


def _window(slug: str, entries: Sequence[tuple[QuoteRow, str, int]]) -> RecordedWindow:
    rows: list[QuoteRow] = []
    outcome: str | None = None
    for row, source, line in entries:
        if row.outcome is not None:
            if outcome is not None and row.outcome != outcome:
                raise QuotesFileError(
                    source, line, f"{slug}: outcome {row.outcome} after {outcome}"
                )
            outcome = row.outcome
        if rows and row.t_s < rows[-1].t_s:
            raise QuotesFileError(
                source, line, f"{slug}: goes back in time ({row.t_s} < {rows[-1].t_s})"
            )
        if rows and row.t_s == rows[-1].t_s:
            if _same_quote(row, rows[-1]):
                warnings.warn(
                    f"{source}:{line}: {slug} repeats t_s {row.t_s}; dropped",
                    QuotesRepairWarning,
                    stacklevel=3,
                )
                continue
            raise QuotesFileError(
                source, line, f"{slug}: two different rows at t_s {row.t_s}"
            )
        rows.append(row)
    window = parse_slug(slug)
    return RecordedWindow(slug, window.coin, window.start, outcome, tuple(rows))


def _same_quote(a: QuoteRow, b: QuoteRow) -> bool:
    return (a.up_bid, a.up_ask, a.down_bid, a.down_ask) == (
        b.up_bid,
        b.up_ask,
        b.down_bid,
        b.down_ask,
    )
