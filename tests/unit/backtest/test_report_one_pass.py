"""The report's one pass over the ledger's decisions equals the straightforward path: a
ledger row read as first written (``json.loads``, ``to_micro`` on every price, ``strftime``
on every time), its ``decisions.csv`` line from :func:`write_decisions`, and its figures
from :class:`Brier`, :class:`CalibrationTally`, the Brier score by minute as first written
and :class:`EntryPoints`, fed a :class:`DecisionRow` per row."""

from __future__ import annotations

import csv
import json
import math
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from src.backtest.report import (
    BRIER_MINUTES,
    DECISION_COLUMNS,
    FORECASTERS,
    METHODS,
    SIDES,
    BaselineRules,
    Brier,
    BrierByMinute,
    CalibrationTally,
    DecisionRow,
    DecisionTally,
    EntryPoints,
    MinuteBrier,
    _inputs,
    _iso,
    _iso_ms,
    _num,
    decision_row,
    forecasts,
    write_ledger_decisions,
)
from src.utils.money import AmountError, micro_str, to_micro

WINDOW_MS = 900_000
RULES = BaselineRules(seed=5, entry_min_elapsed_s=60, entry_max_elapsed_s=780)


# --- The row as first read ---------------------------------------------------------------


def float_as_first_written(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def micro_as_first_written(value: object) -> int | None:
    if value is None:
        return None
    try:
        return to_micro(value)
    except AmountError:
        return None


def inputs_as_first_written(text: str | None) -> list[Any]:
    values: Any = None
    if text:
        try:
            values = json.loads(text)
        except ValueError:
            values = None
    if not isinstance(values, list) or len(values) != 8:
        return [None] * 8
    return values


def text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def row_as_first_written(r: tuple[Any, ...]) -> DecisionRow:
    dir_a, p_a, dir_b, p_b, elapsed, bid, ask, rate = inputs_as_first_written(r[12])
    return DecisionRow(
        symbol=r[0],
        decided_ms=int(r[1]),
        action=r[2],
        reason=r[3],
        outcome=r[10] or None,
        window_start=None if r[11] is None else int(r[11]) // 1000,
        confidence_additive=r[4],
        confidence_bayesian=r[5],
        direction_additive=text(dir_a),
        direction_bayesian=text(dir_b),
        p_up_additive=float_as_first_written(p_a),
        p_up_bayesian=float_as_first_written(p_b),
        fair_value=r[6],
        price_micro=r[7],
        fee_micro=r[8],
        expected_value=r[9],
        elapsed_s=float_as_first_written(elapsed),
        up_bid_micro=micro_as_first_written(bid),
        up_ask_micro=micro_as_first_written(ask),
        fee_rate_micro=micro_as_first_written(rate),
    )


# --- Ledger rows -------------------------------------------------------------------------

NOT_FINITE = st.sampled_from([math.nan, math.inf, -math.inf])
# Any JSON value a snapshot could hold where a number or a side is expected (letters only
# in strings, and no huge numbers: "9e99" as a price overflows to_micro's decimal context,
# 1e200 as a fair value overflows its square, on both paths alike).
json_value = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**15), 10**15),
    st.floats(-1e15, 1e15),
    NOT_FINITE,
    st.text(alphabet="abINUPDOWNfs ", max_size=4),
    st.just([1]),
)
side = st.sampled_from(["UP", "DOWN"])
tick = st.integers(1, 99).map(lambda c: f"{c / 100:.6f}")  # "0.470000"


@st.composite
def snapshot(draw: st.DrawFn) -> list[Any]:
    """A lean snapshot as the bot stores it: sides, P(Up)s, a time, a two-sided book."""
    bid = draw(st.integers(1, 98))
    ask = draw(st.integers(bid + 1, 99))
    return [
        draw(st.sampled_from(["UP", "DOWN", "NEUTRAL"])),
        draw(st.floats(0, 1)),
        draw(st.sampled_from(["UP", "DOWN", "NEUTRAL"])),
        draw(st.floats(0, 1)),
        draw(st.sampled_from([0.0, 10.0, 59.9, 60.0, 120.0, 780.0, 790.0, 899.0])),
        f"{bid / 100:.6f}",
        f"{ask / 100:.6f}",
        draw(st.sampled_from(["0.07", "0", "0.000000", "1.5"])),
    ]


@st.composite
def odd_snapshot(draw: st.DrawFn) -> list[Any]:
    """Anything in its places."""
    number = st.one_of(st.floats(0, 900), st.integers(0, 900), json_value)
    price = st.one_of(
        tick,
        st.decimals(0, 1, places=7).map(lambda d: f"{d:f}"),
        st.sampled_from(["1", " 0.5", "1e-7", "0.0000005"]),
        json_value,
    )
    direction = st.one_of(side, json_value)
    return [draw(s) for s in (direction, number, direction, number, number)] + [
        draw(price) for _ in range(3)
    ]


@st.composite
def inputs_text(draw: st.DrawFn) -> str | None:
    """``inputs`` as _DECISIONS_SQL reads it: mostly SQLite's compact array."""
    values = draw(st.one_of(snapshot(), odd_snapshot()))
    shape = draw(st.sampled_from(["compact"] * 4 + ["spaced", "other"]))
    if shape == "compact":
        return json.dumps(values, separators=(",", ":"))
    if shape == "spaced":
        return json.dumps(values)
    return draw(
        st.sampled_from(
            [
                None,
                "",
                "not json",
                " " + json.dumps(values),
                json.dumps(values) + "\n",
                "\ufeff" + json.dumps(values),
                json.dumps(values[:7]),
                json.dumps(values) + "[]",
                '{"a": 1}',
            ]
        )
    )


maybe_float = st.one_of(st.none(), st.floats(-1e15, 1e15), NOT_FINITE)
ledger_row = st.tuples(
    st.sampled_from(["BTC", "ETH"]),  # few windows: minute marks and entry points repeat
    st.integers(0, 3 * WINDOW_MS),
    st.sampled_from(["UP", "DOWN", "PASS"]),
    st.sampled_from(["too_early", "edge_too_small", 'a "quoted", reason']),
    st.one_of(st.floats(0.45, 1.05), st.sampled_from([0.5, 0.55, 0.85, 1.0]), maybe_float),
    st.one_of(st.floats(0.45, 1.05), maybe_float),
    st.one_of(st.floats(0, 1), maybe_float),
    st.one_of(st.none(), st.integers(0, 2_000_000)),
    st.one_of(st.none(), st.integers(-5, 2_000_000)),
    maybe_float,
    st.sampled_from(["UP", "DOWN", "UP", "DOWN", None, ""]),
    st.one_of(st.sampled_from([0, WINDOW_MS, 2 * WINDOW_MS]), st.none()),
    inputs_text(),
)


@settings(max_examples=600, deadline=None)
@given(ledger_row)
def test_a_ledger_row_is_read_as_first_written(r: tuple[Any, ...]) -> None:
    # repr: NaN equals itself, and 1, 1.0 and True differ
    assert repr(_inputs(r[12])) == repr(inputs_as_first_written(r[12]))
    assert decision_row(r) == row_as_first_written(r)


@pytest.mark.parametrize(
    "text",
    [None, "", "not json", " [1]", "\ufeff[]", '["UP",0.5,"UP",0.5,1,"1","1","1"] ', "[1]"],
)
def test_inputs_that_are_not_a_compact_array_go_through_json_loads(
    text: str | None,
) -> None:
    assert _inputs(text) == inputs_as_first_written(text)
    with pytest.raises(TypeError):  # as json.loads does
        _inputs(12)  # type: ignore[arg-type]


@settings(max_examples=1000, deadline=None)
@given(
    st.one_of(
        st.integers(-62_135_596_800_000, 253_402_300_799_999),  # years 1 … 9999
        st.integers(1_700_000_000_000, 1_900_000_000_000),
        st.tuples(st.integers(0, 10**8), st.sampled_from([-1, 0, 1, 999])).map(
            lambda k: 1_767_225_600_000 + k[0] * 1000 + k[1]  # second boundaries
        ),
    )
)
def test_a_time_in_ms_reads_as_iso_of_its_seconds(ms: int) -> None:
    assert _iso_ms(ms) == _iso(ms / 1000)


# --- One pass: the file and the figures --------------------------------------------------


class MinutesAsFirstWritten:
    """:class:`BrierByMinute` as first written: a set of (symbol, start, minute) taken, a
    list of floats per forecaster and minute."""

    def __init__(self) -> None:
        self.seen: set[tuple[str, int, int]] = set()
        self.sums = {m: {name: [] for name in FORECASTERS} for m in BRIER_MINUTES}

    def add(self, row: DecisionRow) -> None:
        if row.outcome not in SIDES or row.elapsed_s is None or row.window_start is None:
            return
        minute = int(row.elapsed_s // 60)
        if minute not in self.sums:
            return
        key = (row.symbol, row.window_start, minute)
        if key in self.seen:
            return
        self.seen.add(key)
        outcome = 1.0 if row.outcome == "UP" else 0.0
        for name, p in forecasts(row).items():
            if p is not None and math.isfinite(p):
                self.sums[minute][name].append((p - outcome) ** 2)

    def table(self) -> tuple[MinuteBrier, ...]:
        rows = []
        for minute in BRIER_MINUTES:
            windows = sum(1 for key in self.seen if key[2] == minute)
            if windows:
                means = {
                    name: (sum(v) / len(v) if v else None)
                    for name, v in self.sums[minute].items()
                }
                rows.append(MinuteBrier(minute, windows, **means))
        return tuple(rows)


def figures(
    briers: dict[str, Brier],
    tallies: dict[str, CalibrationTally],
    by_minute: BrierByMinute | MinutesAsFirstWritten,
    points: EntryPoints,
) -> tuple[Any, ...]:
    return (
        [(b.total, b.count) for b in briers.values()],
        [t.buckets() for t in tallies.values()],
        by_minute.table(),
        points.rows(),
    )


def write_decisions(path: Path, rows: Iterable[DecisionRow]) -> int:
    """``decisions.csv`` as the report first wrote it, a :class:`DecisionRow` a line."""
    n = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(DECISION_COLUMNS)
        for d in rows:
            out.writerow(
                [
                    d.symbol,
                    _iso(d.decided_ms / 1000),
                    d.action,
                    d.reason,
                    _num(d.confidence_additive),
                    _num(d.confidence_bayesian),
                    _num(d.fair_value),
                    "" if d.price_micro is None else micro_str(d.price_micro),
                    "" if d.fee_micro is None else micro_str(d.fee_micro),
                    _num(d.expected_value),
                    d.outcome or "",
                ]
            )
            n += 1
    return n


def straightforward(rows: list[tuple[Any, ...]], path: Path) -> tuple[int, tuple[Any, ...]]:
    """The report before its one pass: a DecisionRow per row, through every sink."""
    briers = {m: Brier(m) for m in METHODS}
    tallies = {m: CalibrationTally(m) for m in METHODS}
    by_minute = MinutesAsFirstWritten()
    points = EntryPoints(RULES)
    decisions = [row_as_first_written(r) for r in rows]
    for d in decisions:
        for sink in (*briers.values(), *tallies.values(), by_minute, points):
            sink.add(d)
    return write_decisions(path, decisions), figures(briers, tallies, by_minute, points)


@settings(max_examples=300, deadline=None)
@given(st.lists(ledger_row, max_size=40))
def test_the_one_pass_writes_the_same_file_and_figures(rows: list[tuple[Any, ...]]) -> None:
    # Many decisions of few windows, so that minute marks and entry points repeat.
    with tempfile.TemporaryDirectory() as tmp:
        before, after = Path(tmp) / "before.csv", Path(tmp) / "after.csv"
        count, expected = straightforward(rows, before)
        tally = DecisionTally(RULES)
        assert write_ledger_decisions(after, rows, tally) == count == len(rows)
        assert after.read_bytes() == before.read_bytes()
    got = figures(tally.briers, tally.calibration, tally.by_minute, tally.points)
    assert got == expected
