"""Underlying price feeds, replayed or generated, in Binance's 1-minute kline format."""

from src.sim.feeds.base import MINUTE_MS, Kline, PriceFeed, kline_at, minute_open_ms
from src.sim.feeds.binance_csv import (
    CsvDecimals,
    GapPolicy,
    TimeUnit,
    parse_klines_csv,
    read_klines_csv,
    write_klines_csv,
)
from src.sim.feeds.errors import (
    FeedError,
    FeedRangeError,
    KlineFileError,
    KlineRepairWarning,
    UnknownSymbolError,
)
from src.sim.feeds.generator import (
    DEFAULT_COINS,
    CoinParams,
    GeneratedFeed,
    GeneratorParams,
    KlineGenerator,
    generate_tables,
)
from src.sim.feeds.path import MinutePaths, PathParams, build_minute_path
from src.sim.feeds.replay import Alignment, ReplayFeed
from src.sim.feeds.stats import ReturnStats, return_stats
from src.sim.feeds.table import KlineTable, TableFeed

__all__ = [
    "DEFAULT_COINS",
    "MINUTE_MS",
    "Alignment",
    "CoinParams",
    "CsvDecimals",
    "FeedError",
    "FeedRangeError",
    "GapPolicy",
    "GeneratedFeed",
    "GeneratorParams",
    "Kline",
    "KlineFileError",
    "KlineGenerator",
    "KlineRepairWarning",
    "KlineTable",
    "MinutePaths",
    "PathParams",
    "PriceFeed",
    "ReplayFeed",
    "ReturnStats",
    "TableFeed",
    "TimeUnit",
    "UnknownSymbolError",
    "build_minute_path",
    "generate_tables",
    "kline_at",
    "minute_open_ms",
    "parse_klines_csv",
    "read_klines_csv",
    "return_stats",
    "write_klines_csv",
]
