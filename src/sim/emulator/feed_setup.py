"""The emulator's price feed and starting time: generated, or replayed from kline files."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from src.data.market_data.windows import WINDOW_SECONDS, normalize_coin
from src.sim.emulator.config import EmulatorConfig
from src.sim.emulator.defaults import WARMUP_S
from src.sim.feeds import GeneratedFeed, KlineTable, PriceFeed, ReplayFeed, read_klines_csv
from src.sim.feeds.base import MINUTE_MS
from src.sim.feeds.generator import DEFAULT_START_MS, MINUTES_PER_DAY

GENERATED_DAYS = 30
"""How much a generated feed covers (built lazily, so the length costs nothing)."""

_SYMBOL_IN_NAME = re.compile(r"^([A-Za-z0-9]+?)-")


class DataFileError(ValueError):
    """A ``--data`` argument that cannot be used (names the argument and why)."""


@dataclass(frozen=True, slots=True)
class FeedSetup:
    """A feed, the coins it carries and the simulated time to start at."""

    feed: PriceFeed
    coins: tuple[str, ...]
    start_time: float


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


def replay_setup(args: Sequence[str], seed: int, start_time: float | None) -> FeedSetup:
    """Replay kline files; several files of one symbol are joined in time order.

    The files keep their own dates (``Alignment.ACTUAL`` would require overlap, so each
    symbol is shifted to the earliest file's start instead); the clock starts a day in,
    or halfway if the files are shorter than two days.
    """
    grouped: dict[str, list[KlineTable]] = {}
    for arg in args:
        symbol, path = parse_data_arg(arg)
        if not path.exists():
            raise DataFileError(f"{arg!r}: no such file")
        grouped.setdefault(symbol, []).append(read_klines_csv(path))
    sources = {
        symbol: KlineTable.concat(sorted(tables, key=lambda t: t.first_open_ms))
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
