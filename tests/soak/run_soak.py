"""Memory soak: ``polyflup run --sim`` for many simulated hours, its RSS sampled as it runs.

    python -m tests.soak.run_soak --hours 24 --speed 600

The bot runs as a subprocess on the embedded sim (four coins, aggressive profile) in a
fresh folder, with ``--duration hours*3600``. Its heartbeat line (logged every simulated
minute) tells how far the run is; the RSS of the process (psutil when installed, else
``/proc/<pid>/status``) is read at each heartbeat. Reported: the RSS once warmed up (the
first window has ended), at every simulated hour and at the end, the drift between start
and end, the slope of a straight-line fit through the hourly samples, and the peak.
Measurement only: the exit status is the bot's.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[2]
COINS = "BTC,ETH,SOL,XRP"
# "💓 01:02:03 sim aggressive | windows 4 · 0:57:40 left | cash …"
HEARTBEAT = re.compile(
    r"💓 .*?\| windows (\d+)(?:/\d+)?(?: · (-?)(\d+):(\d\d):(\d\d) left)?"
)


def rss_kib(pid: int) -> int | None:
    """Resident set size of ``pid`` in KiB (None once the process is gone)."""
    try:
        import psutil  # optional

        return int(psutil.Process(pid).memory_info().rss // 1024)
    except ImportError:
        return _proc_status_kib(pid, "VmRSS")
    except Exception:  # psutil.NoSuchProcess and friends
        return None


def peak_rss_kib(pid: int) -> int | None:
    """The process's high-water mark of RSS in KiB (Linux only)."""
    return _proc_status_kib(pid, "VmHWM")


def _proc_status_kib(pid: int, key: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(f"{key}:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


@dataclass(frozen=True)
class Sample:
    """One RSS reading at a heartbeat."""

    label: str
    sim_s: float
    windows: int
    rss_kib: int
    real_s: float


@dataclass
class SoakResult:
    """What a soak run measured."""

    hours: float
    speed: float
    exit_code: int
    real_s: float
    folder: Path
    samples: list[Sample] = field(default_factory=list)
    heartbeats: int = 0
    peak_kib: int | None = None
    timed_out: bool = False
    stderr_tail: list[str] = field(default_factory=list)

    @property
    def start(self) -> Sample | None:
        """The first sample after warm-up."""
        return next((s for s in self.samples if s.label == "start"), None)

    @property
    def end(self) -> Sample | None:
        """The last sample before the run stopped."""
        return next((s for s in reversed(self.samples) if s.label == "end"), None)

    @property
    def drift_kib(self) -> int | None:
        """RSS at the end minus RSS at the start."""
        if self.start is None or self.end is None:
            return None
        return self.end.rss_kib - self.start.rss_kib

    @property
    def slope_kib_per_hour(self) -> float | None:
        """Least-squares slope of RSS over simulated time, start and hourly samples."""
        points = [(s.sim_s / 3600, s.rss_kib) for s in self.samples if s.label != "end"]
        if len(points) < 3:
            return None
        n = len(points)
        mean_x = sum(x for x, _ in points) / n
        mean_y = sum(y for _, y in points) / n
        var = sum((x - mean_x) ** 2 for x, _ in points)
        if var == 0:
            return None
        return sum((x - mean_x) * (y - mean_y) for x, y in points) / var


class _Sampler:
    """Reads the bot's stderr line by line and samples RSS at the right heartbeats."""

    def __init__(self, pid: int, duration_s: float, log: Path, started: float) -> None:
        self.pid = pid
        self.duration_s = duration_s
        self.log = log
        self.started = started
        self.samples: list[Sample] = []
        self.last: Sample | None = None
        self.heartbeats = 0
        self.peak_kib: int | None = None
        self.tail: list[str] = []
        self._next_hour = 1
        self._warm = False

    def feed(self, stream: object) -> None:
        with self.log.open("w", encoding="utf-8") as copy:
            for line in stream:  # type: ignore[attr-defined]
                copy.write(line)
                self.tail = [*self.tail[-39:], line.rstrip("\n")]
                match = HEARTBEAT.search(line)
                if match:
                    self._heartbeat(match)

    def _heartbeat(self, match: re.Match[str]) -> None:
        windows = int(match[1])
        if match[3] is None:
            return  # no "left": not a --duration run
        left = int(match[3]) * 3600 + int(match[4]) * 60 + int(match[5])
        sim_s = self.duration_s - (-left if match[2] else left)
        rss = rss_kib(self.pid)
        if rss is None:
            return
        self.heartbeats += 1
        self.peak_kib = peak_rss_kib(self.pid) or self.peak_kib
        real_s = time.monotonic() - self.started
        self.last = Sample("end", sim_s, windows, rss, real_s)
        if not self._warm and windows >= 1:
            self._warm = True
            self.samples.append(Sample("start", sim_s, windows, rss, real_s))
        while self._warm and sim_s >= self._next_hour * 3600:
            label = f"hour {self._next_hour}"
            self.samples.append(Sample(label, sim_s, windows, rss, real_s))
            self._next_hour += 1


def bot_command(hours: float, speed: float, profile: str, live: bool = False) -> list[str]:
    """The ``polyflup run`` command line of a soak (``--live`` against a separate
    emulator, or ``--sim`` with the emulator inside the bot's process)."""
    return [
        sys.executable,
        "-c",
        "from src.cli import main; main()",
        "run",
        "--live" if live else "--sim",
        "--speed",
        f"{speed:g}",
        "--duration",
        f"{hours * 3600:g}",
        "--profile",
        profile,
    ]


def bot_environment() -> dict[str, str]:
    """The environment minus every PolyFlup setting, plus the soak's own."""
    from src.config.settings import options

    names = {option.env for option in options()}
    env = {k: v for k, v in os.environ.items() if k not in names}
    # no daily loss limit: a soak must keep trading all day to measure anything
    env.update(
        MARKETS=COINS, LOG_LEVEL="INFO", PYTHONPATH=str(REPO), DAILY_LOSS_LIMIT_PCT="100"
    )
    return env


def run_soak(
    hours: float,
    speed: float,
    folder: Path,
    profile: str = "aggressive",
    timeout_s: float | None = None,
    separate_emulator: bool = False,
) -> SoakResult:
    """Run the bot for ``hours`` simulated hours at ``speed`` in ``folder`` and sample it.

    ``separate_emulator``: the emulator runs in its own process and the bot trades it with
    ``--live``, so the RSS measured is the bot's alone (the simulated venue keeps its whole
    order history, which would otherwise count as the bot's growth).
    """
    if separate_emulator:
        from eth_account import Account

        from tests.support.processes import start_emulator_process

        emulator = start_emulator_process(folder / "emulator", seed=0, speed=speed)
        env = {
            **bot_environment(),
            **emulator.env,
            "POLYMARKET_PRIVATE_KEY": Account.create().key.hex(),
        }
        try:
            return _run(hours, speed, folder, profile, timeout_s, env, live=True)
        finally:
            emulator.stop()
    return _run(hours, speed, folder, profile, timeout_s, bot_environment(), live=False)


def _run(
    hours: float,
    speed: float,
    folder: Path,
    profile: str,
    timeout_s: float | None,
    env: dict[str, str],
    live: bool,
) -> SoakResult:
    folder.mkdir(parents=True, exist_ok=True)
    duration_s = hours * 3600
    deadline_s = timeout_s if timeout_s is not None else 3 * duration_s / speed + 120
    started = time.monotonic()
    with (folder / "stdout.txt").open("w", encoding="utf-8") as stdout:
        proc = subprocess.Popen(
            bot_command(hours, speed, profile, live),
            cwd=folder,
            env=env,
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        sampler = _Sampler(proc.pid, duration_s, folder / "stderr.txt", started)
        reader = threading.Thread(target=sampler.feed, args=(proc.stderr,), daemon=True)
        reader.start()
        timed_out = False
        try:
            exit_code = proc.wait(timeout=deadline_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            proc.terminate()
            try:
                exit_code = proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                exit_code = proc.wait()
        reader.join(30)
    samples = list(sampler.samples)
    if sampler.last is not None:
        samples.append(sampler.last)
    return SoakResult(
        hours=hours,
        speed=speed,
        exit_code=exit_code,
        real_s=time.monotonic() - started,
        folder=folder,
        samples=samples,
        heartbeats=sampler.heartbeats,
        peak_kib=sampler.peak_kib,
        timed_out=timed_out,
        stderr_tail=sampler.tail,
    )


def _mib(kib: float) -> str:
    return f"{kib / 1024:,.1f}"


def _hms(seconds: float) -> str:
    total = int(seconds)
    return f"{total // 3600}:{total % 3600 // 60:02d}:{total % 60:02d}"


def report(result: SoakResult, console: Console) -> None:
    """Print the samples, the drift and the slope."""
    start = result.start
    table = Table(
        title=f"RSS over {result.hours:g} simulated hours (×{result.speed:g}, {COINS})"
    )
    for name in ("Sample", "Sim time", "Windows", "Real s", "RSS MiB", "Δ vs start MiB"):
        table.add_column(name, justify="left" if name == "Sample" else "right")
    for s in result.samples:
        delta = "" if start is None else f"{(s.rss_kib - start.rss_kib) / 1024:+,.1f}"
        table.add_row(
            s.label,
            _hms(s.sim_s),
            str(s.windows),
            f"{s.real_s:.1f}",
            _mib(s.rss_kib),
            delta,
        )
    console.print(table)
    console.print(
        f"exit code {result.exit_code}{' (timed out)' if result.timed_out else ''}, "
        f"{result.heartbeats} heartbeats in {result.real_s:.1f} s real, "
        f"files in {result.folder}"
    )
    if result.start is None or result.end is None or result.drift_kib is None:
        console.print("no warmed-up sample: the run ended before its first window closed")
        return
    pct = 100 * result.drift_kib / result.start.rss_kib
    slope = result.slope_kib_per_hour
    console.print(
        f"RSS start {_mib(result.start.rss_kib)} MiB → end {_mib(result.end.rss_kib)} MiB: "
        f"drift {result.drift_kib / 1024:+,.1f} MiB ({pct:+.1f}%)"
        + ("" if slope is None else f", slope {slope / 1024:+,.2f} MiB per simulated hour")
        + ("" if result.peak_kib is None else f", peak {_mib(result.peak_kib)} MiB")
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the soak and print its table; the exit status is the bot's."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, default=24.0, help="simulated hours")
    parser.add_argument("--speed", type=float, default=600.0, help="clock speed")
    parser.add_argument("--profile", default="aggressive")
    parser.add_argument(
        "--embedded",
        action="store_true",
        help="the emulator inside the bot's process (--sim); default: its own process, "
        "the bot trading it with --live, so the RSS is the bot's alone",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="keep the run's files here (else a temp dir)",
    )
    args = parser.parse_args(argv)
    console = Console()
    real_s = args.hours * 3600 / args.speed
    console.print(
        f"🧪 soak: {args.hours:g} simulated hours at ×{args.speed:g} (at least "
        f"{f'{real_s / 60:.1f} min' if real_s >= 120 else f'{real_s:.0f} s'} real)"
    )
    if args.workdir is not None:
        result = run_soak(
            args.hours,
            args.speed,
            args.workdir,
            args.profile,
            separate_emulator=not args.embedded,
        )
        report(result, console)
    else:
        with tempfile.TemporaryDirectory(prefix="polyflup-soak-") as tmp:
            result = run_soak(
                args.hours,
                args.speed,
                Path(tmp),
                args.profile,
                separate_emulator=not args.embedded,
            )
            report(result, console)
            console.print("(a temporary folder, removed now; --workdir keeps the files)")
    if result.exit_code != 0:
        console.print("\n".join(result.stderr_tail[-20:]), markup=False, highlight=False)
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
