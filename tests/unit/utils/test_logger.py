"""Logging: redaction everywhere (tracebacks included), files, audit events."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from src.data.db_connection import configure_database, db_connection
from src.data.migrations import run_migrations
from src.utils.logger import (
    AuditEvent,
    audit,
    configure_logging,
    log,
    log_error,
    log_warning,
)
from src.utils.redaction import REDACTOR, redact

KEY = "0x" + "5e" * 32
API_SECRET = "c2VjcmV0LXNlY3JldC1zZWNyZXQ="
WEBHOOK = "https://discord.com/api/webhooks/123456/abcDEF-ghi"
ORDER_HASH = "0x" + "7a" * 32


def read_logs(log_dir: Path) -> str:
    for handler in logging.getLogger("polyflup").handlers:
        handler.flush()
    return "".join(p.read_text() for p in log_dir.glob("*.log"))


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "logs"
    configure_logging(directory, "DEBUG", console=True, secrets=[KEY, API_SECRET, WEBHOOK])
    return directory


def test_registered_secrets_are_masked_in_messages(
    log_dir: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    log(f"🚀 signing with {KEY} and secret {API_SECRET} bare {KEY[2:]}")
    log_warning(f"posting to {WEBHOOK}")
    text = read_logs(log_dir) + "".join(capfd.readouterr())
    for secret in (KEY, KEY[2:], API_SECRET, WEBHOOK):
        assert secret not in text
    assert "***" in text


def test_secrets_are_masked_inside_tracebacks(
    log_dir: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    def sign(private_key: str) -> None:
        raise ValueError(f"bad signature for key {private_key}")

    try:
        sign(KEY)
    except ValueError:
        log_error("❌ [BTC] order failed")
    text = read_logs(log_dir) + "".join(capfd.readouterr())
    assert "Traceback (most recent call last)" in text
    assert "ValueError: bad signature for key ***" in text
    assert KEY not in text and KEY[2:] not in text


def test_unregistered_secret_shapes_are_masked() -> None:
    REDACTOR.clear()
    text = redact(
        '{"private_key": "0xfeed", "passphrase": "pp"} https://discord.com/api/'
        "webhooks/9/zz POLY_API_KEY=abc"
    )
    assert "0xfeed" not in text and '"pp"' not in text and "webhooks/9" not in text
    assert "abc" not in text


def test_order_hashes_are_not_mistaken_for_keys(log_dir: Path) -> None:
    log(f"🎯 placed {ORDER_HASH}")
    assert ORDER_HASH in read_logs(log_dir)


def test_files_are_owner_only_and_errors_have_their_own_file(log_dir: Path) -> None:
    log("👀 monitoring")
    log_error("❌ something broke", include_traceback=False)
    read_logs(log_dir)
    for name in ("polyflup.log", "errors.log", "audit.log"):
        path = log_dir / name
        assert path.exists()
        assert oct(path.stat().st_mode & 0o777) == "0o600"
    errors = (log_dir / "errors.log").read_text()
    assert "something broke" in errors and "monitoring" not in errors


def test_log_error_adds_the_emoji_and_no_traceback_outside_except(log_dir: Path) -> None:
    log_error("plain failure")
    text = read_logs(log_dir)
    assert "❌ plain failure" in text and "Traceback" not in text


def test_audit_event_is_logged_and_stored(tmp_path: Path, log_dir: Path) -> None:
    db = tmp_path / "bot.db"
    run_migrations(db)
    configure_database(db)
    event = AuditEvent(
        "place",
        "entry posted",
        symbol="BTC",
        client_order_id="c-1",
        venue_order_id=ORDER_HASH,
        size_micro=10_000_000,
        price_micro=550_000,
        data={"note": f"key {KEY}"},
    )
    with db_connection() as cur:
        audit(event, cur, at_ms=1_700_000_000_000)
    line = (log_dir / "audit.log").read_text()
    assert "🎯 [place] entry posted" in line
    assert "order=c-1" in line and "size=10" in line and "price=0.55" in line
    assert "at_ms=1700000000000" in line
    row = (
        sqlite3.connect(db)
        .execute(
            "SELECT kind, client_order_id, size_micro, price_micro, data_json FROM audit_events"
        )
        .fetchone()
    )
    assert row[:4] == ("place", "c-1", 10_000_000, 550_000)
    assert KEY not in row[4]
