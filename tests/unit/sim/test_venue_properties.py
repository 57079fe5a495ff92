"""Invariants of SimVenue under any sequence of orders, fills, cancels and settlements.

Checked after every action: collateral is conserved (deposits = accounts + escrow +
backing; fees sit in the fee collector's account), each token's supply equals its market's
backing, nothing is negative, reservations equal what live orders need, the book equals its
live orders, no order fills beyond its size, a cancelled order never fills again; and the
same seed replays the same trades.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from src.data.market_data.windows import WindowRef
from src.sim.venue import (
    FEE_COLLECTOR,
    MAX_BATCH_ORDERS,
    OrderRequest,
    OrderStatus,
    OrderType,
    Outcome,
    Side,
    SimVenue,
    VenueMarket,
)
from src.utils.clock import SimClock
from src.utils.money import MICRO, to_micro

START = 1_767_225_600
WINDOWS = (WindowRef("BTC", START), WindowRef("ETH", START))
ACCOUNTS = ("alice", "bob", "mm", "lp")
NEAR = ["0.48", "0.49", "0.50", "0.51", "0.52"]
PRICES = [*NEAR, "0.40", "0.45", "0.55", "0.60", "0.505", "0.961", "0.035"]
SIZES = ["5", "6.5", "10", "12.34", "25", "40"]
BUY_AMOUNTS = ["1", "2.5", "5", "12.34", "30"]

_place = st.tuples(
    st.just("place"),
    st.integers(0, 3),  # account
    st.one_of(st.just(0), st.integers(0, 3)),  # token: market × outcome, mostly BTC Up
    st.sampled_from(["GTC", "GTD", "FOK", "FAK", "MKT", "POST"]),
    st.sampled_from([Side.BUY, Side.SELL]),
    st.one_of(st.sampled_from(NEAR), st.sampled_from(PRICES)),
    st.sampled_from(SIZES),
    st.sampled_from(BUY_AMOUNTS),
)
_OTHER = {
    "cancel": st.tuples(st.just("cancel"), st.integers(0, 3), st.integers(0, 50)),
    "cancel_all": st.tuples(st.just("cancel_all"), st.integers(0, 3)),
    "cancel_market": st.tuples(
        st.just("cancel_market"), st.integers(0, 3), st.integers(0, 1)
    ),
    "advance": st.tuples(st.just("advance"), st.sampled_from([0, 1, 2, 5, 30, 61, 300])),
    "step": st.tuples(st.just("step")),
    "confirm": st.tuples(st.just("confirm")),
    "mint": st.tuples(
        st.just("mint"), st.integers(0, 1), st.integers(0, 1), st.integers(1, 40)
    ),
    "merge": st.tuples(
        st.just("merge"), st.integers(0, 1), st.integers(0, 1), st.integers(1, 40)
    ),
    "resolve": st.tuples(
        st.just("resolve"), st.integers(0, 1), st.sampled_from([Outcome.UP, Outcome.DOWN])
    ),
    "redeem": st.tuples(st.just("redeem"), st.integers(0, 2), st.integers(0, 1)),
    "tick": st.tuples(
        st.just("tick"), st.integers(0, 3), st.sampled_from(["0.01", "0.001"])
    ),
    "batch": st.tuples(st.just("batch"), st.integers(0, 1), st.lists(_place, max_size=4)),
}
# Exact weights: mostly placements so that books fill up and orders cross; resolution rare
# (it closes a market for the rest of the run).
_WEIGHTS = (
    ["place"] * 12
    + ["cancel"] * 3
    + ["advance", "step"] * 2
    + [
        "cancel_all",
        "cancel_market",
        "confirm",
        "mint",
        "merge",
        "tick",
        "batch",
        "resolve",
        "redeem",
    ]
)
ACTION = st.sampled_from(_WEIGHTS).flatmap(
    lambda kind: _place if kind == "place" else _OTHER[kind]
)
SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@dataclass
class Sim:
    venue: SimVenue
    clock: SimClock
    markets: tuple[VenueMarket, ...]

    def token(self, index: int) -> str:
        market = self.markets[index // 2]
        return market.up_token_id if index % 2 == 0 else market.down_token_id


def build(seed: int = 5) -> Sim:
    clock = SimClock(start=START + 60)
    venue = SimVenue(clock, seed=seed, failure_probability=0.4, confirm_delay=5)
    markets = tuple(VenueMarket.for_window(w) for w in WINDOWS)
    for market in markets:
        venue.register_market(market)
    venue.open_account("alice", to_micro("200"))
    venue.open_account("bob", to_micro("200"))
    venue.open_account("mm", auto_fund=True)
    venue.open_liquidity_account("lp")
    for market in markets:
        for trader in ("alice", "bob"):
            venue.mint(trader, market.condition_id, to_micro("40"))
        # A resting ladder on every token, so that most marketable orders find liquidity.
        for token in market.token_ids:
            for ticks in range(1, 4):
                for side, price in ((Side.BUY, 50 - ticks), (Side.SELL, 50 + ticks)):
                    request = OrderRequest.limit(token, side, f"0.{price}", "15")
                    assert venue.place("lp" if ticks % 2 else "mm", request).success
    return Sim(venue, clock, markets)


def request_for(sim: Sim, action: tuple) -> OrderRequest:
    _, _, token_index, kind, side, price, size, amount = action
    token = sim.token(token_index)
    if kind == "MKT":
        order_type = OrderType.FOK if price < "0.5" else OrderType.FAK
        quantity = amount if side is Side.BUY else size
        worst = "0.60" if side is Side.BUY else "0.40"
        return OrderRequest.market(token, side, quantity, worst, order_type)
    expiration = int(sim.clock.now()) + 61 + len(size) * 20 if kind == "GTD" else 0
    order_type = OrderType.GTC if kind in ("GTC", "POST") else OrderType(kind)
    return OrderRequest.limit(
        token,
        side,
        price,
        size,
        order_type,
        expiration=expiration,
        post_only=kind == "POST",
    )


def apply(sim: Sim, action: tuple, live_ids: list[str]) -> None:
    venue = sim.venue
    name = action[0]
    if name == "place":
        result = venue.place(ACCOUNTS[action[1]], request_for(sim, action))
        if result.success and result.order is not None and result.order.remaining:
            live_ids.append(result.order_id)
    elif name == "batch":
        requests = [request_for(sim, a) for a in action[2]]
        for result in venue.place_batch(ACCOUNTS[action[1]], requests[:MAX_BATCH_ORDERS]):
            if result.success and result.order is not None and result.order.remaining:
                live_ids.append(result.order_id)
    elif name == "cancel" and live_ids:
        venue.cancel(ACCOUNTS[action[1]], live_ids[action[2] % len(live_ids)])
    elif name == "cancel_all":
        venue.cancel_all(ACCOUNTS[action[1]])
    elif name == "cancel_market":
        venue.cancel_market_orders(
            ACCOUNTS[action[1]], condition_id=sim.markets[action[2]].condition_id
        )
    elif name == "advance":
        sim.clock.advance(action[1])
    elif name == "step":
        venue.step()
    elif name == "confirm":
        venue.confirm()
    elif name in ("mint", "merge"):
        market = sim.markets[action[2]]
        if venue.market_status(market.condition_id).resolved:
            return
        amount = action[3] * MICRO
        account = ACCOUNTS[action[1]]
        if name == "mint" and venue.balance(account).available >= amount:
            venue.mint(account, market.condition_id, amount)
        if name == "merge":
            up = venue.position(account, market.up_token_id).available
            down = venue.position(account, market.down_token_id).available
            if min(up, down) >= amount:
                venue.merge(account, market.condition_id, amount)
    elif name == "resolve":
        market = sim.markets[action[1]]
        status = venue.market_status(market.condition_id)
        # Resolve after the window, or now and then early (a resolution closes the market).
        if not status.resolved and (status.closed or action[2] is Outcome.DOWN):
            venue.resolve_market(market.condition_id, action[2])
    elif name == "redeem":
        market = sim.markets[action[2]]
        if venue.market_status(market.condition_id).resolved:
            venue.redeem(ACCOUNTS[action[1]], market.condition_id)
    elif name == "tick":
        venue.set_tick_size(sim.token(action[1]), action[2])


class Watch:
    """Memory across checks: what each order had matched when it stopped being live."""

    def __init__(self) -> None:
        self.ended: dict[str, int] = {}


def check(sim: Sim, watch: Watch) -> None:
    venue = sim.venue
    engine = venue._engine  # the invariants need every account, not only named ones
    totals = venue.totals()
    assert (
        totals.deposited - totals.withdrawn
        == totals.held + totals.in_escrow + totals.backing
    )

    for market in sim.markets:
        status = venue.market_status(market.condition_id)
        if status.winner is not None:
            winner = market.token_of(status.winner)
            assert venue.supply(winner) == status.backing
        else:
            assert venue.supply(market.up_token_id) == status.backing
            assert venue.supply(market.down_token_id) == status.backing

    ledger = engine.ledger
    assert ledger.escrow_collateral >= 0
    assert all(v >= 0 for v in ledger.escrow_tokens.values())
    for account in ledger.accounts.values():
        assert account.collateral >= 0 and account.reserved >= 0
        assert all(v >= 0 for v in account.tokens.values())
        assert all(v >= 0 for v in account.reserved_tokens.values())

    live = venue.open_orders()
    need_cash: dict[str, int] = defaultdict(int)
    need_shares: dict[tuple[str, str], int] = defaultdict(int)
    levels: dict[tuple[str, Side, int], int] = defaultdict(int)
    for order in live:
        assert order.status is OrderStatus.LIVE and order.remaining > 0
        if order.side is Side.BUY:
            need_cash[order.account] += order.remaining * order.price // MICRO
        else:
            need_shares[(order.account, order.token_id)] += order.remaining
        levels[(order.token_id, order.side, order.price)] += order.remaining
    for address, account in ledger.accounts.items():
        assert account.reserved == need_cash[address], address
        for token_id, reserved in account.reserved_tokens.items():
            assert reserved == need_shares[(address, token_id)], (address, token_id)
    for index in range(4):
        token = sim.token(index)
        book = venue.book(token)
        for side, book_levels in ((Side.BUY, book.bids), (Side.SELL, book.asks)):
            shown = {lvl.price: lvl.size for lvl in book_levels}
            expected = {
                p: s for (t, sd, p), s in levels.items() if t == token and sd is side
            }
            assert shown == expected

    for order in venue.orders():
        assert order.matched >= 0 and order.matched_notional >= 0
        if order.is_market_buy:
            assert order.matched_notional <= order.amount
        else:
            assert order.matched + order.remaining <= order.size
        if order.status is not OrderStatus.LIVE:
            assert order.remaining == 0
            before = watch.ended.setdefault(order.order_id, order.matched)
            assert order.matched <= before, "a finished order filled again"
            watch.ended[order.order_id] = order.matched

    assert venue.balance(FEE_COLLECTOR).reserved == 0


def run(actions: list[tuple], seed: int = 5) -> Sim:
    sim = build(seed)
    watch = Watch()
    live_ids: list[str] = []
    for action in actions:
        apply(sim, action, live_ids)
        check(sim, watch)
    sim.clock.advance(1_000)
    sim.venue.step()
    check(sim, watch)
    return sim


@SETTINGS
@given(st.lists(ACTION, min_size=10, max_size=50), st.integers(0, 2**16))
def test_invariants_hold_for_any_sequence(actions: list[tuple], seed: int) -> None:
    sim = run(actions, seed)
    assert sim.venue.pending_trade_count() == 0


@SETTINGS
@given(st.lists(ACTION, min_size=10, max_size=40), st.integers(0, 2**32))
def test_same_seed_replays_the_same_trades(actions: list[tuple], seed: int) -> None:
    first = run(actions, seed)
    second = run(actions, seed)
    assert first.venue.trades() == second.venue.trades() or _same_trades(first, second)
    assert [
        (e.kind, e.order_id, e.trade_id, e.status, e.size_matched)
        for e in first.venue.events_since(0)
    ] == [
        (e.kind, e.order_id, e.trade_id, e.status, e.size_matched)
        for e in second.venue.events_since(0)
    ]
    for account in (*ACCOUNTS, FEE_COLLECTOR):
        assert first.venue.balance(account) == second.venue.balance(account)
        assert first.venue.positions(account) == second.venue.positions(account)


def _same_trades(first: Sim, second: Sim) -> bool:
    def key(sim: Sim) -> list[tuple]:
        return [
            (t.trade_id, t.taker_order_id, t.size, t.notional, t.fee, t.status)
            for t in sim.venue.trades()
        ]

    return key(first) == key(second)


def test_a_busy_day_conserves_value() -> None:
    """A long deterministic run with many crossings and failures, checked at the end."""
    import random

    rng = random.Random(1)
    sim = build(seed=9)
    watch = Watch()
    live: list[str] = []
    for _ in range(600):
        action = (
            "place",
            rng.randint(0, 3),
            rng.randint(0, 3),
            rng.choice(["GTC", "GTC", "FAK", "MKT", "GTD"]),
            rng.choice([Side.BUY, Side.SELL]),
            rng.choice(NEAR),
            rng.choice(SIZES),
            rng.choice(BUY_AMOUNTS),
        )
        apply(sim, action, live)
        if rng.random() < 0.2:
            apply(sim, ("advance", rng.randint(0, 3)), live)
            apply(sim, ("step",), live)
        if rng.random() < 0.1 and live:
            apply(sim, ("cancel", rng.randint(0, 3), rng.randint(0, 100)), live)
    check(sim, watch)
    for index, winner in enumerate((Outcome.UP, Outcome.DOWN)):
        sim.venue.resolve_market(sim.markets[index].condition_id, winner)
    for account in (*ACCOUNTS, FEE_COLLECTOR):
        for market in sim.markets:
            sim.venue.redeem(account, market.condition_id)
    check(sim, watch)
    totals = sim.venue.totals()
    assert totals.backing == 0 and totals.in_escrow == 0
    assert totals.deposited == totals.held
    assert len(sim.venue.trades()) > 50
