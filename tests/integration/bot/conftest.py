"""``polyflup run --live`` against a separately started ``polyflup emulator``: two real
processes, real HTTP and websockets, the unmodified official client, a generated key and a
real sqlite ledger — on an accelerated clock the bot anchors to the emulator's ``/time``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from eth_account import Account

POLYFLUP = str(Path(sys.executable).with_name("polyflup"))
SPEED = 60.0
START_TIMEOUT_S = 30.0
RUN_TIMEOUT_S = 240.0
# Settings that make every lifecycle path likely within a few windows of the emulator's
# market (reversal is off by default; a wider scale-in band and later entries).
LIFECYCLE_SETTINGS = (
    "ENABLE_REVERSAL=true",
    "REVERSAL_MIN_CONFIDENCE=0.55",
    "ENTRY_MAX_ELAPSED_SEC=840",
    "SCALE_IN_MIN_PRICE=0.55",
    "SCALE_IN_MAX_PRICE=0.95",
)


@dataclass
class EmulatorProcess:
    """A ``polyflup emulator`` child process and where it serves."""

    process: subprocess.Popen[bytes]
    env: dict[str, str]
    base_url: str

    def ledger(self, address: str) -> dict[str, Any]:
        """The emulator's own ledger of one account."""
        answer = requests.get(
            f"{self.base_url}/admin/ledger", params={"address": address}, timeout=10
        )
        answer.raise_for_status()
        [account] = answer.json()["accounts"]
        return dict(account)

    def stop(self) -> None:
        """Stop it (SIGTERM, then SIGKILL)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def _clean_env() -> dict[str, str]:
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("POLYFLUP_", "POLYMARKET_", "BINANCE_", "DISCORD_"))
    }


def start_emulator_process(state_dir: Path, seed: int) -> EmulatorProcess:
    """Start ``polyflup emulator --speed SPEED`` and wait until it wrote its URLs."""
    state_dir.mkdir(parents=True, exist_ok=True)
    info = state_dir / "emulator.json"
    env = {**_clean_env(), "POLYFLUP_LOG_DIR": str(state_dir / "logs")}
    process = subprocess.Popen(
        [
            POLYFLUP,
            "--env-file",
            str(state_dir / "absent.env"),
            "emulator",
            "--port",
            "0",
            "--speed",
            str(SPEED),
            "--seed",
            str(seed),
            "--state-dir",
            str(state_dir),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + START_TIMEOUT_S
    while not info.exists():  # the child writes the file once it listens
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("the emulator did not start")
        time.sleep(0.05)
    data = json.loads(info.read_text())
    return EmulatorProcess(process, dict(data["env"]), data["base_url"])


@dataclass
class BotSetup:
    """How to start the bot against one emulator, with one key and one database."""

    emulator: EmulatorProcess
    key: str
    address: str
    db: Path
    home: Path

    def env(self) -> dict[str, str]:
        """The bot's environment: the emulator's URLs, the key, the database."""
        return {
            **_clean_env(),
            **self.emulator.env,
            "POLYMARKET_PRIVATE_KEY": self.key,
            "POLYFLUP_DB": str(self.db),
            "POLYFLUP_LOG_DIR": str(self.home / "logs"),
        }

    def command(self, *args: str) -> list[str]:
        """``polyflup --env-file <absent> ARGS``."""
        return [POLYFLUP, "--env-file", str(self.home / "absent.env"), *args]

    def run_args(self, windows: int) -> list[str]:
        """``run --live`` on the emulator's accelerated clock for ``windows`` windows."""
        sets = [item for s in LIFECYCLE_SETTINGS for item in ("--set", s)]
        return self.command(
            "run",
            "--live",
            "--speed",
            str(SPEED),
            "--windows",
            str(windows),
            "--profile",
            "aggressive",
            *sets,
        )

    def run(self, windows: int) -> subprocess.CompletedProcess[str]:
        """Run the bot to its end."""
        return subprocess.run(
            self.run_args(windows),
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
            cwd=self.home,
        )

    def start(self, windows: int) -> subprocess.Popen[str]:
        """Start the bot and return at once."""
        return subprocess.Popen(
            self.run_args(windows),
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=self.home,
        )

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Any other command with the same settings."""
        return subprocess.run(
            self.command(*args),
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=60,
            cwd=self.home,
        )


@pytest.fixture
def bot_setup(tmp_path: Path) -> Iterator[BotSetup]:
    """A fresh emulator process and a generated account for one test."""
    emulator = start_emulator_process(tmp_path / "emulator", seed=11)
    account = Account.create()
    try:
        yield BotSetup(
            emulator, account.key.hex(), account.address, tmp_path / "bot.db", tmp_path
        )
    finally:
        emulator.stop()
