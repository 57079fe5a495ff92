"""A tape row's quotes, per token (what a book read needs) and per market, are the rule as
first written: a locked or crossed pair keeps the bid, a level under the minimum is not
shown, an unknown size is the assumed depth."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from src.data.market_data.windows import WindowRef
from src.sim.calendar import MarketCalendar
from src.sim.emulator.recorded import NONE, Quote, Tape, quotes_at, token_quotes
from src.sim.emulator.world import ListedMarket
from src.sim.venue import Outcome
from src.sim.venue.types import Side
from src.utils.money import MICRO

MARKET = ListedMarket.from_calendar(
    MarketCalendar(("BTC",), seed=0).market(WindowRef("BTC", 1_767_225_600))
)


def quotes_in_general(
    tape: Tape, i: int, market: ListedMarket, depth_micro: int
) -> dict[tuple[str, Side], Quote]:
    """``quotes_at`` as first written."""
    if i < 0:
        return {}
    minimum = int(market.min_order_size * MICRO)
    quotes: dict[tuple[str, Side], Quote] = {}
    sizes = tape.sizes[i]
    books = (
        (market.up_token_id, tape.up_bid[i], tape.up_ask[i], sizes[0], sizes[1]),
        (market.down_token_id, tape.down_bid[i], tape.down_ask[i], sizes[2], sizes[3]),
    )
    for token, bid, ask, bid_size, ask_size in books:
        if bid != NONE and ask != NONE and bid >= ask:
            ask = NONE
        for side, price, size in ((Side.BUY, bid, bid_size), (Side.SELL, ask, ask_size)):
            shares = depth_micro if size == NONE else size
            if price != NONE and shares >= minimum:
                quotes[(token, side)] = Quote(token, side, price, shares)
    return quotes


price = st.one_of(st.just(NONE), st.integers(1, 99).map(lambda c: c * 10_000))
size = st.one_of(st.just(NONE), st.integers(0, 20).map(lambda s: s * MICRO))
rows = st.lists(
    st.tuples(price, price, price, price, st.tuples(size, size, size, size)),
    min_size=1,
    max_size=6,
)


@settings(max_examples=500, deadline=None)
@given(rows=rows, depth=st.integers(0, 20).map(lambda s: s * MICRO))
def test_quotes_are_the_rule_as_first_written(
    rows: list[tuple[int, int, int, int, tuple[int, int, int, int]]], depth: int
) -> None:
    tape = Tape(
        times=[float(i) for i in range(len(rows))],
        up_bid=[r[0] for r in rows],
        up_ask=[r[1] for r in rows],
        down_bid=[r[2] for r in rows],
        down_ask=[r[3] for r in rows],
        sizes=[r[4] for r in rows],
        outcome=Outcome.UP,
    )
    for i in range(-1, len(rows)):
        want = quotes_in_general(tape, i, MARKET, depth)
        got = quotes_at(tape, i, MARKET, depth)
        assert list(got.items()) == list(want.items())  # the order orders are placed in
        if i < 0:
            continue
        for token in MARKET.token_ids:
            assert token_quotes(tape, i, MARKET, depth, token) == (
                want.get((token, Side.BUY)),
                want.get((token, Side.SELL)),
            )
