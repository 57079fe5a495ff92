"""Columnar storage of contiguous 1-minute klines, and the feed logic built on it.

Both feeds keep their candles as a :class:`KlineTable` (one numpy array per Binance column)
and share :class:`TableFeed`, which answers the :class:`~src.sim.feeds.base.PriceFeed`
questions from a table and a :class:`~src.sim.feeds.path.MinutePaths`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields

import numpy as np

from src.sim.feeds.base import MINUTE_MS, Kline, PriceFeed, minute_open_ms
from src.sim.feeds.errors import FeedRangeError, UnknownSymbolError
from src.sim.feeds.path import MinutePaths

# Binance's close time is the last millisecond of the minute.
CLOSE_OFFSET_MS = MINUTE_MS - 1

_INT_COLUMNS = ("open_time_ms", "trades")


@dataclass(frozen=True, eq=False)
class KlineTable:
    """Contiguous 1-minute candles, one numpy array per column, oldest first.

    Invariants (checked on construction): all columns have the same length, open times are
    multiples of a minute and exactly one minute apart. The close time is not stored: it is
    always ``open_time_ms + 59_999``.
    """

    open_time_ms: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    quote_volume: np.ndarray
    trades: np.ndarray
    taker_buy_volume: np.ndarray
    taker_buy_quote_volume: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.open_time_ms)
        for f in fields(self):
            column = getattr(self, f.name)
            dtype = np.int64 if f.name in _INT_COLUMNS else np.float64
            if not isinstance(column, np.ndarray) or column.dtype != dtype:
                object.__setattr__(self, f.name, np.asarray(column, dtype=dtype))
            if len(getattr(self, f.name)) != n:
                raise ValueError(f"column {f.name} has {len(column)} rows, expected {n}")
        times = self.open_time_ms
        if n and (times[0] % MINUTE_MS or np.any(np.diff(times) != MINUTE_MS)):
            raise ValueError("open times must be whole minutes, exactly one minute apart")

    def __len__(self) -> int:
        return len(self.open_time_ms)

    @property
    def first_open_ms(self) -> int:
        """Open time of the first candle."""
        return int(self.open_time_ms[0])

    @property
    def end_ms(self) -> int:
        """End of the last candle (its open time plus one minute)."""
        return int(self.open_time_ms[-1]) + MINUTE_MS

    @property
    def close_time_ms(self) -> np.ndarray:
        """Binance's close-time column (last millisecond of each minute)."""
        return self.open_time_ms + CLOSE_OFFSET_MS

    def kline(self, i: int) -> Kline:
        """The ``i``-th candle as a :class:`Kline`."""
        t = int(self.open_time_ms[i])
        return Kline(
            open_time_ms=t,
            open=float(self.open[i]),
            high=float(self.high[i]),
            low=float(self.low[i]),
            close=float(self.close[i]),
            volume=float(self.volume[i]),
            close_time_ms=t + CLOSE_OFFSET_MS,
            quote_volume=float(self.quote_volume[i]),
            trades=int(self.trades[i]),
            taker_buy_volume=float(self.taker_buy_volume[i]),
            taker_buy_quote_volume=float(self.taker_buy_quote_volume[i]),
        )

    def to_klines(self) -> list[Kline]:
        """Every candle as a :class:`Kline`, oldest first."""
        times = self.open_time_ms.tolist()
        return [
            Kline(t, o, h, lo, c, v, t + CLOSE_OFFSET_MS, qv, n, tb, tbq)
            for t, o, h, lo, c, v, qv, n, tb, tbq in zip(
                times,
                self.open.tolist(),
                self.high.tolist(),
                self.low.tolist(),
                self.close.tolist(),
                self.volume.tolist(),
                self.quote_volume.tolist(),
                self.trades.tolist(),
                self.taker_buy_volume.tolist(),
                self.taker_buy_quote_volume.tolist(),
                strict=True,
            )
        ]

    def take(self, start: int, stop: int) -> KlineTable:
        """Rows ``start:stop`` (views, not copies).

        A slice of a checked table keeps its invariants (same dtypes and lengths, minutes
        still one apart), so it is not checked again: the feeds take a few rows on every
        request, and the checks cost more than the slicing.
        """
        table = object.__new__(KlineTable)
        for name in _COLUMNS:
            object.__setattr__(table, name, getattr(self, name)[start:stop])
        return table

    def between(self, start_ms: int, end_ms: int) -> KlineTable:
        """Candles whose open time lies in ``[start_ms, end_ms)`` (clamped to the table)."""
        if not len(self):
            return self
        return self.take(*self.rows_between(start_ms, end_ms))

    def rows_between(self, start_ms: int, end_ms: int) -> tuple[int, int]:
        """``(lo, hi)``: the rows :meth:`between` takes (a non-empty table)."""
        first = self.first_open_ms
        lo = min(max(-(-(start_ms - first) // MINUTE_MS), 0), len(self))
        hi = min(max(-(-(end_ms - first) // MINUTE_MS), lo), len(self))
        return lo, hi

    def shifted(self, delta_ms: int) -> KlineTable:
        """The same candles with every time moved by ``delta_ms`` (whole minutes)."""
        if delta_ms % MINUTE_MS:
            raise ValueError(f"a shift must be whole minutes, got {delta_ms} ms")
        columns = {f.name: getattr(self, f.name) for f in fields(self)}
        columns["open_time_ms"] = self.open_time_ms + delta_ms
        return KlineTable(**columns)

    def same_as(self, other: KlineTable) -> bool:
        """True if both tables hold exactly the same values."""
        return all(
            np.array_equal(getattr(self, f.name), getattr(other, f.name))
            for f in fields(self)
        )

    @classmethod
    def from_klines(cls, klines: Iterable[Kline]) -> KlineTable:
        """A table from :class:`Kline` objects (which must be contiguous minutes)."""
        rows = list(klines)
        return cls(
            open_time_ms=np.array([k.open_time_ms for k in rows], dtype=np.int64),
            open=np.array([k.open for k in rows]),
            high=np.array([k.high for k in rows]),
            low=np.array([k.low for k in rows]),
            close=np.array([k.close for k in rows]),
            volume=np.array([k.volume for k in rows]),
            quote_volume=np.array([k.quote_volume for k in rows]),
            trades=np.array([k.trades for k in rows], dtype=np.int64),
            taker_buy_volume=np.array([k.taker_buy_volume for k in rows]),
            taker_buy_quote_volume=np.array([k.taker_buy_quote_volume for k in rows]),
        )

    @classmethod
    def concat(cls, tables: Sequence[KlineTable]) -> KlineTable:
        """Tables one after the other (the result must still be contiguous)."""
        return cls(
            *(np.concatenate([getattr(t, f.name) for t in tables]) for f in fields(cls))
        )


def feed_prices(feed: PriceFeed, symbol: str, times: Sequence[float]) -> list[float]:
    """``[feed.price_at(symbol, t) for t in times]`` from any feed, in one call when it
    batches them (``prices_at``: :class:`TableFeed`, and the emulator's locked wrapper,
    which then takes its lock once)."""
    batch = getattr(feed, "prices_at", None)
    if batch is not None:
        return batch(symbol, times)  # type: ignore[no-any-return]
    return [feed.price_at(symbol, t) for t in times]


def minute_reads(
    feed: PriceFeed, symbol: str, start_ms: int, first: int, stop: int, now: float
) -> tuple[list[float], float]:
    """``([feed.price_at(symbol, start_ms / 1000 + i) for i in range(first, stop)],
    feed.price_at(symbol, now))`` from any feed: the whole seconds of one minute and a
    time in it, read from the minute's path in one call when the feed can
    (``second_prices``: :class:`TableFeed`, and the emulator's locked wrapper)."""
    direct = getattr(feed, "second_prices", None)
    if direct is not None:
        return direct(symbol, start_ms, first, stop, now)  # type: ignore[no-any-return]
    start_s = start_ms / 1000
    read = feed_prices(feed, symbol, [start_s + i for i in range(first, stop)] + [now])
    close = read.pop()
    return read, close


_COLUMNS = tuple(f.name for f in fields(KlineTable))
_FEW_ROWS = 4  # up to this many rows, klines() reads them one by one


class TableFeed:
    """The :class:`~src.sim.feeds.base.PriceFeed` answers, given per-symbol tables.

    Subclasses provide :meth:`time_range` and :meth:`_table`, which returns a table that
    starts at the feed's first minute and covers at least up to ``end_ms``. ``price_at`` is
    O(1) once the minute's path is built: the last minute of each symbol is kept at hand,
    older ones in the :class:`MinutePaths` cache.
    """

    def __init__(self, symbols: Sequence[str], paths: MinutePaths) -> None:
        self._symbols = tuple(symbols)
        self._paths = paths
        self._last: dict[str, tuple[int, list[float]]] = {}
        self._rows: dict[str, Kline] = {}
        # per symbol, the last longer run of rows built: (first row, end row, candles)
        self._runs: dict[str, tuple[int, int, list[Kline]]] = {}

    @property
    def symbols(self) -> tuple[str, ...]:
        """Symbols served, in the order given to the constructor."""
        return self._symbols

    @property
    def paths(self) -> MinutePaths:
        """The sub-minute path model and its cache."""
        return self._paths

    def time_range(self) -> tuple[int, int]:
        """``(first_open_ms, end_ms)``: the span of minutes available for every symbol."""
        raise NotImplementedError

    def _table(self, symbol: str, end_ms: int) -> KlineTable:
        raise NotImplementedError

    def table(self, symbol: str, start_ms: int, end_ms: int) -> KlineTable:
        """Candles opening in ``[start_ms, end_ms)`` as a table (clamped to the range)."""
        self._check_symbol(symbol)
        first, end = self.time_range()
        end_ms = min(end_ms, end)
        if end_ms <= max(start_ms, first):
            return self._table(symbol, first + MINUTE_MS).take(0, 0)
        return self._table(symbol, end_ms).between(start_ms, end_ms)

    def klines(self, symbol: str, start_ms: int, end_ms: int) -> list[Kline]:
        """Candles whose open time lies in ``[start_ms, end_ms)``, oldest first.

        Requests reaching outside :meth:`time_range` return the part inside it.
        """
        self._check_symbol(symbol)
        first, end = self.time_range()
        end_ms = min(end_ms, end)
        if end_ms <= max(start_ms, first):
            return []
        table = self._table(symbol, end_ms)
        if not len(table):
            return []
        lo, hi = table.rows_between(start_ms, end_ms)
        if hi - lo <= _FEW_ROWS:  # a poll's few new minutes: no table slice at all
            return [self._row(symbol, table, i) for i in range(lo, hi)]
        return self._run(symbol, table, lo, hi)

    def _run(self, symbol: str, table: KlineTable, lo: int, hi: int) -> list[Kline]:
        """Rows ``lo:hi`` of the symbol's table as candles. The last run built is kept
        and its rows reused: a window's volatility lookback reads most of the previous
        window's rows again, and a row's candle never changes (row ``i`` is always the
        feed's ``i``-th minute: every table starts at the feed's first)."""
        kept = self._runs.get(symbol)
        if kept is None or not kept[0] <= lo < kept[1]:
            klines = table.take(lo, hi).to_klines()
        else:
            first, end, rows = kept
            klines = rows[lo - first : min(hi, end) - first]
            if hi > end:
                klines += table.take(end, hi).to_klines()
        self._runs[symbol] = (lo, hi, klines)
        return list(klines)  # the caller's own list: the kept one stays as built

    def _row(self, symbol: str, table: KlineTable, i: int) -> Kline:
        """Row ``i`` of the symbol's table, the last one built kept: polls read the
        forming minute's candle again and again, and a minute's candle never changes."""
        open_ms = table.first_open_ms + i * MINUTE_MS
        kept = self._rows.get(symbol)
        if kept is not None and kept.open_time_ms == open_ms:
            return kept
        kline = self._rows[symbol] = table.kline(i)
        return kline

    def kline_at(self, symbol: str, t: float) -> Kline:
        """The candle of the minute containing Unix time ``t`` (seconds)."""
        minute_ms = self._minute_ms(symbol, t)
        table = self._table(symbol, minute_ms + MINUTE_MS)
        return table.kline((minute_ms - table.first_open_ms) // MINUTE_MS)

    def price_at(self, symbol: str, t: float) -> float:
        """The price at Unix time ``t`` on the minute's path (a step function)."""
        minute_ms = minute_open_ms(t)
        path = self._path_of(symbol, minute_ms, t)
        k = int((t - minute_ms / 1000) * self._paths.points_per_second)
        return path[k] if k < len(path) else path[-1]

    def _path_of(self, symbol: str, minute_ms: int, t: float) -> list[float]:
        """The path of the minute opening at ``minute_ms`` (containing ``t``); the last
        one of each symbol is kept at hand."""
        last = self._last.get(symbol)
        if last is None or last[0] != minute_ms:
            last = (minute_ms, self.minute_path(symbol, t))
            self._last[symbol] = last
        return last[1]

    def prices_at(self, symbol: str, times: Sequence[float]) -> list[float]:
        """``[self.price_at(symbol, t) for t in times]`` (the tests hold them equal), the
        minute's path looked up once per run of times in the same minute: the forming
        candle reads the seconds since its last poll, all in one minute."""
        step = self._paths.points_per_second
        prices: list[float] = []
        minute_ms = -1
        path: list[float] = []
        start_s = 0.0
        for t in times:
            minute = minute_open_ms(t)
            if minute != minute_ms:
                minute_ms = minute
                path = self._path_of(symbol, minute_ms, t)
                start_s = minute_ms / 1000
            k = int((t - start_s) * step)
            prices.append(path[k] if k < len(path) else path[-1])
        return prices

    def second_prices(
        self, symbol: str, start_ms: int, first: int, stop: int, now: float
    ) -> tuple[list[float], float]:
        """:func:`minute_reads` (the tests hold them equal). A whole second ``i`` of a
        minute is sample ``int(i * points_per_second)`` of its path (``t - start`` is
        exactly ``i``), so at a sample a second the seconds are a slice of the path,
        without a lookup per time."""
        start_s = start_ms / 1000
        if start_ms % MINUTE_MS or first < 0 or stop > 60 or first >= stop:
            read = self.prices_at(symbol, [start_s + i for i in range(first, stop)])
            return read, self.price_at(symbol, now)
        path = self._path_of(symbol, start_ms, start_s + first)
        step = self._paths.points_per_second
        last = len(path) - 1
        if step == 1.0 and stop - 1 <= last:
            read = path[first:stop]
        else:
            read = [path[min(int(i * step), last)] for i in range(first, stop)]
        if minute_open_ms(now) != start_ms:
            return read, self.price_at(symbol, now)
        k = int((now - start_s) * step)
        return read, path[k] if k < len(path) else path[-1]

    def minute_path(self, symbol: str, t: float) -> list[float]:
        """The sub-minute path of the minute containing ``t``: one price per sample."""
        minute_ms = self._minute_ms(symbol, t)
        cached = self._paths.cached(symbol, minute_ms)
        if cached is not None:
            return cached
        table = self._table(symbol, minute_ms + MINUTE_MS)
        i = (minute_ms - table.first_open_ms) // MINUTE_MS
        return self._paths.path(
            symbol,
            minute_ms,
            float(table.open[i]),
            float(table.high[i]),
            float(table.low[i]),
            float(table.close[i]),
        )

    def _minute_ms(self, symbol: str, t: float) -> int:
        self._check_symbol(symbol)
        minute_ms = minute_open_ms(t)
        first, end = self.time_range()
        if not first <= minute_ms < end:
            raise FeedRangeError(symbol, int(t * 1000), first, end)
        return minute_ms

    def _check_symbol(self, symbol: str) -> None:
        if symbol not in self._symbols:
            raise UnknownSymbolError(symbol, self._symbols)
