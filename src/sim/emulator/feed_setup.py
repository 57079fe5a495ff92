"""The emulator's price feed and starting time: generated, or replayed from kline files."""

from __future__ import annotations

import itertools
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from src.data.market_data.windows import WINDOW_SECONDS, normalize_coin
from src.sim.emulator.config import EmulatorConfig
from src.sim.emulator.defaults import WARMUP_S
from src.sim.feeds import GeneratedFeed, KlineTable, PriceFeed, ReplayFeed, read_klines_csv
from src.sim.feeds.base import MINUTE_MS
from src.sim.feeds.binance_csv import flat_filled
from src.sim.feeds.errors import KlineRepairWarning
from src.sim.feeds.generator import DEFAULT_START_MS, MINUTES_PER_DAY

GENERATED_DAYS = 30
"""How much a generated feed covers (built lazily, so the length costs nothing)."""

_SYMBOL_IN_NAME = re.compile(r"^([A-Za-z0-9]+?)-")
MAX_FILLED_GAP_MIN = 31 * MINUTES_PER_DAY
"""The longest hole between two files of one symbol that ``fill_gaps`` fills."""


class DataFileError(ValueError):
    """A ``--data`` argument that cannot be used (names the argument and why)."""


@dataclass(frozen=True, slots=True)
class FeedSetup:
    """A feed, the coins it carries and the simulated time to start at."""

    feed: PriceFeed
    coins: tuple[str, ...]
    start_time: float


def join_tables(
    symbol: str, tables: Sequence[tuple[str, KlineTable]], *, fill_gaps: bool
) -> KlineTable:
    """One symbol's files (``(argument, table)``) as one contiguous table, oldest first."""
    ordered = sorted(tables, key=lambda item: item[1].first_open_ms)
    for (arg_a, a), (arg_b, b) in itertools.pairwise(ordered):
        last = int(a.open_time_ms[-1]) if len(a) else a.first_open_ms - MINUTE_MS
        missing = (b.first_open_ms - last) // MINUTE_MS - 1
        if missing < 0:
            raise DataFileError(f"{symbol}: {arg_a!r} and {arg_b!r} overlap")
        if missing and not fill_gaps:
            raise DataFileError(
                f"{symbol}: {missing} minute(s) missing between {arg_a!r} and {arg_b!r}"
            )
        if missing > MAX_FILLED_GAP_MIN:
            raise DataFileError(
                f"{symbol}: {missing} minutes between {arg_a!r} and {arg_b!r} is too long "
                f"a gap to fill (at most {MAX_FILLED_GAP_MIN})"
            )
        if missing:
            warnings.warn(
                KlineRepairWarning(
                    f"{symbol}: {missing} minute(s) between {arg_a!r} and {arg_b!r} "
                    "filled with flat candles"
                ),
                stacklevel=3,
            )
    if not fill_gaps:
        return KlineTable.concat([table for _, table in ordered])
    columns = {
        f.name: np.concatenate([getattr(table, f.name) for _, table in ordered])
        for f in fields(KlineTable)
    }
    return flat_filled(columns)


def parse_data_arg(arg: str) -> tuple[str, Path]:
    """``BTCUSDT=path.csv.gz`` or ``path/BTCUSDT-1m-….csv.gz`` → ``(symbol, path)``."""
    if "=" in arg:
        symbol, _, path = arg.partition("=")
        symbol = symbol.strip().upper()
        if not symbol:
            raise DataFileError(f"{arg!r}: empty symbol before '='")
        return _usdt(symbol), Path(path)
    path = Path(arg)
    match = _SYMBOL_IN_NAME.match(path.name)
    if match is None:
        raise DataFileError(
            f"{arg!r}: cannot tell the symbol from the name; write SYMBOL=PATH"
        )
    return _usdt(match.group(1).upper()), path


def _usdt(symbol: str) -> str:
    return f"{normalize_coin(symbol)}USDT"


def _aligned_start(
    first_ms: int, end_ms: int, wanted: float | None, warmup: float
) -> float:
    """The simulated start: as asked, else ``warmup`` into the feed on a window boundary
    (never past the feed's last window)."""
    if wanted is not None:
        return wanted
    first = first_ms / 1000
    last = end_ms / 1000 - WINDOW_SECONDS
    start = min(first + warmup, max(first, last))
    return float(int(start) - int(start) % WINDOW_SECONDS)


def build_feed(config: EmulatorConfig) -> FeedSetup:
    """The feed the configuration asks for: ``data_files`` replayed, else generated."""
    if config.data_files:
        return replay_setup(config.data_files, config.seed, config.start_time)
    feed = GeneratedFeed(
        config.seed,
        start_ms=DEFAULT_START_MS,
        minutes=GENERATED_DAYS * MINUTES_PER_DAY,
    )
    first, end = feed.time_range()
    wanted = tuple(normalize_coin(c) for c in config.coins)
    served = {normalize_coin(s) for s in feed.symbols}
    coins = tuple(c for c in wanted if c in served)
    return FeedSetup(feed, coins, _aligned_start(first, end, config.start_time, WARMUP_S))


def replay_setup(
    args: Sequence[str], seed: int, start_time: float | None, *, fill_gaps: bool = False
) -> FeedSetup:
    """Replay kline files; several files of one symbol are joined in time order.

    The files keep their own dates (``Alignment.ACTUAL`` would require overlap, so each
    symbol is shifted to the earliest file's start instead); the clock starts a day in,
    or halfway if the files are shorter than two days. Files of one symbol that do not
    follow each other are an error, or with ``fill_gaps`` joined by flat candles (a
    warning says so; at most :data:`MAX_FILLED_GAP_MIN` minutes).
    """
    grouped: dict[str, list[tuple[str, KlineTable]]] = {}
    for arg in args:
        symbol, path = parse_data_arg(arg)
        if not path.exists():
            raise DataFileError(f"{arg!r}: no such file")
        grouped.setdefault(symbol, []).append((arg, read_klines_csv(path)))
    sources = {
        symbol: join_tables(symbol, tables, fill_gaps=fill_gaps)
        for symbol, tables in grouped.items()
    }
    first_ms = min(t.first_open_ms for t in sources.values())
    start_ms = first_ms - first_ms % MINUTE_MS
    feed = ReplayFeed(sources, start_ms=start_ms, seed=seed)
    first, end = feed.time_range()
    span = (end - first) / 1000
    warmup = min(WARMUP_S, span / 2)
    coins = tuple(normalize_coin(s) for s in feed.symbols)
    return FeedSetup(feed, coins, _aligned_start(first, end, start_time, warmup))
