"""The migration runner against real sqlite files."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from src.data.migrations import (
    MIGRATIONS_DIR,
    DatabaseTooNewError,
    MigrationError,
    TamperedMigrationError,
    code_version,
    discover,
    run_migrations,
)

EXPECTED_TABLES = {
    "schema_version",
    "windows",
    "decisions",
    "orders",
    "fills",
    "positions",
    "settlements",
    "audit_events",
    "notifications",
    "cash_ledger",
}

# the shipped schema's version, and the next one a test may add
LATEST = max(m.version for m in discover(MIGRATIONS_DIR))
NEXT = LATEST + 1


@pytest.fixture
def migrations(tmp_path: Path) -> Path:
    """A private copy of the migrations folder the test may change."""
    target = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, target)
    return target


def tables(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {
            r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }


def test_from_empty_creates_every_table(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    report = run_migrations(db)
    assert report.previous_version == 0
    assert report.current_version == code_version() >= 1
    assert report.backup is None  # nothing to back up
    assert tables(db) >= EXPECTED_TABLES
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT version, name, checksum, applied_at FROM schema_version"
        )
        version, name, checksum, applied_at = rows.fetchone()
    assert (version, name) == (1, "initial_schema")
    assert len(checksum) == 64 and applied_at.endswith("+00:00")
    assert oct(db.stat().st_mode & 0o777) == "0o600"


def test_rerun_is_a_no_op(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    run_migrations(db)
    before = db.read_bytes()
    report = run_migrations(db)
    assert report.applied == [] and report.backup is None
    assert report.previous_version == report.current_version
    assert db.read_bytes() == before


def test_new_migration_is_applied_after_a_backup(tmp_path: Path, migrations: Path) -> None:
    db = tmp_path / "bot.db"
    run_migrations(db, migrations)
    (migrations / f"{NEXT:03d}_add_note.sql").write_text(
        "-- a comment; with a semicolon\nALTER TABLE positions ADD COLUMN note TEXT;\n"
    )
    report = run_migrations(db, migrations)
    assert [m.version for m in report.applied] == [NEXT]
    assert report.backup is not None and report.backup.exists()
    assert "note" not in {
        r[1] for r in sqlite3.connect(report.backup).execute("PRAGMA table_info(positions)")
    }
    assert "note" in {
        r[1] for r in sqlite3.connect(db).execute("PRAGMA table_info(positions)")
    }


def test_refuses_a_database_newer_than_the_code(tmp_path: Path, migrations: Path) -> None:
    db = tmp_path / "bot.db"
    (migrations / f"{NEXT:03d}_future.sql").write_text("CREATE TABLE future (x INTEGER);\n")
    run_migrations(db, migrations)
    (migrations / f"{NEXT:03d}_future.sql").unlink()
    with pytest.raises(DatabaseTooNewError, match=f"schema version {NEXT}"):
        run_migrations(db, migrations)


def test_refuses_a_changed_applied_migration(tmp_path: Path, migrations: Path) -> None:
    db = tmp_path / "bot.db"
    run_migrations(db, migrations)
    first = migrations / "001_initial_schema.sql"
    first.write_text(first.read_text() + "\n-- edited later\n")
    with pytest.raises(TamperedMigrationError, match="001_initial_schema"):
        run_migrations(db, migrations)


def test_failing_migration_leaves_the_previous_version(
    tmp_path: Path, migrations: Path
) -> None:
    db = tmp_path / "bot.db"
    run_migrations(db, migrations)
    (migrations / f"{NEXT:03d}_broken.sql").write_text(
        "CREATE TABLE half_done (x INTEGER);\nALTER TABLE nowhere ADD COLUMN y;\n"
    )
    with pytest.raises(MigrationError, match=f"unchanged at version {LATEST}"):
        run_migrations(db, migrations)
    assert "half_done" not in tables(db)


@pytest.mark.parametrize("name", ["2_bad.sql", "002-Bad.sql", "abc.sql"])
def test_badly_named_files_are_refused(migrations: Path, name: str) -> None:
    (migrations / name).write_text("SELECT 1;")
    with pytest.raises(MigrationError):
        discover(migrations)


def test_gaps_in_versions_are_refused(migrations: Path) -> None:
    (migrations / f"{NEXT + 1:03d}_skip.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match=f"expected version {NEXT:03d}"):
        discover(migrations)


def test_schema_enforces_the_ledger_rules(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    run_migrations(db)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA foreign_keys = ON")
    order = (
        "INSERT INTO orders (client_order_id, token_id, symbol, outcome, side, intent, "
        "order_type, price_micro, size_micro, mode, created_ms, updated_ms) "
        "VALUES (?, 't', 'BTC', 'UP', 'BUY', 'entry', 'GTC', ?, ?, 'sim', 0, 0)"
    )
    conn.execute(order, ("c1", 500_000, 5_000_000))
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(order, ("c1", 500_000, 5_000_000))  # client order id is unique
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(order, ("c2", 1_000_000, 5_000_000))  # price must be inside (0, 1)
    fill = (
        "INSERT INTO fills (venue_trade_id, order_id, token_id, side, role, price_micro, "
        "size_micro, notional_micro, status, matched_ms, updated_ms) "
        "VALUES (?, ?, 't', 'BUY', 'taker', 500000, 5000000, 2500000, 'MATCHED', 0, 0)"
    )
    conn.execute(fill, ("trade-1", 1))
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(fill, ("trade-1", 1))  # a venue trade is booked once
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(fill, ("trade-2", 99))  # fills belong to a known order
