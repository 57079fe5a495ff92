"""``scripts/polyflup-tmux.sh`` with real tmux and a real ``polyflup run --sim``.

Each test has its own session name (``pf-test-<random>``), its own tmux server (a private
``TMUX_TMPDIR``), database, log folder, working folder and HOME, and kills its session and
any bot left on its database when it ends: a real deployment is never touched.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.waiting import wait_until

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        shutil.which("tmux") is None,
        reason="tmux is not installed (Debian package `tmux`; .ci/run installs it): "
        "the launcher tests need a real tmux",
    ),
]

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "polyflup-tmux.sh"
POLYFLUP = str(Path(sys.executable).with_name("polyflup"))
RUN_ARGS = "--sim --speed 20 --profile aggressive"
DEADLINE_S = 15.0
LOCK_MESSAGE = "another `polyflup run` (pid {pid}) is using this database"


def wait_for(
    condition: Callable[[], bool], what: str, deadline_s: float = DEADLINE_S
) -> None:
    """Until ``condition`` holds; fail naming ``what`` after ``deadline_s``."""
    try:
        wait_until(condition, what, deadline_s)
    except AssertionError as exc:
        pytest.fail(str(exc))


def pid_in(output: str) -> int:
    """The bot pid the launcher printed."""
    match = re.search(r"\bpid (\d+)", output)
    assert match, output
    return int(match.group(1))


@dataclass
class Launcher:
    """The launcher script under one test's private session, server and paths."""

    env: dict[str, str]
    session: str
    db: Path
    log_dir: Path
    workdir: Path

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(SCRIPT), *args],
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def tmux(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", *args],
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=10,
        )

    @property
    def log_file(self) -> Path:
        return self.log_dir / f"tmux-{self.session}.log"

    def log(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def sessions(self) -> list[str]:
        """The sessions of this test's tmux server."""
        answer = self.tmux("list-sessions", "-F", "#{session_name}")
        return answer.stdout.split() if answer.returncode == 0 else []

    def bot_pids(self) -> list[int]:
        """Live ``polyflup run`` processes whose command line names this test's database."""
        table = subprocess.run(
            ["ps", "-ww", "-eo", "pid=,stat=,args="],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        pids = []
        for line in table.splitlines():
            pid, stat, args = line.split(None, 2)
            if stat.startswith("Z"):
                continue
            if "polyflup run " in args and str(self.db) in args:
                pids.append(int(pid))
        return pids

    def status_code(self) -> int:
        return self("status").returncode

    def wait_trading(self, times: int = 1) -> None:
        """Until the bot has its lock and its signal handlers (it logs that it trades)."""
        wait_for(
            lambda: self.log().count("🚀 trading:") >= times, "the bot to start trading"
        )


@pytest.fixture
def launcher(tmp_path: Path) -> Iterator[Launcher]:
    session = f"pf-test-{secrets.token_hex(4)}"
    # A short private folder: tmux's socket path must stay under ~100 characters.
    tmux_dir = Path(tempfile.mkdtemp(prefix="pft-"))
    home, workdir = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    workdir.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("POLYFLUP_", "POLYMARKET_", "BINANCE_", "DISCORD_", "TMUX"))
        and k != "XDG_CONFIG_HOME"
    }
    launcher = Launcher(
        env={
            **env,
            "HOME": str(home),
            "TMUX_TMPDIR": str(tmux_dir),
            "POLYFLUP_TMUX_SESSION": session,
            "POLYFLUP_DB": str(tmp_path / "db" / "bot.db"),
            "POLYFLUP_LOG_DIR": str(tmp_path / "logs"),
            "POLYFLUP_RUN_ARGS": RUN_ARGS,
            "POLYFLUP_BIN": POLYFLUP,
            "POLYFLUP_WORKDIR": str(workdir),
            "POLYFLUP_STOP_TIMEOUT": "15",
        },
        session=session,
        db=tmp_path / "db" / "bot.db",
        log_dir=tmp_path / "logs",
        workdir=workdir,
    )
    try:
        yield launcher
    finally:
        launcher.tmux("kill-session", "-t", f"={session}")
        launcher.tmux("kill-server")
        for pid in launcher.bot_pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not launcher.bot_pids(), "the test's bots to be gone", 10)
        shutil.rmtree(tmux_dir, ignore_errors=True)


def test_start_twice_gives_one_session_and_one_bot(launcher: Launcher) -> None:
    first = launcher("start")
    assert first.returncode == 0, first.stderr
    assert "started" in first.stdout
    pid = pid_in(first.stdout)

    second = launcher("start")

    assert second.returncode == 0, second.stderr
    assert "already running" in second.stdout
    assert pid_in(second.stdout) == pid
    assert launcher.sessions() == [launcher.session]
    assert launcher.bot_pids() == [pid]
    launcher.wait_trading()
    assert launcher.bot_pids() == [pid]
    assert launcher.log().count("polyflup-tmux: starting") == 1


def test_status_reports_running_with_the_pid(launcher: Launcher) -> None:
    assert launcher("status").returncode == 3
    pid = pid_in(launcher("start").stdout)

    status = launcher("status")

    assert status.returncode == 0
    assert status.stdout.startswith("running")
    assert f"bot pid {pid}" in status.stdout
    assert launcher.session in status.stdout


def test_watchdog_restarts_a_killed_bot(launcher: Launcher) -> None:
    old = pid_in(launcher("start").stdout)
    launcher.wait_trading()
    assert launcher("watchdog").stdout == ""  # running: nothing to do, nothing said

    os.kill(old, signal.SIGKILL)
    wait_for(lambda: launcher.status_code() == 3, "status to report the killed bot")
    watchdog = launcher("watchdog")

    assert watchdog.returncode == 0, watchdog.stderr
    new = pid_in(watchdog.stdout)
    assert new != old
    assert launcher.sessions() == [launcher.session]
    assert launcher.bot_pids() == [new]
    assert re.search(
        r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] polyflup-tmux: watchdog: the bot was not "
        rf"running; restarted it \(pid {new}\)",
        launcher.log(),
        re.MULTILINE,
    )
    assert f"bot pid {old} exited with code 137" in launcher.log()
    launcher.wait_trading(times=2)
    assert launcher("watchdog").stdout == ""
    assert launcher.bot_pids() == [new]


def test_stop_is_clean_and_status_then_says_stopped(launcher: Launcher) -> None:
    pid = pid_in(launcher("start").stdout)
    launcher.wait_trading()

    stop = launcher("stop")

    assert stop.returncode == 0, stop.stderr
    assert "Run stopped (signal)" in launcher.log()
    assert f"bot pid {pid} exited with code 0" in launcher.log()
    assert launcher.bot_pids() == []
    assert launcher.sessions() == []
    status = launcher("status")
    assert status.returncode == 3
    assert status.stdout.startswith("stopped")
    # Stopped on purpose: the watchdog leaves it stopped until the next `start`.
    assert launcher("watchdog").returncode == 0
    assert launcher.status_code() == 3
    assert launcher.sessions() == []


def test_a_second_bot_on_the_same_database_exits_1_naming_the_first(
    launcher: Launcher,
) -> None:
    pid = pid_in(launcher("start").stdout)
    launcher.wait_trading()

    by_hand = subprocess.run(
        [POLYFLUP, "run", *RUN_ARGS.split(), "--db", str(launcher.db)],
        env={
            **launcher.env,
            "POLYFLUP_LOG_DIR": str(launcher.log_dir / "by-hand"),
        },
        cwd=launcher.workdir,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert by_hand.returncode == 1
    assert LOCK_MESSAGE.format(pid=pid) in by_hand.stdout + by_hand.stderr
    assert launcher.bot_pids() == [pid]
    assert launcher.status_code() == 0
