"""Lockstep's commit batches: a backtest commits its ledger once every so many ticks.

The workers are stand-ins that write one audit event each step, so what another
connection sees after each tick tells when the ledger was committed.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from src.backtest.lockstep import Lockstep
from src.data.db_connection import configure_database, db_connection
from src.data.migrations import run_migrations
from src.utils.clock import SimClock


class _Writer:
    """A worker whose step writes one audit event (or raises, when told to)."""

    def __init__(self, kind: str, fail_at: set[int] | None = None) -> None:
        self.kind = kind
        self.fail_at = fail_at or set()
        self.calls = 0

    def step(self) -> None:
        self.calls += 1
        with db_connection() as cur:
            cur.execute(
                "INSERT INTO audit_events (at_ms, kind, message) VALUES (0, ?, 'm')",
                (self.kind,),
            )
            if self.calls in self.fail_at:
                raise RuntimeError("worker failed")

    def drain(self) -> None:
        """The placer's turn: nothing queued."""


def _safe(worker: _Writer) -> SimpleNamespace:
    """A worker that swallows its own error, as the bot's workers do."""

    def step() -> None:
        with contextlib.suppress(RuntimeError):
            worker.step()

    return SimpleNamespace(step=step, drain=worker.drain)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.db"
    run_migrations(path)
    configure_database(path)
    return path


def _bot(clock: SimClock, signals: object | None = None) -> SimpleNamespace:
    return SimpleNamespace(
        clock=clock,
        poller=_Writer("poller"),
        signals=signals or _Writer("signals"),
        placer=_Writer("placer"),
        monitor=_Writer("monitor"),
        settler=_Writer("settler"),
    )


def _committed(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT COUNT(*) FROM audit_events").fetchone()[0]


def _advance(clock: SimClock) -> Callable[[float], float]:
    """The world's step: move the clock there."""

    def advance_to(when: float) -> float:
        clock.set(when)
        return clock.now()

    return advance_to


# what another connection sees after each of 10 ticks: 4 workers write once a tick
EVERY_TICK = [4, 8, 12, 16, 20, 24, 28, 32, 36, 40]
EVERY_FOURTH = [0, 0, 0, 0, 16, 16, 16, 16, 32, 32]  # a batch commits after its last


@pytest.mark.parametrize("per_commit, expected", [(1, EVERY_TICK), (4, EVERY_FOURTH)])
def test_other_connections_see_the_ledger_once_a_batch_commits(
    db: Path, per_commit: int, expected: list[int]
) -> None:
    clock = SimClock(start=1_000.0)
    bot = _bot(clock)
    seen: list[int] = []
    lockstep = Lockstep(bot, _advance(clock), 10.0, ticks_per_commit=per_commit)  # type: ignore[arg-type]
    lockstep.run_until(1_100.0, lambda now: seen.append(_committed(db)))
    assert lockstep.ticks == 10
    assert seen == expected
    assert _committed(db) == 40  # the last, partial batch is committed too


def test_a_failing_worker_undoes_only_its_own_writes_inside_a_batch(db: Path) -> None:
    clock = SimClock(start=1_000.0)
    failing = _Writer("signals", fail_at={2, 5})
    bot = _bot(clock, signals=_safe(failing))
    lockstep = Lockstep(bot, _advance(clock), 10.0, ticks_per_commit=8)  # type: ignore[arg-type]
    lockstep.run_until(1_100.0)
    with sqlite3.connect(db) as conn:
        kinds = dict(
            conn.execute("SELECT kind, COUNT(*) FROM audit_events GROUP BY kind").fetchall()
        )
    assert kinds == {"poller": 10, "signals": 8, "monitor": 10, "settler": 10}


def test_an_error_out_of_a_tick_rolls_back_only_the_open_batch(db: Path) -> None:
    clock = SimClock(start=1_000.0)
    bot = _bot(clock, signals=_Writer("signals", fail_at={6}))  # escapes the tick
    lockstep = Lockstep(bot, _advance(clock), 10.0, ticks_per_commit=4)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError):
        lockstep.run_until(1_100.0)
    assert _committed(db) == 16  # the first batch (4 ticks × 4 writers) was committed


def test_ticks_per_commit_must_be_positive() -> None:
    clock = SimClock(start=0.0)
    with pytest.raises(ValueError, match="ticks_per_commit"):
        Lockstep(_bot(clock), _advance(clock), 10.0, ticks_per_commit=0)  # type: ignore[arg-type]
