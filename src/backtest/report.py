"""A backtest's outputs, read from the ledger it left: ``trades.csv`` (one row per
position), ``decisions.csv`` (one row per evaluated decision, PASS included, with the
window's real outcome) and ``summary.json`` (the headline figures, the settings, the seed).

Everything is computed from the ledger's fills, fees and settlements — the same numbers
``polyflup positions`` and ``stats`` would show — so the files add up to each other.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from src.data.db_connection import db_connection
from src.utils.money import MICRO, micro_str

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


def _p_up(signals_inputs: str | None, method: str) -> float | None:
    if not signals_inputs:
        return None
    try:
        value = json.loads(signals_inputs).get(method, {}).get("p_up")
    except (ValueError, AttributeError):
        return None
    return float(value) if isinstance(value, (int, float)) else None


@dataclass
class _Brier:
    total: float = 0.0
    count: int = 0

    def add(self, p: float | None, up: bool) -> None:
        if p is None or not math.isfinite(p):
            return
        self.total += (p - (1.0 if up else 0.0)) ** 2
        self.count += 1

    @property
    def value(self) -> float | None:
        return self.total / self.count if self.count else None


def write_decisions(path: Path, cur: sqlite3.Cursor) -> tuple[int, _Brier, _Brier]:
    """``decisions.csv``; returns the row count and both methods' Brier accumulators
    (each decision's P(Up) against the window's outcome)."""
    additive, bayesian = _Brier(), _Brier()
    n = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(DECISION_COLUMNS)
        for r in cur.execute(
            "SELECT d.symbol, d.decided_ms, d.action, d.reason, d.confidence_additive, "
            "d.confidence_bayesian, d.fair_value, d.price_micro, d.fee_micro, "
            "d.expected_value, w.outcome, d.inputs_json FROM decisions d "
            "LEFT JOIN windows w ON w.id = d.window_id ORDER BY d.id"
        ):
            outcome = r[10] or ""
            if outcome:
                additive.add(_p_up(r[11], "additive"), outcome == "UP")
                bayesian.add(_p_up(r[11], "bayesian"), outcome == "UP")
            out.writerow(
                [
                    r[0],
                    _iso(r[1] / 1000),
                    r[2],
                    r[3],
                    _num(r[4]),
                    _num(r[5]),
                    _num(r[6]),
                    "" if r[7] is None else micro_str(r[7]),
                    "" if r[8] is None else micro_str(r[8]),
                    _num(r[9]),
                    outcome,
                ]
            )
            n += 1
    return n, additive, bayesian


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


def max_drawdown(points: list[tuple[int, int]], start_micro: int) -> int:
    """The largest fall from a peak of equity, micro-units."""
    peak, worst = start_micro, 0
    for _, equity in points:
        peak = max(peak, equity)
        worst = max(worst, peak - equity)
    return worst


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


def write_outputs(
    out_dir: Path, start_micro: int, windows: int, meta: dict[str, Any]
) -> dict[str, Any]:
    """Write the three files into ``out_dir`` from the configured database; returns the
    summary."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with db_connection(readonly=True) as cur:
        trades = trade_rows(cur)
        write_trades(out_dir / "trades.csv", trades)
        decisions, additive, bayesian = write_decisions(out_dir / "decisions.csv", cur)
    closed = [t for t in trades if t.closed_ms is not None]
    pnl = sum(t.pnl_micro for t in closed)
    fees = sum(t.fees_micro for t in trades)
    cost = sum(t.cost_micro for t in trades)
    curve = equity_curve(trades, start_micro)
    wins = sum(1 for t in closed if t.pnl_micro > 0)
    summary: dict[str, Any] = {
        "windows": windows,
        "decisions": decisions,
        "trades": len(trades),
        "win_rate": round(wins / len(closed), 6) if closed else None,
        "pnl": str(Decimal(pnl) / MICRO),
        "roi": round(pnl / cost, 6) if cost else None,
        "max_drawdown": str(Decimal(max_drawdown(curve, start_micro)) / MICRO),
        "sharpe": None if (s := sharpe(curve, start_micro)) is None else round(s, 4),
        "fees_paid": str(Decimal(fees) / MICRO),
        "brier_additive": None if additive.value is None else round(additive.value, 6),
        "brier_bayesian": None if bayesian.value is None else round(bayesian.value, 6),
        **meta,
    }
    (out_dir / "summary.json").write_text(
        json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return summary
