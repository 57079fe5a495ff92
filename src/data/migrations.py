"""Versioned SQL migrations: numbered files in ``migrations/`` applied in order.

Each applied file is recorded in ``schema_version`` (version, name, checksum, applied_at).
The runner is idempotent, refuses a database newer than the code, refuses an applied
migration whose file has changed since, and backs the database file up before it changes
anything. Each migration runs in its own transaction, so a failing one leaves the database
at the previous version.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from src.data.db_connection import connect

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
_FILE_RE = re.compile(r"^(?P<version>\d{3,})_(?P<name>[a-z0-9_]+)\.sql$")

_CREATE_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    checksum   TEXT NOT NULL,
    applied_at TEXT NOT NULL
)
"""


class MigrationError(RuntimeError):
    """The database cannot be brought to the code's schema; nothing was changed."""


class DatabaseTooNewError(MigrationError):
    """The database was migrated by a newer PolyFlup than this one."""


class TamperedMigrationError(MigrationError):
    """An already-applied migration file no longer matches what was applied."""


@dataclass(frozen=True)
class Migration:
    """One migration file."""

    version: int
    name: str
    path: Path
    checksum: str

    @property
    def sql(self) -> str:
        """The file's SQL text."""
        return self.path.read_text(encoding="utf-8")


@dataclass(frozen=True)
class MigrationReport:
    """What a run of the migrations did."""

    previous_version: int
    current_version: int
    applied: list[Migration] = field(default_factory=list)
    backup: Path | None = None


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files in ``directory``, ordered by version (gaps and dupes refused)."""
    found: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_RE.match(path.name)
        if not match:
            raise MigrationError(
                f"{path.name}: migration files are named NNN_lower_snake_name.sql"
            )
        data = path.read_bytes()
        found.append(
            Migration(
                int(match["version"]), match["name"], path, hashlib.sha256(data).hexdigest()
            )
        )
    found.sort(key=lambda m: m.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise MigrationError(
                f"{migration.path.name}: expected version {expected:03d} next "
                "(versions start at 001 and have no gaps or duplicates)"
            )
    return found


def code_version(directory: Path = MIGRATIONS_DIR) -> int:
    """The schema version this code expects."""
    migrations = discover(directory)
    return migrations[-1].version if migrations else 0


def current_version(conn: sqlite3.Connection) -> int:
    """The database's schema version (0 for an empty database)."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_version'"
    ).fetchone()
    if not exists:
        return 0
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def _check_applied(conn: sqlite3.Connection, migrations: list[Migration]) -> int:
    by_version = {m.version: m for m in migrations}
    applied = conn.execute(
        "SELECT version, name, checksum FROM schema_version ORDER BY version"
    ).fetchall()
    newest = max((row[0] for row in applied), default=0)
    if newest > (migrations[-1].version if migrations else 0):
        raise DatabaseTooNewError(
            f"the database is at schema version {newest}, newer than this PolyFlup "
            f"knows ({code_version_text(migrations)}); upgrade PolyFlup or use another "
            "database (POLYFLUP_DB)"
        )
    for version, name, checksum in applied:
        migration = by_version.get(version)
        if migration is None or migration.checksum != checksum:
            raise TamperedMigrationError(
                f"migration {version:03d}_{name} was applied, but its file has changed "
                "since; restore the file (never edit an applied migration: add a new one)"
            )
    return newest


def code_version_text(migrations: list[Migration]) -> str:
    """``'version 3'`` for messages."""
    return f"version {migrations[-1].version if migrations else 0}"


def _backup(conn: sqlite3.Connection, path: Path, version: int) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = path.with_name(f"{path.name}.bak-v{version}-{stamp}")
    backup = sqlite3.connect(target)
    try:
        conn.backup(backup)
    finally:
        backup.close()
    target.chmod(0o600)
    return target


def _statements(sql: str) -> list[str]:
    """Split a script into statements without ``executescript`` (which commits)."""
    statements, buffer = [], ""
    for line in sql.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip() and not all(
        part.strip().startswith("--") or not part.strip() for part in buffer.splitlines()
    ):
        raise MigrationError(f"incomplete SQL statement at the end: {buffer.strip()[:60]}")
    return statements


def run_migrations(
    db_path: Path, directory: Path = MIGRATIONS_DIR, backup: bool = True
) -> MigrationReport:
    """Bring ``db_path`` to the code's schema version; a no-op when it is already there."""
    migrations = discover(directory)
    existed = db_path.exists() and db_path.stat().st_size > 0
    conn = connect(db_path)
    try:
        conn.execute(_CREATE_VERSION_TABLE)
        previous = _check_applied(conn, migrations)
        pending = [m for m in migrations if m.version > previous]
        backup_path = None
        if pending and existed and backup:
            backup_path = _backup(conn, db_path, previous)
        for migration in pending:
            _apply(conn, migration)
        return MigrationReport(previous, current_version(conn), pending, backup_path)
    finally:
        conn.close()


def _apply(conn: sqlite3.Connection, migration: Migration) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Another process may have applied it while we waited for the write lock.
        if current_version(conn) >= migration.version:
            conn.rollback()
            return
        for statement in _statements(migration.sql):
            conn.execute(statement)
        conn.execute(
            "INSERT INTO schema_version (version, name, checksum, applied_at) "
            "VALUES (?, ?, ?, ?)",
            (
                migration.version,
                migration.name,
                migration.checksum,
                datetime.now(UTC).isoformat(timespec="seconds"),
            ),
        )
    except sqlite3.Error as exc:
        conn.rollback()
        raise MigrationError(
            f"migration {migration.path.name} failed: {exc}; the database is unchanged "
            f"at version {current_version(conn)}"
        ) from exc
    else:
        conn.commit()
