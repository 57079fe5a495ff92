"""The feeds' batch reads (a list of times, a minute's seconds) and kept rows answer
exactly what the one-at-a-time reads do."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from src.sim.emulator.world import LockedFeed
from src.sim.feeds.base import MINUTE_MS, Kline
from src.sim.feeds.errors import FeedRangeError
from src.sim.feeds.generator import DEFAULT_START_MS, GeneratedFeed
from src.sim.feeds.path import PathParams
from src.sim.feeds.table import feed_prices, minute_reads

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


@settings(max_examples=300, deadline=None)
@given(
    symbol=st.sampled_from(FEED.symbols),
    minute=st.integers(0, 119),
    first=st.integers(-2, 62),
    count=st.integers(0, 64),
    now=offsets,
)
def test_minute_reads_are_price_at_at_each_second(
    symbol: str, minute: int, first: int, count: int, now: float
) -> None:
    """The seconds of a minute (and beyond it, and before it) and any time: the prices
    ``price_at`` answers, from the table feed, the locked one and a price_at-only one,
    or the same error."""
    start_ms = DEFAULT_START_MS + minute * MINUTE_MS
    seconds = range(first, first + count)

    def one_by_one(feed: object) -> object:
        try:
            read = [feed.price_at(symbol, start_ms / 1000 + i) for i in seconds]  # type: ignore[attr-defined]
            return read, feed.price_at(symbol, FIRST_S + now)  # type: ignore[attr-defined]
        except FeedRangeError as exc:
            return str(exc)

    def batched(feed: object) -> object:
        try:
            return minute_reads(
                feed,  # type: ignore[arg-type]
                symbol,
                start_ms,
                first,
                first + count,
                FIRST_S + now,
            )
        except FeedRangeError as exc:
            return str(exc)

    want = one_by_one(FEED)
    assert batched(GeneratedFeed(5, start_ms=DEFAULT_START_MS, minutes=120)) == want
    assert batched(FEED) == want
    assert batched(LockedFeed(FEED)) == want
    assert batched(OneAtATime(FEED)) == want


def test_seconds_at_half_second_samples_are_price_at() -> None:
    """A path of two samples a second: the seconds are every other sample."""
    feed = GeneratedFeed(
        5, start_ms=DEFAULT_START_MS, minutes=10, path_params=PathParams(resolution_s=0.5)
    )
    start_ms = DEFAULT_START_MS + 3 * MINUTE_MS
    now = start_ms / 1000 + 41.7
    want = [feed.price_at("ETHUSDT", start_ms / 1000 + i) for i in range(5, 60)]
    assert feed.second_prices("ETHUSDT", start_ms, 5, 60, now) == (
        want,
        feed.price_at("ETHUSDT", now),
    )


@settings(max_examples=150, deadline=None)
@given(
    reads=st.lists(
        st.tuples(
            st.sampled_from(FEED.symbols[:2]),
            st.integers(-10, 125),
            st.integers(0, 90),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_kept_runs_are_the_table_rows(reads: list[tuple[str, int, int]]) -> None:
    """Longer reads (a volatility lookback's), overlapping, moving on, going back, past
    the feed's ends: the kept run's rows are the table's; a caller's changes to what it
    got change nothing kept."""
    feed = GeneratedFeed(5, start_ms=DEFAULT_START_MS, minutes=120)
    for symbol, minute, count in reads:
        start = DEFAULT_START_MS + minute * MINUTE_MS
        end = start + count * MINUTE_MS
        got = feed.klines(symbol, start, end)
        assert got == FEED.table(symbol, start, end).to_klines()
        got.clear()  # the caller's own list
