"""InProcessVenue.fills keeps our trades' fills while the venue's trade count stands still:
every answer must equal the general path (every trade read and mapped again)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from src.data.market_data.windows import WindowRef
from src.sim.venue import types as sim
from src.sim.venue.markets import VenueMarket
from src.sim.venue.venue import SimVenue
from src.trading.ledger.accounting import Side
from src.trading.ledger.events import FillEvent
from src.trading.venue.in_process import InProcessVenue
from src.trading.venue.port import OrderSpec, OrderType
from src.utils.clock import SimClock

T0 = 1_767_225_600
M = 1_000_000
BOT, MM, OTHER = "0xbot", "0xmaker", "0xother"


def general_fills(venue: SimVenue, port: InProcessVenue, since_ms: int) -> list[FillEvent]:
    """The answer without any kept state: every trade of ours, read and mapped now."""
    return [
        f
        for t in venue.trades(BOT)
        if t.last_update * 1000 >= since_ms
        for f in port._fills_of(t)
    ]


def quote(venue: SimVenue, token: str, side: sim.Side, cents: int, shares: int) -> None:
    request = sim.OrderRequest.limit(token, side, Decimal(cents) / 100, Decimal(shares))
    venue.place(MM, request)


def check(venue: SimVenue, port: InProcessVenue, clock: SimClock) -> None:
    now_ms = int(clock.now() * 1000)
    for since in (0, now_ms - 120_000, now_ms - 1_000, now_ms, now_ms + 1):
        assert port.fills(since) == general_fills(venue, port, since)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(
                ["buy", "rest", "cross", "other", "advance", "step", "confirm"]
            ),
            st.integers(40, 60),
            st.integers(5, 30),
        ),
        max_size=25,
    ),
    st.sampled_from([0.0, 0.3]),
)
def test_fills_equal_the_general_path_after_any_sequence(
    ops: list[tuple[str, int, int]], failure_probability: float
) -> None:
    """Our takes, our resting orders traded through, other accounts' trades (the count
    moves, our fills do not), time passing and delayed settlement (CONFIRMED or FAILED
    later: a trade's stamp moves) — after each, every ``since`` answers as in general."""
    clock = SimClock(start=T0 + 60)
    venue = SimVenue(
        clock, seed=3, failure_probability=failure_probability, confirm_delay=5.0
    )
    market = VenueMarket.for_window(WindowRef("BTC", T0))
    venue.register_market(market)
    venue.open_account(BOT, 1_000 * M)
    venue.open_account(OTHER, 1_000 * M)
    venue.open_liquidity_account(MM)
    port = InProcessVenue(venue, BOT)
    token = market.up_token_id
    check(venue, port, clock)
    for i, (op, cents, shares) in enumerate(ops):
        price = cents * 10_000
        if op == "buy":
            quote(venue, token, sim.Side.SELL, cents, shares)
            spec = OrderSpec(f"b-{i}", token, Side.BUY, OrderType.FAK, price, shares * M)
            port.submit(port.prepare(spec))
        elif op == "rest":
            spec = OrderSpec(f"r-{i}", token, Side.BUY, OrderType.GTC, price, shares * M)
            port.submit(port.prepare(spec))
        elif op == "cross":
            venue.place(
                MM,
                sim.OrderRequest.market(
                    token,
                    sim.Side.SELL,
                    Decimal(shares),
                    Decimal("0.01"),
                    sim.OrderType.FAK,
                ),
            )
        elif op == "other":
            quote(venue, token, sim.Side.SELL, cents, shares)
            venue.place(
                OTHER,
                sim.OrderRequest.limit(
                    token, sim.Side.BUY, Decimal(cents) / 100, Decimal(shares)
                ),
            )
        elif op == "advance":
            clock.advance(shares / 4)
        elif op == "step":
            venue.step()
        else:
            venue.confirm()
        check(venue, port, clock)


def test_a_status_change_alone_is_seen() -> None:
    """Settling a trade changes no trade count of ours, only its stamp: still seen."""
    clock = SimClock(start=T0 + 60)
    venue = SimVenue(clock, seed=1, confirm_delay=5.0)
    market = VenueMarket.for_window(WindowRef("BTC", T0))
    venue.register_market(market)
    venue.open_account(BOT, 100 * M)
    venue.open_liquidity_account(MM)
    port = InProcessVenue(venue, BOT)
    quote(venue, market.up_token_id, sim.Side.SELL, 50, 10)
    spec = OrderSpec("c", market.up_token_id, Side.BUY, OrderType.FAK, 500_000, 10 * M)
    port.submit(port.prepare(spec))
    assert [f.status for f in port.fills(0)] == ["MATCHED"]
    clock.advance(10)
    later_ms = int(clock.now() * 1000)
    assert port.fills(later_ms) == []
    venue.step()
    assert [f.status for f in port.fills(later_ms)] == ["CONFIRMED"]
