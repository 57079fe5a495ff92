"""db_connection(): transactions, pragmas and many threads writing at once."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from src.data.db_connection import (
    DatabaseNotConfiguredError,
    close_thread_connection,
    configure_database,
    db_connection,
)
from src.data.migrations import run_migrations


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "bot.db"
    run_migrations(path)
    configure_database(path)
    return path


def count(table: str) -> int:
    with db_connection(readonly=True) as cur:
        return cur.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def add_event(cur: sqlite3.Cursor, kind: str = "test") -> None:
    cur.execute(
        "INSERT INTO audit_events (at_ms, kind, message) VALUES (0, ?, 'm')", (kind,)
    )


def test_commits_on_success(db: Path) -> None:
    with db_connection() as cur:
        add_event(cur)
    assert count("audit_events") == 1


def test_rolls_back_on_error(db: Path) -> None:
    with pytest.raises(RuntimeError):
        with db_connection() as cur:
            add_event(cur)
            raise RuntimeError("boom")
    assert count("audit_events") == 0


def test_a_failed_nested_block_undoes_only_its_own_writes(db: Path) -> None:
    """A worker's transaction inside a lockstep tick's: its error undoes what it wrote,
    as its own transaction would have, and the tick keeps the rest."""
    with db_connection() as outer:
        add_event(outer, "before")
        with pytest.raises(RuntimeError):
            with db_connection() as inner:
                add_event(inner, "inner")
                with db_connection() as innermost:
                    add_event(innermost, "innermost")
                raise RuntimeError("the worker fails")
        with db_connection() as again:  # the same depth can be entered again
            add_event(again, "after")
    with db_connection(readonly=True) as cur:
        kinds = [r[0] for r in cur.execute("SELECT kind FROM audit_events ORDER BY id")]
    assert kinds == ["before", "after"]


def test_nested_use_joins_the_outer_transaction(db: Path) -> None:
    with pytest.raises(RuntimeError):
        with db_connection() as outer:
            add_event(outer)
            with db_connection() as inner:
                add_event(inner)
            raise RuntimeError("outer fails after inner finished")
    assert count("audit_events") == 0


def test_pragmas(db: Path) -> None:
    with db_connection(readonly=True) as cur:
        assert cur.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert cur.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert cur.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000


def test_one_connection_per_thread(db: Path) -> None:
    seen: list[int] = []

    def grab() -> None:
        with db_connection(readonly=True) as cur:
            seen.append(id(cur.connection))
        close_thread_connection()

    with db_connection(readonly=True) as cur:
        mine = id(cur.connection)
    with db_connection(readonly=True) as cur:
        assert id(cur.connection) == mine
    t = threading.Thread(target=grab)
    t.start()
    t.join()
    assert seen and seen[0] != mine


def test_unconfigured_use_is_a_clear_error(tmp_path: Path) -> None:
    import src.data.db_connection as module

    saved = module._db_path
    module._db_path = None
    close_thread_connection()
    try:
        with pytest.raises(DatabaseNotConfiguredError):
            with db_connection():
                pass
    finally:
        module._db_path = saved


def test_concurrent_writers_never_hit_database_is_locked(db: Path) -> None:
    threads, per_thread = 8, 150
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads + 1)

    def writer(n: int) -> None:
        try:
            barrier.wait()
            for i in range(per_thread):
                # read-modify-write inside one transaction, like a position update
                with db_connection() as cur:
                    add_event(cur, f"w{n}")
                    cur.execute("SELECT COUNT(*) FROM audit_events").fetchone()
                    if i % 10 == 0:
                        add_event(cur, f"w{n}-extra")
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            close_thread_connection()

    def reader() -> None:
        barrier.wait()
        for _ in range(per_thread):
            with db_connection(readonly=True) as cur:
                cur.execute("SELECT COUNT(*) FROM audit_events").fetchone()
        close_thread_connection()

    workers = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
    workers.append(threading.Thread(target=reader))
    # the reader joins the barrier as the extra party
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    assert count("audit_events") == threads * (per_thread + per_thread // 10)
