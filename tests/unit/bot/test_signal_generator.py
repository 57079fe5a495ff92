"""The signal generator: the book as the strategy reads it, the per-window entry guard, the
entry order of a trade, and decide/store/submit over a hand-fed market board and a real
migrated ledger."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

import src.bot.signal_generator as signal_generator
from src.bot.market_board import CoinFeed, MarketBoard
from src.bot.signal_generator import (
    MAX_ENTRY_ORDERS_PER_WINDOW,
    SignalGenerator,
    book_top,
    entry_block,
    entry_params,
)
from src.data.db_connection import db_connection
from src.data.ledger_store import cash_balance
from src.data.market_data.binance import KlineSnapshot
from src.data.market_data.chainlink import ReferenceQuote
from src.data.market_data.polymarket import BookLevel, MarketInfo, OrderBook
from src.data.market_data.windows import WindowRef
from src.trading.ledger.accounting import Side
from src.trading.logic import Decision, OrderStyle, decide
from src.trading.logic import Side as Direction
from src.trading.params import StrategyParams
from src.trading.position_manager import portfolio
from src.trading.position_manager.jobs import Job
from src.trading.position_manager.portfolio import account_state
from src.trading.signals.types import Reason
from src.trading.strategy import BookTop
from src.trading.venue.port import OrderType
from src.utils.clock import SimClock
from tests.unit.position_manager.support import (
    M,
    add_window,
    migrated_db,
    place,
    token,
    trade,
)
from tests.unit.strategy.builders import (
    WINDOW_START,
    account,
    klines_from_closes,
    make_snapshot,
    random_walk,
)

T0 = WINDOW_START
NOW = T0 + 600  # ten minutes into the window: inside the entry part
P = StrategyParams()


# --- builders --------------------------------------------------------------------------


def market(coin: str = "BTC", start: int = T0) -> MarketInfo:
    """The market ``support.add_window`` records for ``coin``'s window at ``start``."""
    slug = f"{coin.lower()}-updown-15m-{start}"
    return MarketInfo(
        slug=slug,
        coin=coin,
        start=start,
        end=start + 900,
        condition_id=f"0xcond-{slug}",
        up_token_id=token(coin, start, "UP"),
        down_token_id=token(coin, start, "DOWN"),
        tick_size=Decimal("0.01"),
        min_order_size=Decimal(5),
        fee_rate=Decimal("0.07"),
        fee_exponent=1,
        neg_risk=False,
        accepting_orders=True,
        closed=False,
        outcome=None,
    )


def book(
    token_id: str,
    bids: tuple[tuple[str, str], ...] = (("0.49", "500"),),
    asks: tuple[tuple[str, str], ...] = (("0.51", "500"),),
    at_ms: int = NOW * 1000,
) -> OrderBook:
    return OrderBook(
        token_id,
        tuple(BookLevel(Decimal(p), Decimal(s)) for p, s in bids),
        tuple(BookLevel(Decimal(p), Decimal(s)) for p, s in asks),
        at_ms,
        tick_size=Decimal("0.01"),
    )


def divergence_closes() -> tuple[list[float], float]:
    """A steady 0.5 % climb over the last 15 minutes from the strike (fair value ≈ 0.99
    while the book says 0.50): the real strategy buys Up (see test_logic)."""
    closes = random_walk(105, 100.0, 0.0003, 11)
    closes += [closes[-1] * (1 + 0.005 * i / 15) for i in range(1, 16)]
    return closes, closes[-16]


def trade_decision(**changes: object) -> Decision:
    """A real trade decision (Up, taker at 0.51) from the strategy's own pipeline."""
    closes, strike = divergence_closes()
    snapshot = make_snapshot(closes=closes, strike=strike, elapsed=600)
    decision = decide(snapshot, account(), P)
    assert decision.is_trade and decision.side is Direction.UP  # the builder's premise
    return replace(decision, **changes) if changes else decision


def feed(
    sequence: int,
    *,
    coin: str = "BTC",
    mkt: MarketInfo | None = None,
    window_id: int | None = None,
    order_book: OrderBook | None = None,
    klines: KlineSnapshot | None = None,
    strike: float | None = None,
    spot: float | None = None,
    tick_perf: float = 123.0,
) -> CoinFeed:
    return CoinFeed(
        window=WindowRef(coin, T0),
        market=mkt,
        window_id=window_id,
        book=order_book,
        klines=klines,
        strike=strike,
        spot=spot,
        polled_at=NOW,
        tick_perf=tick_perf,
        sequence=sequence,
    )


class Submitter:
    """Stands in for ``OrderPlacer.submit``: one job per key while it is pending."""

    def __init__(self) -> None:
        self.calls: list[Job] = []
        self.pending: set[str] = set()

    def __call__(self, job: Job) -> bool:
        self.calls.append(job)
        if job.key in self.pending:
            return False
        self.pending.add(job.key)
        return True

    @property
    def accepted(self) -> int:
        return len(self.pending)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return migrated_db(tmp_path, deposit=1000 * M)


def generator(board: MarketBoard, submit: Submitter, mode: str = "sim") -> SignalGenerator:
    return SignalGenerator(board, P, SimClock(start=NOW), mode, submit)


def decision_rows() -> list[tuple]:
    with db_connection(readonly=True) as cur:
        return [
            tuple(r)
            for r in cur.execute(
                "SELECT id, window_id, mode, symbol, action, reason FROM decisions "
                "ORDER BY id"
            )
        ]


# --- book_top ----------------------------------------------------------------------------


def test_book_top_of_an_absent_book_is_empty() -> None:
    top = book_top(feed(1))
    assert top == BookTop(None, None)
    assert (top.bid_size, top.ask_size, top.tick_size, top.timestamp) == (0, 0, None, None)


def test_book_top_of_an_empty_book_has_no_sides_but_keeps_tick_and_time() -> None:
    top = book_top(feed(1, order_book=book("t", bids=(), asks=(), at_ms=1_500)))
    assert (top.best_bid, top.best_ask, top.bid_size, top.ask_size) == (None, None, 0, 0)
    assert top.tick_size == Decimal("0.01") and top.timestamp == 1.5


def test_book_top_takes_the_best_level_of_each_side_with_its_size() -> None:
    top = book_top(
        feed(
            1,
            order_book=book(
                "t",
                bids=(("0.48", "12.5"), ("0.47", "900")),
                asks=(("0.52", "7"), ("0.60", "900")),
                at_ms=NOW * 1000 + 250,
            ),
        )
    )
    assert top.best_bid == Decimal("0.48") and top.bid_size == Decimal("12.5")
    assert top.best_ask == Decimal("0.52") and top.ask_size == Decimal(7)
    assert top.timestamp == pytest.approx(NOW + 0.25)  # milliseconds → seconds


@pytest.mark.parametrize(
    ("bids", "asks", "expected"),
    [
        ((("0.40", "3"),), (), (Decimal("0.40"), None, Decimal(3), 0)),
        ((), (("0.60", "4"),), (None, Decimal("0.60"), 0, Decimal(4))),
    ],
)
def test_book_top_of_a_one_sided_book(bids, asks, expected) -> None:
    top = book_top(feed(1, order_book=book("t", bids=bids, asks=asks)))
    assert (top.best_bid, top.best_ask, top.bid_size, top.ask_size) == expected


# --- entry_block -------------------------------------------------------------------------


def test_an_untouched_window_allows_an_entry(db: Path) -> None:
    window_id = add_window("BTC", T0)
    with db_connection(readonly=True) as cur:
        assert entry_block(cur, window_id) is None


def test_a_position_in_the_window_blocks(db: Path) -> None:
    window_id = add_window("BTC", T0)
    trade(token("BTC", T0, "UP"), window_id=window_id)
    with db_connection(readonly=True) as cur:
        assert entry_block(cur, window_id) == "a position exists in this window"


@pytest.mark.parametrize(
    "status", ["intent", "posting", "ambiguous", "live", "partially_filled"]
)
def test_a_working_entry_blocks(db: Path, status: str) -> None:
    window_id = add_window("BTC", T0)
    place(token("BTC", T0, "UP"), window_id=window_id, status=status)
    with db_connection(readonly=True) as cur:
        assert entry_block(cur, window_id) == "an entry order is working"


def test_entry_attempts_are_limited_per_window(db: Path) -> None:
    window_id = add_window("BTC", T0)
    other = add_window("BTC", T0 + 900)
    up = token("BTC", T0, "UP")
    # Orders that are not entries, or belong to another window, do not count.
    place(up, window_id=window_id, intent="exit_plan", status="cancelled")
    for _ in range(MAX_ENTRY_ORDERS_PER_WINDOW):
        place(token("BTC", T0 + 900, "UP"), window_id=other, status="expired")
    for status in ("cancelled", "rejected"):
        place(up, window_id=window_id, status=status)
    with db_connection(readonly=True) as cur:
        assert MAX_ENTRY_ORDERS_PER_WINDOW == 3
        assert entry_block(cur, window_id) is None  # two tries so far
    place(up, window_id=window_id, status="expired")
    with db_connection(readonly=True) as cur:
        assert entry_block(cur, window_id) == "entry attempts exhausted"


# --- entry_params ------------------------------------------------------------------------


def test_a_taker_entry_is_a_fak_buy_of_the_decided_token() -> None:
    d = trade_decision(order_style=OrderStyle.TAKER)
    p = entry_params(d, feed(1, mkt=market(), window_id=7), decision_id=42)
    assert p.order_type is OrderType.FAK and p.post_only is False
    assert (p.symbol, p.outcome, p.token_id) == ("BTC", "UP", token("BTC", T0, "UP"))
    assert p.side is Side.BUY and p.intent == "entry"
    assert (p.price, p.size) == (d.limit_price, d.shares)
    assert (p.window_id, p.decision_id) == (7, 42)


def test_a_maker_entry_is_a_post_only_gtc_and_down_buys_the_down_token() -> None:
    d = trade_decision(
        side=Direction.DOWN, order_style=OrderStyle.MAKER, limit_price=Decimal("0.47")
    )
    p = entry_params(d, feed(1, mkt=market("ETH"), coin="ETH", window_id=3), 9)
    assert p.order_type is OrderType.GTC and p.post_only is True
    assert (p.symbol, p.outcome, p.token_id) == ("ETH", "DOWN", token("ETH", T0, "DOWN"))
    assert p.side is Side.BUY and p.price == Decimal("0.47")
    assert (p.window_id, p.decision_id) == (3, 9)


# --- decide_coin / step ------------------------------------------------------------------


def test_a_feed_without_a_market_passes_stores_and_submits_nothing(db: Path) -> None:
    board = MarketBoard(("BTC",))
    submit = Submitter()
    gen = generator(board, submit, mode="paper")
    f = feed(1)
    board.publish(f)
    d = gen.decide_coin("BTC", f)
    assert d.side is Direction.PASS and not d.is_trade
    [(_, window_id, mode, symbol, action, _)] = decision_rows()
    assert (window_id, mode, symbol, action) == (None, "paper", "BTC", "PASS")
    assert board.decision("BTC") is d and board.undecided("BTC") is None
    assert submit.calls == [] and (gen.decisions, gen.trades) == (1, 0)


def test_a_feed_without_a_book_passes_with_its_window_id(db: Path) -> None:
    window_id = add_window("BTC", T0)
    board = MarketBoard(("BTC",))
    submit = Submitter()
    gen = generator(board, submit)
    f = feed(1, mkt=market(), window_id=window_id, strike=100.0, spot=100.0)
    board.publish(f)
    d = gen.decide_coin("BTC", f)
    assert d.side is Direction.PASS
    [(_, stored_window, mode, _, action, reason)] = decision_rows()
    assert (stored_window, mode, action) == (window_id, "sim", "PASS")
    assert reason == d.reason.value
    assert board.decision("BTC") is d
    assert submit.calls == [] and gen.trades == 0


def test_a_real_trade_decision_submits_one_entry_job(db: Path) -> None:
    """No monkeypatch: the strategy itself decides to buy Up on a hand-built feed."""
    window_id = add_window("BTC", T0)
    closes, strike = divergence_closes()
    end_ms = int(NOW // 60) * 60 * 1000
    klines = klines_from_closes(closes, end_ms)
    board = MarketBoard(("BTC",))
    submit = Submitter()
    gen = generator(board, submit)
    mkt = market()
    f = feed(
        1,
        mkt=mkt,
        window_id=window_id,
        order_book=book(mkt.up_token_id),
        klines=KlineSnapshot("BTCUSDT", klines, klines[-1].close, end_ms),
        strike=strike,
    )
    board.publish(f)
    d = gen.decide_coin("BTC", f)
    assert d.is_trade and d.side is Direction.UP, d.reason
    [job] = submit.calls
    assert job.key == f"entry:{window_id}"
    assert job.place is not None and job.place.token_id == mkt.up_token_id
    [(decision_id, stored_window, _, _, action, _)] = decision_rows()
    assert (stored_window, action) == (window_id, "UP")
    assert job.place.decision_id == decision_id and job.place.window_id == window_id
    assert gen.trades == 1


@pytest.fixture
def trading(monkeypatch: pytest.MonkeyPatch, db: Path) -> dict:
    """A board whose BTC decisions are always the given trade (``decide`` replaced)."""
    decision = trade_decision(order_style=OrderStyle.MAKER, reason=Reason.ENTER_MAKER)
    seen: list[object] = []

    def fake_decide(snapshot, account_state, params):
        seen.append(snapshot)
        return decision

    monkeypatch.setattr(signal_generator, "decide", fake_decide)
    window_id = add_window("BTC", T0)
    board = MarketBoard(("BTC",))
    submit = Submitter()
    return {
        "decision": decision,
        "seen": seen,
        "window_id": window_id,
        "board": board,
        "submit": submit,
        "gen": generator(board, submit),
        "market": market(),
    }


def _trade_feed(t: dict, sequence: int) -> CoinFeed:
    mkt = t["market"]
    return feed(
        sequence,
        mkt=mkt,
        window_id=t["window_id"],
        order_book=book(mkt.up_token_id),
        strike=100.0,
        tick_perf=float(sequence),
    )


def test_a_trade_decision_queues_exactly_one_entry_job(trading: dict) -> None:
    t = trading
    f = _trade_feed(t, 1)
    t["board"].publish(f)
    assert t["gen"].decide_coin("BTC", f) is t["decision"]
    [job] = t["submit"].calls
    assert job.key == f"entry:{t['window_id']}"
    assert job.origin_perf == 1.0 and job.cancel == () and job.redeem is None
    place_ = job.place
    assert place_ is not None
    assert place_.order_type is OrderType.GTC and place_.post_only
    assert place_.token_id == t["market"].up_token_id
    [(decision_id, window_id, mode, _, action, _)] = decision_rows()
    assert (window_id, mode, action) == (t["window_id"], "sim", "UP")
    assert place_.decision_id == decision_id
    signal = t["board"].signals()["BTC"]
    assert signal.decision_id == decision_id and signal.window_id == t["window_id"]
    assert (t["gen"].decisions, t["gen"].trades) == (1, 1)


def test_a_second_feed_while_the_entry_is_pending_is_not_queued_again(
    trading: dict,
) -> None:
    t = trading
    for sequence in (1, 2):
        f = _trade_feed(t, sequence)
        t["board"].publish(f)
        t["gen"].decide_coin("BTC", f)
    assert len(decision_rows()) == 2  # both decisions are stored
    assert len(t["submit"].calls) == 2 and t["submit"].accepted == 1
    assert t["gen"].trades == 1  # the refused submit is not counted as an entry


@pytest.mark.parametrize("held", ["position", "working order"])
def test_a_window_the_ledger_already_trades_gets_no_new_entry(
    trading: dict, held: str
) -> None:
    t = trading
    up = t["market"].up_token_id
    if held == "position":
        trade(up, window_id=t["window_id"])
    else:
        place(up, window_id=t["window_id"], status="live")
    f = _trade_feed(t, 1)
    t["board"].publish(f)
    d = t["gen"].decide_coin("BTC", f)
    assert d.is_trade  # the decision stands (and is stored) ...
    assert [r[4] for r in decision_rows()] == ["UP"]
    assert t["submit"].calls == [] and t["gen"].trades == 0  # ... but nothing is queued
    assert t["board"].decision("BTC") is d


def test_a_trade_without_a_window_id_submits_nothing(trading: dict) -> None:
    t = trading
    f = replace(_trade_feed(t, 1), window_id=None)
    t["board"].publish(f)
    assert t["gen"].decide_coin("BTC", f).is_trade
    assert t["submit"].calls == []


def test_step_decides_each_new_feed_once(monkeypatch: pytest.MonkeyPatch, db: Path) -> None:
    calls: list[str] = []

    def counting_decide(snapshot, account_state, params):
        calls.append(snapshot.window.coin)
        return decide(snapshot, account_state, params)

    monkeypatch.setattr(signal_generator, "decide", counting_decide)
    board = MarketBoard(("BTC", "ETH"))
    submit = Submitter()
    gen = generator(board, submit)
    gen.step()
    assert calls == []  # nothing published yet
    board.publish(feed(board.next_sequence(), coin="BTC"))
    board.publish(feed(board.next_sequence(), coin="ETH"))
    gen.step()
    assert sorted(calls) == ["BTC", "ETH"]
    gen.step()
    gen.step()
    assert len(calls) == 2  # the same feeds are not decided again
    board.publish(feed(board.next_sequence(), coin="ETH"))
    gen.step()
    assert calls[2:] == ["ETH"]
    assert gen.decisions == 3 and len(decision_rows()) == 3
    assert board.undecided("BTC") is None and board.undecided("ETH") is None
    assert submit.calls == []


def test_a_step_decides_every_coin_in_one_transaction_reading_the_account_once(
    monkeypatch: pytest.MonkeyPatch, db: Path
) -> None:
    """Each coin still gets the account of its own window, as ``account_state`` reads it;
    the ledger is read again only once it changed."""
    windows = {coin: add_window(coin, T0) for coin in ("BTC", "ETH", "SOL")}
    trade(token("ETH", T0, "UP"), window_id=windows["ETH"])  # ETH's window is exposed
    seen: dict[str, object] = {}
    reads: list[int] = []

    def recording_decide(snapshot, account_state, params):
        seen[snapshot.window.coin] = account_state
        return decide(snapshot, account_state, params)

    def counting_cash(cur):
        reads.append(1)
        return cash_balance(cur)

    monkeypatch.setattr(signal_generator, "decide", recording_decide)
    monkeypatch.setattr(portfolio, "cash_balance", counting_cash)
    board = MarketBoard(tuple(windows))
    gen = generator(board, Submitter())
    commits: list[int] = []

    def publish_all() -> None:
        for coin, window_id in windows.items():
            f = feed(
                board.next_sequence(), coin=coin, mkt=market(coin), window_id=window_id
            )
            board.publish(f)

    publish_all()
    with db_connection() as cur:
        cur.connection.set_trace_callback(
            lambda sql: commits.append(1) if sql == "COMMIT" else None
        )
    commits.clear()  # that transaction's own commit
    gen.step()
    assert sorted(seen) == ["BTC", "ETH", "SOL"] and len(reads) == 1
    assert len(commits) == 1 and len(decision_rows()) == 3
    with db_connection(readonly=True) as cur:
        for coin, window_id in windows.items():
            assert seen[coin] == account_state(cur, int(NOW * 1000), window_id)
    assert seen["ETH"].window_exposure > 0 == seen["BTC"].window_exposure
    reads.clear()  # (account_state above reads it too)
    publish_all()
    gen.step()  # the ledger did not change: not read again
    assert reads == [] and len(decision_rows()) == 6
    trade(token("SOL", T0, "UP"), window_id=windows["SOL"])
    publish_all()
    gen.step()
    assert len(reads) == 1 and seen["SOL"].window_exposure > 0
    with db_connection() as cur:
        cur.connection.set_trace_callback(None)


def test_the_chainlink_reference_reaches_the_snapshot(trading: dict) -> None:
    t = trading
    plain = _trade_feed(t, 1)
    t["board"].publish(plain)
    t["gen"].decide_coin("BTC", plain)
    with_ref = replace(_trade_feed(t, 2), reference=ReferenceQuote(101.0, NOW - 1, 100.5))
    t["board"].publish(with_ref)
    t["gen"].decide_coin("BTC", with_ref)
    first, second = t["seen"]
    assert (first.reference_spot, first.reference_strike, first.reference_time) == (
        None,
        None,
        None,
    )
    assert (second.reference_spot, second.reference_strike, second.reference_time) == (
        101.0,
        100.5,
        NOW - 1,
    )


def test_a_stored_decision_records_the_reference_it_was_offered(db: Path) -> None:
    window_id = add_window("BTC", T0)
    closes, strike = divergence_closes()  # Binance 0.5 % above: far from the strike
    end_ms = int(NOW // 60) * 60 * 1000
    klines = klines_from_closes(closes, end_ms)
    board = MarketBoard(("BTC",))
    gen = generator(board, Submitter())
    mkt = market()
    f = feed(
        1,
        mkt=mkt,
        window_id=window_id,
        order_book=book(mkt.up_token_id),
        klines=KlineSnapshot("BTCUSDT", klines, klines[-1].close, end_ms),
        strike=strike,
    )
    f = replace(f, reference=ReferenceQuote(99.0, NOW - 2, None))
    board.publish(f)
    d = gen.decide_coin("BTC", f)
    assert d.is_trade  # Binance's decision: the reference has no strike, and is far
    with db_connection(readonly=True) as cur:
        [(text,)] = cur.execute("SELECT inputs_json FROM decisions").fetchall()
    assert json.loads(text)["reference"] == {
        "spot": 99.0,
        "strike": None,
        "time": NOW - 2,
        "used": False,
    }
