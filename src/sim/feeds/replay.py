"""Replay of Binance kline files, each under any symbol, on one timeline."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path

from src.sim.feeds.base import MINUTE_MS
from src.sim.feeds.binance_csv import GapPolicy, read_klines_csv
from src.sim.feeds.errors import FeedError
from src.sim.feeds.path import MinutePaths, PathParams
from src.sim.feeds.table import KlineTable, TableFeed


class Alignment(StrEnum):
    """How the sources are placed on the feed's timeline."""

    #: Every source is moved so that its first candle opens at the feed's start; the feed
    #: lasts as long as the shortest source. Files of different periods replay side by side.
    SHIFT = "shift"
    #: Sources keep their own times; the feed serves the span all of them cover.
    ACTUAL = "actual"


class ReplayFeed(TableFeed):
    """A :class:`~src.sim.feeds.base.PriceFeed` replaying recorded 1-minute klines.

    ``sources`` maps each symbol served to a kline file (plain or gzip CSV, see
    :mod:`src.sim.feeds.binance_csv`) or to a :class:`KlineTable` already in memory, e.g.
    ``{"BTCUSDT": "data/LINKUSDT-1m-2026-02.csv.gz"}`` replays LINK's prices as BTCUSDT.

    With ``Alignment.SHIFT`` (default) the feed starts at ``start_ms`` (a whole minute;
    default: the first source's first open time) and every source is shifted to start
    there. With ``Alignment.ACTUAL`` the times are kept and ``start_ms`` must be ``None``.
    The sub-minute path is seeded by ``seed`` and the feed's own (shifted) times.
    """

    def __init__(
        self,
        sources: Mapping[str, str | Path | KlineTable],
        *,
        alignment: Alignment = Alignment.SHIFT,
        start_ms: int | None = None,
        seed: int = 0,
        gaps: GapPolicy = GapPolicy.ERROR,
        path_params: PathParams | None = None,
    ) -> None:
        if not sources:
            raise ValueError("a replay needs at least one source")
        loaded = {
            symbol: src if isinstance(src, KlineTable) else read_klines_csv(src, gaps=gaps)
            for symbol, src in sources.items()
        }
        for symbol, table in loaded.items():
            if not len(table):
                raise FeedError(f"{symbol}: the source has no candles")
        if alignment is Alignment.SHIFT:
            first = next(iter(loaded.values())).first_open_ms
            start = first if start_ms is None else start_ms
            if start % MINUTE_MS:
                raise ValueError(f"start_ms must be a whole minute, got {start}")
            length = min(len(t) for t in loaded.values())
            self._tables = {
                s: t.take(0, length).shifted(start - t.first_open_ms)
                for s, t in loaded.items()
            }
            self._range = (start, start + length * MINUTE_MS)
        else:
            if start_ms is not None:
                raise ValueError("start_ms applies to Alignment.SHIFT only")
            first = max(t.first_open_ms for t in loaded.values())
            end = min(t.end_ms for t in loaded.values())
            if end <= first:
                raise FeedError("the sources have no minute in common")
            self._tables = {s: t.between(first, end) for s, t in loaded.items()}
            self._range = (first, end)
        super().__init__(tuple(loaded), MinutePaths(seed, path_params))

    def time_range(self) -> tuple[int, int]:
        """``(first_open_ms, end_ms)`` common to every source on the feed's timeline."""
        return self._range

    def _table(self, symbol: str, end_ms: int) -> KlineTable:
        return self._tables[symbol]
