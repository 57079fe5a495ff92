"""Properties of whole decisions over generated markets, malformed ones included.

- nothing raises; every decision (PASS included) stores as primitives;
- both confidences stay in [0, 0.85];
- a trade never has negative expected value after fees, and respects every limit;
- the mirrored market (Up ↔ Down) gives the mirrored decision, for both methods;
- the whole 0–100 % price range behaves.
"""

import json
import math
from dataclasses import fields, replace
from decimal import Decimal

from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from src.data.market_data.indicators import compute_indicators
from src.data.market_data.windows import WindowRef
from src.sim.feeds.base import MINUTE_MS
from src.trading.logic import AccountState, Decision, OrderStyle, Side, decide, market_tick
from src.trading.params import ParamsError, StrategyParams
from src.trading.signals.fair_value import fair_value
from src.trading.strategy import BookTop, MarketSnapshot, PricePoint
from tests.unit.strategy.builders import (
    WINDOW_START,
    decisions_mirror,
    kline,
    mirror_snapshot,
)

FAST = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
THOROUGH = settings(FAST, max_examples=300)


@st.composite
def klines_st(draw, end_ms: int, malformed: bool, warm: bool):
    n = draw(st.integers(25, 90) if warm else st.integers(0, 90))
    sigma = draw(
        st.sampled_from([0.0002, 0.001])
        if warm
        else st.sampled_from([0.0, 0.0002, 0.001, 0.004])
    )
    price = draw(st.floats(0.1, 100_000))
    out = []
    for i in range(n):
        step = draw(st.floats(-4, 4)) * sigma
        close = price * math.exp(step)
        if warm:
            # Orderly trading: no validation flags, so the later rules get exercised.
            wick, volume = draw(st.sampled_from([0.0, 0.0001])), draw(st.floats(8, 14))
        else:
            wick = draw(st.sampled_from([0.0, 0.0, 0.0005, 0.005]))
            volume = draw(st.sampled_from([0.0, 1.0, 12.5, 300.0]))
        k = kline(
            end_ms - (n - i) * MINUTE_MS,
            price,
            close,
            high=max(price, close) * (1 + wick),
            low=min(price, close) * (1 - wick / 2),
            volume=volume,
            taker_buy=volume * draw(st.floats(0, 1)),
        )
        if malformed and draw(st.integers(0, 15)) == 0:
            k = replace(k, close=draw(st.sampled_from([math.nan, -1.0, 0.0, math.inf])))
        out.append(k)
        price = close
    return tuple(out)


@st.composite
def snapshots(draw, malformed: bool = False, tradable: bool = False):
    """Markets of every kind; ``tradable`` ones are warm, inside the entry window."""
    elapsed = draw(st.floats(60, 780) if tradable else st.floats(-60, 960))
    now = WINDOW_START + elapsed
    end_ms = int(now // 60) * MINUTE_MS
    klines = draw(klines_st(end_ms, malformed, warm=tradable))
    last = klines[-1].close if klines else 100.0
    base = last if math.isfinite(last) and last > 0 else 100.0
    strike = base * math.exp(draw(st.floats(-0.01, 0.01)))
    if tradable and draw(st.booleans()):
        # Near the strike, where fair value and the book can disagree by a few points.
        strike = base * math.exp(draw(st.floats(-0.0005, 0.0005)))
    # Any two-sided book on the 0.001 grid across the whole 0–100 % range.
    bid_ticks = draw(st.integers(1, 997))
    max_spread = 20 if tradable else 80
    ask_ticks = bid_ticks + draw(st.integers(1, min(max_spread, 999 - bid_ticks)))
    bid, ask = Decimal(bid_ticks) / 1000, Decimal(ask_ticks) / 1000
    mid_history = tuple(
        PricePoint(now - age, Decimal(draw(st.integers(1, 999))) / 1000)
        for age in draw(st.lists(st.sampled_from([5.0, 45.0, 130.0, 600.0]), max_size=3))
    )
    book = BookTop(
        bid,
        ask,
        Decimal(draw(st.sampled_from([0, 3, 50, 2000]))),
        Decimal(draw(st.sampled_from([0, 3, 50, 2000]))),
    )
    fee = Decimal(draw(st.sampled_from(["0", "0.07", "0.25"])))
    if malformed:
        strike = draw(st.sampled_from([strike, strike, math.nan, -1.0, 0.0]))
        book = draw(
            st.sampled_from(
                [
                    book,
                    book,
                    BookTop(ask, bid),
                    BookTop(None, ask),
                    BookTop(Decimal("NaN"), ask),
                    BookTop(bid, Decimal(2)),
                    BookTop(bid, ask, Decimal(-5), Decimal(1)),
                ]
            )
        )
        fee = draw(st.sampled_from([fee, fee, Decimal("NaN"), Decimal(-1)]))
    return MarketSnapshot(
        window=WindowRef("ETH", WINDOW_START),
        now=now,
        strike=strike,
        book=book,
        fee_rate=fee,
        klines=klines,
        mid_history=mid_history,
    )


accounts = st.builds(
    lambda balance, exposure, window, pnl: AccountState(
        Decimal(balance),
        Decimal(balance) + Decimal(exposure),
        Decimal(exposure),
        min(Decimal(window), Decimal(exposure)),
        Decimal(pnl),
    ),
    st.one_of(st.integers(0, 5000), st.sampled_from([10, 40, 1000, 20000])),
    st.one_of(st.just(0), st.integers(0, 500)),
    st.integers(0, 150),
    st.one_of(st.just(0), st.just(10), st.integers(-200, 50)),
)


@st.composite
def edgy_snapshots(draw):
    """Tradable markets whose book sits up to ±30 points away from the fair value."""
    snapshot = draw(snapshots(tradable=True))
    ind = compute_indicators(snapshot.klines, DEFAULT.indicator_config())
    if ind.bars < 2 or not math.isfinite(ind.sigma_1m):
        return snapshot
    left = snapshot.window.time_left(snapshot.now)
    fair = fair_value(ind.close, snapshot.strike, ind.sigma_1m, left, DEFAULT).p_up
    mid = min(max(fair + draw(st.floats(-0.3, 0.3)), 0.03), 0.97)
    bid = Decimal(int(mid * 100)) / 100
    ask = bid + Decimal(draw(st.integers(1, 3))) / 100
    size = Decimal(draw(st.sampled_from([60, 2000])))
    return replace(snapshot, book=BookTop(bid, ask, size, size))


DEFAULT = StrategyParams()
any_snapshot = st.one_of(snapshots(), snapshots(tradable=True), edgy_snapshots())

params_st = st.builds(
    lambda method, style, llr, shift, edge, validation, min_conf: StrategyParams(
        confidence_method=method,
        order_style=style,
        bayes_llr_scale=llr,
        additive_max_shift=shift,
        min_edge=edge,
        losing_side_min_edge=edge * 2,
        price_validation_min_confidence=validation,
        min_confidence=min_conf,
        max_spread=0.08,
        min_history_minutes=20,
    ),
    st.sampled_from(["additive", "bayesian"]),
    st.sampled_from(["auto", "maker", "taker"]),
    st.floats(0, 8),
    st.floats(0, 1),
    st.floats(0.001, 0.1),
    st.floats(0.5, 0.8),
    st.floats(0.5, 0.6),
)


def _check_record(d: Decision) -> None:
    row = d.to_row()
    json.loads(row["inputs_json"])
    json.loads(row["signals_json"])
    assert all(v is None or isinstance(v, (str, int, float)) for v in row.values())


def _check_invariants(d: Decision, snapshot: MarketSnapshot, acct, params) -> None:
    a = d.analysis
    if a is not None:
        for result in (a.additive, a.bayesian):
            assert 0.0 <= result.confidence <= 0.85
            assert 0.0 <= result.p_up <= 1.0
        assert 0.0 <= a.fair.p_up <= 1.0
    if not d.is_trade:
        assert d.shares == 0 and d.fee == 0
        return
    assert a is not None and d.limit_price is not None and d.ev_total is not None
    assert d.ev_total > 0
    assert d.ev_per_share is not None and d.required_edge is not None
    assert d.ev_per_share >= d.required_edge >= Decimal(repr(params.min_edge))
    if d.limit_price < Decimal("0.5"):
        assert d.required_edge == Decimal(repr(params.losing_side_min_edge))
    chosen = a.selected
    assert chosen.confidence >= params.min_confidence
    assert not chosen.refused
    assert d.shares >= params.min_order_shares and d.shares <= params.max_size
    assert d.cost == d.shares * d.limit_price
    assert d.cost <= params.max_trade_usd and d.cost <= acct.balance
    assert d.cost <= params.max_window_exposure_usd - acct.window_exposure
    tick = market_tick(snapshot.book)
    assert d.limit_price % tick == 0 and tick <= d.limit_price <= 1 - tick
    if d.order_style is OrderStyle.TAKER:
        assert d.cost >= params.min_marketable_usd
    elapsed = snapshot.now - WINDOW_START
    assert params.entry_min_elapsed_sec <= elapsed <= params.entry_max_elapsed_sec
    assert snapshot.book.spread <= Decimal(repr(params.max_spread))
    fair_side = a.fair.p_up if d.side is Side.UP else a.fair.p_down
    assert d.limit_price <= Decimal(repr(fair_side)) + Decimal(repr(params.fair_value_veto))


@given(snapshots(malformed=True), accounts, params_st)
@FAST
def test_never_raises_and_always_stores(snapshot, acct, params) -> None:
    d = decide(snapshot, acct, params)
    assert d.reason.value != "internal_error", d.detail
    _check_record(d)
    _check_invariants(d, snapshot, acct, params)


@given(any_snapshot, accounts, params_st)
@THOROUGH
def test_trades_respect_ev_and_every_limit(snapshot, acct, params) -> None:
    d = decide(snapshot, acct, params)
    event(d.reason.value)
    assert d.reason.value != "internal_error", d.detail
    _check_invariants(d, snapshot, acct, params)


def _nudged(params: StrategyParams, factor: float) -> list[StrategyParams]:
    """Variants with every float threshold moved by ``factor`` (where still valid)."""
    out = []
    for f in fields(StrategyParams):
        value = getattr(params, f.name)
        if isinstance(value, float) and not isinstance(value, bool) and value != 0:
            try:
                out.append(replace(params, **{f.name: value * factor}))
            except ParamsError:
                continue
    return out


def _on_a_boundary(snapshot, acct, params, d: Decision) -> bool:
    """True when moving any threshold by 1e-7 (relative) changes the decision.

    Mirroring reflects prices through floats, so values agree to ~1e-13, not bit for bit; a
    case sitting exactly on a threshold can then legitimately fall either way.
    """
    for factor in (1 + 1e-7, 1 - 1e-7):
        for variant in _nudged(params, factor):
            other = decide(snapshot, acct, variant)
            if not decisions_mirror(_unmirrored(d), _unmirrored(other)):
                return True
    return False


def _unmirrored(d: Decision) -> Decision:
    # decisions_mirror(a, b) compares b with a's mirror; mirror twice to compare like for like.
    flipped = {Side.UP: Side.DOWN, Side.DOWN: Side.UP, Side.PASS: Side.PASS}[d.side]
    return replace(d, side=flipped)


@given(any_snapshot, accounts, params_st)
@THOROUGH
def test_mirrored_market_gives_the_mirrored_decision(snapshot, acct, params) -> None:
    d = decide(snapshot, acct, params)
    m = decide(mirror_snapshot(snapshot), acct, params)
    event(d.reason.value)
    if d.analysis is not None and m.analysis is not None:
        for name in ("additive", "bayesian"):
            a, b = getattr(d.analysis, name), getattr(m.analysis, name)
            assert abs(a.p_up - b.p_down) < 1e-9
            assert abs(a.confidence - b.confidence) < 1e-9
        assert abs(d.analysis.fair.p_up - m.analysis.fair.p_down) < 1e-9
    if not decisions_mirror(d, m):
        assume(_on_a_boundary(snapshot, acct, params, d))
    assert decisions_mirror(d, m) or _on_a_boundary(snapshot, acct, params, d)


@given(st.integers(1, 998), accounts)
@settings(max_examples=120, deadline=None)
def test_whole_price_range_behaves(bid_ticks, acct) -> None:
    # Every Up bid from 0.001 to 0.998 with a one-tick spread, both methods.
    bid = Decimal(bid_ticks) / 1000
    snapshot = MarketSnapshot(
        window=WindowRef("SOL", WINDOW_START),
        now=WINDOW_START + 400.0,
        strike=100.0,
        book=BookTop(bid, bid + Decimal("0.001"), Decimal(1000), Decimal(1000)),
        fee_rate=Decimal("0.07"),
        klines=tuple(
            kline(
                (WINDOW_START + 400 - 60 * (90 - i)) // 60 * 60 * 1000,
                100 + math.sin(i / 3),
                100 + math.sin((i + 1) / 3),
                volume=5 + i % 7,
                taker_buy=(5 + i % 7) * (0.3 + 0.4 * (i % 2)),
            )
            for i in range(90)
        ),
    )
    for method in ("additive", "bayesian"):
        params = StrategyParams(confidence_method=method)
        d = decide(snapshot, acct, params)
        assert d.reason.value != "internal_error", d.detail
        assert d.analysis is not None
        _check_invariants(d, snapshot, acct, params)
        assert abs(d.analysis.market_p_up - float(bid + Decimal("0.0005"))) < 1e-12


def test_sweep_of_tradable_markets_trades_and_mirrors() -> None:
    """A deterministic sweep where many markets do trade: invariants and mirror on trades."""
    from tests.unit.strategy.builders import make_snapshot, random_walk

    trades = {"additive": 0, "bayesian": 0}
    acct = AccountState(Decimal(5000), Decimal(5000))
    for seed in range(1, 41):
        closes = random_walk(90, 50.0 + seed, 0.0004 * (1 + seed % 3), seed)
        for offset in (-0.002, -0.0004, 0.0, 0.0006, 0.003):
            strike = closes[-1] * math.exp(offset)
            for shift in (-0.25, -0.1, 0.1, 0.25):
                snapshot = make_snapshot(closes=closes, strike=strike, elapsed=420)
                ind = compute_indicators(snapshot.klines, DEFAULT.indicator_config())
                fair = fair_value(ind.close, strike, ind.sigma_1m, 480, DEFAULT).p_up
                mid = min(max(fair + shift, 0.03), 0.96)
                bid = Decimal(int(mid * 100)) / 100
                snapshot = replace(
                    snapshot,
                    book=BookTop(bid, bid + Decimal("0.01"), Decimal(900), Decimal(900)),
                )
                for method in trades:
                    # Bold scales so that many markets trade: the invariants hold for any.
                    params = replace(
                        DEFAULT,
                        confidence_method=method,
                        bayes_llr_scale=1.6,
                        additive_max_shift=0.7,
                    )
                    d = decide(snapshot, acct, params)
                    _check_invariants(d, snapshot, acct, params)
                    m = decide(mirror_snapshot(snapshot), acct, params)
                    assert decisions_mirror(d, m) or _on_a_boundary(
                        snapshot, acct, params, d
                    )
                    trades[method] += d.is_trade
    assert trades["additive"] >= 40 and trades["bayesian"] >= 40, trades
