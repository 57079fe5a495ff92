"""Security: a whole sim run leaks no secret anywhere, the files it creates are private,
every SQL statement is parameterised, real money is opt-in and ``config show`` masks secrets.

The sim runs in a subprocess (its own process-wide redactor and logging, a clean working
folder with its own HOME and TMPDIR, umask 022) with a generated wallet key, CLOB API
credentials and a Discord webhook that points at a local receiver with a secret token in
its path. Everything the run leaves behind is then scanned for every form of every secret.
"""

from __future__ import annotations

import ast
import base64
import errno
import ipaddress
import json
import logging
import os
import re
import secrets
import socket
import sqlite3
import stat
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner, Result
from eth_account import Account

from src.cli import cli
from src.config.settings import options
from src.data.audit import insert_audit_event
from src.data.db_connection import configure_database, db_connection
from src.data.decisions_store import insert_decision
from src.data.ledger_store import (
    apply_fill_event,
    insert_order_intent,
    record_cash,
    set_order_status,
)
from src.data.market_data.polymarket import MarketInfo
from src.data.migrations import run_migrations
from src.data.notifications_store import DbNotificationStore
from src.data.queries import list_positions, list_trades
from src.data.windows_store import upsert_window
from src.notifications.notifier import Kind, Notification
from src.trading.ledger.accounting import FeeAsset, Side
from src.trading.ledger.events import FillEvent, FillOutcome, FillStatus, OrderIntent
from src.utils.logger import AuditEvent, audit, configure_logging, log

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
RUN_ARGS = ("run", "--sim", "--speed", "300", "--windows", "1", "--profile", "aggressive")
RUN_DEADLINE_S = 180

# Fresh secrets for every session: nothing in the code can know them in advance.
PRIVATE_KEY = "0x" + Account.create().key.hex().removeprefix("0x")
API_KEY = str(uuid.uuid4())
API_SECRET = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
API_PASSPHRASE = secrets.token_hex(32)
WEBHOOK_TOKEN = f"hook-{secrets.token_urlsafe(24)}"
SETTING_NAMES = frozenset(option.env for option in options())


def secret_forms(webhook_url: str) -> dict[str, str]:
    """Every text a leak could take: each secret, and the key in each of its spellings."""
    bare = PRIVATE_KEY[2:]
    return {
        "private key": PRIVATE_KEY,
        "private key without 0x": bare,
        "private key, lowercase hex": bare.lower(),
        "private key, uppercase hex": bare.upper(),
        "private key, 0X uppercase": "0X" + bare.upper(),
        "API key": API_KEY,
        "API secret": API_SECRET,
        "API secret, standard base64": API_SECRET.replace("-", "+").replace("_", "/"),
        "API passphrase": API_PASSPHRASE,
        "webhook URL": webhook_url,
        "webhook token": WEBHOOK_TOKEN,
    }


# --- a local Discord webhook -----------------------------------------------------------------


class Webhook(BaseHTTPRequestHandler):
    """Records the path of every POST and answers 204 like Discord."""

    paths: ClassVar[list[str]] = []
    lock: ClassVar[threading.Lock] = threading.Lock()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with Webhook.lock:
            Webhook.paths.append(self.path)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture(scope="module")
def webhook_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Webhook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/webhooks/77/{WEBHOOK_TOKEN}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


# --- a whole sim run in a subprocess --------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """What one ``polyflup run`` left behind."""

    folder: Path
    result: subprocess.CompletedProcess[bytes]
    webhook_url: str

    @property
    def stdout(self) -> str:
        return self.result.stdout.decode("utf-8", "replace")

    @property
    def stderr(self) -> str:
        return self.result.stderr.decode("utf-8", "replace")

    def files(self) -> list[Path]:
        """Every regular file the run created (the folder started empty)."""
        return sorted(p for p in self.folder.rglob("*") if p.is_file())

    def databases(self) -> list[Path]:
        return [p for p in self.files() if p.read_bytes()[:16] == b"SQLite format 3\x00"]


def run_polyflup(folder: Path, env: dict[str, str], *args: str) -> Run:
    """``polyflup *args`` in ``folder`` with only ``env`` as PolyFlup settings."""
    folder.mkdir(parents=True, exist_ok=True)
    for sub in ("home", "tmp"):
        (folder / sub).mkdir(exist_ok=True)
    child_env = {k: v for k, v in os.environ.items() if k not in SETTING_NAMES}
    child_env.update(
        env,
        HOME=str(folder / "home"),
        TMPDIR=str(folder / "tmp"),
        PYTHONPATH=str(REPO),
        COLUMNS="200",
    )
    result = subprocess.run(
        [sys.executable, "-c", "from src.cli import main; main()", *args],
        cwd=folder,
        env=child_env,
        capture_output=True,
        timeout=RUN_DEADLINE_S,
        umask=0o022,  # the usual umask: only PolyFlup's own chmods make files private
        check=False,
    )
    return Run(folder, result, env.get("DISCORD_WEBHOOK_URL", ""))


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory, webhook_url: str) -> Run:
    """One window of sim with a configured wallet key and webhook.

    The CLOB API credentials are left out here: with them the sim run cannot start (see
    ``test_a_sim_run_works_with_api_credentials_configured``); ``creds_run`` covers them.
    """
    Webhook.paths = []
    env = {"POLYMARKET_PRIVATE_KEY": PRIVATE_KEY, "DISCORD_WEBHOOK_URL": webhook_url}
    return run_polyflup(tmp_path_factory.mktemp("full-run"), env, *RUN_ARGS)


@pytest.fixture(scope="module")
def creds_run(tmp_path_factory: pytest.TempPathFactory, webhook_url: str) -> Run:
    """The same run with every secret configured: key, API key/secret/passphrase, webhook."""
    env = {
        "POLYMARKET_PRIVATE_KEY": PRIVATE_KEY,
        "POLYMARKET_API_KEY": API_KEY,
        "POLYMARKET_API_SECRET": API_SECRET,
        "POLYMARKET_API_PASSPHRASE": API_PASSPHRASE,
        "DISCORD_WEBHOOK_URL": webhook_url,
    }
    return run_polyflup(tmp_path_factory.mktemp("creds-run"), env, *RUN_ARGS)


def database_texts(path: Path) -> Iterator[tuple[str, str]]:
    """``(table.column, value)`` for every non-null value of every table, as text."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        for table in tables:
            columns = [row[1] for row in conn.execute(f'PRAGMA table_info("{table}")')]
            for column in columns:
                query = f'SELECT "{column}" FROM "{table}" WHERE "{column}" IS NOT NULL'
                for (value,) in conn.execute(query):
                    if isinstance(value, bytes):
                        value = value.decode("utf-8", "replace")
                    yield f"{table}.{column}", str(value)


def leaks(run: Run) -> list[str]:
    """Where any form of any secret shows up in what the run produced."""
    forms = secret_forms(run.webhook_url)
    found = []
    places: list[tuple[str, str]] = [("stdout", run.stdout), ("stderr", run.stderr)]
    for db in run.databases():
        places += [(f"{db.name}:{where}", text) for where, text in database_texts(db)]
    for where, text in places:
        found += [f"{name} in {where}" for name, form in forms.items() if form in text]
    raw_key = bytes.fromhex(PRIVATE_KEY[2:])
    for path in run.files():
        data = path.read_bytes()  # raw: free pages, WAL frames, binary files included
        name = path.relative_to(run.folder)
        found += [f"{n} in file {name}" for n, f in forms.items() if f.encode() in data]
        if raw_key in data:
            found.append(f"raw key bytes in file {name}")
    return found


def test_a_whole_sim_run_completes_and_notifies(full_run: Run) -> None:
    """The scan below is only worth something if the run did real work."""
    assert full_run.result.returncode == 0, full_run.stderr[-3000:]
    assert "Run stopped (windows)" in full_run.stdout
    assert "a wallet is configured but --live was not given" in full_run.stdout
    with Webhook.lock:
        assert Webhook.paths and set(Webhook.paths) == {f"/api/webhooks/77/{WEBHOOK_TOKEN}"}
    dbs = full_run.databases()
    assert [p.name for p in dbs] == ["sim.db"]
    with sqlite3.connect(dbs[0]) as conn:
        assert conn.execute("SELECT COUNT(*) FROM decisions").fetchone()[0] > 0
        assert conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0] > 0
    logs = {p.name for p in (full_run.folder / "logs").glob("*.log")}
    assert {"polyflup.log", "audit.log", "errors.log"} <= logs


@pytest.mark.parametrize("which", ["full_run", "creds_run"])
def test_no_secret_in_anything_the_run_produced(
    which: str, request: pytest.FixtureRequest
) -> None:
    run: Run = request.getfixturevalue(which)
    assert run.files(), "the run produced no file"
    assert leaks(run) == []


# Columns that legitimately hold 0x + 64-hex values (order hashes, trade ids, condition
# ids, redemption tx hashes, migration checksums).
HEX_ID_COLUMNS = {
    "schema_version.checksum",
    "windows.condition_id",
    "orders.venue_order_id",
    "fills.venue_trade_id",
    "settlements.redeem_ref",
    "audit_events.venue_order_id",
}
HEX64 = re.compile(r"(?i)(?<![0-9a-f])(?:0x)?([0-9a-f]{64})(?![0-9a-f])")


def unexplained_hex(run: Run) -> set[tuple[str, str]]:
    """``(where, value)`` of every 64-hex value printed or stored outside the id columns
    that is not one of the ids stored there."""
    known: set[str] = set()
    texts = [("stdout", run.stdout), ("stderr", run.stderr)]
    for db in run.databases():
        for where, text in database_texts(db):
            if where in HEX_ID_COLUMNS:
                known.update(m.lower() for m in HEX64.findall(text))
            else:
                texts.append((f"{db.name}:{where}", text))
    texts += [(p.name, p.read_text("utf-8")) for p in run.folder.rglob("*.log")]
    return {
        (where, m)
        for where, text in texts
        for m in HEX64.findall(text)
        if m.lower() not in known
    }


def test_no_unexplained_key_shaped_hex_in_the_output(full_run: Run) -> None:
    """The embedded emulator's generated key (registered with the redactor in
    src/bot/wiring.py) is unknown from outside; a private key looks like any other 32-byte
    hash, so every ``0x`` + 64-hex value printed or stored must be one of the run's known
    ids (order hashes, trade ids, condition ids, tx hashes)."""
    with sqlite3.connect(full_run.folder / "sim.db") as conn:
        hashes = conn.execute("SELECT COUNT(venue_order_id) FROM orders").fetchone()[0]
    assert hashes, "the run stored no order hash: nothing was checked"
    assert unexplained_hex(full_run) == set()


def test_the_scans_find_planted_secrets(tmp_path: Path, webhook_url: str) -> None:
    """The scanners themselves work: a key in uppercase in a table, the webhook token in a
    log, the API secret on stdout and an unknown 64-hex value are all reported."""
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "polyflup.log").write_text(f"posted to ...{WEBHOOK_TOKEN}\n")
    stray = secrets.token_hex(32)
    with sqlite3.connect(tmp_path / "x.db") as conn:
        conn.execute("CREATE TABLE orders (venue_order_id TEXT, note TEXT)")
        conn.execute(
            "INSERT INTO orders VALUES ('0x' || ?, ?)", ("ab" * 32, PRIVATE_KEY.upper())
        )
        conn.execute("INSERT INTO orders VALUES (NULL, ?)", (f"see 0x{stray}",))
    conn.close()
    result = subprocess.CompletedProcess([], 0, f"s={API_SECRET}".encode(), b"")
    run = Run(tmp_path, result, webhook_url)
    found = leaks(run)
    assert "API secret in stdout" in found
    assert "webhook token in file logs/polyflup.log" in found
    assert "private key, uppercase hex in x.db:orders.note" in found
    assert unexplained_hex(run) == {
        ("x.db:orders.note", stray),
        ("x.db:orders.note", PRIVATE_KEY[2:].upper()),
    }


def test_a_sim_run_works_with_api_credentials_configured(creds_run: Run) -> None:
    assert creds_run.result.returncode == 0, creds_run.stderr[-2000:]
    assert "Run stopped (windows)" in creds_run.stdout


# --- private files ------------------------------------------------------------------------


def private(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) == 0o600


def test_every_file_the_run_created_is_owner_only(full_run: Run) -> None:
    created = full_run.files()
    assert {"sim.db", "sim.db.lock", "polyflup.log", "audit.log"} <= {
        p.name for p in created
    }
    modes = {
        str(p.relative_to(full_run.folder)): oct(p.stat().st_mode & 0o777) for p in created
    }
    assert {name: mode for name, mode in modes.items() if mode != oct(0o600)} == {}


def test_database_wal_backup_and_rotated_logs_are_owner_only(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)
    try:
        db = tmp_path / "data" / "bot.db"
        run_migrations(db)
        configure_database(db)
        with db_connection() as cur:
            record_cash(cur, "deposit", 5, 1)
            # the WAL and shared-memory files exist while a connection is open
            sidecars = [Path(f"{db}-wal"), Path(f"{db}-shm")]
            assert all(p.exists() for p in sidecars)
            assert {p.name: private(p) for p in [db, *sidecars]} == {
                "bot.db": True,
                "bot.db-wal": True,
                "bot.db-shm": True,
            }
        # a migration backup of an existing database
        old = tmp_path / "old.db"
        with sqlite3.connect(old) as conn:
            conn.execute("CREATE TABLE t (x)")
        conn.close()
        report = run_migrations(old)
        assert report.backup is not None and private(report.backup)

        logs = tmp_path / "logs"
        configure_logging(logs, console=False)
        log("hello")
        audit(AuditEvent("info", "hello"))
        for handler in (
            logging.getLogger("polyflup").handlers
            + logging.getLogger("polyflup.audit").handlers
        ):
            if isinstance(handler, RotatingFileHandler):
                handler.doRollover()
        log("after rollover")
        files = sorted(logs.iterdir())
        assert len(files) >= 6  # three logs and their first rotated copies
        assert {p.name: oct(p.stat().st_mode & 0o777) for p in files} == {
            p.name: oct(0o600) for p in files
        }
    finally:
        os.umask(old_umask)


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env or {}, catch_exceptions=False)


def test_an_env_file_readable_by_others_gives_a_warning() -> None:
    env_file = Path(".env")
    env_file.write_text(f"POLYMARKET_PRIVATE_KEY={PRIVATE_KEY}\n")
    env_file.chmod(0o644)
    result = invoke("config", "validate")
    assert result.exit_code == 0
    assert PRIVATE_KEY not in result.output
    assert re.search(r"(?i)\.env.*(permission|readable|chmod)", result.output), (
        result.output
    )


def test_a_private_env_file_gives_no_permission_warning() -> None:
    env_file = Path(".env")
    env_file.write_text(f"POLYMARKET_PRIVATE_KEY={PRIVATE_KEY}\n")
    env_file.chmod(0o600)
    result = invoke("config", "validate")
    assert result.exit_code == 0 and "valid" in result.output
    assert not re.search(r"(?i)permission|readable by|chmod", result.output)


# --- SQL is parameterised -----------------------------------------------------------------

HOSTILE = (
    "'; DROP TABLE orders; --",
    '"; DROP TABLE fills; --',
    "Robert'); DELETE FROM cash_ledger WHERE ('1' = '1",
    "x' OR '1'='1",
    "' UNION SELECT name, sql FROM sqlite_master --",
    'it\'s "quoted" `back` [bracketed] \\ back\\slash',
    "Ünïcödé ✓ 🚀 中文 العربية \u202ereversed\u200b zero-width",
    "\x01\x02\x07\x08\t\n\r\x0b\x0c\x1b[31mred\x1b[0m\x7f",
    "%s %d %(name)s {0} {name} ? ?1 :name @p $1",
    "x" * 100_000,
)


def market(text: str) -> MarketInfo:
    return MarketInfo(
        slug=f"{text}|slug",
        coin=text,
        start=1_000,
        end=1_900,
        condition_id=f"{text}|condition",
        up_token_id=f"{text}|up",
        down_token_id=f"{text}|down",
        tick_size=Decimal("0.01"),
        min_order_size=Decimal("5"),
        fee_rate=Decimal("0"),
        fee_exponent=0,
        neg_risk=False,
        accepting_orders=True,
        closed=False,
        outcome=None,
    )


def decision_row(text: str) -> dict[str, object]:
    return {
        "symbol": text,
        "decided_ms": 1,
        "action": "UP",
        "reason": text,
        "method": "bayesian",
        "confidence": 0.6,
        "confidence_additive": 0.6,
        "confidence_bayesian": 0.6,
        "fair_value": 0.6,
        "market_price": 0.5,
        "price_micro": 500_000,
        "size_micro": 10_000_000,
        "fee_micro": 0,
        "expected_value": 0.05,
        "time_left_s": 300.0,
        "signals_json": text,
        "inputs_json": text,
    }


def tables(cur: sqlite3.Cursor) -> set[str]:
    return {
        r[0] for r in cur.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    }


@pytest.mark.parametrize("text", HOSTILE, ids=[f"hostile{i}" for i in range(len(HOSTILE))])
def test_hostile_strings_are_stored_and_read_back_verbatim(
    text: str, tmp_path: Path
) -> None:
    db = tmp_path / "bot.db"
    run_migrations(db)
    configure_database(db)
    with db_connection() as cur:
        schema = tables(cur)
        window_id = upsert_window(cur, market(text), 5)
        decision_id = insert_decision(cur, decision_row(text), window_id, "sim")
        intent = OrderIntent(
            client_order_id=f"{text}|client",
            token_id=f"{text}|up",
            symbol=text,
            outcome="UP",
            side=Side.BUY,
            intent="entry",
            order_type="GTC",
            price_micro=500_000,
            size_micro=10_000_000,
            mode="sim",
            window_id=window_id,
            decision_id=decision_id,
            venue_order_id=f"{text}|venue",
        )
        insert_order_intent(cur, intent, 6)
        set_order_status(cur, intent.client_order_id, "live", 7, error=f"{text}|error")
        fill = FillEvent(
            f"{text}|trade",
            f"{text}|venue",
            FillStatus.MATCHED,
            Side.BUY,
            "maker",
            500_000,
            4_000_000,
            0,
            FeeAsset.COLLATERAL,
            8,
        )
        assert apply_fill_event(cur, fill, 8) is FillOutcome.BOOKED
        record_cash(cur, "deposit", 100_000_000, 9, note=text)
        event = AuditEvent(
            kind=text,
            message=text,
            symbol=text,
            client_order_id=text,
            venue_order_id=text,
            window_id=window_id,
            data={"note": text},
        )
        insert_audit_event(cur, event, 10)
    store = DbNotificationStore()
    assert store.claim(Notification(Kind.INFO, text, text, text), 11)
    store.mark(text, "failed", 3, text, 12)

    with db_connection(readonly=True) as cur:
        assert tables(cur) == schema
        assert cur.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert tuple(
            cur.execute(
                "SELECT symbol, slug, condition_id, up_token_id, down_token_id FROM windows"
            ).fetchall()[0]
        ) == (text, f"{text}|slug", f"{text}|condition", f"{text}|up", f"{text}|down")
        assert [
            tuple(r)
            for r in cur.execute(
                "SELECT symbol, reason, signals_json, inputs_json FROM decisions"
            )
        ] == [(text, text, text, text)]
        assert [
            tuple(r)
            for r in cur.execute(
                "SELECT client_order_id, venue_order_id, token_id, symbol, error, status, "
                "filled_micro FROM orders"
            )
        ] == [
            (
                f"{text}|client",
                f"{text}|venue",
                f"{text}|up",
                text,
                f"{text}|error",
                "partially_filled",
                4_000_000,
            )
        ]
        assert [
            tuple(r) for r in cur.execute("SELECT venue_trade_id, token_id FROM fills")
        ] == [(f"{text}|trade", f"{text}|up")]
        assert [
            r[0] for r in cur.execute("SELECT note FROM cash_ledger WHERE kind = 'deposit'")
        ] == [text]
        assert cur.execute("SELECT COUNT(*) FROM cash_ledger").fetchone()[0] == 2
        audit_row = cur.execute(
            "SELECT kind, symbol, client_order_id, venue_order_id, message, data_json "
            "FROM audit_events"
        ).fetchall()
        assert [tuple(r)[:5] for r in audit_row] == [(text,) * 5]
        assert json.loads(audit_row[0]["data_json"]) == {"note": text}
        assert [
            tuple(r)
            for r in cur.execute(
                "SELECT kind, dedupe_key, title, body, status, attempts, last_error "
                "FROM notifications"
            )
        ] == [("info", text, text, text, "failed", 3, text)]
        positions = list_positions(cur)
        trades = list_trades(cur)
    assert [(p.symbol, p.token_id, p.size_micro) for p in positions] == [
        (text, f"{text}|up", 4_000_000)
    ]
    assert [(t.venue_trade_id, t.client_order_id, t.symbol) for t in trades] == [
        (f"{text}|trade", f"{text}|client", text)
    ]


def test_a_hostile_value_in_a_checked_column_is_refused_and_changes_nothing(
    tmp_path: Path,
) -> None:
    db = tmp_path / "bot.db"
    run_migrations(db)
    configure_database(db)
    with db_connection(readonly=True) as cur:
        schema = tables(cur)
    hostile = OrderIntent(
        "c1",
        "tok",
        "BTC",
        "UP",
        Side.BUY,
        "entry'); DROP TABLE orders; --",
        "GTC",
        1,
        1,
        "sim",
    )
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"), db_connection() as cur:
        insert_order_intent(cur, hostile, 1)
    with db_connection(readonly=True) as cur:
        assert tables(cur) == schema
        assert cur.execute("SELECT COUNT(*) FROM orders").fetchone()[0] == 0


# Every execute() whose SQL is not one literal string, reviewed: (file, function) → why the
# text built at run time cannot carry data.
REVIEWED_DYNAMIC_SQL = {
    ("src/trading/position_manager/portfolio.py", "_sum"): "`query` is one of the module "
    "constants RESERVED_BY_BUYS / OPEN_COST, extended by a literal clause; the window id "
    "is bound",
    ("src/backtest/report.py", "ledger_decisions"): "_DECISIONS_SQL is a module constant "
    "built once from the fixed tuple _INPUT_PATHS of JSON paths; no data reaches it",
    ("src/data/db_connection.py", "connect"): "PRAGMA busy_timeout from the int constant "
    "BUSY_TIMEOUT_MS (a PRAGMA takes no bound parameters)",
    ("src/data/db_connection.py", "db_connection"): "one of the literals 'BEGIN' and "
    "'BEGIN IMMEDIATE', or a savepoint named from the int nesting depth",
    ("src/data/decisions_store.py", "insert_decision"): "column names from the fixed "
    "tuple DECISION_COLUMNS and one '?' per column; every value is bound",
    ("src/data/ledger_store.py", "_live_fills"): "`where` is a column name this module "
    "passes as a literal ('order_id' / 'token_id', checked below) and an IN list of '?'",
    ("src/data/migrations.py", "_apply"): "statements of the checksummed migration files "
    "shipped with the code, never data",
    ("src/data/queries.py", "list_positions"): "`where` is one of two literal clauses "
    "chosen by a bool",
    ("src/trading/position_manager/portfolio.py", "open_positions"): "the constant column "
    "list _WINDOW_COLUMNS",
    ("src/trading/position_manager/portfolio.py", "working_orders"): "an IN list of one "
    "'?' per OPEN_LOCAL status; the statuses are bound",
    ("src/trading/position_manager/portfolio.py", "any_working_order"): "the same IN "
    "list as working_orders (_OPEN_MARKS); the statuses are bound",
    ("src/trading/position_manager/portfolio.py", "window_by_slug"): "the constant "
    "_WINDOW_COLUMNS; the slug is bound",
    ("src/trading/position_manager/portfolio.py", "window_by_condition"): "the constant "
    "_WINDOW_COLUMNS; the condition id is bound",
    ("src/trading/position_manager/portfolio.py", "windows_to_resolve"): "the constant "
    "_WINDOW_COLUMNS; the time is bound",
    ("src/trading/position_manager/portfolio.py", "windows_to_redeem"): "the constant "
    "_WINDOW_COLUMNS",
}
SQL_METHODS = {"execute", "executemany", "executescript"}


def dynamic_sql_calls() -> dict[tuple[str, str], list[str]]:
    """Every ``execute``-like call in src/ whose SQL is not a literal or a module-level
    string constant, by file and enclosing function, with the SQL expression."""
    found: dict[tuple[str, str], list[str]] = {}
    for path in sorted((REPO / "src").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = {
            target.id
            for node in tree.body
            if isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        owner: dict[int, str] = {}
        for func in ast.walk(tree):
            if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                for node in ast.walk(func):
                    owner.setdefault(id(node), func.name)
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in SQL_METHODS
                and node.args
            ):
                continue
            sql = node.args[0]
            if isinstance(sql, ast.Constant) or (
                isinstance(sql, ast.Name) and sql.id in constants
            ):
                continue
            key = (str(path.relative_to(REPO)), owner.get(id(node), "<module>"))
            found.setdefault(key, []).append(f"line {node.lineno}: {ast.unparse(sql)[:90]}")
    return found


def test_every_sql_statement_built_at_run_time_is_reviewed() -> None:
    found = dynamic_sql_calls()
    for (file, function), calls in sorted(found.items()):
        print(f"{file}::{function}: {'; '.join(calls)}")
    unreviewed = {
        key: calls for key, calls in found.items() if key not in REVIEWED_DYNAMIC_SQL
    }
    assert unreviewed == {}, "review these and add them to REVIEWED_DYNAMIC_SQL with why"
    stale = set(REVIEWED_DYNAMIC_SQL) - set(found)
    assert stale == set(), "no longer built at run time: remove them from the list"


def test_the_column_passed_to_live_fills_is_always_a_literal() -> None:
    source = (REPO / "src/data/ledger_store.py").read_text(encoding="utf-8")
    calls = [
        node
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "_live_fills"
    ]
    assert calls
    assert {ast.literal_eval(c.args[1]) for c in calls} <= {"order_id", "token_id"}


# --- real money is opt-in ---------------------------------------------------------------


def test_live_without_a_key_is_refused() -> None:
    result = invoke("run", "--live", "--windows", "1")
    assert result.exit_code == 2
    assert "POLYMARKET_PRIVATE_KEY" in result.output and "--live" in result.output
    assert not Path("polyflup.db").exists()


def test_live_with_another_mode_flag_is_refused() -> None:
    result = invoke("run", "--live", "--sim", env={"POLYMARKET_PRIVATE_KEY": PRIVATE_KEY})
    assert result.exit_code == 2 and "only one of" in result.output


def loopback(host: object) -> bool:
    if host in (None, "", "localhost"):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


def test_run_without_live_never_leaves_loopback_even_with_a_key(
    monkeypatch: pytest.MonkeyPatch, webhook_url: str
) -> None:
    """A configured wallet alone never means live: ``run`` trades the embedded sim and no
    socket connects (nor any name resolves) outside 127.0.0.1/::1."""
    attempts: list[str] = []
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def check(address: Any) -> None:
        if isinstance(address, tuple) and not loopback(address[0]):
            attempts.append(f"connect {address!r}")
            raise OSError(errno.ENETUNREACH, "non-loopback connection refused by the test")

    def connect(self: socket.socket, address: Any) -> None:
        check(address)
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        check(address)
        return real_connect_ex(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not loopback(host):
            attempts.append(f"resolve {host!r}")
            raise socket.gaierror(
                socket.EAI_NONAME, "non-loopback name refused by the test"
            )
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    result = invoke(
        "run",
        "--speed",
        "300",
        "--windows",
        "1",
        "--profile",
        "aggressive",
        env={"POLYMARKET_PRIVATE_KEY": PRIVATE_KEY, "DISCORD_WEBHOOK_URL": webhook_url},
    )
    assert result.exit_code == 0, result.output[-2000:]
    assert "SIMULATION" in result.output and "--live was not given" in result.output
    assert "Run stopped (windows)" in result.output
    assert attempts == []
    assert PRIVATE_KEY not in result.output and PRIVATE_KEY[2:] not in result.output


def test_config_show_masks_every_secret(webhook_url: str) -> None:
    rpc = f"https://polygon.example/v2/{secrets.token_hex(16)}"
    env = {
        "POLYMARKET_PRIVATE_KEY": PRIVATE_KEY,
        "POLYMARKET_API_KEY": API_KEY,
        "POLYMARKET_API_SECRET": API_SECRET,
        "POLYMARKET_API_PASSPHRASE": API_PASSPHRASE,
        "DISCORD_WEBHOOK_URL": webhook_url,
        "POLYGON_RPC_URL": rpc,
        "COLUMNS": "250",
    }
    masked = {o.env for o in options() if o.secret}
    assert masked == set(env) - {"COLUMNS"}
    table = invoke("config", "show", env=env)
    as_json = invoke("config", "show", "--json", env=env)
    assert table.exit_code == 0 and as_json.exit_code == 0
    forms = {**secret_forms(webhook_url), "RPC URL": rpc}
    for result in (table, as_json):
        assert [name for name, form in forms.items() if form in result.output] == []
    rows = {
        line.split("│")[1].strip(): line
        for line in table.output.splitlines()
        if line.count("│") >= 4
    }
    assert {name for name in masked if "***" not in rows[name]} == set()
    data = json.loads(as_json.stdout)
    assert {name: data[name]["value"] for name in masked} == dict.fromkeys(masked, "***")
