"""The recording loop: every ``interval_s`` of the Clock, one row per coin for its running
window, and the outcome of each window written into its rows once Gamma says it resolved.

Each step:

1. **discovery** — the current and next window of every coin through a
   :class:`~src.data.market_data.polymarket.MarketDirectory` (Gamma, in the background); the
   book source follows exactly their tokens, so the next window's books are ready when it
   opens and old ones are dropped as windows pass;
2. **observation** — while a window runs (``start ≤ t < end``): its two books and the coin's
   Binance price → one row (:func:`src.recording.rows.quote_row`), appended to the daily
   file; a coin whose books cannot be had this time gets no row (never a stale one);
3. **resolution** — each window over whose rows lack an outcome (this run's, and those the
   files held when it started) is asked of Gamma some seconds after its end and then at a
   slower pace; a resolved one has its rows rewritten with ``Up``/``Down``.

Stops on :meth:`Recorder.request_stop` (signals), after ``duration_s``, or after ``windows``
window ends — then it waits up to ``resolve_wait_s`` for the outcome of the windows it
recorded. Pacing goes through the Clock: a manual clock drives it without real waiting.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from src.data.market_data.polymarket import MarketDirectory, MarketInfo, OrderBook
from src.data.market_data.windows import (
    WINDOW_SECONDS,
    WindowRef,
    current_window,
    parse_slug,
    window_start,
)
from src.data.quotes import QuoteRow, QuotesFileError
from src.recording.files import OUTCOME_TEXT, DailyQuoteFiles, ResumeReport
from src.recording.rows import quote_row
from src.utils.clock import Clock
from src.utils.logger import log, log_error, log_warning

RATE_WINDOW_S = 10.0


class MarketLookup(Protocol):
    """Gamma, as far as the recorder needs it."""

    def market_by_slug(self, slug: str) -> MarketInfo | None:
        """The market of ``slug`` (None: not listed)."""
        ...


class BookSource(Protocol):
    """Books of the followed tokens (see :class:`src.recording.books.StreamBooks`)."""

    def follow(self, tokens: Iterable[str]) -> None:
        """Follow exactly ``tokens``."""
        ...

    def books(self, tokens: Sequence[str]) -> dict[str, OrderBook]:
        """The book of each token now; unknown ones left out."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class SpotSource(Protocol):
    """The underlying's price per coin (see :class:`src.recording.spot.SpotPrices`)."""

    def prices(self, coins: Sequence[str]) -> dict[str, float | None]:
        """The latest price of each coin (None: unknown)."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


@dataclass(frozen=True, slots=True)
class RecorderConfig:
    """How the recorder runs (seconds are the Clock's).

    Attributes:
        coins: coins to record (``BTC`` …).
        interval_s: time between two observations.
        duration_s: stop after this long (None: no limit).
        windows: stop after this many window ends, once their outcomes are in or
            ``resolve_wait_s`` has passed (None: no limit).
        resolve_first_s: first outcome check this long after a window's end.
        resolve_every_s: then every this long, for ``resolve_slow_after_s`` …
        resolve_slow_after_s, resolve_slow_every_s: … then every ``resolve_slow_every_s``.
        resolve_wait_s: with ``windows``, how long to wait for the last outcomes.
        pause_slice_s: longest single wait, so a stop request is seen quickly.
        status_every_s: log a status line this often (None: never; the live view shows it).
        synchronous: discover and check outcomes inline (tests with a manual clock).
    """

    coins: tuple[str, ...]
    interval_s: float = 1.0
    duration_s: float | None = None
    windows: int | None = None
    resolve_first_s: float = 10.0
    resolve_every_s: float = 15.0
    resolve_slow_after_s: float = 900.0
    resolve_slow_every_s: float = 300.0
    resolve_wait_s: float = 900.0
    pause_slice_s: float = 0.25
    status_every_s: float | None = None
    synchronous: bool = False

    def __post_init__(self) -> None:
        if not self.coins:
            raise ValueError("no coin to record")
        if self.interval_s <= 0 or self.pause_slice_s <= 0:
            raise ValueError("interval_s and pause_slice_s must be > 0")
        if self.duration_s is not None and self.duration_s <= 0:
            raise ValueError("duration_s must be > 0")
        if self.windows is not None and self.windows < 1:
            raise ValueError("windows must be ≥ 1")


@dataclass(slots=True)
class CoinStatus:
    """One coin's recording so far."""

    coin: str
    rows: int = 0  # this run, every window
    slug: str | None = None  # the window being recorded
    window_rows: int = 0  # this run, that window
    last: QuoteRow | None = None
    missed: int = 0  # observations of that window without both books


@dataclass(frozen=True, slots=True)
class RecorderStatus:
    """A snapshot for the live view."""

    now: float
    started: float
    coins: tuple[CoinStatus, ...]
    rows: int
    rows_per_s: float
    resolved: int
    unresolved: int
    ws_books: int
    rest_books: int
    finishing: bool


@dataclass(frozen=True, slots=True)
class RecordSummary:
    """What a run did."""

    stop_reason: str
    started: float
    ended: float
    rows_by_coin: dict[str, int]
    files: tuple[Path, ...]
    resolved: tuple[tuple[str, str], ...]  # (slug, "UP"/"DOWN")
    unresolved: int
    resume: ResumeReport | None = None
    ws_books: int = 0
    rest_books: int = 0

    @property
    def rows(self) -> int:
        """Rows written, all coins."""
        return sum(self.rows_by_coin.values())


@dataclass
class _Check:
    """An outcome check in flight (or done) for one window."""

    future: Future[str | None] | None = None
    result: str | None = None
    done: bool = False


@dataclass
class _Schedule:
    next_at: dict[str, float] = field(default_factory=dict)
    checks: dict[str, _Check] = field(default_factory=dict)


class Recorder:
    """Records quotes of the configured coins into :class:`DailyQuoteFiles`."""

    def __init__(
        self,
        config: RecorderConfig,
        clock: Clock,
        gamma: MarketLookup,
        books: BookSource,
        spot: SpotSource,
        files: DailyQuoteFiles,
    ) -> None:
        self.config = config
        self.clock = clock
        self.gamma = gamma
        self.books = books
        self.spot = spot
        self.files = files
        self.directory = MarketDirectory(
            gamma.market_by_slug, clock, synchronous=config.synchronous
        )
        self._pool = (
            None
            if config.synchronous
            else ThreadPoolExecutor(max_workers=1, thread_name_prefix="resolve")
        )
        self._stop = threading.Event()
        self._lock = threading.Lock()  # the status, read by the live view's thread
        self._coins = {coin: CoinStatus(coin) for coin in config.coins}
        self._recorded: set[str] = set()  # slugs this run wrote rows for
        self._resolved: list[tuple[str, str]] = []
        self._schedule = _Schedule()
        self._followed: frozenset[str] = frozenset()
        self._rates: deque[tuple[float, int]] = deque()
        self._rows = 0
        self._unresolved = 0
        self._last_status_at: float | None = None
        self.started = clock.now()
        self._first_window = window_start(self.started)
        self._over_at: float | None = None  # when the last --windows window ended
        self.stop_reason = "stopped"
        self.resume: ResumeReport | None = None

    # --- control -----------------------------------------------------------------------

    def request_stop(self, reason: str = "signal") -> None:
        """Stop after the current step (signal handlers call this)."""
        if not self._stop.is_set():
            self.stop_reason = reason
            self._stop.set()

    def run(self) -> RecordSummary:
        """Record until a stop condition; returns the summary. The files are closed on
        the way out, whatever happened."""
        try:
            now = self.clock.now()
            self.started = now
            self._first_window = window_start(now)
            self.resume = self.files.open(now)
            self._log_resume(self.resume)
            self._loop()
        except KeyboardInterrupt:
            self.stop_reason = "signal"
        except BaseException:
            self.stop_reason = "error"
            raise
        finally:
            self._shutdown()
        return self.summary()

    def _loop(self) -> None:
        interval = self.config.interval_s
        next_tick = math.ceil(self.clock.now() / interval) * interval  # on the grid
        self._pause_until(next_tick)
        while not self._stop.is_set():
            now = self.clock.now()
            reason = self._finished(now)
            if reason is not None:
                self.stop_reason = reason
                return
            self.step(now)
            next_tick += interval
            if next_tick <= self.clock.now():  # fell behind: skip ticks, never burst
                next_tick = math.ceil(self.clock.now() / interval) * interval
            self._pause_until(next_tick)

    def _pause_until(self, until: float) -> None:
        while not self._stop.is_set():
            left = until - self.clock.now()
            if left <= 0:
                return
            self.clock.sleep(min(left, self.config.pause_slice_s))

    def _finished(self, now: float) -> str | None:
        config = self.config
        if config.duration_s is not None and now - self.started >= config.duration_s:
            return "duration"
        if self._recording_over(now):
            if self._over_at is None:
                self._over_at = now
                self.books.follow(())
                log("⏳ record: last window over; waiting for the outcomes")
            waiting = [s for s in self._recorded if self._outcome_unknown(s)]
            if not waiting:
                return "windows"
            if now - self._over_at >= config.resolve_wait_s:
                log_warning(
                    f"⚠️ record: {len(waiting)} window(s) still unresolved; the next run "
                    "fills them in"
                )
                return "windows"
        return None

    def _recording_over(self, now: float) -> bool:
        windows = self.config.windows
        if windows is None:
            return False
        return (window_start(now) - self._first_window) // WINDOW_SECONDS >= windows

    def _outcome_unknown(self, slug: str) -> bool:
        entry = self.files.window(slug)
        return entry is not None and entry.outcome is None

    # --- one step ----------------------------------------------------------------------

    def step(self, now: float) -> None:
        """Discover, observe and resolve at ``now`` (one tick of the loop)."""
        if not self._recording_over(now):
            current = self._discover(now)
            self._observe(now, current)
            with self._lock:
                self._sample_rate(now)
        self._resolve(now)
        self._status_line(now)

    def _discover(self, now: float) -> dict[str, MarketInfo]:
        current: dict[str, MarketInfo] = {}
        tokens: list[str] = []
        for coin in self.config.coins:
            window = current_window(coin, now)
            for ref in (window, window.next()):
                info = self.directory.lookup(ref)
                if info is None:
                    continue
                tokens += [info.up_token_id, info.down_token_id]
                if ref == window:
                    current[coin] = info
        followed = frozenset(tokens)
        if followed != self._followed:
            self._followed = followed
            self.books.follow(tokens)
        return current

    def _observe(self, now: float, current: dict[str, MarketInfo]) -> None:
        live = {
            c: i for c, i in current.items() if i.start <= now < i.start + WINDOW_SECONDS
        }
        if not live:
            return
        tokens = [t for i in live.values() for t in (i.up_token_id, i.down_token_id)]
        books = self.books.books(tokens)
        spots = self.spot.prices(list(live))
        for coin, info in live.items():
            up, down = books.get(info.up_token_id), books.get(info.down_token_id)
            status = self._coins[coin]
            if status.slug != info.slug:
                self._window_changed(status, info.slug)
            if up is None or down is None:
                with self._lock:
                    status.missed += 1
                continue
            row = quote_row(WindowRef(coin, info.start), now, up, down, spots.get(coin))
            if not self.files.append(row):
                continue  # the files hold this window at this time already (a restart)
            self._recorded.add(row.slug)
            with self._lock:
                status.rows += 1
                status.window_rows += 1
                status.last = row
                self._rows += 1

    def _window_changed(self, status: CoinStatus, slug: str) -> None:
        with self._lock:
            previous, rows, missed = status.slug, status.window_rows, status.missed
            status.slug, status.window_rows, status.missed = slug, 0, 0
        if previous is not None:
            log(f"✅ [{status.coin}] {previous} over: {rows:,} rows, {missed} missed")
        entry = self.files.window(slug)
        resumed = f", resuming after {entry.rows:,} rows" if entry is not None else ""
        log(f"📼 [{status.coin}] recording {slug}{resumed}")

    # --- outcomes ----------------------------------------------------------------------

    def _resolve(self, now: float) -> None:
        schedule = self._schedule
        for slug, check in list(schedule.checks.items()):
            if check.future is not None and check.future.done():
                check.result, check.done = check.future.result(), True
            if check.done:
                del schedule.checks[slug]
                if check.result is not None:
                    self._fill(slug, check.result)
        pending = self.files.unresolved(now)
        with self._lock:
            self._unresolved = len(pending)
        for entry in pending:
            slug = entry.slug
            if slug in schedule.checks:
                continue
            due = schedule.next_at.get(slug, entry.end + self.config.resolve_first_s)
            if now < due:
                continue
            late = now - entry.end >= self.config.resolve_slow_after_s
            pace = self.config.resolve_slow_every_s if late else self.config.resolve_every_s
            schedule.next_at[slug] = now + pace
            if self._pool is None:
                result = self._outcome_of(slug)
                if result is not None:
                    self._fill(slug, result)
            else:
                schedule.checks[slug] = _Check(self._pool.submit(self._outcome_of, slug))

    def _outcome_of(self, slug: str) -> str | None:
        """``"UP"``/``"DOWN"`` once Gamma shows the market resolved, else None."""
        try:
            info = self.gamma.market_by_slug(slug)
        except Exception as exc:  # a worker must not die: ask again later
            log_warning(f"⚠️ [{slug}] outcome check failed: {exc}")
            return None
        if info is None or info.outcome is None:
            return None
        return str(info.outcome.value)

    def _fill(self, slug: str, outcome: str) -> None:
        try:
            changed = self.files.fill_outcome(slug, outcome)
        except (OSError, QuotesFileError) as exc:
            log_error(f"❌ [{slug}] could not write the outcome: {exc}")
            return
        self._schedule.next_at.pop(slug, None)
        with self._lock:
            self._resolved.append((slug, outcome))
        coin = parse_slug(slug).coin
        log(
            f"🏁 [{coin}] {slug} resolved {OUTCOME_TEXT[outcome]}: {changed:,} rows updated"
        )

    # --- reporting ---------------------------------------------------------------------

    def _log_resume(self, report: ResumeReport) -> None:
        folder = self.files.folder
        if not report.files:
            log(f"📁 record: starting in {folder} (no recent file)")
            return
        log(
            f"📁 record: resuming in {folder}: {report.files} recent file(s), "
            f"{report.windows} window(s), {report.rows:,} rows, {report.unresolved} "
            "without an outcome yet"
        )

    def _sample_rate(self, now: float) -> None:
        """Note the rows written by ``now`` (call holding the lock)."""
        rates = self._rates
        if not rates or now > rates[-1][0]:
            rates.append((now, self._rows))
        while len(rates) > 2 and now - rates[1][0] >= RATE_WINDOW_S:
            rates.popleft()

    def _rate(self) -> float:
        """Rows per (clock) second over about the last :data:`RATE_WINDOW_S`."""
        if len(self._rates) < 2:
            return 0.0
        (t0, rows0), (t1, rows1) = self._rates[0], self._rates[-1]
        return (rows1 - rows0) / (t1 - t0) if t1 > t0 else 0.0

    def status(self) -> RecorderStatus:
        """A snapshot (any thread)."""
        now = self.clock.now()
        with self._lock:
            rate = self._rate()
            coins = tuple(replace(s) for s in self._coins.values())
            rows, resolved = self._rows, len(self._resolved)
        return RecorderStatus(
            now=now,
            started=self.started,
            coins=coins,
            rows=rows,
            rows_per_s=rate,
            resolved=resolved,
            unresolved=self._unresolved,
            ws_books=getattr(self.books, "ws_books", 0),
            rest_books=getattr(self.books, "rest_books", 0),
            finishing=self._over_at is not None,
        )

    def _status_line(self, now: float) -> None:
        every = self.config.status_every_s
        if every is None:
            return
        if self._last_status_at is not None and now - self._last_status_at < every:
            return
        self._last_status_at = now
        status = self.status()
        parts = [
            f"📊 record: {status.rows:,} rows ({status.rows_per_s:.1f}/s), books ws "
            f"{status.ws_books:,} / REST {status.rest_books:,}"
        ]
        for coin in status.coins:
            last = coin.last
            if last is None:
                parts.append(f"{coin.coin} —")
                continue
            spot = f" spot {last.spot:g}" if last.spot is not None else ""
            parts.append(
                f"{coin.coin} up {_price(last.up_bid)}/{_price(last.up_ask)} "
                f"down {_price(last.down_bid)}/{_price(last.down_ask)}{spot}"
            )
        log(" · ".join(parts))

    def summary(self) -> RecordSummary:
        """What this run did so far."""
        with self._lock:
            rows = {coin: s.rows for coin, s in self._coins.items()}
            resolved = tuple(self._resolved)
        return RecordSummary(
            stop_reason=self.stop_reason,
            started=self.started,
            ended=self.clock.now(),
            rows_by_coin=rows,
            files=tuple(sorted(self.files.touched)),
            resolved=resolved,
            unresolved=len(self.files.unresolved(self.clock.now())),
            resume=self.resume,
            ws_books=getattr(self.books, "ws_books", 0),
            rest_books=getattr(self.books, "rest_books", 0),
        )

    def _shutdown(self) -> None:
        log(f"🧹 record: stopping ({self.stop_reason})")
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self.directory.close()
        for part in (self.books, self.spot):
            try:
                part.close()
            except Exception:  # closing must not hide why the run ended
                log_error(f"❌ record: closing {type(part).__name__} failed")
        self.files.close()


def _price(value: object) -> str:
    return "—" if value is None else str(value)
