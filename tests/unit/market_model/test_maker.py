"""The makers' ladder on a real venue: mirroring, minimal requotes, ticks, fills, refill."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from src.data.market_data.windows import WindowRef
from src.sim.market_model import MakerBook, MakerStats, MarketModelParams
from src.sim.market_model.maker import MakerPair
from src.sim.market_model.pricing import COARSE_TICK, FINE_TICK, MICRO, NO_ASK
from src.sim.market_model.view import Quote
from src.sim.venue import (
    BookLevel,
    BookSnapshot,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    SimVenue,
    VenueMarket,
)
from src.utils.clock import SimClock

WINDOW = WindowRef("BTC", 1_767_225_600)
PARAMS = MarketModelParams(depth_log_sd=0.0, depth_growth=1.0, depth_shares=100.0)
MIN = 5 * MICRO


@dataclass
class Desk:
    """A venue with one market, the makers' ladder and a watcher feeding fills back."""

    clock: SimClock
    venue: SimVenue
    market: VenueMarket
    book: MakerBook
    stats: MakerStats
    index: dict[str, MakerPair]
    fills: list[tuple[str, int]] = field(default_factory=list)

    def quote(self, quote: Quote) -> None:
        """Apply a quote and send its orders, as the driver does."""
        self.book.apply(quote, self.clock.now())
        self.sync()

    def sync(self) -> None:
        """Apply the fills the venue reported, then replenish and flush."""
        now = self.clock.now()
        for order_id, remaining in self.fills:
            pair = self.index.get(order_id)
            if pair is not None:
                self.book.on_leg_update(pair, order_id, remaining, now)
        self.fills.clear()
        self.book.replenish(now)
        self.book.flush(now)

    def take(self, token: str, side: Side, price: int, shares: int) -> None:
        """A taker crossing the book (FAK), then the makers' answer."""
        amount = shares * price // MICRO
        request = OrderRequest(token, side, price, shares, amount, OrderType.FAK)
        if side is Side.SELL:
            request = OrderRequest(token, side, price, shares, amount, OrderType.FAK)
        result = self.venue.place("taker", request)
        assert result.success, result.error
        self.sync()

    def books(self) -> tuple[BookSnapshot, BookSnapshot]:
        return self.venue.book(self.market.up_token_id), self.venue.book(
            self.market.down_token_id
        )


def make_desk(params: MarketModelParams = PARAMS) -> Desk:
    clock = SimClock(WINDOW.start + 60)
    venue = SimVenue(clock)
    market = VenueMarket.for_window(WINDOW)
    venue.register_market(market)
    venue.open_liquidity_account("maker")
    venue.open_liquidity_account("taker")
    venue.open_account("bot", 1_000 * MICRO)
    index: dict[str, MakerPair] = {}
    stats = MakerStats()
    book = MakerBook(
        venue,
        "maker",
        market.up_token_id,
        market.down_token_id,
        params,
        random.Random(1),
        index,
        stats,
        MIN,
    )
    desk = Desk(clock, venue, market, book, stats, index)
    venue.watch_orders("maker", lambda oid, rem: desk.fills.append((oid, rem)))
    return desk


def _mirror(levels: tuple[BookLevel, ...]) -> tuple[BookLevel, ...]:
    return tuple(BookLevel(MICRO - level.price, level.size) for level in levels)


def assert_mirrored(desk: Desk) -> None:
    up, down = desk.books()
    assert down.bids == _mirror(up.asks)
    assert down.asks == _mirror(up.bids)
    assert down.tick_size == up.tick_size


def q(bid: int, ask: int, tick: int = COARSE_TICK) -> Quote:
    return Quote(bid * 10_000, ask * 10_000, tick, COARSE_TICK)


def test_the_ladder_is_quoted_on_up_and_mirrored_on_down() -> None:
    desk = make_desk()
    desk.quote(q(50, 51))
    up, _ = desk.books()
    assert [level.price for level in up.bids] == [500_000, 490_000, 480_000]
    assert [level.price for level in up.asks] == [510_000, 520_000, 530_000]
    assert all(level.size == 100 * MICRO for level in up.bids + up.asks)
    assert_mirrored(desk)
    assert desk.stats.book_updates == 12  # 6 levels × 2 books


def test_requotes_touch_only_what_changed() -> None:
    desk = make_desk()
    first = q(50, 51)
    desk.quote(first)
    before = desk.stats.book_updates
    desk.quote(first)  # the same quote: nothing at all
    assert desk.stats.book_updates == before and desk.stats.requotes == 1
    desk.quote(q(50, 51))  # an equal quote: nothing sent either
    assert desk.stats.book_updates == before
    desk.quote(q(51, 52))  # one cent up: a new top bid, the old top ask withdrawn
    assert desk.stats.book_updates == before + 4  # one level placed, one cancelled, ×2
    up, _ = desk.books()
    assert [level.price for level in up.bids] == [510_000, 500_000, 490_000, 480_000]
    assert [level.price for level in up.asks] == [520_000, 530_000]
    assert_mirrored(desk)


def test_after_a_far_move_the_depth_builds_up_again_over_time() -> None:
    desk = make_desk()
    desk.quote(q(50, 51))
    desk.quote(q(60, 62))
    up, _ = desk.books()
    # Old bids within the band stay as depth; the old asks, now through the quote, go.
    assert [level.price for level in up.bids] == [600_000, 500_000, 490_000, 480_000]
    assert [level.price for level in up.asks] == [620_000]  # the new quote alone, at first
    assert_mirrored(desk)
    desk.clock.advance(PARAMS.replenish_delay_s)
    desk.sync()
    # ... and the depth behind it is rebuilt after the replenishment delay.
    up, _ = desk.books()
    assert [level.price for level in up.asks] == [620_000, 630_000, 640_000]
    assert_mirrored(desk)
    desk.quote(q(90, 91))  # beyond the band (15 levels): every old bid goes
    up, _ = desk.books()
    assert [level.price for level in up.bids] == [900_000]


def test_tick_switches_to_0001_above_096_and_back() -> None:
    desk = make_desk()
    up_token, down_token = desk.market.up_token_id, desk.market.down_token_id
    desk.quote(q(97, 98, FINE_TICK))
    assert desk.venue.tick_size(up_token) == FINE_TICK
    assert desk.venue.tick_size(down_token) == FINE_TICK
    assert_mirrored(desk)
    desk.quote(Quote(990_000, NO_ASK, FINE_TICK, COARSE_TICK))  # near certain: no ask
    up, down = desk.books()
    assert up.asks == () and down.bids == ()
    assert_mirrored(desk)
    desk.quote(q(60, 61))
    assert desk.venue.tick_size(up_token) == COARSE_TICK
    assert_mirrored(desk)


def test_a_fill_shrinks_the_mirror_in_place_and_the_level_refills_later() -> None:
    desk = make_desk(
        MarketModelParams(
            depth_log_sd=0.0,
            depth_growth=1.0,
            depth_shares=100.0,
            replenish_delay_s=2.0,
            replenish_below=0.9,
        )
    )
    desk.quote(q(50, 51))
    up_token = desk.market.up_token_id
    desk.take(up_token, Side.BUY, 510_000, 30 * MICRO)
    up, _ = desk.books()
    assert up.asks[0] == BookLevel(510_000, 70 * MICRO)
    assert_mirrored(desk)
    assert desk.stats.reduced == 1  # the Down bid shrank in place, no cancel/replace
    desk.clock.advance(1.0)
    desk.sync()
    assert desk.books()[0].asks[0].size == 70 * MICRO  # not yet: the delay is 2 s
    desk.clock.advance(1.5)
    desk.sync()
    assert desk.books()[0].asks[0].size == 100 * MICRO
    assert desk.stats.replenishments == 1
    assert_mirrored(desk)


def test_taking_a_whole_level_withdraws_its_mirror() -> None:
    desk = make_desk()
    desk.quote(q(50, 51))
    down_token = desk.market.down_token_id
    # Buying Down at 0.50 takes the Up bid's mirror entirely.
    desk.take(down_token, Side.BUY, 500_000, 100 * MICRO)
    up, _ = desk.books()
    assert [level.price for level in up.bids] == [490_000, 480_000]
    assert_mirrored(desk)


def test_a_mirrored_leg_keeps_its_queue_place_ahead_of_the_bot() -> None:
    desk = make_desk()
    desk.quote(q(50, 51))
    up_token, down_token = desk.market.up_token_id, desk.market.down_token_id
    # The bot joins the makers' Down bid at 0.49 (the mirror of their Up ask at 0.51).
    bot = desk.venue.place(
        "bot", OrderRequest.limit(down_token, Side.BUY, "0.49", "10", OrderType.GTC)
    )
    assert bot.success
    desk.take(up_token, Side.BUY, 510_000, 40 * MICRO)  # takes the Up leg partly
    # The makers' Down leg shrank to 60 in place: still ahead of the bot.
    desk.take(down_token, Side.SELL, 490_000, 60 * MICRO)
    order = desk.venue.order(bot.order_id)
    assert order is not None and order.matched == 0 and order.is_live
    desk.take(down_token, Side.SELL, 490_000, 5 * MICRO)
    order = desk.venue.order(bot.order_id)
    assert order is not None and order.matched == 5 * MICRO


def test_a_bot_order_through_the_quote_leaves_that_level_empty() -> None:
    desk = make_desk()
    up_token = desk.market.up_token_id
    bot = desk.venue.place(
        "bot", OrderRequest.limit(up_token, Side.BUY, "0.52", "10", OrderType.GTC)
    )
    assert bot.success
    desk.quote(q(50, 51))  # the makers' ask at 0.51 would cross the bot's bid: refused
    up, _ = desk.books()
    assert up.bids[0] == BookLevel(520_000, 10 * MICRO)
    assert all(level.price > 520_000 for level in up.asks)
    assert desk.stats.rejected >= 1
    order = desk.venue.order(bot.order_id)
    assert order is not None and order.status is OrderStatus.LIVE  # makers never take


def test_drop_forgets_the_ladder() -> None:
    desk = make_desk()
    desk.quote(q(50, 51))
    desk.book.drop()
    assert desk.index == {} and desk.book.bids == {} and desk.book.quote is None
