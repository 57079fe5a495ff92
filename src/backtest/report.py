"""A backtest's outputs, read from the ledger it left: ``trades.csv`` (one row per
position), ``decisions.csv`` (one row per evaluated decision, PASS included, with the
window's real outcome), ``summary.json`` (the headline figures, per-symbol and exit-reason
tables, calibration of both confidence methods, the baselines, the settings, the seed) and
``report.png`` (equity, drawdown, calibration, PnL by exit reason, and the Brier score by
minute of the market, the fair value and both confidences).

Everything is computed from the ledger's fills, fees and settlements — the same numbers
``polyflup positions`` and ``stats`` would show — so the files add up to each other. The
computations are pure functions of :class:`TradeRow` and :class:`DecisionRow` lists; the
decisions are streamed once (a long run has millions) through small accumulators.

Baselines answer "is the bot better than something simple?" on the same windows: the first
decision of each window inside the entry period (``ENTRY_MIN_ELAPSED_SEC`` …
``ENTRY_MAX_ELAPSED_SEC``, two-sided Up book) is the entry point; each baseline buys one
side there at its ask as a taker, one fixed stake per trade, pays the venue's taker fee (in
shares, :func:`~src.sim.venue.fees.fee_in_shares`) and holds to settlement:

- ``favourite``: the side whose mid is above 0.50 (no trade at exactly 0.50);
- ``fair_value``: the side whose fair value beats its ask plus the taker fee by the bot's
  own edge gate (``MIN_EDGE``, or ``LOSING_SIDE_MIN_EDGE`` below 0.50) — the model without
  the signals;
- ``random``: a side drawn with the run's seed.

The stake is the median cost of the bot's entries (so PnL compares like with like), or $10
when the bot made none.
"""

from __future__ import annotations

import bisect
import csv
import functools
import itertools
import json
import math
import random
import sqlite3
import statistics
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from src.data.db_connection import db_connection
from src.data.stats import BUCKETS, CalibrationBucket, GroupStats
from src.sim.venue.amounts import affordable_lots, notional
from src.sim.venue.fees import fee_in_shares
from src.trading.logic import LEAN_INPUT_PATHS, OrderStyle, ev_per_share
from src.utils.money import MICRO, AmountError, micro_str, to_micro

TRADE_COLUMNS = (
    "symbol",
    "window_start",
    "side",
    "entry_price",
    "size",
    "cost",
    "fees",
    "exit_reason",
    "pnl",
    "confidence_additive",
    "confidence_bayesian",
    "fair_value",
)
DECISION_COLUMNS = (
    "symbol",
    "time",
    "action",
    "reason",
    "confidence_additive",
    "confidence_bayesian",
    "fair_value",
    "price",
    "fee",
    "expected_value",
    "outcome",
)
METHODS = ("additive", "bayesian")
SIDES = ("UP", "DOWN")
BASELINES = ("favourite", "fair_value", "random")
DEFAULT_BASELINE_STAKE_MICRO = 10 * MICRO


@dataclass(frozen=True, slots=True)
class TradeRow:
    """One position of the backtest."""

    symbol: str
    window_start: int  # unix seconds
    side: str
    entry_price_micro: int | None
    size_micro: int
    cost_micro: int
    fees_micro: int
    exit_reason: str
    pnl_micro: int
    closed_ms: int | None
    confidence_additive: float | None
    confidence_bayesian: float | None
    fair_value: float | None


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _num(value: float | None, places: int = 6) -> str:
    return "" if value is None else f"{value:.{places}f}"


# Every coin decides on the same tick, and a run's prices and fees are a few hundred
# values: a long run's millions of decisions format each time and amount once.
@functools.lru_cache(maxsize=64)
def _iso_ms(ms: int) -> str:
    """``_iso(ms / 1000)``: the date as ``_iso`` writes it, once a day; the time of day by
    arithmetic (``ms / 1000`` always falls in second ``ms // 1000``, and ``datetime``'s UTC
    has no leap seconds)."""
    day, of_day = divmod(ms // 1000, 86_400)
    hour, minute, second = of_day // 3600, of_day // 60 % 60, of_day % 60
    return f"{_iso_day(day)}T{hour:02d}:{minute:02d}:{second:02d}Z"


@functools.lru_cache(maxsize=64)
def _iso_day(day: int) -> str:
    """The ``%Y-%m-%d`` of ``_iso`` on day ``day`` since the epoch."""
    return datetime.fromtimestamp(day * 86_400, tz=UTC).strftime("%Y-%m-%d")


@functools.lru_cache(maxsize=4096, typed=True)  # typed: 5 and 5.0 are not one key
def _micro_text(micro: int) -> str:
    """``micro_str``, remembered."""
    return micro_str(micro)


def trade_rows(cur: sqlite3.Cursor) -> list[TradeRow]:
    """Every position with its entry (from its BUY fills) and the decision behind it."""
    rows = cur.execute(
        "SELECT p.id, p.symbol, w.start_ms, p.outcome, p.fees_micro, p.realized_pnl_micro, "
        "p.status, p.exit_reason, p.closed_ms, s.won, "
        "(SELECT COALESCE(SUM(f.size_micro), 0) FROM fills f WHERE f.token_id = p.token_id "
        " AND f.side = 'BUY' AND f.status != 'FAILED'), "
        "(SELECT COALESCE(SUM(f.notional_micro), 0) FROM fills f WHERE f.token_id = "
        " p.token_id AND f.side = 'BUY' AND f.status != 'FAILED'), "
        "(SELECT d.confidence_additive FROM orders o JOIN decisions d ON d.id = "
        " o.decision_id WHERE o.token_id = p.token_id ORDER BY o.id LIMIT 1), "
        "(SELECT d.confidence_bayesian FROM orders o JOIN decisions d ON d.id = "
        " o.decision_id WHERE o.token_id = p.token_id ORDER BY o.id LIMIT 1), "
        "(SELECT d.fair_value FROM orders o JOIN decisions d ON d.id = o.decision_id "
        " WHERE o.token_id = p.token_id ORDER BY o.id LIMIT 1) "
        "FROM positions p LEFT JOIN windows w ON w.id = p.window_id "
        "LEFT JOIN settlements s ON s.position_id = p.id ORDER BY w.start_ms, p.id"
    ).fetchall()
    trades = []
    for r in rows:
        bought, paid = int(r[10]), int(r[11])
        reason = r[7] or ("settlement" if r[9] is not None else r[6])
        trades.append(
            TradeRow(
                symbol=r[1],
                window_start=int((r[2] or 0) // 1000),
                side=r[3],
                entry_price_micro=paid * MICRO // bought if bought else None,
                size_micro=bought,
                cost_micro=paid,
                fees_micro=int(r[4]),
                exit_reason=reason,
                pnl_micro=int(r[5]),
                closed_ms=r[8],
                confidence_additive=r[12],
                confidence_bayesian=r[13],
                fair_value=r[14],
            )
        )
    return trades


def write_trades(path: Path, trades: Iterable[TradeRow]) -> None:
    """``trades.csv``: money as exact decimals, prices to 6 places."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(TRADE_COLUMNS)
        for t in trades:
            out.writerow(
                [
                    t.symbol,
                    _iso(t.window_start),
                    t.side,
                    "" if t.entry_price_micro is None else micro_str(t.entry_price_micro),
                    micro_str(t.size_micro),
                    micro_str(t.cost_micro),
                    micro_str(t.fees_micro),
                    t.exit_reason,
                    micro_str(t.pnl_micro),
                    _num(t.confidence_additive),
                    _num(t.confidence_bayesian),
                    _num(t.fair_value),
                ]
            )


# --- Decisions ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DecisionRow:
    """One evaluated decision (PASS included) with the window's outcome and what the
    reports need from its ``inputs_json``: each method's direction and P(Up), how far into
    the window it was taken, the Up book's best bid and ask and the fee rate."""

    symbol: str
    decided_ms: int
    action: str
    reason: str
    outcome: str | None = None  # UP or DOWN once the window resolved
    window_start: int | None = None  # unix seconds
    confidence_additive: float | None = None  # of the side the method points to
    confidence_bayesian: float | None = None
    direction_additive: str | None = None  # UP, DOWN or NEUTRAL
    direction_bayesian: str | None = None
    p_up_additive: float | None = None
    p_up_bayesian: float | None = None
    fair_value: float | None = None  # P(Up) from the underlying
    price_micro: int | None = None  # limit price of the intended order
    fee_micro: int | None = None
    expected_value: float | None = None
    elapsed_s: float | None = None
    up_bid_micro: int | None = None
    up_ask_micro: int | None = None
    fee_rate_micro: int | None = None

    def confidence(self, method: str) -> float | None:
        """``method``'s confidence in the side it points to."""
        return (
            self.confidence_additive if method == "additive" else self.confidence_bayesian
        )

    def direction(self, method: str) -> str | None:
        """The side ``method`` points to (UP, DOWN or NEUTRAL)."""
        return self.direction_additive if method == "additive" else self.direction_bayesian

    def p_up(self, method: str) -> float | None:
        """``method``'s P(Up) before any cap (what the Brier score is measured on)."""
        return self.p_up_additive if method == "additive" else self.p_up_bayesian


_INPUT_PATHS = LEAN_INPUT_PATHS  # what a lean decision row keeps, no more
# SQLite pulls the few inputs the reports need out of each decision's JSON snapshot (a few
# kB) in C: a long backtest has millions of decisions.
_DECISIONS_SQL = (
    "SELECT d.symbol, d.decided_ms, d.action, d.reason, d.confidence_additive, "
    "d.confidence_bayesian, d.fair_value, d.price_micro, d.fee_micro, d.expected_value, "
    "w.outcome, w.start_ms, CASE WHEN json_valid(d.inputs_json) THEN json_extract("
    "d.inputs_json, " + ", ".join(f"'{p}'" for p in _INPUT_PATHS) + ") END "
    "FROM decisions d LEFT JOIN windows w ON w.id = d.window_id ORDER BY d.id"
)


def _float(value: object) -> float | None:
    if type(value) is float:  # what JSON gives for a P(Up) or a time: the common case
        return value if math.isfinite(value) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _micro(value: object) -> int | None:
    """A price or rate from ``inputs_json`` (a decimal string) in micro-units."""
    if isinstance(value, str):
        return _micro_of_text(value)
    if value is None:
        return None
    try:
        return to_micro(value)
    except AmountError:
        return None


# A run's prices and fee rates are a few hundred strings repeated over millions of rows.
@functools.lru_cache(maxsize=1024)
def _micro_of_text(text: str) -> int | None:
    """``_micro`` of a string, remembered."""
    try:
        return to_micro(text)
    except AmountError:
        return None


_JSON = json.JSONDecoder()


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _inputs(text: str | None) -> list[Any]:
    values: Any = None
    if text:
        # What json.loads gives, without its wrappers: raw_decode when it reads the
        # whole text (it always reads SQLite's compact arrays); anything else (padding, a
        # BOM, not JSON, not a str) goes to json.loads itself.
        try:
            values, end = _JSON.raw_decode(text)
        except (ValueError, TypeError):
            values = _loads(text)
        else:
            if end != len(text):
                values = _loads(text)
    if not isinstance(values, list) or len(values) != len(_INPUT_PATHS):
        return [None] * len(_INPUT_PATHS)
    return values


def decision_row(r: Sequence[Any]) -> DecisionRow:
    """A :data:`_DECISIONS_SQL` row as a :class:`DecisionRow`."""
    dir_a, p_a, dir_b, p_b, elapsed, bid, ask, rate = _inputs(r[12])
    return DecisionRow(
        symbol=r[0],
        decided_ms=int(r[1]),
        action=r[2],
        reason=r[3],
        outcome=r[10] or None,
        window_start=None if r[11] is None else int(r[11]) // 1000,
        confidence_additive=r[4],
        confidence_bayesian=r[5],
        direction_additive=_text(dir_a),
        direction_bayesian=_text(dir_b),
        p_up_additive=_float(p_a),
        p_up_bayesian=_float(p_b),
        fair_value=r[6],
        price_micro=r[7],
        fee_micro=r[8],
        expected_value=r[9],
        elapsed_s=_float(elapsed),
        up_bid_micro=_micro(bid),
        up_ask_micro=_micro(ask),
        fee_rate_micro=_micro(rate),
    )


def ledger_decisions(cur: sqlite3.Cursor) -> Iterator[tuple[Any, ...]]:
    """Every :data:`_DECISIONS_SQL` row of the ledger in the order it was taken, streamed
    as plain tuples: from a cursor of its own on ``cur``'s connection (so in its
    transaction), without the connection's :class:`sqlite3.Row` per row."""
    rows = cur.connection.cursor()
    rows.row_factory = None
    try:
        yield from rows.execute(_DECISIONS_SQL)
    finally:
        rows.close()


def decision_fields(r: Sequence[Any]) -> list[str]:
    """A :data:`_DECISIONS_SQL` row's line of ``decisions.csv``, read straight off the row
    (no :class:`DecisionRow` built for it)."""
    return [
        r[0],
        _iso_ms(int(r[1])),
        r[2],
        r[3],
        _num(r[4]),
        _num(r[5]),
        _num(r[6]),
        "" if r[7] is None else _micro_text(r[7]),
        "" if r[8] is None else _micro_text(r[8]),
        _num(r[9]),
        r[10] or "",
    ]


# --- Brier score and calibration ---------------------------------------------------------


@dataclass
class Brier:
    """Running Brier score of one method's P(Up) against the windows' outcomes."""

    method: str
    total: float = 0.0
    count: int = 0

    def add(self, row: DecisionRow) -> None:
        """Score ``row`` if its window has an outcome and the method a finite P(Up)."""
        self.score(row.p_up(self.method), row.outcome)

    def score(self, p_up: float | None, outcome: str | None) -> None:
        """Score a P(Up) against ``outcome``, if both are known."""
        if p_up is None or outcome not in SIDES:
            return
        self.total += (p_up - (1.0 if outcome == "UP" else 0.0)) ** 2
        self.count += 1

    @property
    def value(self) -> float | None:
        """The mean squared error (None before any scored decision)."""
        return self.total / self.count if self.count else None


BRIER_MINUTES = tuple(range(1, 15))
FORECASTERS = ("market", "fair_value", "additive", "bayesian")


@dataclass(frozen=True, slots=True)
class MinuteBrier:
    """Brier scores of every forecaster of P(Up) at one minute into the window.

    ``windows`` is how many windows had a decision in that minute with an outcome; each
    score averages over the windows where that forecaster had a value (None: none had).
    """

    minute: int
    windows: int
    market: float | None
    fair_value: float | None
    additive: float | None
    bayesian: float | None

    def as_json(self) -> dict[str, Any]:
        """The row as ``summary.json`` holds it."""
        return {
            "minute": self.minute,
            "windows": self.windows,
            **{name: _ratio(getattr(self, name)) for name in FORECASTERS},
        }


def forecasts(row: DecisionRow) -> dict[str, float | None]:
    """What each forecaster said P(Up) was at ``row``: the market's mid (Up book, both
    sides quoted), the fair value, each confidence method's P(Up)."""
    return forecast_values(
        row.up_bid_micro,
        row.up_ask_micro,
        row.fair_value,
        row.p_up_additive,
        row.p_up_bayesian,
    )


def forecast_values(
    up_bid_micro: int | None,
    up_ask_micro: int | None,
    fair_value: float | None,
    p_up_additive: float | None,
    p_up_bayesian: float | None,
) -> dict[str, float | None]:
    """:func:`forecasts` from the decision's values."""
    mid = None
    if up_bid_micro is not None and up_ask_micro is not None:
        mid = (up_bid_micro + up_ask_micro) / 2 / MICRO
    return {
        "market": mid,
        "fair_value": fair_value,
        "additive": p_up_additive,
        "bayesian": p_up_bayesian,
    }


class BrierByMinute:
    """Does the model know more than the market? At each minute mark of the window (1 …
    14), the first decision of every window taken in that minute (``60·m ≤ elapsed <
    60·(m + 1)``) is scored, for each forecaster, against the window's outcome."""

    __slots__ = ("_seen", "_sums")

    def __init__(self) -> None:
        # A month is some 10,000 windows of 14 marks: per window (symbol, start), the marks
        # taken as bits of one int; the scores as C doubles (summed as the floats they are).
        self._seen: dict[tuple[str, int], int] = {}
        self._sums: dict[int, dict[str, array[float]]] = {
            m: {name: array("d") for name in FORECASTERS} for m in BRIER_MINUTES
        }

    def add(self, row: DecisionRow) -> None:
        """Score ``row`` if it is its window's first decision of a minute mark."""
        if row.outcome not in SIDES or row.elapsed_s is None or row.window_start is None:
            return
        minute = self.first_of_minute(row.symbol, row.window_start, row.elapsed_s)
        if minute is not None:
            self.score(minute, row.outcome, forecasts(row))

    def first_of_minute(
        self, symbol: str, window_start: int, elapsed_s: float
    ) -> int | None:
        """The minute mark of a decision ``elapsed_s`` into window (``symbol``,
        ``window_start``) if it is the window's first there (the mark is then taken);
        else None. Cheap: most decisions stop here, before their forecasts are read."""
        minute = int(elapsed_s // 60)
        if minute not in self._sums:
            return None
        key = (symbol, window_start)
        marks = self._seen.get(key, 0)
        if marks >> minute & 1:
            return None
        self._seen[key] = marks | 1 << minute
        return minute

    def score(self, minute: int, outcome: str, said: dict[str, float | None]) -> None:
        """Score each forecaster's P(Up) in ``said`` (:func:`forecasts`) at ``minute``
        against ``outcome`` (UP or DOWN)."""
        happened = 1.0 if outcome == "UP" else 0.0
        scores = self._sums[minute]
        for name, p in said.items():
            if p is not None and math.isfinite(p):
                scores[name].append((p - happened) ** 2)

    def table(self) -> tuple[MinuteBrier, ...]:
        """One row per minute that saw a window, earliest first."""
        rows = []
        for minute in BRIER_MINUTES:
            scores = self._sums[minute]
            windows = sum(marks >> minute & 1 for marks in self._seen.values())
            if not windows:
                continue
            means = {name: (sum(v) / len(v) if v else None) for name, v in scores.items()}
            rows.append(MinuteBrier(minute, windows, **means))
        return tuple(rows)


def bucket_index(confidence: float) -> int | None:
    """Which bucket of :data:`~src.data.stats.BUCKETS` holds ``confidence``: buckets are
    ``[low, high)`` (0.50–0.55 … 0.80–0.85) and a last, closed 0.85–1.00 (the cap); None
    outside [0.50, 1.00]."""
    if not BUCKETS[0] <= confidence <= 1.0:  # NaN too
        return None
    return bisect.bisect_right(BUCKETS, confidence) - 1


def bucket_bounds(index: int) -> tuple[float, float]:
    """``(low, high)`` of bucket ``index``."""
    high = BUCKETS[index + 1] if index + 1 < len(BUCKETS) else 1.0
    return BUCKETS[index], high


class CalibrationTally:
    """Running calibration of one method: per confidence bucket, how many decisions, their
    summed confidence, and how many pointed to the side that won.

    Every decision counts, PASS included, when its window has an outcome and the method
    points to a side (not NEUTRAL): the confidence is the method's probability of *that*
    side, so a calibrated 0.70 bucket wins 70 % of the time.
    """

    __slots__ = ("_count", "_sum", "_wins", "method")

    def __init__(self, method: str) -> None:
        self.method = method
        self._count = [0] * len(BUCKETS)
        self._sum = [0.0] * len(BUCKETS)
        self._wins = [0] * len(BUCKETS)

    def add(self, row: DecisionRow) -> None:
        """Count ``row`` in its bucket, if it qualifies."""
        self.record(row.direction(self.method), row.confidence(self.method), row.outcome)

    def record(
        self, direction: object, confidence: float | None, outcome: str | None
    ) -> None:
        """Count a decision pointing to ``direction`` with ``confidence``, if it
        qualifies (a ``direction`` that is not a side, a string or not, never does)."""
        if outcome not in SIDES or direction not in SIDES or confidence is None:
            return
        index = bucket_index(confidence)
        if index is None:
            return
        self._count[index] += 1
        self._sum[index] += confidence
        self._wins[index] += direction == outcome

    def buckets(self) -> tuple[CalibrationBucket, ...]:
        """The non-empty buckets, lowest first."""
        found = []
        for i, n in enumerate(self._count):
            if n:
                low, high = bucket_bounds(i)
                found.append(
                    CalibrationBucket(
                        self.method, low, high, n, self._sum[i] / n, self._wins[i] / n
                    )
                )
        return tuple(found)


def calibration(rows: Iterable[DecisionRow], method: str) -> tuple[CalibrationBucket, ...]:
    """``method``'s calibration over ``rows`` (see :class:`CalibrationTally`)."""
    tally = CalibrationTally(method)
    for row in rows:
        tally.add(row)
    return tally.buckets()


def bucket_label(bucket: CalibrationBucket) -> str:
    """``'0.50-0.55'``."""
    return f"{bucket.low:.2f}-{bucket.high:.2f}"


def calibration_json(buckets: Iterable[CalibrationBucket]) -> list[dict[str, Any]]:
    """``summary.json``'s ``calibration_<method>``: bucket, n, mean_confidence, win_rate."""
    return [
        {
            "bucket": bucket_label(b),
            "n": b.count,
            "mean_confidence": round(b.mean_confidence, 6),
            "win_rate": round(b.hit_rate, 6),
        }
        for b in buckets
    ]


# --- Per-symbol and exit-reason tables ---------------------------------------------------


def closed_trades(trades: Iterable[TradeRow]) -> list[TradeRow]:
    """Positions with a realised result (closed, settled or redeemed)."""
    return [t for t in trades if t.closed_ms is not None]


def group_stats(key: str, trades: Iterable[TradeRow]) -> GroupStats:
    """``trades`` summed up under ``key``: count, wins (PnL > 0), cost, fees, PnL."""
    rows = list(trades)
    return GroupStats(
        key=key,
        positions=len(rows),
        wins=sum(1 for t in rows if t.pnl_micro > 0),
        cost_micro=sum(t.cost_micro for t in rows),
        fees_micro=sum(t.fees_micro for t in rows),
        pnl_micro=sum(t.pnl_micro for t in rows),
    )


def group_by(
    trades: Iterable[TradeRow], key: Callable[[TradeRow], str]
) -> tuple[GroupStats, ...]:
    """One :class:`GroupStats` per ``key`` value, sorted by it."""
    groups: dict[str, list[TradeRow]] = {}
    for t in trades:
        groups.setdefault(key(t), []).append(t)
    return tuple(group_stats(k, members) for k, members in sorted(groups.items()))


def _ratio(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def group_json(group: GroupStats) -> dict[str, Any]:
    """A group's figures for ``summary.json`` (amounts as exact decimal strings)."""
    return {
        "key": group.key,
        "trades": group.positions,
        "wins": group.wins,
        "win_rate": _ratio(group.win_rate),
        "cost": micro_str(group.cost_micro),
        "fees": micro_str(group.fees_micro),
        "pnl": micro_str(group.pnl_micro),
        "roi": _ratio(group.roi),
    }


# --- Baselines ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BaselineRules:
    """How the baselines enter: the run's seed, the profile's edge gates and entry period,
    and the stake (None: :func:`baseline_stake` of the bot's trades)."""

    seed: int = 0
    min_edge: float = 0.03
    losing_side_min_edge: float = 0.06
    entry_min_elapsed_s: float = 60
    entry_max_elapsed_s: float = 780
    stake_micro: int | None = None


def is_entry_point(row: DecisionRow, rules: BaselineRules) -> bool:
    """A decision a baseline can enter on: inside the entry period, a two-sided Up book,
    a fee rate, and a window with an outcome."""
    bid, ask, rate = row.up_bid_micro, row.up_ask_micro, row.fee_rate_micro
    return (
        row.window_start is not None
        and row.outcome in SIDES
        and row.elapsed_s is not None
        and rules.entry_min_elapsed_s <= row.elapsed_s <= rules.entry_max_elapsed_s
        and bid is not None
        and ask is not None
        and 0 < bid < ask < MICRO
        and rate is not None
        and 0 <= rate <= MICRO
    )


class EntryPoints:
    """The first entry point of each window (symbol, start), as decisions stream past."""

    __slots__ = ("_first", "rules")

    def __init__(self, rules: BaselineRules) -> None:
        self.rules = rules
        self._first: dict[tuple[str, int], DecisionRow] = {}

    def add(self, row: DecisionRow) -> None:
        """Keep ``row`` if it is its window's first entry point."""
        if is_entry_point(row, self.rules):
            self._first.setdefault((row.symbol, row.window_start or 0), row)

    def wants(self, symbol: str, window_start: int, elapsed_s: float) -> bool:
        """Could a decision ``elapsed_s`` into window (``symbol``, ``window_start``) be
        kept? Inside the entry period, and none kept yet: cheap, before the decision is
        read in full for :meth:`add`."""
        rules = self.rules
        return (
            rules.entry_min_elapsed_s <= elapsed_s <= rules.entry_max_elapsed_s
            and (symbol, window_start) not in self._first
        )

    def rows(self) -> list[DecisionRow]:
        """The kept decisions by window start, then symbol."""
        return sorted(self._first.values(), key=lambda r: (r.window_start or 0, r.symbol))


def entry_points(rows: Iterable[DecisionRow], rules: BaselineRules) -> list[DecisionRow]:
    """The first entry point of each window in ``rows`` (see :class:`EntryPoints`)."""
    points = EntryPoints(rules)
    for row in rows:
        points.add(row)
    return points.rows()


def side_ask(row: DecisionRow, side: str) -> int:
    """The ask of ``side``'s token: Up's ask, or 1 − Up's bid for Down."""
    if side == "UP":
        return int(row.up_ask_micro or 0)
    return MICRO - int(row.up_bid_micro or 0)


def favourite_side(row: DecisionRow) -> str | None:
    """The side the market prices above 0.50 (by the Up mid); None at exactly 0.50."""
    twice_mid = int(row.up_bid_micro or 0) + int(row.up_ask_micro or 0)
    if twice_mid == MICRO:
        return None
    return "UP" if twice_mid > MICRO else "DOWN"


def fair_value_side(row: DecisionRow, rules: BaselineRules) -> str | None:
    """The side whose fair value beats its ask plus the taker fee by the edge gate
    (``min_edge``, or ``losing_side_min_edge`` below 0.50): EV per share as the strategy
    computes it for a taker, :func:`~src.trading.logic.ev_per_share`. The larger margin
    wins if both sides pass; None if neither does."""
    if row.fair_value is None or not math.isfinite(row.fair_value):
        return None
    rate = Decimal(int(row.fee_rate_micro or 0)) / MICRO
    p_up = Decimal(repr(row.fair_value))
    best, best_margin = None, Decimal(0)
    for side in SIDES:
        price = Decimal(side_ask(row, side)) / MICRO
        probability = p_up if side == "UP" else 1 - p_up
        gate = rules.min_edge if price >= Decimal("0.5") else rules.losing_side_min_edge
        ev = ev_per_share(probability, price, OrderStyle.TAKER, rate, Decimal(0))
        margin = ev - Decimal(repr(gate))
        if margin >= 0 and (best is None or margin > best_margin):
            best, best_margin = side, margin
    return best


@dataclass(frozen=True, slots=True)
class HeldTrade:
    """One baseline trade, bought as a taker and held to settlement."""

    side: str
    shares_micro: int
    cost_micro: int
    fee_micro: int  # the share fee's value at the entry price, as the ledger books it
    pnl_micro: int


def hold_to_settlement(
    side: str, ask_micro: int, rate_micro: int, stake_micro: int, won: bool
) -> HeldTrade | None:
    """Spend up to ``stake`` on ``side`` at ``ask`` (whole lots) and hold to settlement.

    The venue takes a taker's fee **in shares** on a BUY
    (:func:`~src.sim.venue.fees.fee_in_shares`), so the position keeps ``shares − fee``,
    each worth 1 if the side won: ``pnl = (shares − fee shares)·[won] − cost``. None when
    the stake buys no lot.
    """
    shares = affordable_lots(stake_micro, ask_micro)
    if shares <= 0:
        return None
    cost = notional(shares, ask_micro)
    fee_shares = fee_in_shares(shares, ask_micro, rate_micro)
    payout = shares - fee_shares if won else 0
    return HeldTrade(side, shares, cost, notional(fee_shares, ask_micro), payout - cost)


def baseline_stake(trades: Iterable[TradeRow]) -> int:
    """The baselines' stake per trade: the median cost of the bot's entries (the lower
    middle one of an even count), or $10 when it made none."""
    costs = [t.cost_micro for t in trades if t.cost_micro > 0]
    return int(statistics.median_low(costs)) if costs else DEFAULT_BASELINE_STAKE_MICRO


def baselines(
    entries: Sequence[DecisionRow], rules: BaselineRules, stake_micro: int
) -> tuple[GroupStats, ...]:
    """``favourite``, ``fair_value`` and ``random`` (seeded by ``rules.seed``) over the
    windows' entry points, one trade of ``stake`` at most per window each."""
    rng = random.Random(rules.seed)
    pickers: dict[str, Callable[[DecisionRow], str | None]] = {
        "favourite": favourite_side,
        "fair_value": lambda row: fair_value_side(row, rules),
        "random": lambda _row: rng.choice(SIDES),  # one draw per window, in order
    }
    held: dict[str, list[HeldTrade]] = {name: [] for name in pickers}
    for row in entries:
        for name, pick in pickers.items():
            side = pick(row)
            if side is None:
                continue
            trade = hold_to_settlement(
                side,
                side_ask(row, side),
                int(row.fee_rate_micro or 0),
                stake_micro,
                side == row.outcome,
            )
            if trade is not None:
                held[name].append(trade)
    return tuple(
        GroupStats(
            key=name,
            positions=len(trades),
            wins=sum(1 for t in trades if t.pnl_micro > 0),
            cost_micro=sum(t.cost_micro for t in trades),
            fees_micro=sum(t.fee_micro for t in trades),
            pnl_micro=sum(t.pnl_micro for t in trades),
        )
        for name, trades in held.items()
    )


# --- Equity ------------------------------------------------------------------------------


def equity_curve(trades: list[TradeRow], start_micro: int) -> list[tuple[int, int]]:
    """(close time ms, equity) after each realised position, in time order."""
    closed = sorted(
        (t for t in trades if t.closed_ms is not None), key=lambda t: t.closed_ms
    )
    equity, points = start_micro, []
    for t in closed:
        equity += t.pnl_micro
        points.append((int(t.closed_ms or 0), equity))
    return points


def drawdown_curve(
    points: list[tuple[int, int]], start_micro: int
) -> list[tuple[int, int]]:
    """(time, fall from the highest equity so far) at each point of an equity curve that
    started at ``start_micro``; micro-units, never negative."""
    peak, curve = start_micro, []
    for at, equity in points:
        peak = max(peak, equity)
        curve.append((at, peak - equity))
    return curve


def max_drawdown(points: list[tuple[int, int]], start_micro: int) -> int:
    """The largest fall from a peak of equity, micro-units."""
    return max((fall for _, fall in drawdown_curve(points, start_micro)), default=0)


def sharpe(points: list[tuple[int, int]], start_micro: int) -> float | None:
    """Annualised Sharpe ratio of daily equity returns (None with fewer than 2 days)."""
    if not points:
        return None
    daily: dict[int, int] = {}
    for at_ms, equity in points:
        daily[at_ms // 86_400_000] = equity
    values = [start_micro, *daily.values()]
    returns = [b / a - 1 for a, b in itertools.pairwise(values) if a > 0]
    if len(returns) < 2:
        return None
    mean = sum(returns) / len(returns)
    var = sum((x - mean) ** 2 for x in returns) / (len(returns) - 1)
    return None if var <= 0 else mean / math.sqrt(var) * math.sqrt(365)


# --- The outputs -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BacktestReport:
    """What :func:`write_outputs` computed: the summary as written, and the tables behind
    it in micro-units for the terminal."""

    summary: dict[str, Any]
    total: GroupStats
    by_symbol: tuple[GroupStats, ...]
    by_exit_reason: tuple[GroupStats, ...]
    calibration: tuple[CalibrationBucket, ...]  # both methods
    brier_by_minute: tuple[MinuteBrier, ...]
    baselines: tuple[GroupStats, ...]
    stake_micro: int
    fees_micro: int
    max_drawdown_micro: int
    files: tuple[str, ...]


class DecisionTally:
    """Every figure the report draws from the decisions — each method's Brier score and
    calibration, the Brier score by minute, the baselines' entry points — fed the
    ledger's rows (:func:`ledger_decisions`) one at a time.

    The same figures as giving each row's :func:`decision_row` to :class:`Brier`,
    :class:`CalibrationTally`, :class:`BrierByMinute` and :class:`EntryPoints`, but a long
    run has millions of rows: only the few a window keeps (its first of a minute mark, its
    entry point) are read in full; the rest give their values straight to the tallies.
    """

    __slots__ = ("briers", "by_minute", "calibration", "points")

    def __init__(self, rules: BaselineRules) -> None:
        self.briers = {m: Brier(m) for m in METHODS}
        self.calibration = {m: CalibrationTally(m) for m in METHODS}
        self.by_minute = BrierByMinute()
        self.points = EntryPoints(rules)

    def add(self, r: Sequence[Any]) -> None:
        """Tally one :data:`_DECISIONS_SQL` row."""
        outcome = r[10]
        if outcome not in SIDES:  # every figure is scored against the window's outcome
            return
        dir_a, p_a, dir_b, p_b, elapsed, bid, ask, _ = _inputs(r[12])
        p_a, p_b = _float(p_a), _float(p_b)
        self.briers["additive"].score(p_a, outcome)
        self.briers["bayesian"].score(p_b, outcome)
        self.calibration["additive"].record(dir_a, r[4], outcome)
        self.calibration["bayesian"].record(dir_b, r[5], outcome)
        elapsed = _float(elapsed)
        if elapsed is None or r[11] is None:  # neither a minute mark nor an entry point
            return
        symbol, window_start = r[0], int(r[11]) // 1000
        minute = self.by_minute.first_of_minute(symbol, window_start, elapsed)
        if minute is not None:
            said = forecast_values(_micro(bid), _micro(ask), r[6], p_a, p_b)
            self.by_minute.score(minute, outcome, said)
        if self.points.wants(symbol, window_start, elapsed):
            self.points.add(decision_row(r))


def write_ledger_decisions(
    path: Path, rows: Iterable[Sequence[Any]], tally: DecisionTally
) -> int:
    """``decisions.csv`` from the ledger's rows (:func:`ledger_decisions`), each also given
    to ``tally``; returns the row count."""
    n = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(DECISION_COLUMNS)
        for r in rows:
            out.writerow(decision_fields(r))
            tally.add(r)
            n += 1
    return n


def _figure_title(meta: dict[str, Any], total: GroupStats) -> str:
    win = "—" if total.win_rate is None else f"{total.win_rate:.1%}"
    return (
        f"Backtest — profile {meta.get('profile', '?')}, seed {meta.get('seed', '?')}: "
        f"{total.positions} closed positions, PnL {total.pnl_micro / MICRO:+.2f} USDC, "
        f"win rate {win}"
    )


def write_outputs(
    out_dir: Path,
    start_micro: int,
    windows: int,
    meta: dict[str, Any],
    rules: BaselineRules | None = None,
) -> BacktestReport:
    """Write ``trades.csv``, ``decisions.csv``, ``summary.json`` and ``report.png`` into
    ``out_dir`` from the configured database; returns what they hold."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rules = rules or BaselineRules(seed=int(meta.get("seed", 0) or 0))
    tally = DecisionTally(rules)
    with db_connection(readonly=True) as cur:
        trades = trade_rows(cur)
        write_trades(out_dir / "trades.csv", trades)
        decisions = write_ledger_decisions(
            out_dir / "decisions.csv", ledger_decisions(cur), tally
        )
    closed = closed_trades(trades)
    total = group_stats("total", closed)
    fees = sum(t.fees_micro for t in trades)
    cost = sum(t.cost_micro for t in trades)
    curve = equity_curve(trades, start_micro)
    drawdown = drawdown_curve(curve, start_micro)
    worst = max((fall for _, fall in drawdown), default=0)
    stake = rules.stake_micro or baseline_stake(trades)
    compared = baselines(tally.points.rows(), rules, stake)
    calibrated = {m: tally.calibration[m].buckets() for m in METHODS}
    by_symbol = group_by(closed, lambda t: t.symbol)
    by_reason = group_by(closed, lambda t: t.exit_reason)
    brier = {m: tally.briers[m].value for m in METHODS}
    minute_table = tally.by_minute.table()
    summary: dict[str, Any] = {
        "windows": windows,
        "decisions": decisions,
        "trades": len(trades),
        "win_rate": _ratio(total.win_rate),
        "pnl": str(Decimal(total.pnl_micro) / MICRO),
        "roi": round(total.pnl_micro / cost, 6) if cost else None,
        "max_drawdown": str(Decimal(worst) / MICRO),
        "sharpe": None if (s := sharpe(curve, start_micro)) is None else round(s, 4),
        "fees_paid": str(Decimal(fees) / MICRO),
        "brier_additive": _ratio(brier["additive"]),
        "brier_bayesian": _ratio(brier["bayesian"]),
        "brier_by_minute": [m.as_json() for m in minute_table],
        "calibration_additive": calibration_json(calibrated["additive"]),
        "calibration_bayesian": calibration_json(calibrated["bayesian"]),
        "by_symbol": [group_json(g) for g in by_symbol],
        "by_exit_reason": [group_json(g) for g in by_reason],
        "baseline_stake": micro_str(stake),
        "baselines": {g.key: group_json(g) for g in compared},
        **meta,
    }
    (out_dir / "summary.json").write_text(
        json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    from src.reports.backtest_plot import write_backtest_png  # matplotlib: only here

    calibration_all = calibrated["additive"] + calibrated["bayesian"]
    write_backtest_png(
        out_dir / "report.png",
        start_micro,
        curve,
        drawdown,
        calibration_all,
        by_reason,
        _figure_title(meta, total),
        minute_table,
    )
    return BacktestReport(
        summary=summary,
        total=total,
        by_symbol=by_symbol,
        by_exit_reason=by_reason,
        calibration=calibration_all,
        brier_by_minute=minute_table,
        baselines=compared,
        stake_micro=stake,
        fees_micro=fees,
        max_drawdown_micro=worst,
        files=("trades.csv", "decisions.csv", "summary.json", "report.png", "ledger.db"),
    )
