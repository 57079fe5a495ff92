"""Historical 1-minute Binance klines into monthly gzip CSV files, resumably.

Files are ``<out>/<SYMBOL>-1m-<YYYY>-<MM>.csv.gz`` in Binance's data-dump layout (header
row, times in ms), the layout :mod:`src.sim.feeds.binance_csv` reads for the backtest.

What makes resuming safe: a month file always holds the candles of **one contiguous span
of minutes that was completely fetched** — it only ever grows at its edges, page by page
next to what it already holds (forwards after its last candle, backwards before its first),
and it is only ever replaced whole (temporary file, then an atomic rename). So a kill at
any moment leaves valid files, and the minutes still to fetch are exactly the asked-for
minutes before the file's first candle and after its last. A minute missing *inside* a file
is one Binance does not have (an outage, a late listing): it is reported as a gap, never
invented, and never asked for again. A minute missing at a file's edge is asked again on the
next run (one request), which costs little and loses nothing.

The planning (:func:`target_span`, :func:`plan_file`, :func:`page_spans`,
:func:`find_gaps`) is pure; reading and writing files and calling Binance are the edges.
"""

from __future__ import annotations

import gzip
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import requests
from binance.exceptions import BinanceAPIException, BinanceRequestException
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from src.data.market_data.binance import parse_kline_row, parse_klines
from src.data.market_data.polymarket import MarketDataError
from src.sim.feeds.base import MINUTE_MS, Kline
from src.sim.feeds.binance_csv import BINANCE_COLUMNS, format_klines_csv
from src.sim.feeds.errors import KlineFileError
from src.sim.feeds.table import CLOSE_OFFSET_MS, KlineTable
from src.utils.clock import Clock
from src.utils.logger import log, log_warning

DAY_MS = 86_400_000
PAGE_MINUTES = 1000
"""Binance's largest ``limit`` for ``/api/v3/klines``: one request covers this many minutes."""
DEFAULT_OUT = Path("data/klines")
MAX_DAYS = 3660
CHECKPOINT_PAGES = 10
"""Pages fetched between two rewrites of a month file (a kill loses at most these)."""

SYMBOL_PATTERN = re.compile(r"^[A-Z0-9]{2,20}$")
_INVALID_SYMBOL_CODE = -1121
_GZIP_MAGIC = b"\x1f\x8b"
_MICROSECOND_THRESHOLD = 10**14  # the reader's rule: larger timestamps are microseconds


class DownloadError(Exception):
    """A download that cannot go on."""


class InvalidSymbolError(DownloadError):
    """Binance does not know the symbol (HTTP 400, code -1121 "Invalid symbol.")."""

    def __init__(self, symbol: str, detail: str) -> None:
        self.symbol = symbol
        super().__init__(f"unknown symbol {symbol}: Binance answered {detail!r}")


class FetchError(DownloadError):
    """Binance gave no usable answer, after retrying what could be retried."""

    def __init__(self, symbol: str, reason: str) -> None:
        self.symbol = symbol
        self.reason = reason
        super().__init__(f"[{symbol}] {reason}")


class DownloadFailedError(DownloadError):
    """A fetch failed midway; ``report`` says what is saved (valid files, resumable)."""

    def __init__(self, cause: FetchError, report: DownloadReport) -> None:
        self.cause = cause
        self.report = report
        super().__init__(str(cause))


# --- pure planning -------------------------------------------------------------------


@dataclass(frozen=True, slots=True, order=True)
class Span:
    """Whole minutes ``[start_ms, end_ms)`` (epoch ms, UTC)."""

    start_ms: int
    end_ms: int

    def __post_init__(self) -> None:
        if self.start_ms % MINUTE_MS or self.end_ms % MINUTE_MS:
            raise ValueError(f"a span is made of whole minutes: {self}")
        if self.end_ms < self.start_ms:
            raise ValueError(f"a span cannot end before it starts: {self}")

    @property
    def minutes(self) -> int:
        """How many minutes the span holds."""
        return (self.end_ms - self.start_ms) // MINUTE_MS

    def label(self) -> str:
        """``2026-01-01 00:00 → 2026-01-02 00:00 UTC`` (end excluded)."""
        return f"{_utc(self.start_ms)} → {_utc(self.end_ms)} UTC"


def _utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")


def _midnight_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


def last_closed_end_ms(now_s: float) -> int:
    """End of the last closed minute at ``now_s``: the start of the minute now forming."""
    now_ms = int(now_s * 1000)
    return now_ms - now_ms % MINUTE_MS


def target_span(now_s: float, days: int, until: date | None = None) -> Span:
    """The ``days`` × 1440 minutes ending at the last closed minute, or at the end of the
    UTC day ``until`` (included) when that is earlier."""
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be between 1 and {MAX_DAYS}, got {days}")
    end = last_closed_end_ms(now_s)
    if until is not None:
        end = min(end, _midnight_ms(until + timedelta(days=1)))
    return Span(end - days * DAY_MS, end)


def month_span(year: int, month: int) -> Span:
    """Every minute of a calendar month (UTC)."""
    nxt = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return Span(_midnight_ms(date(year, month, 1)), _midnight_ms(nxt))


def months_of(span: Span) -> list[tuple[int, int, Span]]:
    """``(year, month, the part of span in it)`` for each month ``span`` touches."""
    parts: list[tuple[int, int, Span]] = []
    if not span.minutes:
        return parts
    first = datetime.fromtimestamp(span.start_ms / 1000, tz=UTC)
    year, month = first.year, first.month
    while True:
        whole = month_span(year, month)
        if whole.start_ms >= span.end_ms:
            return parts
        parts.append(
            (
                year,
                month,
                Span(max(span.start_ms, whole.start_ms), min(span.end_ms, whole.end_ms)),
            )
        )
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def month_file_name(symbol: str, year: int, month: int) -> str:
    """``BTCUSDT-1m-2026-02.csv.gz`` (Binance's monthly dump name)."""
    return f"{symbol}-1m-{year:04d}-{month:02d}.csv.gz"


def page_spans(
    span: Span, *, backward: bool = False, page_minutes: int = PAGE_MINUTES
) -> list[Span]:
    """``span`` cut into requests of at most ``page_minutes``, in fetching order: forwards
    from its start, or backwards from its end (each page then touches the one before)."""
    step = page_minutes * MINUTE_MS
    pages: list[Span] = []
    if backward:
        end = span.end_ms
        while end > span.start_ms:
            pages.append(Span(max(span.start_ms, end - step), end))
            end -= step
    else:
        start = span.start_ms
        while start < span.end_ms:
            pages.append(Span(start, min(span.end_ms, start + step)))
            start += step
    return pages


def find_gaps(open_times: Iterable[int], span: Span) -> list[Span]:
    """Runs of minutes of ``span`` without a candle (``open_times`` sorted ascending)."""
    gaps: list[Span] = []
    expected = span.start_ms
    for t in open_times:
        if t < span.start_ms:
            continue
        if t >= span.end_ms:
            break
        if t > expected:
            gaps.append(Span(expected, t))
        expected = max(expected, t + MINUTE_MS)
    if expected < span.end_ms:
        gaps.append(Span(expected, span.end_ms))
    return gaps


@dataclass(frozen=True, slots=True)
class FilePlan:
    """One month file: the minutes asked for in it, what it holds, what is left to fetch."""

    symbol: str
    path: Path
    target: Span
    present: Span | None
    """First candle's open to last candle's close of the rows in the file (None: none)."""
    rows: tuple[Kline, ...] = field(default=(), repr=False, compare=False)

    @property
    def before(self) -> Span | None:
        """Asked-for minutes before the file's first candle (fetched backwards)."""
        if self.present is None or self.target.start_ms >= self.present.start_ms:
            return None
        return Span(self.target.start_ms, self.present.start_ms)

    @property
    def after(self) -> Span | None:
        """Asked-for minutes after the file's last candle, or all of them for a new file."""
        if self.present is None:
            return self.target if self.target.minutes else None
        if self.target.end_ms <= self.present.end_ms:
            return None
        return Span(self.present.end_ms, self.target.end_ms)

    @property
    def missing_minutes(self) -> int:
        """Minutes to ask Binance for (including any between the file and the target)."""
        return sum(s.minutes for s in (self.before, self.after) if s is not None)


def plan_file(symbol: str, path: Path, target: Span, rows: Sequence[Kline]) -> FilePlan:
    """What to fetch for one month file, given its rows (sorted, unique open times).

    A target apart from the rows is joined to them (the minutes between are fetched too),
    so the file stays one contiguous fetched span.
    """
    present = (
        Span(rows[0].open_time_ms, rows[-1].open_time_ms + MINUTE_MS) if rows else None
    )
    return FilePlan(symbol, path, target, present, tuple(rows))


# --- files ---------------------------------------------------------------------------


def read_month_file(path: Path) -> list[Kline]:
    """The candles of a month file, oldest first, gaps kept as they are.

    Unlike the backtest reader this accepts missing minutes (and never fills them); any
    other problem is a :class:`KlineFileError` naming the file and line.
    """
    try:
        raw = path.read_bytes()
        if raw[:2] == _GZIP_MAGIC:
            raw = gzip.decompress(raw)
        text = raw.decode("utf-8")
    except (OSError, EOFError, gzip.BadGzipFile, UnicodeDecodeError) as exc:
        raise KlineFileError(path, None, f"cannot read: {exc}") from exc
    rows: list[Kline] = []
    for number, line in enumerate(text.removeprefix("\ufeff").split("\n"), start=1):
        if not line.strip():
            continue
        fields_ = [f.strip() for f in line.rstrip("\r").split(",")]
        if tuple(f.lower() for f in fields_) == BINANCE_COLUMNS:
            continue
        if len(fields_) != len(BINANCE_COLUMNS):
            raise KlineFileError(
                path,
                number,
                f"expected {len(BINANCE_COLUMNS)} fields, found {len(fields_)}",
            )
        for i in (0, 6):
            if fields_[i].isdigit() and int(fields_[i]) >= _MICROSECOND_THRESHOLD:
                fields_[i] = str(int(fields_[i]) // 1000)
        try:
            kline = parse_kline_row(fields_)
        except MarketDataError as exc:
            raise KlineFileError(path, number, str(exc)) from exc
        problem = kline_problem(kline)
        if problem is not None:
            raise KlineFileError(path, number, problem)
        if rows and kline.open_time_ms <= rows[-1].open_time_ms:
            if kline == rows[-1]:
                continue  # an exact repeat (overlapping writes by another tool)
            raise KlineFileError(
                path, number, f"open_time {kline.open_time_ms} is not after the row before"
            )
        rows.append(kline)
    return rows


def kline_problem(kline: Kline) -> str | None:
    """Why the backtest reader would refuse this candle (beyond :func:`parse_kline_row`'s
    own checks), or None."""
    if kline.open_time_ms % MINUTE_MS:
        return f"open_time {kline.open_time_ms} is not a whole minute"
    if kline.close_time_ms != kline.open_time_ms + CLOSE_OFFSET_MS:
        return f"close_time {kline.close_time_ms} is not open_time + {CLOSE_OFFSET_MS}"
    if min(kline.quote_volume, kline.trades, kline.taker_buy_quote_volume) < 0:
        return "volumes and trade count must not be negative"
    if (
        kline.taker_buy_volume > kline.volume
        or kline.taker_buy_quote_volume > kline.quote_volume
    ):
        return "taker-buy volume exceeds total volume"
    return None


def _contiguous_runs(rows: Sequence[Kline]) -> list[Sequence[Kline]]:
    runs: list[Sequence[Kline]] = []
    start = 0
    for i in range(1, len(rows) + 1):
        if i == len(rows) or rows[i].open_time_ms != rows[i - 1].open_time_ms + MINUTE_MS:
            runs.append(rows[start:i])
            start = i
    return runs


def write_month_file(path: Path, rows: Sequence[Kline]) -> None:
    """Replace ``path`` atomically with ``rows`` (sorted, unique) as gzip CSV.

    Each contiguous run is formatted by the backtest's own writer
    (:func:`~src.sim.feeds.binance_csv.format_klines_csv`: a ``KlineTable`` cannot hold a
    gap); without gaps the bytes are exactly those of ``write_klines_csv``.
    """
    if not rows:
        raise ValueError(f"{path}: refusing to write a file without candles")
    text = "".join(
        format_klines_csv(KlineTable.from_klines(run), header=i == 0)
        for i, run in enumerate(_contiguous_runs(rows))
    )
    data = gzip.compress(text.encode(), compresslevel=6, mtime=0)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def plan_download(symbols: Sequence[str], out_dir: Path, target: Span) -> list[FilePlan]:
    """One plan per symbol and month of ``target``, from the files already in ``out_dir``."""
    plans: list[FilePlan] = []
    for symbol in symbols:
        for year, month, part in months_of(target):
            path = out_dir / month_file_name(symbol, year, month)
            rows = read_month_file(path) if path.exists() else []
            whole = month_span(year, month)
            stray = [k for k in rows if not whole.start_ms <= k.open_time_ms < whole.end_ms]
            if stray:
                raise KlineFileError(
                    path,
                    None,
                    f"holds a candle outside {year:04d}-{month:02d} "
                    f"({_utc(stray[0].open_time_ms)} UTC)",
                )
            plans.append(plan_file(symbol, path, part, rows))
    return plans


# --- Binance -------------------------------------------------------------------------


class KlineClient(Protocol):
    """What the fetcher needs of python-binance's ``Client``."""

    def get_klines(self, **params: Any) -> Any:
        """``GET /api/v3/klines``."""
        ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How transient failures (network, HTTP 5xx, 429/418) are retried."""

    attempts: int = 6
    base_wait_s: float = 0.5
    max_wait_s: float = 30.0
    max_retry_after_s: float = 300.0
    """A longer Retry-After (an IP ban) is not waited out: the download stops."""


def retry_after_s(exc: BaseException) -> float | None:
    """Seconds from the ``Retry-After`` header of a 429/418 answer, if it has one."""
    if not isinstance(exc, BinanceAPIException) or exc.status_code not in (418, 429):
        return None
    headers = getattr(exc.response, "headers", None) or {}
    try:
        seconds = float(headers.get("Retry-After", ""))
    except (TypeError, ValueError):
        return None
    return seconds if seconds >= 0 else None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, BinanceAPIException):
        return f"HTTP {exc.status_code} (code {exc.code}): {exc.message}"
    text = str(exc)
    return f"{exc.__class__.__name__}: {text[:160]}{'…' if len(text) > 160 else ''}"


class KlineFetcher:
    """Pages of 1-minute klines from python-binance, validated, with retries."""

    def __init__(
        self, client: KlineClient, clock: Clock, retry: RetryPolicy | None = None
    ) -> None:
        self._client = client
        self._clock = clock
        self._retry = retry or RetryPolicy()
        self.requests = 0

    def _transient(self, exc: BaseException) -> bool:
        if isinstance(exc, BinanceAPIException):
            if exc.status_code in (418, 429):
                wait = retry_after_s(exc)
                return wait is None or wait <= self._retry.max_retry_after_s
            return exc.status_code >= 500
        return isinstance(exc, (BinanceRequestException, requests.RequestException))

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        after = retry_after_s(exc) if exc is not None else None
        if after is not None:
            return after
        backoff = wait_exponential(
            multiplier=self._retry.base_wait_s, max=self._retry.max_wait_s
        )
        return float(backoff(state))

    def _before_sleep(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        log_warning(
            f"⚠️ Binance klines attempt {state.attempt_number} failed "
            f"({_describe(exc) if exc else '?'}); retrying in {wait:.1f}s"
        )

    def _call(self, symbol: str, **params: Any) -> Any:
        retrying = Retrying(
            retry=retry_if_exception(self._transient),
            stop=stop_after_attempt(self._retry.attempts),
            wait=self._wait,
            sleep=self._clock.sleep,
            before_sleep=self._before_sleep,
            reraise=True,
        )

        def once() -> Any:
            self.requests += 1
            return self._client.get_klines(symbol=symbol, interval="1m", **params)

        try:
            return retrying(once)
        except BinanceAPIException as exc:
            if exc.code == _INVALID_SYMBOL_CODE or (
                exc.status_code == 400 and "invalid symbol" in str(exc.message).lower()
            ):
                raise InvalidSymbolError(symbol, str(exc.message)) from exc
            after = retry_after_s(exc)
            if after is not None and after > self._retry.max_retry_after_s:
                raise FetchError(
                    symbol, f"{_describe(exc)}; Binance asks to wait {after:.0f}s"
                ) from exc
            tries = (
                f" after {self._retry.attempts} attempts" if self._transient(exc) else ""
            )
            raise FetchError(symbol, f"{_describe(exc)}{tries}") from exc
        except (BinanceRequestException, requests.RequestException) as exc:
            raise FetchError(
                symbol, f"{_describe(exc)} after {self._retry.attempts} attempts"
            ) from exc

    def check_symbol(self, symbol: str) -> None:
        """Raise :class:`InvalidSymbolError` if Binance does not know ``symbol``."""
        self._call(symbol, limit=1)

    def page(self, symbol: str, span: Span) -> list[Kline]:
        """The valid candles Binance has in ``span`` (at most :data:`PAGE_MINUTES`)."""
        if span.minutes > PAGE_MINUTES:
            raise ValueError(f"a page holds at most {PAGE_MINUTES} minutes: {span}")
        payload = self._call(
            symbol, startTime=span.start_ms, endTime=span.end_ms - 1, limit=PAGE_MINUTES
        )
        try:
            klines = parse_klines(payload)  # drops (and logs) malformed rows
        except MarketDataError as exc:
            raise FetchError(symbol, f"klines answer unusable: {exc}") from exc
        valid: dict[int, Kline] = {}
        for kline in klines:
            problem = kline_problem(kline)
            if problem is None and not span.start_ms <= kline.open_time_ms < span.end_ms:
                problem = f"outside the requested {span.label()}"
            if problem is not None:
                log_warning(f"⚠️ [{symbol}] Skipping kline {kline.open_time_ms}: {problem}")
                continue
            valid.setdefault(kline.open_time_ms, kline)
        return list(valid.values())


# --- the download --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FileReport:
    """A month file after the download (or as saved when it stopped)."""

    symbol: str
    path: Path
    target: Span
    rows: int
    present: int
    """Candles the file held before this run."""
    fetched: int
    """Candles this run added."""
    gaps: tuple[Span, ...]
    """Asked-for minutes Binance has no candle for (none invented)."""
    written: bool

    @property
    def gap_minutes(self) -> int:
        """Asked-for minutes without a candle."""
        return sum(g.minutes for g in self.gaps)


@dataclass(frozen=True, slots=True)
class DownloadReport:
    """Every planned file, in plan order."""

    files: tuple[FileReport, ...]

    @property
    def fetched(self) -> int:
        """Candles added by this run."""
        return sum(f.fetched for f in self.files)


ProgressCallback = Callable[[str, int], None]
"""``(symbol, minutes)``: that many more planned minutes were asked for."""


def _report(plan: FilePlan, rows: Sequence[Kline], written: bool) -> FileReport:
    present = len(plan.rows)
    return FileReport(
        symbol=plan.symbol,
        path=plan.path,
        target=plan.target,
        rows=len(rows),
        present=present,
        fetched=len(rows) - present,
        gaps=tuple(find_gaps((k.open_time_ms for k in rows), plan.target)),
        written=written,
    )


def check_symbols(fetcher: KlineFetcher, plans: Sequence[FilePlan]) -> None:
    """Ask Binance about every symbol that has minutes to fetch (one small request each);
    an unknown one raises :class:`InvalidSymbolError`."""
    for symbol in dict.fromkeys(p.symbol for p in plans if p.missing_minutes):
        fetcher.check_symbol(symbol)


def download(
    fetcher: KlineFetcher,
    plans: Sequence[FilePlan],
    *,
    on_progress: ProgressCallback | None = None,
    checkpoint_pages: int | None = None,
    symbols_checked: bool = False,
) -> DownloadReport:
    """Fetch what ``plans`` lack and save it, month file by month file.

    The symbols are checked first (:func:`check_symbols`, unless ``symbols_checked``), so
    an unknown one stops the run before any file is written. A fetch that fails after its
    retries raises :class:`DownloadFailedError` with what is saved (valid, resumable).
    Files are saved every ``checkpoint_pages`` pages (default :data:`CHECKPOINT_PAGES`)
    and when their span is done.
    """
    every = CHECKPOINT_PAGES if checkpoint_pages is None else max(1, checkpoint_pages)
    progress = on_progress or (lambda _symbol, _minutes: None)
    if not symbols_checked:
        check_symbols(fetcher, plans)
    saved: dict[int, tuple[Sequence[Kline], bool]] = {
        i: (plan.rows, plan.path.exists()) for i, plan in enumerate(plans)
    }
    try:
        for i, plan in enumerate(plans):
            if plan.missing_minutes:
                _fill(fetcher, plan, i, saved, progress, every)
    except FetchError as exc:
        report = DownloadReport(tuple(_report(p, *saved[i]) for i, p in enumerate(plans)))
        raise DownloadFailedError(exc, report) from exc
    return DownloadReport(tuple(_report(p, *saved[i]) for i, p in enumerate(plans)))


def _fill(
    fetcher: KlineFetcher,
    plan: FilePlan,
    index: int,
    saved: dict[int, tuple[Sequence[Kline], bool]],
    progress: ProgressCallback,
    checkpoint_pages: int,
) -> None:
    """Fetch one file's missing minutes next to what it holds, saving every few pages."""
    merged = {k.open_time_ms: k for k in plan.rows}
    written = len(merged)

    def save() -> None:
        nonlocal written
        if len(merged) == written:
            return  # nothing new (Binance had no candle there): the file stays as it is
        rows = [merged[t] for t in sorted(merged)]
        plan.path.parent.mkdir(parents=True, exist_ok=True)
        write_month_file(plan.path, rows)
        written = len(rows)
        saved[index] = (rows, True)

    for span, backward in ((plan.before, True), (plan.after, False)):
        if span is None:
            continue
        pending = 0
        for page in page_spans(span, backward=backward):
            for kline in fetcher.page(plan.symbol, page):
                merged.setdefault(kline.open_time_ms, kline)  # what the file holds wins
            progress(plan.symbol, page.minutes)
            pending += 1
            if pending >= checkpoint_pages:
                save()
                pending = 0
        save()
    log(
        f"✅ [{plan.symbol}] {plan.path.name}: {len(merged)} candles "
        f"({len(merged) - len(plan.rows)} new)"
    )
