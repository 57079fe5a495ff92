"""The decision path's shortcuts give exactly what the general path gives.

Every poll decides every coin: the inputs read from the snapshot and the account, the
account checked, the parameters turned into Decimals, a dozen frozen objects built, the
row (and its lean JSON) written. Each shortcut is checked here against the general
computation it stands for — kept below, as it was written before, where the code no longer
has it — on generated and hostile input: the stored decisions of a backtest must not change
by a single byte.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
import sqlite3
import typing
from dataclasses import dataclass, field, replace
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from src.data import decisions_store
from src.data.market_data.windows import WindowRef
from src.data.migrations import run_migrations
from src.trading import logic, strategy
from src.trading.logic import AccountState, DecisionAudit, DecisionInputs, decide
from src.trading.params import StrategyParams
from src.trading.position_manager.monitor import SignalView
from src.trading.signals import confidence, fair_value, types
from src.trading.signals.frozen import quick_init
from src.trading.strategy import BookTop, MarketSnapshot, analyze
from src.utils.money import AmountError, to_decimal, to_micro
from tests.unit.strategy.test_properties import DEFAULT, accounts, any_snapshot, params_st

FAST = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

odd_values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [
            None,
            True,
            False,
            0,
            7,
            -3,
            10**400,
            "1.0",
            "",
            (),
            (1, 2),
            [1],
            Decimal("0.5"),
            Decimal("-2"),
            Decimal("NaN"),
            Decimal("sNaN"),
            Decimal("Infinity"),
            Decimal("1E+999999"),
            object(),
        ]
    ),
)
decimals = st.one_of(
    st.integers(0, 10_000).map(lambda n: Decimal(n) / 100), st.just(None), odd_values
)


def slots(obj: object) -> tuple[tuple[type, str], ...]:
    """Every slot of ``obj`` as (type, repr): equal only when the values are the same
    (``Decimal(1) == 1.0``, but they would store differently)."""
    out = []
    for cls in type(obj).__mro__:
        for name in getattr(cls, "__slots__", ()):
            value = getattr(obj, name)
            out.append((type(value), repr(value)))
    return tuple(out)


# --- quick_init: the frozen dataclasses' __init__ -----------------------------------------


QUICK = [
    strategy.BookTop,
    strategy.PricePoint,
    strategy.MarketSnapshot,
    strategy.InputProblem,
    strategy.Analysis,
    logic.AccountState,
    logic.SideQuote,
    logic.DecisionInputs,
    logic.Decision,
    logic._Candidate,
    fair_value.FairValue,
    confidence.ConfidenceResult,
    types.SignalResult,
    SignalView,
]


@pytest.mark.parametrize("cls", QUICK, ids=lambda c: c.__name__)
def test_each_hot_class_has_the_quick_init_with_the_same_signature(cls) -> None:
    init = cls.__init__
    assert hasattr(init, "dataclass_init"), f"{cls.__name__} kept the generated __init__"
    assert inspect.signature(init) == inspect.signature(init.dataclass_init)
    assert typing.get_type_hints(init) == typing.get_type_hints(init.dataclass_init)
    generated = inspect.signature(init.dataclass_init)
    assert inspect.signature(cls) == generated.replace(
        parameters=list(generated.parameters.values())[1:]
    )


@pytest.mark.parametrize("cls", QUICK, ids=lambda c: c.__name__)
@FAST
@given(data=st.data())
def test_quick_init_stores_what_the_generated_init_stores(cls, data) -> None:
    fields = dataclasses.fields(cls)
    values = [data.draw(odd_values, label=f.name) for f in fields]
    given_count = data.draw(
        st.integers(sum(f.default is dataclasses.MISSING for f in fields), len(fields))
    )
    as_keywords = data.draw(st.booleans())
    args, kwargs = values[:given_count], {}
    if as_keywords:
        args, kwargs = (
            [],
            {
                f.name: v
                for f, v in zip(fields[:given_count], values[:given_count], strict=True)
            },
        )
    quick = cls(*args, **kwargs)
    plain = object.__new__(cls)
    cls.__init__.dataclass_init(plain, *args, **kwargs)
    assert slots(quick) == slots(plain)
    for f in fields:
        assert getattr(quick, f.name) is getattr(plain, f.name)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(quick, fields[0].name, 1)


def test_quick_init_refuses_what_the_generated_init_refuses() -> None:
    for cls in QUICK:
        with pytest.raises(TypeError):
            cls()
        names = [f.name for f in dataclasses.fields(cls)]
        with pytest.raises(TypeError):
            cls(*range(len(names) + 1))
        with pytest.raises(TypeError):
            cls(**{n: 0 for n in names}, unknown=1)


def test_a_subclass_goes_through_the_generated_init() -> None:
    calls = []

    class Noisy(strategy.PricePoint):
        def __setattr__(self, name: str, value: object) -> None:  # pragma: no cover
            calls.append(name)
            raise dataclasses.FrozenInstanceError(name)

    point = Noisy(1.0, Decimal("0.5"))
    assert (point.t, point.price) == (1.0, Decimal("0.5"))
    assert type(point) is Noisy


def test_quick_init_leaves_any_other_class_alone() -> None:
    @dataclass(frozen=True)
    class NoSlots:
        a: int

    @dataclass(slots=True)
    class NotFrozen:
        a: int

    @dataclass(frozen=True, slots=True)
    class PostInit:
        a: int

        def __post_init__(self) -> None:
            pass

    @dataclass(frozen=True, slots=True)
    class Factory:
        a: list[int] = field(default_factory=list)

    @dataclass(frozen=True, slots=True)
    class NotInit:
        a: int
        b: int = field(default=0, init=False)

    @dataclass(frozen=True, slots=True, kw_only=True)
    class KeywordOnly:
        a: int

    @dataclass(frozen=True, slots=True)
    class Private:
        _cls: int

    class Plain:
        def __init__(self, a: int) -> None:
            self.a = a

    others = (NoSlots, NotFrozen, PostInit, Factory, NotInit, KeywordOnly, Private, Plain)
    for cls in others:
        init = cls.__init__
        assert quick_init(cls) is cls
        assert cls.__init__ is init, cls.__name__


# --- the decision's inputs ----------------------------------------------------------------


def reference_float_or_none(x: object) -> float | None:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    return float(x) if math.isfinite(x) else None


def reference_dec_or_none(x: object) -> Decimal | None:
    return x if isinstance(x, Decimal) and x.is_finite() else None


def reference_len(x: object) -> int:
    try:
        return len(x)  # type: ignore[arg-type]
    except TypeError:
        return 0


class Real(float):
    """A float subclass: the exact-type branches must leave it to the general path."""


class Dec(Decimal):
    """A Decimal subclass, likewise."""


converted = st.one_of(
    odd_values, st.builds(Real, st.floats()), st.builds(Dec, st.integers())
)


@FAST
@given(x=converted)
def test_the_conversions_exact_type_branches_change_nothing(x) -> None:
    pairs = (
        (logic._float_or_none, reference_float_or_none),
        (logic._dec_or_none, reference_dec_or_none),
        (logic._len, reference_len),
    )
    for fast, plain in pairs:
        try:
            expected = plain(x)
        except Exception as exc:  # the same error, whatever it is
            with pytest.raises(type(exc)):
                fast(x)
            continue
        got = fast(x)
        assert type(got) is type(expected) and repr(got) == repr(expected)
        assert got is expected or type(x) is not float  # float(x) is x


@st.composite
def odd_snapshots(draw):
    """Real snapshots, some of their fields replaced by anything at all."""
    snapshot = draw(any_snapshot)
    names = [f.name for f in dataclasses.fields(MarketSnapshot)]
    changes = {
        name: draw(odd_values)
        for name in draw(st.lists(st.sampled_from(names), max_size=3, unique=True))
        if name not in ("window", "book")
    }
    book = snapshot.book
    if draw(st.booleans()):
        book_names = [f.name for f in dataclasses.fields(BookTop)]
        book = replace(
            book,
            **{
                n: draw(decimals)
                for n in draw(st.lists(st.sampled_from(book_names), max_size=3))
            },
        )
    window = draw(
        st.sampled_from(
            [snapshot.window, WindowRef("BTC", 1_767_225_600), WindowRef(7, None), None]  # type: ignore[arg-type]
        )
    )
    if draw(st.integers(0, 5)) == 0:
        book = draw(st.sampled_from([None, "book", (1, 2)]))
    return replace(snapshot, window=window, book=book, **changes)


@st.composite
def odd_accounts(draw):
    account = draw(accounts)
    names = list(AccountState.__slots__)
    changes = {
        n: draw(decimals) for n in draw(st.lists(st.sampled_from(names), max_size=2))
    }
    return replace(account, **changes)


def outcome(f, *args) -> object:
    """What ``f(*args)`` gives, slot by slot — or the type of what it raises."""
    try:
        return slots(f(*args))
    except Exception as exc:  # the same error, whatever it is
        return type(exc)


class Snapshot(MarketSnapshot):
    """A subclass: read through the general path."""


@FAST
@given(
    snapshot=st.one_of(any_snapshot, odd_snapshots()),
    account=st.one_of(accounts, odd_accounts()),
    params=params_st,
)
def test_known_inputs_are_the_general_inputs(snapshot, account, params) -> None:
    expected = outcome(logic._any_inputs, snapshot, account, params)
    assert outcome(logic._inputs, snapshot, account, params) == expected
    # a subclass takes the general path: the same too
    sub = Snapshot(
        **{f.name: getattr(snapshot, f.name) for f in dataclasses.fields(snapshot)}
    )
    assert outcome(logic._inputs, sub, account, params) == expected


@FAST
@given(
    snapshot=st.one_of(any_snapshot, odd_snapshots()),
    account=st.one_of(accounts, odd_accounts()),
    params=params_st,
)
def test_the_whole_decision_is_the_general_paths(snapshot, account, params) -> None:
    """decide() with the shortcuts on and off: the same decision, the same stored row."""
    fast = decide(snapshot, account, params)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(logic, "_inputs", logic._any_inputs)
        mp.setattr(logic, "_check_account", logic._account_problem)
        mp.setattr(logic, "_param_decimal", lambda p, n: to_decimal(getattr(p, n)))
        mp.setattr(logic, "_lean_json_text", lambda inputs, a: None)
        plain = decide(snapshot, account, params)
    assert fast == plain
    for audit in DecisionAudit:
        assert fast.to_row(audit) == plain.to_row(audit)
        assert json.dumps(fast.to_row(audit)) == json.dumps(plain.to_row(audit))


# --- the account check and the parameters as Decimals ------------------------------------


@FAST
@given(account=st.one_of(accounts, odd_accounts(), odd_values))
def test_the_remembered_account_verdict_is_the_check(account) -> None:
    expected = logic._account_problem(account)
    assert logic._check_account(account) == expected
    assert logic._check_account(account) == expected  # remembered, where it may be


def test_an_account_of_a_subclass_or_with_odd_values_is_never_remembered() -> None:
    class Account(AccountState):
        pass

    sub = Account(Decimal(1), Decimal(1))
    assert logic._check_account(sub) == logic._account_problem(sub) == ""
    assert logic._ACCOUNT_PROBLEMS.get(sub) is None
    odd = AccountState(Dec(1), Decimal(1))
    assert logic._check_account(odd) == ""
    assert logic._ACCOUNT_PROBLEMS.get(odd) is None
    plain = AccountState(Decimal(1), Decimal(-1))
    assert logic._check_account(plain) == "equity -1 < 0"
    assert logic._ACCOUNT_PROBLEMS.get(plain) == "equity -1 < 0"


FLOAT_PARAMS = [
    f.name
    for f in dataclasses.fields(StrategyParams)
    if f.init and isinstance(getattr(DEFAULT, f.name), (int, float))
]


@FAST
@given(params=params_st, name=st.sampled_from(FLOAT_PARAMS))
def test_a_parameter_as_decimal_is_to_decimal(params, name) -> None:
    try:
        expected = to_decimal(getattr(params, name))
    except AmountError:  # a flag (bool): refused, every time
        for _ in range(2):
            with pytest.raises(AmountError):
                logic._param_decimal(params, name)
        return
    for _ in range(2):  # converted, then remembered
        got = logic._param_decimal(params, name)
        assert type(got) is Decimal and repr(got) == repr(expected)


def test_a_parameter_that_is_no_amount_raises_every_time() -> None:
    class Params:  # not a StrategyParams: never remembered
        max_spread = math.nan

    for _ in range(2):
        with pytest.raises(AmountError):
            logic._param_decimal(Params(), "max_spread")  # type: ignore[arg-type]


# --- the stored row -----------------------------------------------------------------------


def reference_row(d: logic.Decision, audit: DecisionAudit) -> dict[str, object]:
    """What ``to_row`` built before (the dict, field by field)."""
    a = d.analysis
    lean = audit is DecisionAudit.LEAN
    inputs = d.inputs
    return {
        "symbol": inputs.coin,
        "decided_ms": logic._decided_ms(inputs.now),
        "action": d.side.value,
        "reason": d.reason.value,
        "method": inputs.method,
        "confidence": None if a is None else logic._num(a.selected.confidence),
        "confidence_additive": None if a is None else logic._num(a.additive.confidence),
        "confidence_bayesian": None if a is None else logic._num(a.bayesian.confidence),
        "fair_value": None if a is None else logic._num(a.fair.p_up),
        "market_price": logic._dec_float(inputs.up_mid),
        "price_micro": logic._micro(d.limit_price),
        "size_micro": logic._micro(d.shares),
        "fee_micro": logic._micro(d.fee),
        "expected_value": logic._dec_float(d.ev_per_share),
        "time_left_s": logic._num(inputs.time_left_s),
        "signals_json": None if lean else logic._signals_json(a),
        "inputs_json": d._lean_inputs_encoded() if lean else d._inputs_json(),
    }


class Cursor:
    """Records what an insert binds."""

    lastrowid = 7

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[object, ...]]] = []

    def execute(self, sql: str, values: tuple[object, ...]) -> Cursor:
        self.calls.append((sql, values))
        return self


def test_the_row_columns_are_the_tables(tmp_path) -> None:
    """One list of columns, the store's, and every one of them is in the migrated table."""
    assert logic.ROW_COLUMNS is decisions_store.DECISION_COLUMNS
    run_migrations(tmp_path / "d.db")
    with sqlite3.connect(tmp_path / "d.db") as conn:
        table = {r[1] for r in conn.execute("PRAGMA table_info(decisions)")}
    assert set(decisions_store.DECISION_COLUMNS) <= table


@FAST
@given(
    snapshot=st.one_of(any_snapshot, odd_snapshots()),
    account=accounts,
    params=params_st,
    audit=st.sampled_from(list(DecisionAudit)),
)
def test_the_row_values_are_the_row_and_insert_the_same(
    snapshot, account, params, audit
) -> None:
    d = decide(snapshot, account, params)
    row = reference_row(d, audit)
    assert d.to_row(audit) == row
    assert json.dumps(d.to_row(audit)) == json.dumps(row)  # same types, same order
    by_row, by_values = Cursor(), Cursor()
    assert decisions_store.insert_decision(by_row, row, 3, "sim") == 7
    assert decisions_store.insert_decision(by_values, d.row_values(audit), 3, "sim") == 7
    assert repr(by_row.calls) == repr(by_values.calls)


# --- the lean inputs JSON -----------------------------------------------------------------


@FAST
@given(snapshot=any_snapshot, account=accounts, params=params_st)
def test_the_lean_json_is_written_directly_for_real_decisions(
    snapshot, account, params
) -> None:
    d = decide(snapshot, account, params)
    text = logic._lean_json_text(d.inputs, d.analysis)
    assert text is not None  # the usual types: the shortcut is taken
    assert text == d._lean_inputs_encoded()


odd_floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.just(None), odd_values
)


@FAST
@given(
    snapshot=any_snapshot,
    params=params_st,
    elapsed=odd_floats,
    fee=decimals,
    ask=decimals,
    bid=decimals,
    methods=st.sampled_from(
        [
            ("additive", "bayesian"),
            ("bayesian", "additive"),
            ("additive", "additive"),
            ("elapsed_s", "bayesian"),
            ("additive", "up_bid"),
            ("additivé", "bayesian"),
        ]
    ),
    p_ups=st.tuples(odd_floats, odd_floats),
    note=st.sampled_from(["UP", "DOWN", "NEUTRAL", 'qu"ote', "é", 3]),
)
def test_the_lean_json_is_the_encoders_for_any_value(
    snapshot, params, elapsed, fee, ask, bid, methods, p_ups, note
) -> None:
    a = analyze(snapshot, params)
    inputs = replace(
        logic._inputs(snapshot, AccountState(Decimal(1), Decimal(1)), params),
        elapsed_s=elapsed,
        fee_rate=fee,
        up_ask=ask,
        up_bid=bid,
    )
    if isinstance(a, strategy.Analysis):
        odd_direction = type("Odd", (), {"value": note})()
        additive = replace(a.additive, method=methods[0], p_up=p_ups[0])
        bayesian = replace(a.bayesian, method=methods[1], p_up=p_ups[1])
        if note != "UP":
            bayesian = replace(bayesian, direction=odd_direction)
        a = replace(a, additive=additive, bayesian=bayesian)
    else:
        a = None
    d = logic.Decision(inputs, logic.Side.PASS, types.Reason.NO_BOOK, analysis=a)
    try:
        expected = d._lean_inputs_encoded()
    except Exception as exc:  # the same error, whatever it is
        with pytest.raises(type(exc)):
            d._lean_inputs_json()
        return
    assert d._lean_inputs_json() == expected


def test_the_lean_json_of_a_decision_without_analysis() -> None:
    inputs = DecisionInputs(*[None] * 13, 0, 0, *[None] * 6, "bayesian", "")
    d = logic.Decision(inputs, logic.Side.PASS, types.Reason.NO_BOOK)
    assert d._lean_inputs_json() == d._lean_inputs_encoded()
    assert json.loads(d._lean_inputs_json()) == dict.fromkeys(
        ("elapsed_s", "fee_rate", "up_ask", "up_bid")
    )


# --- small exact-type branches ------------------------------------------------------------


def reference_finite(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def reference_positive(x: object) -> bool:
    return reference_finite(x) and x > 0  # type: ignore[operator]


@FAST
@given(x=st.one_of(converted, st.sampled_from([0.0, -0.0, 5e-324, -5e-324])))
def test_finite_and_positive_are_the_general_checks(x) -> None:
    pairs = ((strategy._finite, reference_finite), (strategy._positive, reference_positive))
    for fast, plain in pairs:
        try:
            expected = plain(x)
        except Exception as exc:  # the same error (10**400 is no float)
            with pytest.raises(type(exc)):
                fast(x)
            continue
        got = fast(x)
        assert type(got) is type(expected) and got == expected


zeros = st.builds(
    lambda sign, exponent: Decimal((sign, (0,), exponent)),
    st.integers(0, 1),
    st.integers(-999_999, 999_999),
)


@FAST
@given(x=st.one_of(zeros, decimals, st.builds(Dec, st.integers(-3, 3))))
def test_a_zero_amount_in_micro_units_is_to_micro(x) -> None:
    try:
        expected = to_micro(x)
    except AmountError:
        expected = None
    except Exception as exc:  # the same error, whatever it is
        with pytest.raises(type(exc)):
            logic._micro(x)
        return
    got = logic._micro(x)
    assert type(got) is type(expected) and got == expected
