"""Real processes for end-to-end and chaos tests: ``polyflup emulator`` and
``polyflup run --live`` against it — real HTTP and websockets, the unmodified official
client, a generated key, a real sqlite ledger, on an accelerated clock the bot anchors to
the emulator's ``/time``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from eth_account import Account

from tests.support.waiting import wait_until

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

    def time(self) -> float:
        """The emulator's clock (``GET /time``, whole seconds), asked again through any
        fault the emulator injects (429, 5xx, dropped connections)."""
        last: Exception | None = None
        for _ in range(100):
            try:
                answer = requests.get(f"{self.base_url}/time", timeout=10)
                answer.raise_for_status()
                return float(answer.json())
            except requests.RequestException as exc:
                last = exc
        raise RuntimeError(f"the emulator's /time never answered: {last}")

    def faults(self) -> dict[str, Any]:
        """``GET /admin/faults``: the spec, its rules and the faults injected so far."""
        answer = requests.get(f"{self.base_url}/admin/faults", timeout=10)
        answer.raise_for_status()
        return dict(answer.json())

    def set_faults(self, spec: str) -> None:
        """``PUT /admin/faults``."""
        requests.put(
            f"{self.base_url}/admin/faults", json={"spec": spec}, timeout=10
        ).raise_for_status()

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


def start_emulator_process(
    state_dir: Path, seed: int, speed: float = SPEED, faults: str = ""
) -> EmulatorProcess:
    """Start ``polyflup emulator --speed X`` and wait until it wrote its URLs."""
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
            str(speed),
            "--seed",
            str(seed),
            "--state-dir",
            str(state_dir),
            *(["--faults", faults] if faults else []),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:  # the child writes the file once it listens
        started = wait_until(
            info.exists,
            "the emulator to start",
            START_TIMEOUT_S,
            give_up=lambda: process.poll() is not None,
        )
    except AssertionError:
        started = False
    if not started:
        process.kill()
        raise RuntimeError("the emulator did not start")
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
    speed: float = SPEED
    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        """The bot's environment: the emulator's URLs, the key, the database."""
        return {
            **_clean_env(),
            **self.emulator.env,
            "POLYMARKET_PRIVATE_KEY": self.key,
            "POLYFLUP_DB": str(self.db),
            "POLYFLUP_LOG_DIR": str(self.home / "logs"),
            **self.extra_env,
        }

    def command(self, *args: str) -> list[str]:
        """``polyflup --env-file <absent> ARGS``."""
        return [POLYFLUP, "--env-file", str(self.home / "absent.env"), *args]

    def run_args(
        self, windows: int | None = None, duration: float | None = None
    ) -> list[str]:
        """``run --live`` on the emulator's accelerated clock for ``windows`` windows (or
        ``duration`` emulator seconds)."""
        sets = [item for s in LIFECYCLE_SETTINGS for item in ("--set", s)]
        stop = (
            ["--windows", str(windows)]
            if windows is not None
            else ["--duration", f"{max(duration or 1.0, 1.0):.0f}"]
        )
        return self.command(
            "run",
            "--live",
            "--speed",
            str(self.speed),
            *stop,
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

    def start(
        self,
        windows: int | None = None,
        duration: float | None = None,
        output: Path | None = None,
    ) -> subprocess.Popen[str]:
        """Start the bot and return at once (output to a file, or a pipe)."""
        sink = open(output, "a") if output is not None else subprocess.PIPE  # noqa: SIM115
        return subprocess.Popen(
            self.run_args(windows, duration),
            env=self.env(),
            stdout=sink,
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


def new_setup(emulator: EmulatorProcess, home: Path, **kwargs: Any) -> BotSetup:
    """A generated account and a database under ``home`` for ``emulator``."""
    account = Account.create()
    return BotSetup(
        emulator, account.key.hex(), account.address, home / "bot.db", home, **kwargs
    )
