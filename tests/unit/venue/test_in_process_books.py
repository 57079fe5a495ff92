"""Book reads through the in-process venue: the kept conversions and the venue's shortcut
for a lone virtual quote answer what the general code does."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from src.data.market_data.polymarket import BookLevel, OrderBook
from src.data.market_data.windows import WindowRef
from src.sim.venue import types as sim
from src.sim.venue.markets import VenueMarket
from src.sim.venue.venue import SimVenue, merge_levels
from src.trading.venue import in_process
from src.trading.venue.in_process import InProcessVenue
from src.utils.clock import SimClock
from src.utils.money import from_micro

T0 = 1_767_225_600
MM = "0xmaker"


def converted(snap: sim.BookSnapshot) -> OrderBook:
    """The book as first converted: every Decimal built from its micro-units."""
    return OrderBook(
        token_id=snap.token_id,
        bids=tuple(
            BookLevel(from_micro(lv.price), from_micro(lv.size)) for lv in snap.bids
        ),
        asks=tuple(
            BookLevel(from_micro(lv.price), from_micro(lv.size)) for lv in snap.asks
        ),
        timestamp_ms=int(snap.timestamp * 1000),
        tick_size=from_micro(snap.tick_size),
        min_order_size=from_micro(snap.min_order_size),
        last_trade_price=None
        if snap.last_trade_price is None
        else from_micro(snap.last_trade_price),
    )


quotes = st.lists(
    st.tuples(
        st.sampled_from([sim.Side.BUY, sim.Side.SELL]),
        st.integers(1, 99),  # cents
        st.integers(5, 300),  # shares
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(rounds=st.lists(quotes, min_size=1, max_size=4), kept=st.integers(1, 6))
def test_books_are_the_converted_snapshots(
    rounds: list[list[tuple[sim.Side, int, int]]], kept: int
) -> None:
    """Rounds of quotes (some crossing: trades, a last trade price) read back the same,
    with conversions forgotten and rebuilt past a tiny memory."""
    saved = in_process.LEVELS_KEPT
    in_process.LEVELS_KEPT = kept
    try:
        clock = SimClock(start=T0 + 60)
        venue = SimVenue(clock, seed=1)
        market = VenueMarket.for_window(WindowRef("BTC", T0))
        venue.register_market(market)
        venue.open_liquidity_account(MM)
        port = InProcessVenue(venue, "0xbot")
        tokens = [market.up_token_id, market.down_token_id]
        for round_ in rounds:
            for side, cents, shares in round_:
                venue.place(
                    MM,
                    sim.OrderRequest.limit(
                        market.up_token_id, side, Decimal(cents) / 100, Decimal(shares)
                    ),
                )
            clock.advance(1)
            books = port.books(tokens)
            for token in tokens:
                assert books[token] == converted(venue.book(token))
    finally:
        in_process.LEVELS_KEPT = saved


def merged_in_general(
    resting: tuple[sim.BookLevel, ...],
    shown: tuple[sim.BookLevel, ...],
    bids: bool,
    depth: int | None,
) -> tuple[sim.BookLevel, ...]:
    """``merge_levels`` as first written: every non-empty ``shown`` aggregated."""
    if not shown:
        return resting
    sizes: dict[int, int] = {}
    for level in (*resting, *shown):
        sizes[level.price] = sizes.get(level.price, 0) + level.size
    prices = sorted(sizes, reverse=bids)
    if depth is not None:
        prices = prices[:depth]
    return tuple(sim.BookLevel(price, sizes[price]) for price in prices)


levels = st.lists(
    st.builds(sim.BookLevel, st.integers(1, 99), st.integers(1, 10**9)),
    max_size=4,
    unique_by=lambda lv: lv.price,
)


@settings(max_examples=400, deadline=None)
@given(
    resting=levels,
    shown=levels,
    bids=st.booleans(),
    depth=st.one_of(st.none(), st.integers(-2, 5)),
)
def test_merged_levels_are_the_general_merge(
    resting: list[sim.BookLevel],
    shown: list[sim.BookLevel],
    bids: bool,
    depth: int | None,
) -> None:
    def best_first(side: list[sim.BookLevel]) -> tuple[sim.BookLevel, ...]:
        return tuple(sorted(side, key=lambda lv: lv.price, reverse=bids))

    rest, show = best_first(resting), best_first(shown)
    assert merge_levels(rest, show, bids, depth) == merged_in_general(
        rest, show, bids, depth
    )


@settings(max_examples=60, deadline=None)
@given(
    rounds=st.lists(
        st.tuples(quotes, st.integers(0, 150), st.integers(0, 120)), min_size=1, max_size=4
    ),
    asked=st.lists(st.integers(0, 2), min_size=1, max_size=5),
)
def test_batched_books_are_the_books_read_one_by_one(
    rounds: list[tuple[list[tuple[sim.Side, int, int]], int, int]], asked: list[int]
) -> None:
    """``SimVenue.books``: one sweep and one lock for the lot, the books one ``book`` call
    each answers (GTD quotes expiring at the very time read, tokens asked twice, a
    token the venue does not list: the same error)."""

    def build() -> tuple[SimVenue, SimClock, list[str]]:
        clock = SimClock(start=T0 + 60)
        venue = SimVenue(clock, seed=1)
        market = VenueMarket.for_window(WindowRef("BTC", T0))
        venue.register_market(market)
        venue.open_liquidity_account(MM)
        return venue, clock, [market.up_token_id, market.down_token_id, "0xnone"]

    batched, batched_clock, tokens = build()
    single, single_clock, _ = build()
    names = [tokens[i] for i in asked]
    for round_, lives_s, step_s in rounds:
        for venue, clock in ((batched, batched_clock), (single, single_clock)):
            for side, cents, shares in round_:
                request = sim.OrderRequest.limit(
                    tokens[0],
                    side,
                    Decimal(cents) / 100,
                    Decimal(shares),
                    sim.OrderType.GTD if lives_s else sim.OrderType.GTC,
                    expiration=int(clock.now()) + lives_s if lives_s else 0,
                )
                venue.place(MM, request)
            clock.advance(step_s)
        try:
            got: object = batched.books(names)
        except Exception as exc:  # the same error is the answer
            got = repr(exc)
        try:
            want: object = {t: single.book(t) for t in names}
        except Exception as exc:
            want = repr(exc)
        assert got == want
