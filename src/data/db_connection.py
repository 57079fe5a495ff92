"""The database connection: one sqlite3 connection per thread, used through ``db_connection()``.

Every connection runs in WAL mode with foreign keys on and a busy timeout, so the worker
threads and the read-only CLI commands can share one file. ``db_connection()`` opens a
transaction, commits it on success and rolls it back on any exception; write functions take
the active cursor instead of committing themselves. Writers start with ``BEGIN IMMEDIATE``:
taking the write lock up front is what makes the busy timeout effective (a deferred
transaction that later upgrades to a writer fails at once with "database is locked").
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BUSY_TIMEOUT_MS = 30_000

_local = threading.local()
_config_lock = threading.Lock()
_db_path: Path | None = None


class DatabaseNotConfiguredError(RuntimeError):
    """``db_connection()`` was used before ``configure_database()``."""


def configure_database(path: Path | str) -> Path:
    """Point every thread's ``db_connection()`` at ``path`` (closing this thread's old one)."""
    global _db_path
    resolved = Path(path).expanduser().resolve()
    with _config_lock:
        _db_path = resolved
    close_thread_connection()
    return resolved


def database_path() -> Path:
    """The configured database file."""
    if _db_path is None:
        raise DatabaseNotConfiguredError("configure_database(path) was not called")
    return _db_path


def connect(path: Path) -> sqlite3.Connection:
    """Open a connection with PolyFlup's pragmas (also used by the migration runner)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    is_new = not path.exists()
    conn = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=True
    )
    if is_new:
        # The ledger is private: owner read/write only.
        os.chmod(path, 0o600)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def _thread_connection() -> sqlite3.Connection:
    path = database_path()
    conn: sqlite3.Connection | None = getattr(_local, "conn", None)
    if conn is None or getattr(_local, "path", None) != path:
        close_thread_connection()
        conn = connect(path)
        _local.conn, _local.path, _local.depth = conn, path, 0
    return conn


def close_thread_connection() -> None:
    """Close this thread's connection (workers call it when they stop)."""
    conn = getattr(_local, "conn", None)
    if conn is not None:
        conn.close()
    _local.conn, _local.path, _local.depth = None, None, 0


@contextmanager
def db_connection(readonly: bool = False) -> Iterator[sqlite3.Cursor]:
    """Yield a cursor inside a transaction: commit on success, roll back on error.

    Nested use in the same thread joins the outer transaction inside a savepoint: an
    error rolls back the inner block's writes (as its own transaction would have) and
    goes on up; success leaves them to the outer commit. ``readonly=True`` starts a
    deferred transaction, which never waits for writers (WAL readers see a snapshot).
    """
    conn = _thread_connection()
    depth = getattr(_local, "depth", 0)
    cursor = conn.cursor()
    if depth:
        savepoint = f"nested_{depth}"
        conn.execute(f"SAVEPOINT {savepoint}")
        _local.depth = depth + 1
        try:
            yield cursor
        except BaseException:
            conn.execute(f"ROLLBACK TO {savepoint}")
            conn.execute(f"RELEASE {savepoint}")
            raise
        else:
            conn.execute(f"RELEASE {savepoint}")
        finally:
            _local.depth = depth
            cursor.close()
        return
    conn.execute("BEGIN" if readonly else "BEGIN IMMEDIATE")
    _local.depth = 1
    try:
        yield cursor
    except BaseException:
        conn.rollback()
        raise
    else:
        conn.commit()
    finally:
        _local.depth = 0
        cursor.close()
