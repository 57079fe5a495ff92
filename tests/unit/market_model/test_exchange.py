"""The driver: market life cycle, mirrored and gridded books every tick, determinism, and
a bot's orders meeting the simulated flow."""

from __future__ import annotations

from decimal import Decimal

import pytest

from src.sim.calendar import Phase
from src.sim.market_model import MarketModelParams, MarketState, SimExchange
from src.sim.market_model.pricing import FINE_TICK, MICRO
from src.sim.venue import (
    BookLevel,
    OrderRequest,
    OrderType,
    Outcome,
    Side,
    UnknownMarketError,
)
from tests.unit.market_model.support import (
    COINS,
    START,
    generated_feed,
    make_sim,
    stepped_feed,
)

NO_BASIS = MarketModelParams(basis_bp=0.0)
QUIET = MarketModelParams(basis_bp=0.0, taker_rate_per_s=0.0)
# On a flat feed these makers never move their quote: only the tests' orders change books.
STILL = MarketModelParams(basis_bp=0.0, taker_rate_per_s=0.0, noise_sd_logit=0.0)


def _state(exchange: SimExchange, start: int) -> MarketState | None:
    for state in exchange.markets() + exchange.resolved_markets():
        if state.market.window.start == start:
            return state
    return None


def test_a_market_lists_opens_closes_and_resolves_on_time() -> None:
    feed = stepped_feed([100.0] * 60 + [100.0 + 0.01 * k for k in range(60)])
    sim = make_sim(feed, params=NO_BASIS, start=START - 1000)
    exchange, venue = sim.exchange, sim.venue
    exchange.run_until(START - 901)
    assert _state(exchange, START) is None
    exchange.run_until(START - 900)  # listed_at = start − list_ahead
    state = _state(exchange, START)
    assert state is not None and state.phase is Phase.LISTED
    assert state.strike is None and state.maker_fair == 0.5
    assert state.fee_rate == Decimal("0.07")
    assert venue.market_status(state.condition_id).accepting_orders
    assert venue.best_bid_ask(state.up_token_id) == (500_000, 510_000)
    exchange.run_until(START)
    state = _state(exchange, START)
    assert state is not None and state.phase is Phase.OPEN
    assert state.strike == feed.price_at("BTCUSDT", START)  # no basis: the feed's price
    assert exchange.fair_value(state.condition_id) is not None
    exchange.run_until(START + 899)
    assert venue.market_status(state.condition_id).accepting_orders
    exchange.run_until(START + 900)
    state = _state(exchange, START)
    assert state is not None and state.phase is Phase.CLOSED
    assert state.end_price == feed.price_at("BTCUSDT", START + 899.5)
    assert state.outcome is None  # known only at resolution
    status = venue.market_status(state.condition_id)
    assert not status.accepting_orders and not status.resolved
    assert venue.open_orders(exchange.maker_address, condition_id=state.condition_id) == []
    assert exchange.fair_value(state.condition_id) is None
    exchange.run_until(START + 959)
    assert not venue.market_status(state.condition_id).resolved
    exchange.run_until(START + 960)
    state = _state(exchange, START)
    assert state is not None and state.phase is Phase.RESOLVED
    assert state.outcome is Outcome.UP  # the price rose during the window
    assert venue.market_status(state.condition_id).winner is Outcome.UP
    assert exchange.market(state.condition_id) == state


@pytest.mark.parametrize(
    ("drift", "winner"),
    [(0.0, Outcome.UP), (-0.01, Outcome.DOWN), (0.01, Outcome.UP)],
)
def test_resolution_is_up_iff_end_is_at_least_the_strike(
    drift: float, winner: Outcome
) -> None:
    # Flat minutes drifting by ``drift`` a minute; no basis, so a flat feed is a tie.
    feed = stepped_feed([100.0 + drift * max(0, k - 60) for k in range(120)])
    sim = make_sim(feed, params=QUIET)
    sim.exchange.run_until(START + 960)
    state = _state(sim.exchange, START)
    assert state is not None and state.outcome is winner


def test_the_basis_moves_strike_and_end_off_the_feed() -> None:
    feed = stepped_feed([100.0] * 120)
    sim = make_sim(feed, params=MarketModelParams(basis_bp=5.0, taker_rate_per_s=0.0))
    sim.exchange.run_until(START + 960)
    state = _state(sim.exchange, START)
    assert state is not None and state.strike is not None and state.end_price is not None
    assert state.strike != 100.0 and abs(state.strike / 100.0 - 1) < 30e-4
    won = Outcome.UP if state.end_price >= state.strike else Outcome.DOWN
    assert state.outcome is won


def _mirror(levels: tuple[BookLevel, ...]) -> tuple[BookLevel, ...]:
    return tuple(BookLevel(MICRO - level.price, level.size) for level in levels)


def test_down_mirrors_up_every_tick_on_the_grid_inside_zero_one() -> None:
    sim = make_sim(generated_feed(2, hours=0.6), COINS[:2], seed=2)
    exchange, venue = sim.exchange, sim.venue
    fine_seen = False
    for t in range(START, START + 1500, 1):
        exchange.advance_to(t)
        for books in exchange.books():
            up, down = books.up, books.down
            assert down.bids == _mirror(up.asks)
            assert down.asks == _mirror(up.bids)
            assert up.tick_size == down.tick_size
            for level in up.bids + up.asks + down.bids + down.asks:
                assert 0 < level.price < MICRO and level.price % up.tick_size == 0
                assert level.size > 0
            if up.bids and up.asks:
                assert up.bids[0].price < up.asks[0].price
            state = exchange.market(books.condition_id)
            assert state is not None
            if state.maker_fair is not None and not 0.04 <= state.maker_fair <= 0.96:
                assert up.tick_size == FINE_TICK
                fine_seen = True
    stats = exchange.stats()
    assert stats.taker_trades > 20 and stats.mirror_fixes > 0
    assert fine_seen  # the 0.001 tick was exercised
    assert venue.totals().deposited > 0


def test_the_tick_follows_the_price_across_004_and_096() -> None:
    # The price jumps 1 % five minutes into the window: Up becomes all but certain.
    feed = stepped_feed([100.0] * 65 + [101.0] * 55)
    sim = make_sim(feed, params=QUIET)
    exchange, venue = sim.exchange, sim.venue
    exchange.run_until(START + 200)
    state = _state(exchange, START)
    assert state is not None and state.maker_fair is not None and state.maker_fair < 0.96
    assert venue.tick_size(state.up_token_id) == 10_000
    exchange.run_until(START + 400)
    state = _state(exchange, START)
    assert state is not None and state.maker_fair is not None and state.maker_fair > 0.96
    assert venue.tick_size(state.up_token_id) == FINE_TICK
    assert venue.tick_size(state.down_token_id) == FINE_TICK


def _run(seed: int) -> tuple[list[tuple[object, ...]], list[object]]:
    sim = make_sim(generated_feed(3, hours=0.5), COINS, seed=seed, record_events=True)
    sim.exchange.run_until(START + 1200)
    events = [
        (
            e.seq,
            e.time,
            e.kind,
            e.order_id,
            e.trade_id,
            e.price,
            e.size_matched,
            e.remaining,
        )
        for e in sim.venue.events_since(0)
    ]
    books = [(b.up.bids, b.up.asks, b.down.bids, b.down.asks) for b in sim.exchange.books()]
    return events, books


def test_the_same_seed_gives_the_same_trades_and_books() -> None:
    first, second, other = _run(7), _run(7), _run(8)
    assert first == second
    assert first[0] != other[0]
    assert any(event[2] == "trade" for event in first[0])


def test_a_resting_bot_order_fills_only_when_traded_through_in_queue_order() -> None:
    sim = make_sim(stepped_feed([100.0] * 120), params=STILL, start=START + 60)
    exchange, venue = sim.exchange, sim.venue
    exchange.advance_to(START + 60)
    state = _state(exchange, START)
    assert state is not None
    up = state.up_token_id
    best_bid, _ = venue.best_bid_ask(up)
    assert best_bid is not None
    makers = venue.level_size(up, Side.BUY, best_bid)
    venue.open_account("bot", 100 * MICRO)
    venue.open_liquidity_account("seller")
    price = Decimal(best_bid) / MICRO
    bot = venue.place("bot", OrderRequest.limit(up, Side.BUY, price, "10"))
    assert bot.success and bot.order is not None and bot.order.matched == 0

    def sell(shares: int) -> None:
        request = OrderRequest(up, Side.SELL, best_bid, shares, shares * best_bid // MICRO)
        request.order_type = OrderType.FAK
        assert venue.place("seller", request).success

    exchange.advance_to(START + 61)
    sell(makers - 5 * MICRO)  # the makers ahead in the queue absorb it all
    exchange.advance_to(START + 62)
    order = venue.order(bot.order_id)
    assert order is not None and order.matched == 0
    sell(10 * MICRO)  # 5 more of the makers', then 5 of the bot's
    order = venue.order(bot.order_id)
    assert order is not None and order.matched == 5 * MICRO and order.is_live
    # Makers replenishing later queue behind the bot.
    exchange.run_until(START + 70)
    sell(5 * MICRO)
    order = venue.order(bot.order_id)
    assert order is not None and order.matched == 10 * MICRO


def test_a_bot_taker_between_ticks_is_mirrored_at_the_next_tick() -> None:
    sim = make_sim(stepped_feed([100.0] * 120), params=STILL, start=START + 60)
    exchange, venue = sim.exchange, sim.venue
    exchange.advance_to(START + 60)
    state = _state(exchange, START)
    assert state is not None
    up, down = state.up_token_id, state.down_token_id
    venue.open_account("bot", 100 * MICRO)
    _, ask = venue.best_bid_ask(up)
    assert ask is not None
    before = venue.level_size(up, Side.SELL, ask)
    bought = venue.place(
        "bot", OrderRequest.limit(up, Side.BUY, Decimal(ask) / MICRO, "20")
    )
    assert bought.success and bought.trade_ids
    assert venue.level_size(up, Side.SELL, ask) == before - 20 * MICRO
    # Until the next tick the Down book still shows the mirror at its old size ...
    assert venue.level_size(down, Side.BUY, MICRO - ask) == before
    exchange.advance_to(START + 60)  # the same instant: the driver answers at once
    assert venue.level_size(down, Side.BUY, MICRO - ask) == before - 20 * MICRO


def test_windows_outside_the_feed_are_not_listed() -> None:
    feed = stepped_feed([100.0] * 35, first=START - 600)  # START − 600 … START + 1500
    sim = make_sim(feed, params=QUIET, start=START)
    sim.exchange.run_until(START + 30)
    starts = {s.market.window.start for s in sim.exchange.markets()}
    # START − 900 starts before the feed; START + 900 (listed at START) ends after it.
    assert starts == {START}
    with pytest.raises(UnknownMarketError):
        sim.venue.market("0x" + "0" * 64)
