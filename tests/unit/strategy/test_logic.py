"""The decision: each rule against a hand computation, each PASS reason, the stored row."""

import json
import math
from dataclasses import replace
from decimal import Decimal

import pytest

from src.data.market_data.indicators import IndicatorState
from src.trading.logic import (
    AccountState,
    OrderStyle,
    Side,
    ceil_to_tick,
    decide,
    decide_with_analysis,
    ev_per_share,
    expected_value,
    floor_to_tick,
    market_tick,
    side_quote,
    taker_fee,
    taker_payout,
)
from src.trading.params import StrategyParams
from src.trading.signals.confidence import ValidationAction
from src.trading.signals.types import Direction, Reason
from src.trading.strategy import (
    MAX_BOOK_CLOCK_SKEW_S,
    Analysis,
    BookTop,
    analyze,
    check_book,
)
from tests.unit.strategy.builders import WINDOW_START, account, make_snapshot, random_walk

P = StrategyParams()
UP, DOWN = Direction.UP, Direction.DOWN


def test_taker_fee_by_hand() -> None:
    # The reference's on-chain fill: 108 @ 0.36 → 108·0.07·0.36·0.64 = 1.741824 (venue
    # 1.74182); we round up to the venue's 5 decimals, conservative by at most 0.00001.
    assert taker_fee(Decimal(108), Decimal("0.36"), Decimal("0.07")) == Decimal("1.74183")
    assert taker_fee(Decimal(5), Decimal("0.5"), Decimal("0.07")) == Decimal("0.08750")
    assert taker_fee(Decimal(5), Decimal("0.5"), Decimal(0)) == 0
    assert taker_payout(Decimal("0.55"), Decimal("0.07")) == Decimal("0.9685")


def test_ev_per_share_by_hand() -> None:
    taker = ev_per_share(
        Decimal("0.62"), Decimal("0.55"), OrderStyle.TAKER, Decimal("0.07"), Decimal("0.01")
    )
    assert (
        taker
        == Decimal("0.62") * Decimal("0.9685") - Decimal("0.55")
        == Decimal("0.050470")
    )
    maker = ev_per_share(
        Decimal("0.62"), Decimal("0.54"), OrderStyle.MAKER, Decimal("0.07"), Decimal("0.01")
    )
    assert maker == Decimal("0.07")


def test_expected_value_by_hand() -> None:
    # 100 @ 0.55: fee 1.7325 taken in shares (1.7325 / 0.55 = 3.15), 96.85 kept.
    fee, ev = expected_value(
        Decimal("0.62"),
        Decimal(100),
        Decimal("0.55"),
        OrderStyle.TAKER,
        Decimal("0.07"),
        Decimal("0.01"),
    )
    assert fee == Decimal("1.73250")
    assert ev == Decimal("0.62") * Decimal("96.85") - Decimal(55)
    fee, ev = expected_value(
        Decimal("0.62"),
        Decimal(100),
        Decimal("0.54"),
        OrderStyle.MAKER,
        Decimal("0.07"),
        Decimal("0.01"),
    )
    assert fee == 0 and ev == Decimal("7.00")


@pytest.mark.parametrize(
    ("bid", "ask", "tick"),
    [
        ("0.49", "0.51", "0.01"),
        ("0.955", "0.965", "0.01"),
        ("0.96", "0.97", "0.001"),
        ("0.01", "0.03", "0.001"),
        ("0.03", "0.05", "0.01"),
    ],
)
def test_tick_rule(bid: str, ask: str, tick: str) -> None:
    assert market_tick(BookTop(Decimal(bid), Decimal(ask))) == Decimal(tick)


def test_tick_rounding_and_venue_tick() -> None:
    assert market_tick(
        BookTop(Decimal("0.5"), Decimal("0.51"), tick_size=Decimal("0.001"))
    ) == Decimal("0.001")
    assert floor_to_tick(Decimal("0.5349"), Decimal("0.01")) == Decimal("0.53")
    assert ceil_to_tick(Decimal("0.5301"), Decimal("0.01")) == Decimal("0.54")
    assert ceil_to_tick(Decimal("0.53"), Decimal("0.01")) == Decimal("0.53")


def test_down_quote_mirrors_the_up_book() -> None:
    book = BookTop(Decimal("0.54"), Decimal("0.55"), Decimal(100), Decimal(7))
    q = side_quote(book, DOWN)
    assert (q.bid, q.ask, q.bid_size, q.ask_size) == (
        Decimal("0.45"),
        Decimal("0.46"),
        Decimal(7),
        Decimal(100),
    )


# --- Decisions with a hand-set confidence ---------------------------------------------------

BOOK = {"bid": "0.54", "ask": "0.55"}


def _forced(snapshot, confidence: float, direction=UP, **changes) -> Analysis:
    """The snapshot's real analysis with the selected (Bayesian) confidence replaced."""
    analysis = analyze(snapshot, P)
    assert isinstance(analysis, Analysis)
    chosen = replace(
        analysis.bayesian,
        direction=direction,
        raw_confidence=confidence,
        confidence=confidence,
        **changes,
    )
    return replace(analysis, bayesian=chosen)


def _decide(confidence, direction=UP, acct=None, params=P, snapshot=None, **changes):
    snapshot = snapshot or make_snapshot(**BOOK)
    analysis = _forced(snapshot, confidence, direction, **changes)
    return decide_with_analysis(snapshot, analysis, acct or account(), params)


def test_taker_entry_sized_by_the_per_trade_cap() -> None:
    d = _decide(0.62)
    assert d.side is Side.UP and d.reason is Reason.ENTER_TAKER
    assert d.order_style is OrderStyle.TAKER and d.limit_price == Decimal("0.55")
    # stake 40·(1 + 2·0.12/0.35) = 67.43, half Kelly 0.5·(0.05047/0.4185)·1000 = 60.30,
    # max_trade_usd 50 → 50 / 0.55 = 90.90 shares.
    assert d.shares == Decimal("90.90") and d.size_limit == "trade_limit"
    assert d.cost == Decimal("49.9950")
    fee = (Decimal("90.90") * Decimal("0.07") * Decimal("0.55") * Decimal("0.45")).quantize(
        Decimal("0.00001"), "ROUND_UP"
    )
    assert d.fee == fee == Decimal("1.57485")
    ev = Decimal("0.62") * (Decimal("90.90") - fee / Decimal("0.55")) - Decimal("49.9950")
    assert d.ev_total == ev and d.ev_total > 0
    assert d.ev_per_share == ev / Decimal("90.90")
    assert d.required_edge == Decimal("0.03")


def test_half_kelly_binds_when_the_caps_are_loose() -> None:
    loose = replace(P, max_trade_usd=Decimal(100))
    d = _decide(0.62, params=loose)
    kelly = (Decimal("0.62") * Decimal("0.9685") - Decimal("0.55")) / (
        Decimal("0.9685") - Decimal("0.55")
    )
    budget = Decimal("0.5") * kelly * Decimal(1000)
    assert d.size_limit == "kelly"
    assert (
        d.shares
        == (budget / Decimal("0.55")).quantize(Decimal("0.01"), "ROUND_FLOOR")
        == Decimal("109.63")
    )


def test_confidence_scales_the_stake() -> None:
    loose = replace(
        P,
        max_trade_usd=Decimal(1000),
        max_window_exposure_usd=Decimal(1000),
        kelly_fraction=1.0,
    )
    d = _decide(0.62, params=loose)
    stake = Decimal(40) * (1 + 2 * (Decimal("0.12") / Decimal("0.35")))
    assert d.size_limit == "stake"
    assert d.shares == (stake / Decimal("0.55")).quantize(Decimal("0.01"), "ROUND_FLOOR")


def test_maker_when_the_taker_edge_does_not_pay_the_fee() -> None:
    # Taker: 0.59·0.9685 − 0.55 = 0.0214 < 0.03. Maker at 0.54 (bid 0.53 + 1 tick, below
    # the ask): 0.59 − 0.54 − 0.01 = 0.04 ≥ 0.03.
    d = _decide(0.59, snapshot=make_snapshot(bid="0.53", ask="0.55"))
    assert d.reason is Reason.ENTER_MAKER and d.order_style is OrderStyle.MAKER
    assert d.limit_price == Decimal("0.54") and d.fee == 0
    assert d.ev_per_share == Decimal("0.04")


def test_maker_joins_the_bid_on_a_one_tick_spread_and_style_is_respected() -> None:
    maker_only = replace(P, order_style="maker")
    d = _decide(0.62, params=maker_only)
    assert d.reason is Reason.ENTER_MAKER and d.limit_price == Decimal("0.54")
    taker_only = replace(P, order_style="taker")
    assert _decide(0.59, params=taker_only).reason is Reason.EDGE_TOO_SMALL


def test_edge_gate_is_hard() -> None:
    d = _decide(0.57)
    # Taker 0.57·0.9685 − 0.55 = 0.002; maker 0.57 − 0.54 − 0.01 = 0.02: both < 0.03.
    assert d.side is Side.PASS and d.reason is Reason.EDGE_TOO_SMALL
    assert d.ev_per_share == Decimal("0.02") and d.order_style is OrderStyle.MAKER


def test_losing_side_needs_its_own_edge() -> None:
    # DOWN on a 0.54/0.55 Up book buys Down at 0.46 (ask) or rests 0.45 (bid).
    lenient = replace(P, min_confidence=0.5)
    weak = _decide(0.51, DOWN, params=lenient)
    assert weak.reason is Reason.LOSING_SIDE_EDGE_TOO_SMALL
    # Taker 0.51·(1 − 0.07·0.54) − 0.46 = 0.0307 would clear MIN_EDGE, not 0.06.
    strong = _decide(0.53, DOWN, params=lenient)
    assert strong.side is Side.DOWN and strong.reason is Reason.ENTER_MAKER
    assert strong.limit_price == Decimal("0.45") and strong.ev_per_share == Decimal("0.07")
    assert strong.required_edge == Decimal("0.06")


@pytest.mark.parametrize(
    ("confidence", "direction", "changes", "reason"),
    [
        (0.54, UP, {}, Reason.LOW_CONFIDENCE),
        (0.5, Direction.NEUTRAL, {}, Reason.NO_DIRECTION),
        (0.75, UP, {"validation": ValidationAction.REFUSED}, Reason.VALIDATION_REFUSED),
    ],
)
def test_signal_gates(confidence, direction, changes, reason) -> None:
    d = _decide(confidence, direction, **changes)
    assert d.side is Side.PASS and d.reason is reason


def test_liquidity_and_book_size() -> None:
    thin = make_snapshot(bid="0.54", ask="0.55", ask_size="30")  # $16.50 < $20
    assert _decide(0.62, snapshot=thin).reason is Reason.INSUFFICIENT_LIQUIDITY
    small = make_snapshot(bid="0.54", ask="0.55", ask_size="40")
    d = _decide(0.62, snapshot=small)
    assert d.shares == Decimal(40) and d.size_limit == "book_size"


@pytest.mark.parametrize(
    ("fields", "reason", "shares"),
    [
        ({"window_exposure": "90"}, Reason.ENTER_TAKER, Decimal("18.18")),
        ({"window_exposure": "98"}, Reason.WINDOW_EXPOSURE_LIMIT, None),
        ({"open_exposure": "299"}, Reason.TOTAL_EXPOSURE_LIMIT, None),
        ({"daily_pnl": "-98"}, Reason.DAILY_LOSS_LIMIT, None),
        ({"daily_pnl": "-100"}, Reason.DAILY_LOSS_LIMIT, None),
        ({"balance": "2", "equity": "1000"}, Reason.INSUFFICIENT_BALANCE, None),
    ],
)
def test_exposure_and_loss_limits(fields, reason, shares) -> None:
    d = _decide(0.62, acct=account(**fields))
    assert d.reason is reason
    if shares is not None:
        assert d.shares == shares  # (100 − 90) / 0.55


def test_minimum_size_bump_within_hard_caps() -> None:
    # $40: stake 2.70, half Kelly 2.41 → 4.38 shares < 5; 5 × 0.55 = 2.75 fits every cap.
    d = _decide(0.62, acct=account("40"))
    assert d.shares == Decimal(5) and d.size_limit == "venue_minimum"
    strict = replace(P, allow_min_size_bump=False)
    assert (
        _decide(0.62, acct=account("40"), params=strict).reason is Reason.SIZE_BELOW_MINIMUM
    )


def test_marketable_buy_needs_one_dollar() -> None:
    # Down at 0.10 on a 0.90/0.91 Up book: 6.28 shares would cost $0.63; the $1 rule needs 10.
    snapshot = make_snapshot(bid="0.90", ask="0.91")
    d = _decide(0.60, DOWN, acct=account("10"), snapshot=snapshot)
    assert d.reason is Reason.ENTER_TAKER and d.limit_price == Decimal("0.10")
    assert d.shares == Decimal(10) and d.cost == Decimal("1.00")


def test_spread_and_timing_gates() -> None:
    wide = make_snapshot(bid="0.40", ask="0.50")
    assert _decide(0.7, snapshot=wide).reason is Reason.SPREAD_TOO_WIDE
    for elapsed, reason in ((30, Reason.TOO_EARLY), (800, Reason.TOO_LATE)):
        snap = make_snapshot(elapsed=elapsed, **BOOK)
        assert _decide(0.7, snapshot=snap).reason is reason
    closed = make_snapshot(elapsed=905, **BOOK)
    assert _decide(0.7, snapshot=closed).reason is Reason.WINDOW_CLOSED


# --- Malformed input: PASS with a reason, never an exception --------------------------------


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"bid": None, "ask": None}, Reason.NO_BOOK),
        ({"bid": "0.5", "ask": None}, Reason.ONE_SIDED_BOOK),
        ({"bid": "0.55", "ask": "0.55"}, Reason.CROSSED_BOOK),
        ({"bid": "0.56", "ask": "0.55"}, Reason.CROSSED_BOOK),
        ({"bid": "-0.1", "ask": "0.55"}, Reason.INVALID_BOOK),
        ({"bid": "0.5", "ask": "1.2"}, Reason.INVALID_BOOK),
        ({"bid": "NaN", "ask": "0.55"}, Reason.INVALID_BOOK),
        ({"bid": "0.5", "ask": "0.55", "ask_size": "-1"}, Reason.INVALID_BOOK),
        ({"strike": 0.0}, Reason.INVALID_STRIKE),
        ({"strike": math.nan}, Reason.INVALID_STRIKE),
        ({"strike": -5.0}, Reason.INVALID_STRIKE),
        ({"fee_rate": "NaN"}, Reason.INVALID_FEE_RATE),
        ({"fee_rate": "1.5"}, Reason.INVALID_FEE_RATE),
        ({"closes": [100.0] * 10}, Reason.INSUFFICIENT_DATA),
        ({"closes": []}, Reason.INSUFFICIENT_DATA),
        ({"spot": -1.0}, Reason.INVALID_INPUT),
        ({"spot": math.inf}, Reason.INVALID_INPUT),
    ],
)
def test_malformed_snapshots_pass_with_a_reason(kwargs, reason) -> None:
    d = decide(make_snapshot(**kwargs), account(), P)
    assert d.side is Side.PASS and d.reason is reason
    row = d.to_row()
    assert row["action"] == "PASS" and row["reason"] == reason.value
    json.loads(row["inputs_json"])


def test_stale_and_future_klines() -> None:
    snapshot = make_snapshot()
    stale = replace(snapshot, now=snapshot.now + 600)
    assert decide(stale, account(), P).reason is Reason.STALE_DATA
    future = replace(snapshot, now=snapshot.now - 300)
    assert decide(future, account(), P).reason is Reason.FUTURE_DATA


def test_stale_book() -> None:
    snapshot = make_snapshot()
    old = replace(snapshot, book=replace(snapshot.book, timestamp=snapshot.now - 60))
    assert decide(old, account(), P).reason is Reason.STALE_BOOK


@pytest.mark.parametrize("ahead", [0.0, 1.0, MAX_BOOK_CLOCK_SKEW_S])
def test_book_stamped_now_or_within_the_clock_skew_is_accepted(ahead: float) -> None:
    snapshot = make_snapshot()
    book = replace(snapshot.book, timestamp=snapshot.now + ahead)
    assert check_book(book, snapshot.now, P) is None
    fresh = decide(replace(snapshot, book=book), account(), P)
    assert fresh.reason is decide(snapshot, account(), P).reason


@pytest.mark.parametrize("ahead", [MAX_BOOK_CLOCK_SKEW_S + 0.1, 60.0, 86_400.0, 1e308])
def test_book_stamped_beyond_the_clock_skew_is_refused(ahead: float) -> None:
    snapshot = make_snapshot()
    book = replace(snapshot.book, timestamp=snapshot.now + ahead)
    problem = check_book(book, snapshot.now, P)
    assert problem is not None and problem.reason is Reason.FUTURE_DATA
    assert "ahead" in problem.detail
    d = decide(replace(snapshot, book=book), account(), P)
    assert d.side is Side.PASS and d.reason is Reason.FUTURE_DATA
    assert d.detail == problem.detail


@pytest.mark.parametrize(
    "bad",
    [
        AccountState(Decimal("NaN"), Decimal(1000)),
        AccountState(Decimal(-1), Decimal(1000)),
        AccountState(Decimal(100), Decimal(100), window_exposure=Decimal(-5)),
        "not an account",
    ],
)
def test_invalid_account(bad) -> None:
    d = decide(make_snapshot(), bad, P)
    assert d.reason is Reason.INVALID_ACCOUNT


def test_garbage_never_raises() -> None:
    for snapshot in (None, "x", 42, make_snapshot(klines=["junk", None, 3], strike=100.0)):
        d = decide(snapshot, account(), P)  # type: ignore[arg-type]
        assert d.side is Side.PASS
        d.to_row()
    weird = replace(make_snapshot(), window="BTC")
    assert decide(weird, account(), P).reason is Reason.INVALID_INPUT


# --- The real pipeline -----------------------------------------------------------------------


def _divergence_snapshot(**kwargs):
    # A steady 0.5 % climb over the last 15 minutes; the strike is where it started, 5
    # minutes left: fair value ≈ 0.99 while the market still says 0.50.
    closes = random_walk(105, 100.0, 0.0003, 11)
    closes += [closes[-1] * (1 + 0.005 * i / 15) for i in range(1, 16)]
    strike = closes[-16]
    return make_snapshot(closes=closes, strike=strike, elapsed=600, **kwargs)


def test_pipeline_trades_a_large_divergence_with_positive_ev() -> None:
    d = decide(_divergence_snapshot(bid="0.49", ask="0.51"), account(), P)
    a = d.analysis
    assert a is not None and a.fair.p_up > 0.95
    assert a.signals[3].direction is UP
    assert d.side is Side.UP and d.is_trade
    assert d.ev_total is not None and d.ev_total > 0
    assert d.probability == Decimal(repr(a.bayesian.confidence))
    row = d.to_row()
    assert row["action"] == "UP" and row["price_micro"] == 510_000
    assert row["size_micro"] == int(d.shares * 1_000_000)
    assert row["confidence"] == a.bayesian.confidence
    assert row["fair_value"] == a.fair.p_up and row["market_price"] == 0.5
    signals = json.loads(row["signals_json"])
    assert [s["name"] for s in signals][3] == "divergence"


def test_no_evidence_never_trades() -> None:
    # A market already at fair value: the confidence is the market's, which never pays.
    snapshot = make_snapshot(bid="0.49", ask="0.51")
    d = decide(snapshot, account(), replace(P, bayes_llr_scale=0.0, additive_max_shift=0.0))
    assert d.side is Side.PASS
    assert d.analysis is not None and d.analysis.bayesian.p_up == pytest.approx(0.5)


def test_incremental_indicators_give_the_same_decision() -> None:
    snapshot = _divergence_snapshot(bid="0.49", ask="0.51")
    state = IndicatorState(P.indicator_config())
    state.update_many(snapshot.klines)
    fast = replace(snapshot, indicators=state.snapshot())
    assert decide(fast, account(), P) == decide(snapshot, account(), P)


def test_row_is_primitives_only() -> None:
    d = decide(_divergence_snapshot(bid="0.49", ask="0.51"), account(), P)
    row = d.to_row()
    assert set(row) == {
        "symbol",
        "decided_ms",
        "action",
        "reason",
        "method",
        "confidence",
        "confidence_additive",
        "confidence_bayesian",
        "fair_value",
        "market_price",
        "price_micro",
        "size_micro",
        "fee_micro",
        "expected_value",
        "time_left_s",
        "signals_json",
        "inputs_json",
    }
    assert all(v is None or isinstance(v, (str, int, float)) for v in row.values())
    assert row["decided_ms"] == (WINDOW_START + 600) * 1000
    inputs = json.loads(row["inputs_json"])
    assert inputs["params_digest"] == P.digest() and inputs["coin"] == "BTC"
    assert inputs["bayesian"]["confidence"] == row["confidence_bayesian"]


def test_fair_value_veto() -> None:
    # Spot 1 % below the strike with 10 minutes left: fair P(Up) is tiny. However confident
    # the signals are, paying 0.55 for Up is refused: 0.55 > fair + 0.15.
    closes = random_walk(120, 100.0, 0.0005, 5)
    snapshot = make_snapshot(closes=closes, strike=closes[-1] * 1.01, **BOOK)
    d = _decide(0.75, snapshot=snapshot)
    assert d.analysis is not None and d.analysis.fair.p_up < 0.4
    assert d.reason is Reason.FAIR_VALUE_VETO and d.side is Side.PASS
    off = replace(P, fair_value_veto=1.0)
    assert _decide(0.75, snapshot=snapshot, params=off).side is Side.UP
