"""The recorded world: a recording's quotes become the books the bot's orders meet."""

from __future__ import annotations

from decimal import Decimal

import pytest

from src.data.market_data.windows import WindowRef
from src.data.quotes import QuoteRow, RecordedWindow
from src.sim.calendar import MarketCalendar
from src.sim.emulator.recorded import (
    QUOTER_ADDRESS,
    RecordedMarketSource,
    ReplayRules,
    wanted_quotes,
)
from src.sim.emulator.world import ListedMarket
from src.sim.feeds.generator import DEFAULT_START_MS, GeneratedFeed
from src.sim.venue import Outcome, SimVenue
from src.sim.venue.types import OrderRequest, OrderType, Side
from src.utils.clock import SimClock
from src.utils.money import MICRO

START = DEFAULT_START_MS // 1000 + 86_400  # a window boundary a day into the feed
TRADER = "0x" + "11" * 20
D = Decimal


def _row(t: float, up_bid: str | None, up_ask: str | None, **extra: object) -> QuoteRow:
    """A row whose Down book mirrors the Up book exactly."""
    down_bid = None if up_ask is None else 1 - D(up_ask)
    down_ask = None if up_bid is None else 1 - D(up_bid)
    return QuoteRow(
        slug=WindowRef("BTC", START).slug,
        window_start=START,
        t_s=float(START + t),
        up_bid=None if up_bid is None else D(up_bid),
        up_ask=None if up_ask is None else D(up_ask),
        down_bid=down_bid,
        down_ask=down_ask,
        outcome="UP",
        **extra,  # type: ignore[arg-type]
    )


def _recording(*rows: QuoteRow, outcome: str | None = "UP") -> RecordedWindow:
    return RecordedWindow(rows[0].slug, "BTC", START, outcome, rows)


class World:
    """A manual clock, a venue, the recorded source and one funded trader."""

    def __init__(self, *recordings: RecordedWindow, rules: ReplayRules = ReplayRules()):
        self.clock = SimClock(start=START - 1_000, speed=None)
        self.venue = SimVenue(self.clock, seed=0)
        feed = GeneratedFeed(0, start_ms=DEFAULT_START_MS, minutes=3 * 1440)
        calendar = MarketCalendar(("BTC",), seed=0)
        self.source = RecordedMarketSource(self.venue, feed, calendar, recordings, rules)
        self.venue.open_account(TRADER, collateral=1_000 * MICRO)

    @property
    def market(self) -> ListedMarket:
        return self.source.windows[0]

    def at(self, t: float) -> None:
        self.source.advance_to(START + t)

    def top(self, token: str) -> tuple[int | None, int | None]:
        return self.venue.best_bid_ask(token)

    def place(self, token: str, side: Side, price: str, size: str, kind=OrderType.GTC):
        request = OrderRequest.limit(token, side, D(price), D(size), kind)
        result = self.venue.place(TRADER, request)
        self.venue.step()  # settle the matched trades
        return result


def micro(text: str) -> int:
    return int(D(text) * MICRO)


def test_the_books_show_the_recorded_quotes_from_the_first_row() -> None:
    world = World(_recording(_row(0, "0.48", "0.50"), _row(5, "0.52", "0.54")))
    world.at(-1)
    up, down = world.market.up_token_id, world.market.down_token_id
    assert world.top(up) == (None, None)  # listed, nothing recorded yet
    world.at(0)
    assert world.top(up) == (micro("0.48"), micro("0.50"))
    assert world.top(down) == (micro("0.50"), micro("0.52"))
    world.at(7)
    assert world.top(up) == (micro("0.52"), micro("0.54"))


def test_a_taker_buy_fills_at_the_recorded_ask_up_to_the_depth_and_pays_the_fee() -> None:
    rules = ReplayRules(depth_shares=D(20), fee_rate=D("0.07"))
    world = World(_recording(_row(0, "0.48", "0.50")), rules=rules)
    world.at(1)
    up = world.market.up_token_id
    before = world.venue.balance(TRADER).balance
    result = world.place(up, Side.BUY, "0.55", "50", OrderType.FAK)
    assert result.success
    bought = world.venue.position(TRADER, up).size
    assert 0 < bought <= 20 * MICRO  # only the assumed depth was there
    paid = before - world.venue.balance(TRADER).balance
    assert paid == 20 * micro("0.50")  # at the recorded ask, not the limit
    assert bought < 20 * MICRO  # the taker fee, taken in shares on a BUY
    assert world.top(up)[1] is None  # taken, and not re-offered at the same quote


def test_taken_liquidity_stays_taken_while_the_bot_has_orders_there() -> None:
    rules = ReplayRules(depth_shares=D(20))
    rows = (_row(0, "0.48", "0.50"), _row(3, "0.48", "0.50"), _row(6, "0.49", "0.51"))
    world = World(_recording(*rows), rules=rules)
    world.at(1)
    up, down = world.market.up_token_id, world.market.down_token_id
    world.place(up, Side.BUY, "0.50", "20", OrderType.FAK)
    resting = world.place(down, Side.BUY, "0.10", "10")  # keeps the market traded
    world.at(4)  # the same quote taped again: still taken
    assert world.top(up)[1] is None
    world.at(6)  # the quote moved: offered again
    assert world.top(up) == (micro("0.49"), micro("0.51"))
    assert world.venue.level_size(up, Side.SELL, micro("0.51")) == 20 * MICRO
    world.venue.cancel(TRADER, resting.order_id)
    world.at(7)  # nobody else trades here any more: the quotes are virtual again
    assert world.venue.level_size(up, Side.SELL, micro("0.51")) == 0
    assert world.top(up) == (micro("0.49"), micro("0.51"))


def test_once_the_bot_is_out_the_full_quote_shows_again() -> None:
    rules = ReplayRules(depth_shares=D(20))
    world = World(_recording(_row(0, "0.48", "0.50"), _row(3, "0.48", "0.50")), rules=rules)
    world.at(1)
    up = world.market.up_token_id
    world.place(up, Side.BUY, "0.50", "20", OrderType.FAK)
    world.at(4)
    assert world.venue.book(up).asks[0].size == 20 * MICRO


def test_books_merge_the_taped_quote_with_resting_orders() -> None:
    world = World(_recording(_row(0, "0.48", "0.50"), _row(5, "0.47", "0.50")))
    world.at(1)
    up = world.market.up_token_id
    world.place(up, Side.BUY, "0.45", "10")
    world.venue.cancel(TRADER, world.place(up, Side.BUY, "0.44", "10").order_id)
    book = world.venue.book(up)
    assert [(lv.price, lv.size) for lv in book.bids] == [
        (micro("0.48"), 100 * MICRO),
        (micro("0.45"), 10 * MICRO),
    ]


def test_a_resting_sell_fills_when_a_later_quote_reaches_through_it() -> None:
    world = World(
        _recording(
            _row(0, "0.48", "0.50"),
            _row(3, "0.61", "0.63"),  # between two of the bot's ticks…
            _row(6, "0.50", "0.52"),  # …and back
        )
    )
    world.at(1)
    up = world.market.up_token_id
    bought = world.place(up, Side.BUY, "0.50", "10", OrderType.FAK)
    assert bought.success
    held = world.venue.position(TRADER, up).size
    resting = world.place(up, Side.SELL, "0.60", str(D(held) / MICRO))
    assert resting.success and resting.order is not None
    cash = world.venue.balance(TRADER).balance
    world.at(10)
    assert world.venue.position(TRADER, up).size == 0
    # the bot was the maker: paid its own price, no fee
    assert world.venue.balance(TRADER).balance - cash == held * micro("0.60") // MICRO


def test_a_resting_bid_at_the_best_bid_never_fills_without_a_reach_through() -> None:
    world = World(_recording(*(_row(t, "0.48", "0.50") for t in range(0, 60, 5))))
    world.at(1)
    up = world.market.up_token_id
    result = world.place(up, Side.BUY, "0.48", "10")
    assert result.success
    world.at(59)
    assert world.venue.position(TRADER, up).size == 0
    order = world.venue.order(result.order_id)
    assert order is not None and order.remaining == 10 * MICRO


def test_a_gap_in_the_recording_empties_the_books() -> None:
    world = World(_recording(_row(0, "0.48", "0.50"), _row(100, "0.40", "0.42")))
    up = world.market.up_token_id
    world.at(20)
    assert world.top(up) == (micro("0.48"), micro("0.50"))
    world.at(31)
    assert world.top(up) == (None, None)
    world.at(100)
    assert world.top(up) == (micro("0.40"), micro("0.42"))


def test_the_market_closes_at_the_end_and_resolves_to_the_recorded_outcome() -> None:
    rows = (_row(t, "0.48", "0.50") for t in range(0, 900, 20))
    world = World(_recording(*rows, outcome="DOWN"))
    market = world.market
    world.at(899)
    assert world.top(market.up_token_id)[0] is not None
    world.at(900)
    assert world.top(market.up_token_id) == (None, None)
    assert world.venue.market_status(market.condition_id).winner is None
    world.source.advance_to(market.resolves_at)
    assert world.venue.market_status(market.condition_id).winner is Outcome.DOWN
    assert world.source.next_activity(market.resolves_at + 1) is None


def test_windows_without_an_outcome_or_a_fed_coin_are_not_listed() -> None:
    eth = RecordedWindow(
        WindowRef("ETH", START).slug, "ETH", START, "UP", (_row(0, "0.4", "0.5"),)
    )
    world = World(_recording(_row(0, "0.48", "0.50"), outcome=None), eth)
    assert world.source.windows == []
    assert world.source.skipped == 2


def test_the_quoter_keeps_no_history() -> None:
    world = World(_recording(_row(0, "0.48", "0.50")))
    world.at(1)
    assert QUOTER_ADDRESS not in world.venue.accounts()


@pytest.mark.parametrize(
    ("bid", "ask", "expected"),
    [
        ("0.483", "0.497", ("0.48", "0.50")),  # off the tick: away from the middle
        ("0.50", "0.50", ("0.50", None)),  # locked: the bid only
        ("0.52", "0.50", ("0.52", None)),  # crossed: the bid only
        ("0.001", "0.999", (None, None)),  # rounds out of (0, 1)
    ],
)
def test_wanted_quotes_snap_to_the_tick_and_never_cross(
    bid: str, ask: str, expected: tuple[str | None, str | None]
) -> None:
    world = World(_recording(_row(0, "0.48", "0.50")))
    market = world.market
    row = _row(0, bid, ask)
    wants = wanted_quotes(row, market, D(100))
    up = market.up_token_id
    got_bid = wants.get((up, Side.BUY))
    got_ask = wants.get((up, Side.SELL))
    assert (None if got_bid is None else got_bid.price) == (
        None if expected[0] is None else micro(expected[0])
    )
    assert (None if got_ask is None else got_ask.price) == (
        None if expected[1] is None else micro(expected[1])
    )


def test_recorded_sizes_override_the_assumed_depth_and_tiny_levels_are_skipped() -> None:
    world = World(_recording(_row(0, "0.48", "0.50")))
    market = world.market
    row = _row(0, "0.48", "0.50", up_bid_size=D("37.9"), up_ask_size=D("3"))
    wants = wanted_quotes(row, market, D(100))
    assert wants[(market.up_token_id, Side.BUY)].size == 37 * MICRO
    assert (market.up_token_id, Side.SELL) not in wants  # under the minimum order
    assert wants[(market.down_token_id, Side.SELL)].size == 100 * MICRO
    assert wanted_quotes(None, market, D(100)) == {}
