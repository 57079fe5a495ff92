"""PaperVenue: the venue's rules and texts, fills against a (fake) live book, in memory."""

from __future__ import annotations

import json
import tempfile
import threading
from collections.abc import Sequence
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from src.data.db_connection import (
    close_thread_connection,
    configure_database,
    db_connection,
)
from src.data.ledger_store import (
    apply_fill_event,
    cash_balance,
    insert_order_intent,
    record_cash,
    set_order_status,
)
from src.data.market_data.polymarket import BookLevel, MarketInfo, OrderBook, Outcome
from src.data.migrations import run_migrations
from src.sim.venue import errors
from src.trading.execution import intent_for
from src.trading.ledger.accounting import FeeAsset, Side
from src.trading.ledger.events import FillStatus
from src.trading.venue.paper import (
    LIQUIDITY_MEMORY_S,
    PaperRedeemError,
    PaperVenue,
    PublicBookReader,
)
from src.trading.venue.port import (
    OrderSpec,
    OrderType,
    PlaceReply,
    PlaceStatus,
    VenueUnavailableError,
)
from src.utils.clock import SimClock

M = 1_000_000
T0 = 1_767_225_600  # a window start
UP, DOWN = "tok-up", "tok-down"
CONDITION = "0xcond"


class FakeBooks:
    """A book source that answers whatever the test last set; counts its reads."""

    def __init__(self) -> None:
        self.books_by_token: dict[str, OrderBook] = {}
        self.reads = 0
        self.fail = False

    def set(
        self,
        token: str,
        bids: Sequence[tuple[str, str]] = (),
        asks: Sequence[tuple[str, str]] = (),
        tick: str = "0.01",
        min_size: str = "5",
    ) -> None:
        def levels(raw: Sequence[tuple[str, str]]) -> tuple[BookLevel, ...]:
            return tuple(BookLevel(Decimal(p), Decimal(s)) for p, s in raw)

        self.books_by_token[token] = OrderBook(
            token_id=token,
            bids=levels(bids),
            asks=levels(asks),
            timestamp_ms=0,
            tick_size=Decimal(tick),
            min_order_size=Decimal(min_size),
        )

    def books(self, token_ids: Sequence[str]) -> dict[str, OrderBook]:
        self.reads += 1
        if self.fail:
            raise VenueUnavailableError("books: HTTP no answer")
        return {t: self.books_by_token[t] for t in token_ids if t in self.books_by_token}


def market_info(outcome: Outcome | None = None, fee: str = "0.07") -> MarketInfo:
    return MarketInfo(
        slug=f"btc-updown-15m-{T0}",
        coin="BTC",
        start=T0,
        end=T0 + 900,
        condition_id=CONDITION,
        up_token_id=UP,
        down_token_id=DOWN,
        tick_size=Decimal("0.01"),
        min_order_size=Decimal("5"),
        fee_rate=Decimal(fee),
        fee_exponent=1,
        neg_risk=False,
        accepting_orders=outcome is None,
        closed=outcome is not None,
        outcome=outcome,
    )


class FakeGamma:
    """Knows one market; ``outcome`` is what a fresh lookup reports."""

    def __init__(self, known: bool = True) -> None:
        self.known = known
        self.outcome: Outcome | None = None
        self.token_lookups = 0

    def market_by_token(self, token_id: str) -> MarketInfo | None:
        self.token_lookups += 1
        return market_info() if self.known and token_id in (UP, DOWN) else None

    def market_by_slug(self, slug: str) -> MarketInfo | None:
        return market_info(self.outcome) if self.known else None


def make_venue(
    balance: int = 100 * M, known: bool = True
) -> tuple[PaperVenue, FakeBooks, FakeGamma, SimClock]:
    source, gamma, clock = FakeBooks(), FakeGamma(known), SimClock(start=T0 + 60)
    venue = PaperVenue(source, clock, balance, gamma=gamma)
    return venue, source, gamma, clock


def spec(
    cid: str,
    side: Side,
    order_type: OrderType,
    price: int,
    size: int,
    *,
    token: str = UP,
    post_only: bool = False,
    expiration_s: int = 0,
) -> OrderSpec:
    return OrderSpec(
        cid, token, side, order_type, price, size, post_only, expiration_s=expiration_s
    )


def place(venue: PaperVenue, order: OrderSpec) -> PlaceReply:
    return venue.submit(venue.prepare(order))


# --- takers ---------------------------------------------------------------------------------


def test_taker_buy_walks_the_levels_and_pays_the_fee_in_shares() -> None:
    venue, books, _, _ = make_venue()
    books.set(
        UP, bids=[("0.48", "20")], asks=[("0.51", "10"), ("0.52", "10"), ("0.53", "9")]
    )
    reply = place(venue, spec("c-1", Side.BUY, OrderType.GTC, 520_000, 15 * M))
    assert reply.status is PlaceStatus.ACCEPTED and not reply.resting
    [fill] = reply.fills
    # Legs 10 @ 0.51 and 5 @ 0.52; fee per leg = shares × 0.07 × (1 − p), floored to 1e-5:
    # 10 × 0.07 × 0.49 = 0.343 and 5 × 0.07 × 0.48 = 0.168 → 0.511 shares.
    assert fill.role == "taker" and fill.status is FillStatus.CONFIRMED
    assert fill.size_micro == 15 * M
    assert fill.notional_micro == 7_700_000  # 5.10 + 2.60
    assert fill.price_micro == 513_333  # the floored average
    assert (fill.fee_micro, fill.fee_asset) == (511_000, FeeAsset.SHARES)
    assert venue.collateral_micro() == 100 * M - 7_700_000
    assert venue.token_balances() == {UP: 15 * M - 511_000}
    order = venue.get_order(reply.venue_order_id)
    assert order is not None and order.status == "MATCHED" and not order.live


def test_taker_sell_pays_the_fee_in_collateral() -> None:
    venue, books, _, _ = make_venue()
    books.set(UP, asks=[("0.40", "10")])
    place(venue, spec("b", Side.BUY, OrderType.FAK, 400_000, 10 * M))
    held = venue.token_balances()[UP]  # 10 − 10 × 0.07 × 0.6 = 9.58
    assert held == 9_580_000
    books.set(UP, bids=[("0.60", "5"), ("0.55", "100")])
    cash = venue.collateral_micro()
    reply = place(venue, spec("s", Side.SELL, OrderType.FAK, 550_000, 9_580_000))
    [fill] = reply.fills
    # 5 @ 0.60 (fee 5 × 0.07 × 0.6 × 0.4 = 0.084) + 4.58 @ 0.55 (0.0793485 → 0.07934)
    assert fill.notional_micro == 3_000_000 + 2_519_000
    assert (fill.fee_micro, fill.fee_asset) == (84_000 + 79_340, FeeAsset.COLLATERAL)
    assert venue.collateral_micro() == cash + 5_519_000 - 163_340
    assert venue.token_balances() == {}


def test_the_market_fee_rate_from_gamma_wins_over_the_default() -> None:
    source, clock = FakeBooks(), SimClock(start=T0 + 60)

    class FreeGamma(FakeGamma):
        def market_by_token(self, token_id: str) -> MarketInfo | None:
            return market_info(fee="0")

    venue = PaperVenue(source, clock, 100 * M, gamma=FreeGamma())
    source.set(UP, asks=[("0.50", "10")])
    [fill] = place(venue, spec("c", Side.BUY, OrderType.GTC, 500_000, 10 * M)).fills
    assert fill.fee_micro == 0 and venue.token_balances() == {UP: 10 * M}


def test_fak_fills_what_it_can() -> None:
    venue, books, _, _ = make_venue()
    books.set(UP, asks=[("0.50", "6"), ("0.60", "50")])
    reply = place(venue, spec("fak", Side.BUY, OrderType.FAK, 550_000, 10 * M))
    assert reply.status is PlaceStatus.ACCEPTED and not reply.resting
    assert [f.size_micro for f in reply.fills] == [6 * M]
    assert venue.open_orders() == []
    assert venue.collateral_micro() == 97 * M


def test_fak_with_nothing_to_match_is_killed_with_the_venue_text() -> None:
    venue, books, _, _ = make_venue()
    books.set(UP, asks=[("0.60", "50")])
    reply = place(venue, spec("fak", Side.BUY, OrderType.FAK, 550_000, 10 * M))
    assert reply.status is PlaceStatus.REJECTED and reply.error == errors.FAK_NOT_FILLED


def test_fok_that_cannot_fill_is_rejected_with_the_venue_text() -> None:
    venue, books, _, _ = make_venue()
    books.set(UP, asks=[("0.50", "6")])
    reply = place(venue, spec("fok", Side.BUY, OrderType.FOK, 500_000, 10 * M))
    assert reply.status is PlaceStatus.REJECTED and reply.error == errors.FOK_NOT_FILLED
    assert reply.fills == () and venue.collateral_micro() == 100 * M
    killed = venue.get_order(reply.venue_order_id)
    assert killed is not None and killed.status == "CANCELED" and killed.matched_micro == 0
    books.set(UP, asks=[("0.50", "6"), ("0.51", "6")])
    filled = place(venue, spec("fok-2", Side.BUY, OrderType.FOK, 510_000, 10 * M))
    assert filled.status is PlaceStatus.ACCEPTED and filled.fills


def test_post_only_that_would_cross_is_rejected() -> None:
    venue, books, _, _ = make_venue()
    books.set(UP, bids=[("0.45", "10")], asks=[("0.50", "10")])
    crossing = spec("po", Side.BUY, OrderType.GTC, 500_000, 10 * M, post_only=True)
    reply = place(venue, crossing)
    assert reply.status is PlaceStatus.REJECTED and reply.error == errors.POST_ONLY_CROSSES
    market = spec("po-fok", Side.BUY, OrderType.FOK, 500_000, 10 * M, post_only=True)
    assert place(venue, market).error == errors.POST_ONLY_TYPE
    resting = spec("po-ok", Side.BUY, OrderType.GTC, 490_000, 10 * M, post_only=True)
    assert place(venue, resting).resting


def test_form_rules_answer_with_the_venue_texts() -> None:
    venue, books, _, _ = make_venue()
    books.set(UP, asks=[("0.50", "10")])
    off_tick = place(venue, spec("t", Side.BUY, OrderType.GTC, 455_000, 10 * M))
    assert off_tick.error == errors.tick_size_error(
        off_tick.venue_order_id, "0.455", "0.01"
    )
    small = place(venue, spec("m", Side.BUY, OrderType.GTC, 400_000, 4 * M))
    assert small.error == errors.min_size_error(small.venue_order_id, "4", "5")
    dust = place(venue, spec("d", Side.BUY, OrderType.GTC, 400_000, 5 * M + 1))
    assert dust.error == errors.INVALID_ORDER_PAYLOAD
    gtd = place(venue, spec("g", Side.BUY, OrderType.GTD, 400_000, 5 * M, expiration_s=1))
    assert gtd.error == errors.INVALID_EXPIRATION
    cheap = place(venue, spec("c", Side.BUY, OrderType.GTC, 100_000, 5 * M))
    assert cheap.resting  # $0.50 may rest; only a marketable BUY needs $1
    books.set(UP, asks=[("0.10", "10")])
    under = place(venue, spec("u", Side.BUY, OrderType.GTC, 100_000, 5 * M))
    assert under.error == errors.marketable_buy_min_error("0.5")
    missing = place(venue, spec("x", Side.BUY, OrderType.GTC, 400_000, 5 * M, token="nope"))
    assert missing.error == errors.orderbook_missing_error("nope")
    assert all(
        r.status is PlaceStatus.REJECTED
        for r in (off_tick, small, dust, gtd, under, missing)
    )


def test_duplicate_and_unreadable_book() -> None:
    venue, books, _, _ = make_venue()
    books.set(UP, asks=[("0.50", "10")])
    first = place(venue, spec("same", Side.BUY, OrderType.GTC, 400_000, 5 * M))
    again = place(venue, spec("same", Side.BUY, OrderType.GTC, 400_000, 5 * M))
    assert first.resting and again.status is PlaceStatus.AMBIGUOUS
    assert "Duplicated" in again.error
    books.fail = True
    reply = place(venue, spec("dark", Side.BUY, OrderType.GTC, 400_000, 5 * M))
    assert reply.status is PlaceStatus.REJECTED and "book unavailable" in reply.error
    with pytest.raises(VenueUnavailableError):
        venue.book(UP)


def test_not_enough_collateral_or_tokens_is_rejected() -> None:
    venue, books, _, _ = make_venue(balance=4 * M)
    books.set(UP, bids=[("0.40", "100")], asks=[("0.50", "100")])
    buy = place(venue, spec("b", Side.BUY, OrderType.GTC, 450_000, 10 * M))
    assert buy.status is PlaceStatus.REJECTED and buy.error == errors.NOT_ENOUGH_BALANCE
    sell = place(venue, spec("s", Side.SELL, OrderType.GTC, 600_000, 5 * M))
    assert sell.error == errors.NOT_ENOUGH_BALANCE
    assert place(venue, spec("ok", Side.BUY, OrderType.GTC, 400_000, 10 * M)).resting
    # the resting BUY reserved 4.00: nothing is free for another
    again = place(venue, spec("b2", Side.BUY, OrderType.GTC, 100_000, 5 * M))
    assert again.error == errors.NOT_ENOUGH_BALANCE
    assert venue.balances().free == 0 and venue.collateral_micro() == 4 * M


def test_holdings_carried_over_can_be_sold() -> None:
    source, clock = FakeBooks(), SimClock(start=T0 + 60)
    venue = PaperVenue(source, clock, 0, gamma=FakeGamma(), holdings={UP: 10 * M, DOWN: 0})
    assert venue.token_balances() == {UP: 10 * M} and venue.collateral_micro() == 0
    source.set(UP, bids=[("0.50", "100")])
    reply = place(venue, spec("s", Side.SELL, OrderType.FAK, 500_000, 10 * M))
    assert reply.status is PlaceStatus.ACCEPTED
    assert venue.collateral_micro() == 5 * M - 175_000  # fee 10 × 0.07 × 0.5 × 0.5
    with pytest.raises(ValueError):
        PaperVenue(source, clock, 0, gamma=FakeGamma(), holdings={UP: -1})


class Answers(ThreadingHTTPServer):
    """A CLOB on 127.0.0.1 that answers ``POST /books`` with ``status`` and ``GET /time``
    with a number."""

    daemon_threads = True

    def __init__(self, status: int) -> None:
        super().__init__(("127.0.0.1", 0), AnswersHandler)
        self.status = status

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class AnswersHandler(BaseHTTPRequestHandler):
    server: Answers

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = json.dumps(
            [{"asset_id": UP, "bids": [], "asks": [{"price": "0.5", "size": "3"}]}]
        ).encode()
        self._send(self.server.status, body)

    def do_GET(self) -> None:
        self._send(200, b"1767225700")

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.mark.parametrize("status", [200, 500])
def test_public_book_reader_reads_books_or_says_it_could_not(status: int) -> None:
    server = Answers(status)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        reader = PublicBookReader(server.url)
        assert reader.server_time() == 1_767_225_700
        if status == 200:
            book = reader.books([UP])[UP]
            assert book.best_ask == Decimal("0.5") and reader.books([]) == {}
        else:
            with pytest.raises(VenueUnavailableError, match="HTTP 500"):
                reader.books([UP])
    finally:
        server.shutdown()
        server.server_close()


# --- resting orders -------------------------------------------------------------------------


def test_resting_buy_fills_as_maker_when_a_later_ask_crosses_it() -> None:
    venue, books, _, clock = make_venue()
    books.set(UP, bids=[("0.40", "10")], asks=[("0.55", "10")])
    reply = place(venue, spec("rest", Side.BUY, OrderType.GTC, 500_000, 10 * M))
    assert reply.resting and reply.fills == ()
    assert venue.balances().reserved == 5 * M
    books.set(UP, asks=[("0.49", "4"), ("0.50", "2"), ("0.51", "100")])
    venue.books([UP])  # a later read: 6 shares at or below 0.50 are displayed
    [fill] = venue.fills()
    assert (fill.role, fill.side, fill.price_micro, fill.size_micro) == (
        "maker",
        Side.BUY,
        500_000,
        6 * M,
    )
    assert fill.fee_micro == 0 and fill.venue_order_id == reply.venue_order_id
    assert venue.token_balances() == {UP: 6 * M}
    assert venue.balances().reserved == 2 * M
    # The live book does not see paper fills: reading it again offers nothing new…
    venue.books([UP])
    assert len(venue.fills()) == 1
    # …until the liquidity we took is assumed replenished.
    clock.advance(LIQUIDITY_MEMORY_S)
    venue.books([UP])
    order = venue.get_order(reply.venue_order_id)
    assert order is not None and order.matched_micro == 10 * M and not order.live
    assert venue.balances().reserved == 0
    assert venue.collateral_micro() == 95 * M and venue.token_balances() == {UP: 10 * M}
    maker_ids = {f.venue_trade_id for f in venue.fills()}
    assert len(maker_ids) == 2 and all(i.endswith(reply.venue_order_id) for i in maker_ids)


class HeldRead(FakeBooks):
    """Holds the first read of ``UP`` until released, answering the book it had then."""

    def __init__(self) -> None:
        super().__init__()
        self.holding = True
        self.entered = threading.Event()
        self.release = threading.Event()

    def books(self, token_ids: Sequence[str]) -> dict[str, OrderBook]:
        if not self.holding:
            return super().books(token_ids)
        self.holding = False
        stale = super().books(token_ids)
        self.entered.set()
        assert self.release.wait(5)
        return stale


def test_a_read_that_started_before_the_order_cannot_fill_it() -> None:
    source, clock = HeldRead(), SimClock(start=T0 + 60)
    venue = PaperVenue(source, clock, 100 * M, gamma=FakeGamma())
    source.set(UP, asks=[("0.45", "10")])  # the old read sees a crossing ask…
    slow = threading.Thread(target=venue.books, args=([UP],))
    slow.start()
    assert source.entered.wait(5)
    source.set(UP, asks=[("0.55", "10")])  # …the order is placed on a newer book
    placed = place(venue, spec("r", Side.BUY, OrderType.GTC, 500_000, 10 * M))
    assert placed.resting
    source.release.set()
    slow.join()
    assert venue.get_order(placed.venue_order_id).matched_micro == 0
    source.set(UP, asks=[("0.45", "10")])
    venue.books([UP])  # a read started after the placement does fill it
    assert venue.get_order(placed.venue_order_id).matched_micro == 10 * M


def test_resting_sell_fills_when_a_bid_crosses_and_open_orders_reads_the_book() -> None:
    venue, books, _, _ = make_venue()
    books.set(UP, asks=[("0.50", "10")])
    place(venue, spec("b", Side.BUY, OrderType.FAK, 500_000, 10 * M))
    held = venue.token_balances()[UP]
    sell = place(venue, spec("s", Side.SELL, OrderType.GTC, 700_000, 9 * M))
    assert sell.resting and venue.balances().reserved_tokens == {UP: 9 * M}
    assert venue.token_balances() == {UP: held}  # reserved tokens are still held
    books.set(UP, bids=[("0.72", "20")])
    assert venue.open_orders() == []  # the query matched it against a fresh book
    assert venue.collateral_micro() == 95 * M + 6_300_000
    assert venue.token_balances() == {UP: held - 9 * M}


def test_cancel_releases_the_reservation() -> None:
    venue, books, _, _ = make_venue()
    books.set(UP, asks=[("0.60", "10")])
    reply = place(venue, spec("r", Side.BUY, OrderType.GTC, 500_000, 10 * M))
    assert venue.balances().free == 95 * M and venue.collateral_micro() == 100 * M
    result = venue.cancel([reply.venue_order_id, "0xnope"])
    assert result.cancelled == (reply.venue_order_id,)
    assert result.not_cancelled == {"0xnope": errors.NOT_CANCELED_NOT_FOUND}
    assert venue.balances().free == 100 * M and venue.balances().reserved == 0
    again = venue.cancel([reply.venue_order_id])
    assert again.not_cancelled == {reply.venue_order_id: errors.NOT_CANCELED_DONE}
    order = venue.get_order(reply.venue_order_id)
    assert order is not None and order.status == "CANCELED"
    place(venue, spec("r2", Side.BUY, OrderType.GTC, 500_000, 10 * M))
    place(venue, spec("r3", Side.BUY, OrderType.GTC, 400_000, 10 * M))
    assert len(venue.cancel_all().cancelled) == 2 and venue.balances().reserved == 0


def test_gtd_expires_and_resting_orders_go_when_the_market_ends() -> None:
    venue, books, _, clock = make_venue()
    books.set(UP, asks=[("0.60", "10")])
    gtd = spec("gtd", Side.BUY, OrderType.GTD, 500_000, 10 * M, expiration_s=T0 + 200)
    gtd_reply = place(venue, gtd)
    gtc_reply = place(venue, spec("gtc", Side.BUY, OrderType.GTC, 400_000, 10 * M))
    clock.set(T0 + 200)
    assert [o.venue_order_id for o in venue.open_orders()] == [gtc_reply.venue_order_id]
    assert venue.get_order(gtd_reply.venue_order_id).status == "CANCELED"
    clock.set(T0 + 900)
    assert venue.open_orders() == []
    assert venue.get_order(gtc_reply.venue_order_id).status == "CANCELED_MARKET_RESOLVED"
    assert venue.balances().free == 100 * M
    late = place(venue, spec("late", Side.BUY, OrderType.GTC, 400_000, 10 * M))
    assert late.error == errors.MARKET_NOT_READY


# --- redemption -----------------------------------------------------------------------------


def test_redeem_pays_the_winning_shares_and_burns_both() -> None:
    venue, books, gamma, clock = make_venue()
    books.set(UP, asks=[("0.50", "10")])
    books.set(DOWN, asks=[("0.50", "10")])
    place(venue, spec("u", Side.BUY, OrderType.GTC, 500_000, 10 * M))
    place(venue, spec("d", Side.BUY, OrderType.GTC, 500_000, 6 * M, token=DOWN))
    assert gamma.token_lookups == 1  # the first token taught both of its market
    up_held, cash = venue.token_balances()[UP], venue.collateral_micro()
    with pytest.raises(PaperRedeemError, match="not resolved"):
        venue.redeem(CONDITION)
    clock.set(T0 + 960)
    gamma.outcome = Outcome.UP
    assert venue.redeem(CONDITION) == up_held
    assert venue.collateral_micro() == cash + up_held and venue.token_balances() == {}
    assert venue.redeem(CONDITION) == 0  # nothing left to burn
    with pytest.raises(PaperRedeemError, match="unknown"):
        venue.redeem("0xother")


def test_redeem_needs_a_market_gamma_knows() -> None:
    venue, books, _, _ = make_venue(known=False)
    books.set(UP, asks=[("0.50", "10")])
    assert place(venue, spec("u", Side.BUY, OrderType.GTC, 500_000, 10 * M)).fills
    with pytest.raises(PaperRedeemError, match="unknown"):
        venue.redeem(CONDITION)


# --- concurrency and invariants -------------------------------------------------------------


def test_threads_submitting_at_once_keep_the_books_balanced() -> None:
    venue, books, _, _ = make_venue(balance=1_000 * M)
    books.set(UP, bids=[("0.30", "1000")], asks=[("0.50", "40"), ("0.60", "1000")])
    replies: list[PlaceReply] = []
    lock = threading.Lock()

    def trader(n: int) -> None:
        for i in range(20):
            price = 500_000 if i % 2 else 450_000
            reply = place(venue, spec(f"t{n}-{i}", Side.BUY, OrderType.GTC, price, 5 * M))
            with lock:
                replies.append(reply)
            venue.books([UP])
            if i % 5 == 4:
                venue.cancel_all()

    threads = [threading.Thread(target=trader, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(replies) == 120 and all(r.status is PlaceStatus.ACCEPTED for r in replies)
    fills = venue.fills()
    assert len({f.venue_trade_id for f in fills}) == len(fills)
    paid = sum(f.notional_micro or 0 for f in fills)
    shares = sum(f.size_micro - f.fee_micro for f in fills)
    live = venue.open_orders()
    reserved = sum((o.size_micro - o.matched_micro) * o.price_micro // M for o in live)
    state = venue.balances()
    assert state.reserved == reserved
    assert state.free + state.reserved == 1_000 * M - paid
    assert venue.token_balances().get(UP, 0) == shares
    # 40 shares at 0.50 are displayed and remembered: no more can have been taken there
    assert sum(f.size_micro for f in fills) <= 40 * M


def trade(venue: PaperVenue, order: OrderSpec) -> PlaceReply:
    """Intent first, then submit, then book the reply's fills — as execute_trade does."""
    prepared = venue.prepare(order)
    with db_connection() as cur:
        insert_order_intent(
            cur,
            intent_for(prepared, symbol="BTC", outcome="UP", intent="entry", mode="paper"),
            0,
        )
    reply = venue.submit(prepared)
    with db_connection() as cur:
        if reply.status is PlaceStatus.REJECTED:
            set_order_status(cur, order.client_order_id, "rejected", 0, error=reply.error)
        else:
            status = "live" if reply.resting else "filled"
            set_order_status(cur, order.client_order_id, status, 0)
        for fill in reply.fills:
            apply_fill_event(cur, fill, 0)
    return reply


def run_sequence(ops: list[tuple[str, int, int]], db: Path) -> None:
    run_migrations(db)
    configure_database(db)
    with db_connection() as cur:
        record_cash(cur, "deposit", 50 * M, 0)
    venue, books, _, clock = make_venue(balance=50 * M, known=False)
    books.set(UP, bids=[("0.40", "30")], asks=[("0.60", "30")])
    for i, (op, cents, shares) in enumerate(ops):
        price = cents * 10_000
        cid = f"p-{i}"
        if op == "book":
            books.set(
                UP, bids=[(f"0.{cents - 2}", str(shares))], asks=[(f"0.{cents}", "25")]
            )
        elif op == "wait":
            clock.advance(shares)
        elif op == "cancel":
            venue.cancel_all()
        elif op.startswith("sell"):
            held = venue.balances().tokens.get(UP, 0) // 10_000 * 10_000
            kind = OrderType.FAK if op == "sell_fak" else OrderType.GTC
            if held:
                trade(venue, spec(cid, Side.SELL, kind, price, min(held, shares * M)))
        else:
            kind = {"buy_fak": OrderType.FAK, "buy_fok": OrderType.FOK}.get(
                op, OrderType.GTC
            )
            trade(venue, spec(cid, Side.BUY, kind, price, shares * M))
        venue.books([UP])
        with db_connection() as cur:  # maker fills, as the watchdog books them
            for fill in venue.fills():
                apply_fill_event(cur, fill, 0)
        state = venue.balances()
        assert min(state.free, state.reserved) >= 0
        assert all(
            n >= 0 for n in (*state.tokens.values(), *state.reserved_tokens.values())
        )
    with db_connection(readonly=True) as cur:
        assert cash_balance(cur) == venue.collateral_micro()
        ours = {
            r[0]: r[1]
            for r in cur.execute(
                "SELECT token_id, size_micro FROM positions WHERE size_micro > 0"
            )
        }
    assert ours == venue.token_balances()
    close_thread_connection()


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "buy_gtc",
                    "buy_fak",
                    "buy_fok",
                    "sell_gtc",
                    "sell_fak",
                    "book",
                    "wait",
                    "cancel",
                ]
            ),
            st.integers(30, 70),
            st.integers(5, 40),
        ),
        max_size=25,
    )
)
def test_any_sequence_keeps_balances_non_negative_and_equal_to_our_ledger(
    ops: list[tuple[str, int, int]],
) -> None:
    """Whatever we order, cancel and whatever the book does: nothing goes negative, and a
    ledger built from the fill events alone equals the venue to the micro-unit."""
    with tempfile.TemporaryDirectory() as tmp:
        run_sequence(ops, Path(tmp) / "paper.db")
