"""The feeds' batch reads and kept rows answer exactly what the one-at-a-time reads do."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from src.sim.emulator.world import LockedFeed
from src.sim.feeds.base import MINUTE_MS, Kline
from src.sim.feeds.generator import DEFAULT_START_MS, GeneratedFeed
from src.sim.feeds.table import feed_prices

FEED = GeneratedFeed(5, start_ms=DEFAULT_START_MS, minutes=120)
FIRST_S = DEFAULT_START_MS / 1000
SPAN_S = 120 * 60

# times inside the feed: whole seconds, fractions, and the last instants of minutes
offsets = st.one_of(
    st.integers(0, SPAN_S - 1).map(float),
    st.floats(0, SPAN_S - 1e-3, allow_nan=False),
    st.integers(1, 119).map(lambda m: m * 60 - 1e-6),
)


class OneAtATime:
    """A feed with ``price_at`` only (what ``feed_prices`` must fall back to)."""

    def __init__(self, inner: GeneratedFeed) -> None:
        self._inner = inner
        self.symbols = inner.symbols

    def time_range(self) -> tuple[int, int]:
        return self._inner.time_range()

    def klines(self, symbol: str, start_ms: int, end_ms: int) -> list[Kline]:
        return self._inner.klines(symbol, start_ms, end_ms)

    def price_at(self, symbol: str, t: float) -> float:
        return self._inner.price_at(symbol, t)


@settings(max_examples=200, deadline=None)
@given(
    symbol=st.sampled_from(FEED.symbols),
    times=st.lists(offsets, max_size=70).map(lambda xs: [FIRST_S + x for x in xs]),
)
def test_prices_at_is_price_at_at_each_time(symbol: str, times: list[float]) -> None:
    one_by_one = [FEED.price_at(symbol, t) for t in times]
    assert FEED.prices_at(symbol, times) == one_by_one
    assert LockedFeed(FEED).prices_at(symbol, times) == one_by_one
    assert feed_prices(OneAtATime(FEED), symbol, times) == one_by_one
    assert feed_prices(LockedFeed(OneAtATime(FEED)), symbol, times) == one_by_one  # type: ignore[arg-type]


def test_a_minute_of_seconds_reads_its_path() -> None:
    start_s = FIRST_S + 600
    times = [start_s + i for i in range(60)]
    assert FEED.prices_at("BTCUSDT", times) == FEED.minute_path("BTCUSDT", start_s)


@settings(max_examples=100, deadline=None)
@given(
    reads=st.lists(
        st.tuples(st.sampled_from(FEED.symbols), st.integers(0, 119), st.integers(1, 3)),
        min_size=1,
        max_size=20,
    )
)
def test_kept_rows_are_the_table_rows(reads: list[tuple[str, int, int]]) -> None:
    """Polls of a few minutes, in any order and across symbols, read the table's rows."""
    feed = GeneratedFeed(5, start_ms=DEFAULT_START_MS, minutes=120)
    for symbol, minute, count in reads:
        start = DEFAULT_START_MS + minute * MINUTE_MS
        got = feed.klines(symbol, start, start + count * MINUTE_MS)
        assert got == FEED.table(symbol, start, start + count * MINUTE_MS).to_klines()
