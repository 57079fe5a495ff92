"""A tape market's book levels, kept per token for the row shown, are the levels the row
gives (the general path), whatever row is shown when; and the venue's and the in-process
adapter's shortcuts for empty and single-level sides are their general rules."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from src.data.market_data.windows import WindowRef
from src.data.quotes import QuoteRow, RecordedWindow
from src.sim.calendar import MarketCalendar
from src.sim.emulator.recorded import RecordedMarketSource, token_quotes
from src.sim.feeds.generator import DEFAULT_START_MS, GeneratedFeed
from src.sim.venue import SimVenue
from src.sim.venue.book import BookSide
from src.sim.venue.types import BookLevel
from src.trading.venue.in_process import InProcessVenue
from src.utils.clock import SimClock

START = DEFAULT_START_MS // 1000 + 86_400
FEED = GeneratedFeed(0, start_ms=DEFAULT_START_MS, minutes=3 * 1440)
D = Decimal


def _row(t: float, cents: int | None) -> QuoteRow:
    bid = None if cents is None else D(cents) / 100
    ask = None if cents is None else D(cents + 2) / 100
    return QuoteRow(
        slug=WindowRef("BTC", START).slug,
        window_start=START,
        t_s=float(START + t),
        up_bid=bid,
        up_ask=ask,
        down_bid=None if ask is None else 1 - ask,
        down_ask=None if bid is None else 1 - bid,
        outcome="UP",
    )


def _general(source: RecordedMarketSource, token: str) -> object:
    """``levels`` as first written: from the row shown, every time."""
    replay = source._by_token.get(token)
    if replay is None or replay.materialized:
        return None
    if replay.row < 0:
        return ((), ())
    bid, ask = token_quotes(replay.tape, replay.row, replay.market, source._depth, token)
    return (
        () if bid is None else (BookLevel(bid.price, bid.size),),
        () if ask is None else (BookLevel(ask.price, ask.size),),
    )


@settings(max_examples=60, deadline=None)
@given(
    quotes=st.lists(st.one_of(st.none(), st.integers(1, 97)), min_size=1, max_size=12),
    reads=st.lists(st.floats(-5, 1_000, allow_nan=False), min_size=1, max_size=30),
)
def test_kept_levels_are_the_rows_levels(
    quotes: list[int | None], reads: list[float]
) -> None:
    rows = tuple(_row(i * 40.0, cents) for i, cents in enumerate(quotes))
    recording = RecordedWindow(rows[0].slug, "BTC", START, "UP", rows)
    clock = SimClock(start=START - 1_000, speed=None)
    venue = SimVenue(clock, seed=0)
    source = RecordedMarketSource(
        venue, FEED, MarketCalendar(("BTC",), seed=0), [recording]
    )
    source.advance_to(START - 1)
    market = source.windows[0]
    for t in sorted(reads):
        source.advance_to(START + t)
        for token in market.token_ids:
            for _ in range(2):  # a second read is served from what was kept
                assert source.levels(token) == _general(source, token)


@settings(max_examples=200, deadline=None)
@given(depth=st.one_of(st.none(), st.integers(0, 5)))
def test_an_empty_side_has_no_levels_at_any_depth(depth: int | None) -> None:
    """What the venue's book read skips for an empty side."""
    assert BookSide(True).depth(depth) == () == BookSide(False).depth(depth)


def test_single_levels_convert_as_any_number_of_levels() -> None:
    venue = InProcessVenue.__new__(InProcessVenue)
    venue._levels, venue._decimals = {}, {}
    for raw in [(), (BookLevel(500_000, 10_000_000),), (BookLevel(1, 2), BookLevel(3, 4))]:
        assert venue._market_levels(raw) == tuple(
            venue._level(lv.price, lv.size) for lv in raw
        )


class FollowsEveryReplay(RecordedMarketSource):
    """The source as first written: every replay followed in full at every step."""

    def _quiet(self, replay: object, t: float) -> bool:
        return False


def _state(source: RecordedMarketSource) -> list[object]:
    replays = {id(r): r for r in source._by_token.values()}.values()
    return [
        (r.row, r.seen, r.closed, r.resolved, r.materialized, sorted(r.resting))
        for r in replays
    ] + [source.levels(t) for m in source.windows for t in m.token_ids]


@settings(max_examples=60, deadline=None)
@given(
    gaps=st.lists(st.floats(0.5, 70), min_size=1, max_size=15),
    quotes=st.lists(st.one_of(st.none(), st.integers(1, 97)), min_size=15, max_size=15),
    steps=st.lists(
        st.tuples(st.floats(0, 120, allow_nan=False), st.booleans()),
        min_size=1,
        max_size=40,
    ),
)
def test_quiet_replays_skipped_follow_as_in_full(
    gaps: list[float], quotes: list[int | None], steps: list[tuple[float, bool]]
) -> None:
    """Rows at any gaps (quotes going stale between them), steps of any length (past
    the end, the resolution), markets materialized at times: the skipped follows leave
    every replay, and its books, as following it in full does."""
    times = [sum(gaps[: i + 1]) for i in range(len(gaps))]
    rows = tuple(_row(t, cents) for t, cents in zip(times, quotes, strict=False))
    recording = RecordedWindow(rows[0].slug, "BTC", START, "UP", rows)
    sources = []
    for kind in (RecordedMarketSource, FollowsEveryReplay):
        clock = SimClock(start=START - 1_000, speed=None)
        venue = SimVenue(clock, seed=0)
        source = kind(venue, FEED, MarketCalendar(("BTC",), seed=0), [recording])
        source.advance_to(START - 1)
        sources.append((source, clock))
    t = START - 1.0
    for step, materialize in steps:
        t += step
        for source, _ in sources:
            if materialize:
                source.materialize(source.windows[0].up_token_id)
            source.advance_to(t)
        assert _state(sources[0][0]) == _state(sources[1][0])
