"""The trading decision: UP / DOWN / PASS, limit price, size, order style and a reason code.

:func:`decide` is pure: a :class:`~src.trading.strategy.MarketSnapshot`, an
:class:`AccountState` and :class:`~src.trading.params.StrategyParams` in, a frozen
:class:`Decision` out — always, including PASS, with every input, both confidences, the fair
value, the price, the fee and the expected value, ready to store (:meth:`Decision.to_row`).
Nothing here raises: malformed input and even an internal error become a PASS with a reason.

The rules, in the order they are applied (``docs/STRATEGY.md`` has the reasoning):

1. inputs usable (book two-sided and uncrossed, strike, fee rate, enough fresh klines);
2. inside the entry part of the window; spread not too wide; daily loss limit not hit;
3. the selected confidence has a direction, was not refused by price validation and is at
   least ``min_confidence``;
4. **expected value** per share at the price actually paid, after the taker fee (or, for a
   resting order, after an adverse-selection charge) is at least ``min_edge`` — or
   ``losing_side_min_edge`` when buying the cheaper side (price < 0.50). ``auto`` takes
   liquidity only when the taker order clears the gate, else rests a post-only bid; and the
   price is at most the fair value of the side plus ``fair_value_veto``;
5. enough liquidity at the best ask; size = balance × bet% scaled by confidence, within
   fractional Kelly, the per-trade, per-window, total-exposure and daily-loss limits, the
   top-of-book size, the 5-share minimum and the $1 marketable-BUY minimum;
6. the final EV, with the fee as the venue rounds it, is re-checked on the final size.
"""

from __future__ import annotations

import enum
import json
import math
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_UP, Decimal
from typing import Any

from src.data.decisions_store import DECISION_COLUMNS
from src.data.market_data.indicators import Indicators
from src.data.market_data.polymarket import MAX_TIMESTAMP_MS
from src.data.market_data.price_validation import ValidationResult
from src.data.market_data.windows import WindowRef
from src.trading.params import StrategyParams
from src.trading.signals.frozen import quick_init
from src.trading.signals.types import Direction, Reason, SignalResult
from src.trading.strategy import (
    Analysis,
    BookTop,
    IdentityMemo,
    InputProblem,
    MarketSnapshot,
    analyze,
    check_book,
)
from src.utils.money import AmountError, to_decimal, to_micro

FINE_TICK = Decimal("0.001")
COARSE_TICK = Decimal("0.01")
# The venue switches a market to the fine tick when its price leaves [0.04, 0.96].
FINE_TICK_ABOVE = Decimal("0.96")
FINE_TICK_BELOW = Decimal("0.04")
SHARE_STEP = Decimal("0.01")
FEE_STEP = Decimal("0.00001")
_HALF = Decimal("0.5")
_HUNDRED = Decimal(100)
_isfinite = math.isfinite


class Side(enum.Enum):
    """What to buy: the Up token, the Down token, or nothing."""

    UP = "UP"
    DOWN = "DOWN"
    PASS = "PASS"


class DecisionAudit(enum.Enum):
    """How much of each decision is stored with it.

    ``run`` keeps the full snapshot — every input, signal and both confidences — for the
    audit trail. A backtest stores hundreds of thousands of decisions (about 3 kB each in
    full: 28 days × 4 coins would write some 3.5 GB) and its reports read only the columns
    and :data:`LEAN_INPUT_PATHS`, so it may keep just those (the same values).
    """

    FULL = "full"
    LEAN = "lean"


# What a lean ``inputs_json`` holds (JSON paths, as the backtest reports extract them).
LEAN_INPUT_PATHS = (
    "$.additive.direction",
    "$.additive.p_up",
    "$.bayesian.direction",
    "$.bayesian.p_up",
    "$.elapsed_s",
    "$.up_bid",
    "$.up_ask",
    "$.fee_rate",
)


class OrderStyle(enum.Enum):
    """How the entry is placed."""

    TAKER = "taker"
    MAKER = "maker"
    NONE = "none"


@quick_init
@dataclass(frozen=True, slots=True)
class AccountState:
    """The account as the risk limits see it (collateral amounts, exact).

    ``balance`` is free collateral; ``equity`` adds the marked value of open positions;
    ``open_exposure`` is the cost of all open positions and resting buys;
    ``window_exposure`` the part of it in this coin's window; ``daily_pnl`` today's realised
    PnL (negative = loss) and ``day_start_equity`` the equity at 00:00 UTC (defaults to
    ``equity``).
    """

    balance: Decimal
    equity: Decimal
    open_exposure: Decimal = Decimal(0)
    window_exposure: Decimal = Decimal(0)
    daily_pnl: Decimal = Decimal(0)
    day_start_equity: Decimal | None = None

    @property
    def day_start(self) -> Decimal:
        """Equity the daily loss limit is measured against."""
        return self.equity if self.day_start_equity is None else self.day_start_equity


@quick_init
@dataclass(frozen=True, slots=True)
class SideQuote:
    """Best bid and ask of the token of one side (the Down token mirrors the Up book)."""

    bid: Decimal
    ask: Decimal
    bid_size: Decimal
    ask_size: Decimal


@quick_init
@dataclass(frozen=True, slots=True)
class DecisionInputs:
    """The inputs of a decision, as primitives (``None`` where an input was unusable)."""

    coin: str
    window_start: int | None
    now: float | None
    elapsed_s: float | None
    time_left_s: float | None
    strike: float | None
    spot: float | None
    up_bid: Decimal | None
    up_ask: Decimal | None
    up_bid_size: Decimal | None
    up_ask_size: Decimal | None
    tick_size: Decimal | None
    fee_rate: Decimal | None
    klines: int
    mid_history: int
    balance: Decimal | None
    equity: Decimal | None
    open_exposure: Decimal | None
    window_exposure: Decimal | None
    daily_pnl: Decimal | None
    day_start_equity: Decimal | None
    method: str
    params_digest: str
    # The Chainlink reference offered to the decision (live only; None in backtests).
    reference_spot: float | None = None
    reference_strike: float | None = None
    reference_time: float | None = None

    @property
    def up_mid(self) -> Decimal | None:
        """The Up mid, when both sides are known and their sum is a Decimal."""
        if self.up_bid is None or self.up_ask is None:
            return None
        try:
            return (self.up_bid + self.up_ask) / 2
        except ArithmeticError:
            # Finite prices beyond the context's Emax (Decimal() parses 1E+999999999)
            # overflow the sum; the decision built on them must still be stored.
            return None


@quick_init
@dataclass(frozen=True, slots=True)
class Decision:
    """One decision, PASS included: what to do, why, and everything it was based on."""

    inputs: DecisionInputs
    side: Side
    reason: Reason
    detail: str = ""
    analysis: Analysis | None = None
    order_style: OrderStyle = OrderStyle.NONE
    limit_price: Decimal | None = None
    shares: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)
    fee: Decimal = Decimal(0)
    probability: Decimal | None = None
    ev_per_share: Decimal | None = None
    ev_total: Decimal | None = None
    required_edge: Decimal | None = None
    size_limit: str = ""

    @property
    def is_trade(self) -> bool:
        """True when the decision comes with an order."""
        return self.side is not Side.PASS

    @property
    def confidence(self) -> float | None:
        """The selected method's confidence (after the safety rules)."""
        return None if self.analysis is None else self.analysis.selected.confidence

    def to_row(self, audit: DecisionAudit = DecisionAudit.FULL) -> dict[str, object]:
        """Primitives for the ``decisions`` table (``window_id`` and ``mode`` are the shell's).

        Prices, sizes and fees are integer micro-units; probabilities floats; everything
        else — inputs, signals, validation, both confidences in full — is in the two JSON
        columns. ``DecisionAudit.LEAN`` stores no signals and only :data:`LEAN_INPUT_PATHS`
        of the inputs.
        """
        return dict(zip(ROW_COLUMNS, self.row_values(audit), strict=True))

    def row_values(self, audit: DecisionAudit = DecisionAudit.FULL) -> tuple[object, ...]:
        """The values of :meth:`to_row`, in :data:`ROW_COLUMNS` order (what the insert
        binds: a decision is stored every poll, and needs no dict on the way)."""
        a = self.analysis
        lean = audit is DecisionAudit.LEAN
        inputs = self.inputs
        return (
            inputs.coin,
            _decided_ms(inputs.now),
            self.side.value,
            self.reason.value,
            inputs.method,
            None if a is None else _num(a.selected.confidence),
            None if a is None else _num(a.additive.confidence),
            None if a is None else _num(a.bayesian.confidence),
            None if a is None else _num(a.fair.p_up),
            _dec_float(inputs.up_mid),
            _micro(self.limit_price),
            _micro(self.shares),
            _micro(self.fee),
            _dec_float(self.ev_per_share),
            _num(inputs.time_left_s),
            None if lean else _signals_json(a),
            self._lean_inputs_json() if lean else self._inputs_json(),
        )

    def _lean_inputs_json(self) -> str:
        """The :data:`LEAN_INPUT_PATHS` of :meth:`_inputs_payload`, as the same JSON:
        written directly (:func:`_lean_json_text`) when every value has its usual type."""
        text = _lean_json_text(self.inputs, self.analysis)
        return self._lean_inputs_encoded() if text is None else text

    def _lean_inputs_encoded(self) -> str:
        """:meth:`_lean_inputs_json` through the JSON encoder (any value)."""
        inputs = self.inputs
        payload: dict[str, object] = {
            "elapsed_s": _plain(inputs.elapsed_s),
            "fee_rate": _plain(inputs.fee_rate),
            "up_ask": _plain(inputs.up_ask),
            "up_bid": _plain(inputs.up_bid),
        }
        a = self.analysis
        if a is not None:
            for result in (a.additive, a.bayesian):
                payload[result.method] = {
                    "direction": result.direction.value,
                    "p_up": _num(result.p_up),
                }
        return _JSON.encode(payload)

    def _inputs_json(self) -> str:
        """``json.dumps(self._inputs_payload(), sort_keys=True)``, with the indicators and
        the validation — the same all minute — encoded once per minute (see
        :data:`_FRAGMENTS`) and spliced into the rest, encoded with placeholders."""
        a = self.analysis
        if a is None:
            return _JSON.encode(self._inputs_payload())
        text = _JSON.encode(self._inputs_payload(placeholders=True))
        parts = (
            ('"indicators": NaN', _FRAGMENTS.json(a.indicators, _indicators_payload)),
            ('"validation": NaN', _FRAGMENTS.json(a.validation, _validation_payload)),
        )
        for mark, fragment in parts:
            i = text.find(mark)
            if i < 0 or text.find(mark, i + 1) >= 0:  # a key overwritten: no shortcut
                return _JSON.encode(self._inputs_payload())
            key = mark[: -len("NaN")]
            text = f"{text[:i]}{key}{fragment}{text[i + len(mark) :]}"
        return text

    def _inputs_payload(self, placeholders: bool = False) -> dict[str, object]:
        """Everything stored in ``inputs_json``. ``placeholders``: NaN for the indicators
        and the validation — a value nothing else in the payload can have (every float is
        stored finite or None), so its mark in the text is unambiguous."""
        inputs = self.inputs
        payload = _slots_payload(inputs, _PLAIN_INPUTS)
        if any(v is not None for v in _reference_of(inputs)):
            # only when offered: without it the stored inputs are what they always were
            a = self.analysis
            payload["reference"] = {
                "spot": inputs.reference_spot,
                "strike": inputs.reference_strike,
                "time": inputs.reference_time,
                "used": a is not None and a.reference_used,
            }
        payload.update(
            detail=self.detail,
            order_style=self.order_style.value,
            limit_price=_plain(self.limit_price),
            shares=_plain(self.shares),
            cost=_plain(self.cost),
            fee=_plain(self.fee),
            probability=_plain(self.probability),
            ev_per_share=_plain(self.ev_per_share),
            ev_total=_plain(self.ev_total),
            required_edge=_plain(self.required_edge),
            size_limit=self.size_limit,
        )
        a = self.analysis
        if a is not None:
            fair = a.fair
            payload["fair"] = _slots_payload(fair, type(fair).__slots__)
            if placeholders:
                payload["indicators"] = payload["validation"] = _PLACEHOLDER
            else:
                payload["indicators"] = _indicators_payload(a.indicators)
                payload["validation"] = _validation_payload(a.validation)
            for result in (a.additive, a.bayesian):
                payload[result.method] = {
                    "score": _num(result.score),
                    "p_up": _num(result.p_up),
                    "direction": result.direction.value,
                    "raw_confidence": _num(result.raw_confidence),
                    "confidence": _num(result.confidence),
                    "confirmations": result.confirmations,
                    "capped": result.capped,
                    "confirmation_limited": result.confirmation_limited,
                    "validation": result.validation.value,
                }
            payload["spot_used"] = _num(a.spot)
        return payload


# The columns of :meth:`Decision.to_row`, in order: the table's, as the store inserts them.
ROW_COLUMNS = DECISION_COLUMNS


def _lean_json_text(inputs: DecisionInputs, a: Analysis | None) -> str | None:
    """``Decision._lean_inputs_encoded()`` written directly, as ``json.dumps(...,
    sort_keys=True)`` writes it, when the values have their usual exact types (a float or
    None, a Decimal or None; the methods "additive" and "bayesian", str directions and
    float probabilities) — else None. About twice as fast as the encoder."""
    elapsed, fee, ask, bid = inputs.elapsed_s, inputs.fee_rate, inputs.up_ask, inputs.up_bid
    if not (
        (type(elapsed) is float or elapsed is None)
        and (type(fee) is Decimal or fee is None)
        and (type(ask) is Decimal or ask is None)
        and (type(bid) is Decimal or bid is None)
    ):
        return None
    # str() of a finite Decimal is digits, ".", "E", "+" and "-": nothing to escape
    tail = (
        f'"elapsed_s": {_float_text(elapsed)}, '
        f'"fee_rate": {"null" if fee is None or not fee.is_finite() else _str_text(fee)}, '
        f'"up_ask": {"null" if ask is None or not ask.is_finite() else _str_text(ask)}, '
        f'"up_bid": {"null" if bid is None or not bid.is_finite() else _str_text(bid)}}}'
    )
    if a is None:
        return "{" + tail
    additive, bayesian = a.additive, a.bayesian
    up_a, up_b = additive.p_up, bayesian.p_up
    if not (
        type(additive.method) is str
        and additive.method == "additive"
        and type(bayesian.method) is str
        and bayesian.method == "bayesian"
        and type(up_a) is float
        and type(up_b) is float
    ):
        return None
    dir_a, dir_b = additive.direction.value, bayesian.direction.value
    if type(dir_a) is not str or type(dir_b) is not str:
        return None
    return (
        f'{{"additive": {{"direction": {_quote(dir_a)}, "p_up": {_float_text(up_a)}}}, '
        f'"bayesian": {{"direction": {_quote(dir_b)}, "p_up": {_float_text(up_b)}}}, '
        + tail
    )


def _float_text(x: float | None) -> str:
    """JSON of ``_plain(x)`` for an exact float or None, as the encoder writes it."""
    return "null" if x is None or not _isfinite(x) else float.__repr__(x)


def _str_text(x: Decimal) -> str:
    return '"' + x.__str__() + '"'


_REFERENCE_INPUTS = ("reference_spot", "reference_strike", "reference_time")
_PLAIN_INPUTS = tuple(s for s in DecisionInputs.__slots__ if s not in _REFERENCE_INPUTS)
_reference_of = operator.attrgetter(*_REFERENCE_INPUTS)

# What json.dumps(..., sort_keys=True) builds on every call, built once (same text).
_JSON = json.JSONEncoder(sort_keys=True)
_quote = json.encoder.encode_basestring_ascii  # how it writes a str (ensure_ascii)
_GETTERS: dict[tuple[str, ...], Callable[[object], tuple[object, ...]]] = {}


def _slots_payload(obj: object, slots: Iterable[str]) -> dict[str, object]:
    """``{name: _plain(getattr(obj, name)) for name in slots}``, with one getter per set of
    slot names instead of a getattr per field (a decision stores some fifty of them)."""
    names = tuple(slots)
    get = _GETTERS.get(names)
    if get is None:
        if len(names) < 2:  # attrgetter of one name returns the value, not a tuple
            return {name: _plain(getattr(obj, name)) for name in names}
        get = _GETTERS[names] = operator.attrgetter(*names)  # type: ignore[assignment]
    return dict(zip(names, map(_plain, get(obj)), strict=True))


def _indicators_payload(ind: object) -> dict[str, object]:
    return _slots_payload(ind, type(ind).__slots__)


def _validation_payload(val: ValidationResult) -> dict[str, object]:
    return {
        "flags": list(val.flag_names),
        "reason": val.reason,
        "sigma_1m": _num(val.sigma_1m),
        "max_wick_sigma": _num(val.max_wick_sigma),
        "max_volume_ratio": _num(val.max_volume_ratio),
        "max_gap_sigma": _num(val.max_gap_sigma),
        "reversal_long_z": _num(val.reversal_long_z),
        "reversal_short_z": _num(val.reversal_short_z),
    }


_PLACEHOLDER = math.nan
_PRIMITIVES = (str, int, float, bool, type(None))


class _FragmentMemo:
    """The JSON text of the last few indicator and validation objects, by identity.

    They change once a minute (the incremental indicators and the validation memo hand
    out the same object until the next closed kline) while a decision is stored every
    poll. Only objects of the exact frozen types whose payload holds nothing but
    immutable primitives are kept — their text can never change — and each entry holds
    its object, so its id is not reused while the entry lives.
    """

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._entries: dict[int, tuple[object, str]] = {}

    def json(self, obj: object, payload: Callable[[Any], dict[str, object]]) -> str:
        """``_JSON.encode(payload(obj))``, remembered when that is safe."""
        hit = self._entries.get(id(obj))
        if hit is not None and hit[0] is obj:
            return hit[1]
        values = payload(obj)
        text = _JSON.encode(values)
        if type(obj) in (Indicators, ValidationResult) and all(
            type(v) in _PRIMITIVES or (type(v) is list and all(type(x) is str for x in v))
            for v in values.values()
        ):
            if len(self._entries) >= self._size:
                self._entries.clear()
            self._entries[id(obj)] = (obj, text)
        return text


_FRAGMENTS = _FragmentMemo()


# --- Venue arithmetic --------------------------------------------------------------------


def market_tick(book: BookTop) -> Decimal:
    """The book's tick: the venue's when given, else by the 0.04 / 0.96 rule on the Up mid."""
    if book.tick_size is not None:
        return book.tick_size
    mid = book.mid
    return FINE_TICK if mid > FINE_TICK_ABOVE or mid < FINE_TICK_BELOW else COARSE_TICK


def floor_to_tick(price: Decimal, tick: Decimal) -> Decimal:
    """Largest multiple of ``tick`` not above ``price``."""
    return (price / tick).to_integral_value(rounding=ROUND_FLOOR) * tick


def ceil_to_tick(price: Decimal, tick: Decimal) -> Decimal:
    """Smallest multiple of ``tick`` not below ``price``."""
    return (price / tick).to_integral_value(rounding=ROUND_CEILING) * tick


def side_quote(book: BookTop, direction: Direction) -> SideQuote:
    """Quotes of the token bought for ``direction``: Down's bid is 1 − Up's ask, and so on."""
    if book.best_bid is None or book.best_ask is None:
        raise ValueError("one-sided book has no quotes")
    if direction is Direction.UP:
        return SideQuote(book.best_bid, book.best_ask, book.bid_size, book.ask_size)
    return SideQuote(1 - book.best_ask, 1 - book.best_bid, book.ask_size, book.bid_size)


def taker_fee(shares: Decimal, price: Decimal, rate: Decimal) -> Decimal:
    """``shares × rate × p × (1 − p)`` in collateral, rounded up to the venue's 5 decimals."""
    return (shares * rate * price * (1 - price)).quantize(FEE_STEP, rounding=ROUND_UP)


def taker_payout(price: Decimal, rate: Decimal) -> Decimal:
    """Shares kept per share bought by a taker: the fee is taken in shares on buys.

    ``fee / p = shares × rate × (1 − p)``, so each share bought leaves ``1 − rate·(1 − p)``.
    """
    return 1 - rate * (1 - price)


def ev_per_share(
    probability: Decimal, price: Decimal, style: OrderStyle, rate: Decimal, adverse: Decimal
) -> Decimal:
    """Expected value per share bought, before the fee's 5-decimal rounding.

    Taker: ``q·(1 − rate·(1 − p)) − p``. Maker: ``q − p − adverse`` (no fee, but a resting bid
    fills mostly when the price moves against it).
    """
    if style is OrderStyle.TAKER:
        return probability * taker_payout(price, rate) - price
    return probability - price - adverse


def expected_value(
    probability: Decimal,
    shares: Decimal,
    price: Decimal,
    style: OrderStyle,
    rate: Decimal,
    adverse: Decimal,
) -> tuple[Decimal, Decimal]:
    """``(fee, expected value)`` of buying ``shares`` at ``price``, fee as the venue rounds it."""
    if style is OrderStyle.TAKER:
        fee = taker_fee(shares, price, rate)
        kept = shares - fee / price
        return fee, probability * kept - shares * price
    return Decimal(0), (probability - price - adverse) * shares


# --- Sizing ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SizeResult:
    """Shares to buy and which limit set them."""

    shares: Decimal
    limit: str


def size_order(
    probability: Decimal,
    price: Decimal,
    style: OrderStyle,
    rate: Decimal,
    quote: SideQuote,
    account: AccountState,
    params: StrategyParams,
) -> SizeResult | Reason:
    """Shares to buy, or the reason none can be bought.

    ``stake = balance × bet% × (1 + f·clamp((q − ½)/(cap − ½), 0, 1))``, then at most
    ``kelly_fraction × Kelly × balance`` and every hard cap (per trade, window room, total
    room, cash, daily-loss room), in shares floored to 0.01, at most ``max_size`` and (taker)
    the best-ask size. Below the venue minimum (5 shares; $1 for a marketable BUY) it is raised
    to the minimum only when every hard cap still allows it.
    """
    cap = _param_decimal(params, "confidence_cap")
    scale_term = min(max((probability - _HALF) / (cap - _HALF), Decimal(0)), Decimal(1))
    base = account.balance * _param_decimal(params, "bet_percent") / _HUNDRED
    stake = base * (1 + _param_decimal(params, "confidence_scaling_factor") * scale_term)
    adverse = _param_decimal(params, "maker_adverse_selection")
    if style is OrderStyle.TAKER:
        win, cost = taker_payout(price, rate), price
    else:
        win, cost = Decimal(1), price + adverse
    kelly = (probability * win - cost) / (win - cost) if win > cost else Decimal(0)
    kelly_cap = (
        _param_decimal(params, "kelly_fraction") * max(kelly, Decimal(0)) * account.balance
    )
    hard_caps = (
        (params.max_trade_usd, Reason.TRADE_LIMIT),
        (
            params.max_window_exposure_usd - account.window_exposure,
            Reason.WINDOW_EXPOSURE_LIMIT,
        ),
        (_total_room(account, params), Reason.TOTAL_EXPOSURE_LIMIT),
        (account.balance, Reason.INSUFFICIENT_BALANCE),
        (_daily_loss_room(account, params), Reason.DAILY_LOSS_LIMIT),
    )
    hard, hard_reason = min(hard_caps, key=lambda item: item[0])
    limits = (
        (stake, "stake"),
        (kelly_cap, "kelly"),
        (hard, hard_reason.value),
    )
    budget, limit = min(limits, key=lambda item: item[0])
    shares = _floor_step(max(budget, Decimal(0)) / price)
    caps = [(params.max_size, "max_size")]
    if style is OrderStyle.TAKER:
        caps.append((_floor_step(quote.ask_size), "book_size"))
    for value, name in caps:
        if value < shares:
            shares, limit = value, name
    minimum = params.min_order_shares
    if style is OrderStyle.TAKER:
        minimum = max(minimum, _ceil_step(params.min_marketable_usd / price))
    if shares >= minimum:
        return SizeResult(shares, limit)
    if style is OrderStyle.TAKER and quote.ask_size < minimum:
        return Reason.INSUFFICIENT_LIQUIDITY
    if minimum * price > hard:
        return hard_reason
    if not params.allow_min_size_bump or minimum > params.max_size:
        return Reason.SIZE_BELOW_MINIMUM
    return SizeResult(minimum, "venue_minimum")


def _total_room(account: AccountState, params: StrategyParams) -> Decimal:
    pct = _param_decimal(params, "max_total_exposure_pct")
    return account.equity * pct / _HUNDRED - account.open_exposure


def _daily_loss_room(account: AccountState, params: StrategyParams) -> Decimal:
    """Collateral that may still be lost today: the limit plus today's PnL."""
    pct = _param_decimal(params, "daily_loss_limit_pct")
    return account.day_start * pct / _HUNDRED + account.daily_pnl


def _floor_step(value: Decimal) -> Decimal:
    return value.quantize(SHARE_STEP, rounding=ROUND_FLOOR)


def _ceil_step(value: Decimal) -> Decimal:
    return value.quantize(SHARE_STEP, rounding=ROUND_CEILING)


# --- The decision ------------------------------------------------------------------------


@quick_init
@dataclass(frozen=True, slots=True)
class _Candidate:
    style: OrderStyle
    price: Decimal
    ev_per_share: Decimal
    required_edge: Decimal

    @property
    def passes(self) -> bool:
        return self.ev_per_share >= self.required_edge


def decide(
    snapshot: MarketSnapshot, account: AccountState, params: StrategyParams
) -> Decision:
    """The decision for one coin's window now. Never raises; PASS carries the reason."""
    try:
        return _decide(snapshot, account, params)
    except Exception as exc:  # the pure core degrades to PASS, whatever the input
        return Decision(
            _safe_inputs(snapshot, account, params),
            Side.PASS,
            Reason.INTERNAL_ERROR,
            f"{type(exc).__name__}: {exc}",
        )


def _decide(
    snapshot: MarketSnapshot, account: AccountState, params: StrategyParams
) -> Decision:
    inputs = _inputs(snapshot, account, params)
    if not isinstance(snapshot, MarketSnapshot):
        return Decision(inputs, Side.PASS, Reason.INVALID_INPUT, "not a MarketSnapshot")
    problem = _check_account(account)
    if problem:
        return Decision(inputs, Side.PASS, Reason.INVALID_ACCOUNT, problem)
    result = analyze(snapshot, params)
    if isinstance(result, InputProblem):
        return Decision(inputs, Side.PASS, result.reason, result.detail)
    return _decide_analyzed(inputs, snapshot, result, account, params)


def decide_with_analysis(
    snapshot: MarketSnapshot,
    analysis: Analysis,
    account: AccountState,
    params: StrategyParams,
) -> Decision:
    """The decision from an analysis already made (research, replays, tests).

    ``analysis`` must come from :func:`~src.trading.strategy.analyze` on ``snapshot`` (or be
    a deliberate variation of it); the book and the account are checked again here.
    """
    try:
        inputs = _inputs(snapshot, account, params)
        problem = _check_account(account)
        if problem:
            return Decision(inputs, Side.PASS, Reason.INVALID_ACCOUNT, problem)
        book_problem = check_book(snapshot.book, snapshot.now, params)
        if book_problem:
            return Decision(inputs, Side.PASS, book_problem.reason, book_problem.detail)
        return _decide_analyzed(inputs, snapshot, analysis, account, params)
    except Exception as exc:  # the pure core degrades to PASS, whatever the input
        return Decision(
            _safe_inputs(snapshot, account, params),
            Side.PASS,
            Reason.INTERNAL_ERROR,
            f"{type(exc).__name__}: {exc}",
        )


def _decide_analyzed(
    inputs: DecisionInputs,
    snapshot: MarketSnapshot,
    analysis: Analysis,
    account: AccountState,
    params: StrategyParams,
) -> Decision:
    def stop(reason: Reason, detail: str = "", **extra: object) -> Decision:
        return Decision(inputs, Side.PASS, reason, detail, analysis, **extra)  # type: ignore[arg-type]

    elapsed, left = inputs.elapsed_s or 0.0, inputs.time_left_s or 0.0
    if left <= 0:
        return stop(Reason.WINDOW_CLOSED, f"{-left:.0f} s after the close")
    if elapsed < params.entry_min_elapsed_sec:
        return stop(Reason.TOO_EARLY, f"{elapsed:.0f} s < {params.entry_min_elapsed_sec} s")
    if elapsed > params.entry_max_elapsed_sec:
        return stop(Reason.TOO_LATE, f"{elapsed:.0f} s > {params.entry_max_elapsed_sec} s")
    book = snapshot.book
    if book.spread > _param_decimal(params, "max_spread"):
        return stop(Reason.SPREAD_TOO_WIDE, f"spread {book.spread} > {params.max_spread}")
    if _daily_loss_room(account, params) <= 0:
        return stop(Reason.DAILY_LOSS_LIMIT, f"daily PnL {account.daily_pnl}")

    chosen = analysis.selected
    if chosen.direction is Direction.NEUTRAL:
        return stop(Reason.NO_DIRECTION, "P(Up) = P(Down)")
    if chosen.refused:
        return stop(Reason.VALIDATION_REFUSED, analysis.validation.reason)
    if chosen.confidence < params.min_confidence:
        return stop(
            Reason.LOW_CONFIDENCE, f"{chosen.confidence:.4f} < {params.min_confidence}"
        )

    q = Decimal(repr(chosen.confidence))
    quote = side_quote(book, chosen.direction)
    rate = snapshot.fee_rate
    candidates = _candidates(quote, market_tick(book), q, rate, params)
    passing = [c for c in candidates if c.passes]
    if not passing:
        best = max(candidates, key=lambda c: c.ev_per_share - c.required_edge, default=None)
        reason = Reason.EDGE_TOO_SMALL
        if best is not None and best.price < _HALF:
            reason = Reason.LOSING_SIDE_EDGE_TOO_SMALL
        extra = {} if best is None else _candidate_fields(best)
        return stop(reason, "no order clears its edge gate", probability=q, **extra)
    # The anchor: whatever the signals say, never pay far more than the model's own
    # probability of the side (momentum must not outvote a near-settled window).
    fair_side = (
        analysis.fair.p_up if chosen.direction is Direction.UP else analysis.fair.p_down
    )
    ceiling = Decimal(repr(fair_side)) + _param_decimal(params, "fair_value_veto")
    allowed = [c for c in passing if c.price <= ceiling]
    if not allowed:
        return stop(
            Reason.FAIR_VALUE_VETO,
            f"fair value {fair_side:.4f} + {params.fair_value_veto} < {passing[0].price}",
            probability=q,
            **_candidate_fields(passing[0]),
        )
    pick = allowed[0]
    depth = quote.ask_size * quote.ask
    if depth < params.min_book_depth_usd:
        return stop(
            Reason.INSUFFICIENT_LIQUIDITY,
            f"${depth} at the best ask < ${params.min_book_depth_usd}",
            probability=q,
            **_candidate_fields(pick),
        )
    size = size_order(q, pick.price, pick.style, rate, quote, account, params)
    if isinstance(size, Reason):
        return stop(size, "cannot size the order", probability=q, **_candidate_fields(pick))
    adverse = _param_decimal(params, "maker_adverse_selection")
    fee, ev = expected_value(q, size.shares, pick.price, pick.style, rate, adverse)
    per_share = ev / size.shares
    if ev <= 0 or per_share < pick.required_edge:
        return stop(
            Reason.EDGE_TOO_SMALL,
            "edge lost to fee rounding",
            probability=q,
            **_candidate_fields(pick),
        )
    side = Side.UP if chosen.direction is Direction.UP else Side.DOWN
    reason = Reason.ENTER_TAKER if pick.style is OrderStyle.TAKER else Reason.ENTER_MAKER
    return Decision(
        inputs,
        side,
        reason,
        f"{chosen.method} {chosen.confidence:.4f} vs {pick.price}",
        analysis,
        order_style=pick.style,
        limit_price=pick.price,
        shares=size.shares,
        cost=size.shares * pick.price,
        fee=fee,
        probability=q,
        ev_per_share=per_share,
        ev_total=ev,
        required_edge=pick.required_edge,
        size_limit=size.limit,
    )


# The order styles each ``params.order_style`` tries, in order of preference.
_STYLES = {
    "auto": (OrderStyle.TAKER, OrderStyle.MAKER),
    "taker": (OrderStyle.TAKER,),
    "maker": (OrderStyle.MAKER,),
}


def _candidates(
    quote: SideQuote, tick: Decimal, q: Decimal, rate: Decimal, params: StrategyParams
) -> list[_Candidate]:
    """The orders ``params.order_style`` allows, in order of preference."""
    adverse = _param_decimal(params, "maker_adverse_selection")
    found: list[_Candidate] = []
    for style in _STYLES[params.order_style]:
        if style is OrderStyle.TAKER:
            price = ceil_to_tick(quote.ask, tick)
        else:
            # Post-only: improve the bid by a few ticks but never reach the ask.
            improved = quote.bid + params.maker_improve_ticks * tick
            price = floor_to_tick(min(improved, quote.ask - tick), tick)
            price = max(price, floor_to_tick(quote.bid, tick))
        if not (tick <= price <= 1 - tick):
            continue
        edge = "losing_side_min_edge" if price < _HALF else "min_edge"
        found.append(
            _Candidate(
                style,
                price,
                ev_per_share(q, price, style, rate, adverse),
                _param_decimal(params, edge),
            )
        )
    return found


def _candidate_fields(c: _Candidate) -> dict[str, object]:
    return {
        "order_style": c.style,
        "limit_price": c.price,
        "ev_per_share": c.ev_per_share,
        "required_edge": c.required_edge,
    }


# Per parameter set (frozen): its float parameters as the Decimals the money math uses.
_PARAM_DECIMALS: IdentityMemo[StrategyParams, dict[str, Decimal]] = IdentityMemo(8)


def _param_decimal(params: StrategyParams, name: str) -> Decimal:
    """``to_decimal(getattr(params, name))``, converted once per parameter set (a failed
    conversion is not remembered: it raises every time, as it always did)."""
    known = _PARAM_DECIMALS.get(params)
    if known is None:
        if type(params) is not StrategyParams:  # a subclass might not be immutable
            return to_decimal(getattr(params, name))
        known = {}
        _PARAM_DECIMALS.put(params, known)
    value = known.get(name)
    if value is None:
        value = known[name] = to_decimal(getattr(params, name))
    return value


# The verdict on an account, per AccountState object: the ledger's reader hands out the
# same one, poll after poll, until money moves.
_ACCOUNT_PROBLEMS: IdentityMemo[AccountState, str] = IdentityMemo()
_account_values = operator.attrgetter(*AccountState.__slots__)


def _check_account(account: object) -> str:
    """:func:`_account_problem`, remembered for an account of the exact frozen type whose
    values are all exact Decimals (or None): immutable, so always the same answer."""
    if type(account) is not AccountState:
        return _account_problem(account)
    problem = _ACCOUNT_PROBLEMS.get(account)
    if problem is None:
        problem = _account_problem(account)
        if all(type(v) is Decimal or v is None for v in _account_values(account)):
            _ACCOUNT_PROBLEMS.put(account, problem)
    return problem


def _account_problem(account: object) -> str:
    if not isinstance(account, AccountState):
        return "not an AccountState"
    for name in AccountState.__slots__:
        value = getattr(account, name)
        if value is None and name == "day_start_equity":
            continue
        if not (isinstance(value, Decimal) and value.is_finite()):
            return f"{name} {value!r}"
        if name != "daily_pnl" and value < 0:
            return f"{name} {value} < 0"
    return ""


def _inputs(
    snapshot: MarketSnapshot, account: AccountState, params: StrategyParams
) -> DecisionInputs:
    """The decision's inputs as primitives: :func:`_any_inputs`, read directly (no
    ``getattr`` with defaults, no ``isinstance`` walks) when the snapshot, its window and
    book and the account are of the exact types every poll builds."""
    if type(snapshot) is MarketSnapshot and type(account) is AccountState:
        window, book = snapshot.window, snapshot.book
        if type(window) is WindowRef and type(book) is BookTop:
            return _known_inputs(snapshot, window, book, account, params)
    return _any_inputs(snapshot, account, params)


def _known_inputs(
    snapshot: MarketSnapshot,
    window: WindowRef,
    book: BookTop,
    account: AccountState,
    params: StrategyParams,
) -> DecisionInputs:
    """:func:`_any_inputs` of a real snapshot (its ``window`` and ``book``) and account:
    the same calls and conversions in the same order, with the attributes read directly."""
    now = _float_or_none(snapshot.now)
    start = window.start
    usable = start is not None and now is not None
    dec = _dec_or_none
    return DecisionInputs(
        window.coin,
        start,
        now,
        window.elapsed(now) if usable else None,  # type: ignore[arg-type]
        window.time_left(now) if usable else None,  # type: ignore[arg-type]
        _float_or_none(snapshot.strike),
        _float_or_none(snapshot.spot),
        dec(book.best_bid),
        dec(book.best_ask),
        dec(book.bid_size),
        dec(book.ask_size),
        dec(book.tick_size),
        dec(snapshot.fee_rate),
        _len(snapshot.klines),
        _len(snapshot.mid_history),
        dec(account.balance),
        dec(account.equity),
        dec(account.open_exposure),
        dec(account.window_exposure),
        dec(account.daily_pnl),
        dec(account.day_start_equity),
        params.confidence_method,
        params.digest(),
        _float_or_none(snapshot.reference_spot),
        _float_or_none(snapshot.reference_strike),
        _float_or_none(snapshot.reference_time),
    )


def _any_inputs(
    snapshot: MarketSnapshot, account: AccountState, params: StrategyParams
) -> DecisionInputs:
    """The inputs of whatever was passed as a snapshot and an account (``None`` for what
    is missing or unusable)."""
    window = getattr(snapshot, "window", None)
    now = _float_or_none(getattr(snapshot, "now", None))
    start = window.start if isinstance(window, WindowRef) else None
    book = getattr(snapshot, "book", None)
    book = book if isinstance(book, BookTop) else None
    return DecisionInputs(
        coin=window.coin if isinstance(window, WindowRef) else "",
        window_start=start,
        now=now,
        elapsed_s=None if start is None or now is None else window.elapsed(now),  # type: ignore[union-attr]
        time_left_s=None if start is None or now is None else window.time_left(now),  # type: ignore[union-attr]
        strike=_float_or_none(getattr(snapshot, "strike", None)),
        spot=_float_or_none(getattr(snapshot, "spot", None)),
        up_bid=_dec_or_none(book.best_bid) if book else None,
        up_ask=_dec_or_none(book.best_ask) if book else None,
        up_bid_size=_dec_or_none(book.bid_size) if book else None,
        up_ask_size=_dec_or_none(book.ask_size) if book else None,
        tick_size=_dec_or_none(book.tick_size) if book else None,
        fee_rate=_dec_or_none(getattr(snapshot, "fee_rate", None)),
        klines=_len(getattr(snapshot, "klines", ())),
        mid_history=_len(getattr(snapshot, "mid_history", ())),
        balance=_dec_or_none(getattr(account, "balance", None)),
        equity=_dec_or_none(getattr(account, "equity", None)),
        open_exposure=_dec_or_none(getattr(account, "open_exposure", None)),
        window_exposure=_dec_or_none(getattr(account, "window_exposure", None)),
        daily_pnl=_dec_or_none(getattr(account, "daily_pnl", None)),
        day_start_equity=_dec_or_none(getattr(account, "day_start_equity", None)),
        method=params.confidence_method,
        params_digest=params.digest(),
        reference_spot=_float_or_none(getattr(snapshot, "reference_spot", None)),
        reference_strike=_float_or_none(getattr(snapshot, "reference_strike", None)),
        reference_time=_float_or_none(getattr(snapshot, "reference_time", None)),
    )


def _safe_inputs(
    snapshot: MarketSnapshot, account: AccountState, params: StrategyParams
) -> DecisionInputs:
    try:
        return _inputs(snapshot, account, params)
    except Exception:
        method = getattr(params, "confidence_method", "bayesian")
        return DecisionInputs(
            "",
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            0,
            0,
            None,
            None,
            None,
            None,
            None,
            None,
            str(method),
            "",
        )


def _float_or_none(x: object) -> float | None:
    if type(x) is float:  # the common case first (float(x) is x)
        return x if _isfinite(x) else None
    if x is None or isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    return float(x) if math.isfinite(x) else None


def _dec_or_none(x: object) -> Decimal | None:
    if type(x) is Decimal:  # the common case first
        return x if x.is_finite() else None
    return x if isinstance(x, Decimal) and x.is_finite() else None


def _len(x: object) -> int:
    if type(x) is tuple:  # the common case first
        return len(x)
    try:
        return len(x)  # type: ignore[arg-type]
    except TypeError:
        return 0


def _num(x: float | None) -> float | None:
    """A float for storage; NaN and infinities become None (JSON and SQL have no such thing)."""
    if type(x) is float:  # the common case, first: float(x) is x
        return x if _isfinite(x) else None
    if x is None or isinstance(x, bool):
        return None
    return float(x) if math.isfinite(x) else None


def _decided_ms(now: float | None) -> int:
    """``now`` in epoch ms; 0 (the column's "unknown") when it is no sane time: a finite
    ``now`` above ~1.8e305 makes ``now * 1000`` infinite, and the column is an int64."""
    if now is None:
        return 0
    ms = now * 1000
    return int(ms) if 0 <= ms < MAX_TIMESTAMP_MS else 0


def _dec_float(x: Decimal | None) -> float | None:
    # A finite Decimal beyond a float's range becomes inf, which JSON and SQL cannot hold.
    return None if x is None else _num(float(x))


def _micro(x: Decimal | None) -> int | None:
    if x is None:
        return None
    if type(x) is Decimal and x.is_zero():
        return 0  # what to_micro makes of any zero (a PASS has no size and no fee)
    try:
        return to_micro(x)
    except AmountError:
        return None


def _plain(x: object) -> object:
    """JSON-safe primitive: Decimal → exact string, float → finite float or None."""
    kind = type(x)
    if kind is float:  # the common cases first, by exact type (subclasses below)
        return x if _isfinite(x) else None  # type: ignore[arg-type]
    if x is None or kind is str or kind is int or kind is bool:
        return x
    if isinstance(x, Decimal):
        return str(x) if x.is_finite() else None
    if isinstance(x, float):
        return _num(x)
    if isinstance(x, enum.Enum):
        return x.value
    return x


def _signals_json(a: Analysis | None) -> str:
    """``json.dumps(_signals_payload(a), sort_keys=True)``: the five signals' fixed keys
    written in sorted order directly when every text is a plain str (always, in practice),
    which is about twice as fast as the generic encoder; anything else goes through it."""
    if a is None:
        return "[]"
    parts = []
    for s in a.signals:
        name, direction, note = s.name.value, s.direction.value, s.note
        if type(name) is str and type(direction) is str and type(note) is str:
            parts.append(
                f'{{"direction": {_quote(direction)}, "name": {_quote(name)}, '
                f'"note": {_quote(note)}, "strength": {_float_json(_num(s.strength))}, '
                f'"value": {_float_json(_num(s.value))}}}'
            )
        else:
            parts.append(_JSON.encode(_signal_payload(s)))
    return f"[{', '.join(parts)}]"


def _float_json(x: float | None) -> str:
    """JSON of what :func:`_num` returns (a finite float or None), as json writes it."""
    return "null" if x is None else float.__repr__(x)


def _signals_payload(a: Analysis | None) -> list[dict[str, object]]:
    if a is None:
        return []
    return [_signal_payload(s) for s in a.signals]


def _signal_payload(s: SignalResult) -> dict[str, object]:
    return {
        "name": s.name.value,
        "direction": s.direction.value,
        "strength": _num(s.strength),
        "value": _num(s.value),
        "note": s.note,
    }
