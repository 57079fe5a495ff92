"""Performance figures from the ledger: by symbol, by day, by exit reason, and calibration.

Everything comes from positions (real fills and fees) and the decisions' recorded
confidences against the windows' real outcomes — never from midpoints.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from src.data.ledger_store import cash_balance

BUCKETS = (0.50, 0.55, 0.60, 0.65, 0.70, 0.75, 0.80, 0.85)


@dataclass(frozen=True, slots=True)
class GroupStats:
    """Closed positions of one group (a symbol, a UTC day, an exit reason, or all)."""

    key: str
    positions: int
    wins: int
    cost_micro: int
    fees_micro: int
    pnl_micro: int

    @property
    def win_rate(self) -> float | None:
        """Share of positions with positive PnL."""
        return None if not self.positions else self.wins / self.positions

    @property
    def roi(self) -> float | None:
        """PnL over the cash put in."""
        return None if not self.cost_micro else self.pnl_micro / self.cost_micro


@dataclass(frozen=True, slots=True)
class CalibrationBucket:
    """Decisions whose confidence fell in ``[low, high)``, against what happened."""

    method: str
    low: float
    high: float
    count: int
    mean_confidence: float
    hit_rate: float


@dataclass(frozen=True, slots=True)
class ClosedPosition:
    """One closed position's realised PnL at its close time (for the PnL curve)."""

    closed_ms: int
    symbol: str
    pnl_micro: int


@dataclass(frozen=True, slots=True)
class Stats:
    """Everything ``polyflup stats`` shows."""

    cash_micro: int
    open_positions: int
    total: GroupStats
    by_symbol: tuple[GroupStats, ...]
    by_day: tuple[GroupStats, ...]
    by_exit_reason: tuple[GroupStats, ...]
    calibration: tuple[CalibrationBucket, ...]
    closed: tuple[ClosedPosition, ...] = ()  # by close time, oldest first


# The money a closed position put in: the cost of every buy fill on its token.
_CLOSED = """
SELECT p.symbol, strftime('%Y-%m-%d', p.closed_ms / 1000, 'unixepoch') AS day,
       COALESCE(p.closed_ms, p.updated_ms) AS closed_ms,
       COALESCE(p.exit_reason, 'unknown') AS reason, p.realized_pnl_micro AS pnl,
       p.fees_micro AS fees,
       COALESCE((SELECT SUM(f.notional_micro) FROM fills f WHERE f.token_id = p.token_id
                 AND f.side = 'BUY' AND f.status != 'FAILED'), 0) AS cost
FROM positions p WHERE p.status IN ('closed', 'settled', 'redeemed')
ORDER BY closed_ms, p.id
"""


def _group(rows: list[sqlite3.Row], column: str) -> tuple[GroupStats, ...]:
    groups: dict[str, list[sqlite3.Row]] = {}
    for row in rows:
        groups.setdefault(str(row[column]), []).append(row)
    return tuple(_summarise(key, members) for key, members in sorted(groups.items()))


def _summarise(key: str, rows: list[sqlite3.Row]) -> GroupStats:
    return GroupStats(
        key=key,
        positions=len(rows),
        wins=sum(1 for r in rows if r["pnl"] > 0),
        cost_micro=sum(r["cost"] for r in rows),
        fees_micro=sum(r["fees"] for r in rows),
        pnl_micro=sum(r["pnl"] for r in rows),
    )


def calibration(cur: sqlite3.Cursor) -> tuple[CalibrationBucket, ...]:
    """Confidence buckets of both methods against the realised outcome of traded windows.

    A decision to buy UP is a hit when the window resolved UP (and DOWN likewise), so a
    calibrated 0.70 confidence should hit about 70% of the time.
    """
    rows = cur.execute(
        "SELECT d.action, d.confidence_additive, d.confidence_bayesian, w.outcome "
        "FROM decisions d JOIN windows w ON w.id = d.window_id "
        "WHERE d.action IN ('UP', 'DOWN') AND w.outcome IS NOT NULL"
    ).fetchall()
    buckets = []
    for method, index in (("additive", 1), ("bayesian", 2)):
        for low, high in zip(BUCKETS, (*BUCKETS[1:], 1.0001), strict=True):
            members = [r for r in rows if r[index] is not None and low <= r[index] < high]
            if not members:
                continue
            hits = sum(1 for r in members if r[0] == r[3])
            buckets.append(
                CalibrationBucket(
                    method,
                    low,
                    min(high, 1.0),
                    len(members),
                    sum(r[index] for r in members) / len(members),
                    hits / len(members),
                )
            )
    return tuple(buckets)


def compute_stats(cur: sqlite3.Cursor) -> Stats:
    """All figures, read in one (read-only) transaction."""
    rows = cur.execute(_CLOSED).fetchall()
    open_count = cur.execute(
        "SELECT COUNT(*) FROM positions WHERE status = 'open'"
    ).fetchone()[0]
    return Stats(
        cash_micro=cash_balance(cur),
        open_positions=int(open_count),
        total=_summarise("all", rows),
        by_symbol=_group(rows, "symbol"),
        by_day=_group(rows, "day"),
        by_exit_reason=_group(rows, "reason"),
        calibration=calibration(cur),
        closed=tuple(ClosedPosition(r["closed_ms"], r["symbol"], r["pnl"]) for r in rows),
    )
