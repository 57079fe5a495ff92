"""``polyflup doctor --local``: the container healthcheck — no network, no key, and a bot
holding the database's lock counts as running only while it lives."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from src.cli import cli
from src.data.migrations import run_migrations

ROOT = Path(__file__).resolve().parents[2]
# A stand-in for `polyflup run`: takes the real instance lock, then waits for stdin to
# close. Its argv names polyflup, as the real console script's does.
HOLD_LOCK = (
    "import sys; from pathlib import Path; from src.bot.instance_lock import InstanceLock\n"
    "with InstanceLock(Path(sys.argv[1])):\n"
    "    print('locked', flush=True); sys.stdin.read()\n"
)


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Work in tmp_path, so the doctor's table shows short relative paths (a long one
    would wrap inside its cell)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def doctor(db: str) -> Result:
    env = {
        # the full doctor would try these; --local must not (nothing listens on port 9)
        "POLYMARKET_CLOB_URL": "http://127.0.0.1:9",
        "POLYMARKET_GAMMA_URL": "http://127.0.0.1:9",
        "BINANCE_API_URL": "http://127.0.0.1:9/api",
        "POLYMARKET_PRIVATE_KEY": None,
    }
    return CliRunner().invoke(
        cli,
        ["--env-file", "absent.env", "doctor", "--local", "--db", db],
        env=env,
        catch_exceptions=False,
    )


@contextmanager
def bot_holding_lock(db: Path, *argv: str) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(db), *argv],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        yield proc
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=30)


def test_no_database_and_no_bot_fail(here: Path) -> None:
    result = doctor("none.db")
    assert result.exit_code == 1
    assert "no database at none.db" in result.stdout
    assert "no bot has run on none.db" in result.stdout
    assert "CLOB reachable" not in result.stdout and "credentials" not in result.stdout


def test_a_running_bot_passes_and_a_stopped_one_fails(here: Path) -> None:
    run_migrations(here / "bot.db")
    with bot_holding_lock(here / "bot.db", "polyflup", "run") as bot:
        result = doctor("bot.db")
        assert result.exit_code == 0, result.output
        assert f"pid {bot.pid} holds bot.db.lock" in result.stdout
        assert "All checks passed" in result.stdout
    stopped = doctor("bot.db")
    assert stopped.exit_code == 1
    assert f"no bot running on bot.db (last pid {bot.pid})" in stopped.stdout


def test_a_reused_pid_of_another_program_is_not_the_bot(here: Path) -> None:
    run_migrations(here / "bot.db")
    with bot_holding_lock(here / "bot.db", "something-else") as other:
        result = doctor("bot.db")
    assert result.exit_code == 1 and f"last pid {other.pid}" in result.stdout
    (here / "bot.db.lock").write_text(f"{os.getpid()}\n")  # the doctor itself
    assert doctor("bot.db").exit_code == 1
