"""The chaos run: ``polyflup run --live`` against an emulator injecting faults, killed with
SIGKILL at random moments and restarted; at the end the ledger must equal the venue's.

``python -m tests.chaos`` (``make chaos``) runs the full version — at least 20 kills over
at least 200 coin-windows (50 fifteen-minute windows × 4 coins); ``test_chaos_short.py``
runs 3 kills over 20 inside ``make test``. Faults injected: 5xx and 429 answers, latency,
timeouts after the order was accepted, connections dropped after the action was applied,
websocket drops, stale books and one post-only-mode period.

After the last run and a final ``polyflup reconcile``, the checks (docs/RELIABILITY.md):

* ``reconcile --dry-run --json`` is empty;
* the ledger's cash equals the venue's collateral to the micro-unit, every open position
  equals the venue's token balance;
* every fill of the venue is in the ledger (none missing, none invented);
* every order at the venue is one of ours and no intent produced two orders;
* no open order at the venue is unknown to the ledger;
* no unhandled exception in the bot's logs.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from rich.console import Console
from rich.table import Table

from src.data.market_data.windows import WINDOW_SECONDS, window_start
from src.utils.logger import UNHANDLED
from tests.support.processes import (
    BotSetup,
    EmulatorProcess,
    new_setup,
    start_emulator_process,
)
from tests.support.waiting import wait_until

MICRO = 1_000_000
COINS = 4
# Holds outlast VENUE_TIMEOUT_SEC (1 s real) at ×300: the order exists, the bot never hears.
DEFAULT_FAULTS = (
    "order:5xx=0.05,order:timeout=0.05/600s,order:drop=0.05,cancel:5xx=0.05,"
    "cancel:drop=0.05,books:5xx=0.02,books:drop=0.01,all:429=0.01/1s,"
    "clob:latency=1ms..3ms,books:stale=5s,ws:drop=300s"
)
POST_ONLY_S = 300  # emulator seconds of post-only mode, once per run
RUN_END_TIMEOUT_S = 600.0  # real seconds for the last run to stop by itself


@dataclass(frozen=True)
class ChaosConfig:
    """One chaos run."""

    windows: int = 50  # fifteen-minute windows (coin-windows = windows × 4)
    kills: int = 20
    speed: float = 300.0
    seed: int = 7
    faults: str = DEFAULT_FAULTS


@dataclass
class ChaosReport:
    """What happened and what the checks found."""

    windows: int
    coin_windows: int
    kills: int
    restarts: int
    injected: dict[str, int]
    reconcile_actions: int
    cash_diff_micro: int
    position_diffs: dict[str, int]
    missing_fills: int
    invented_fills: int
    foreign_orders: int
    duplicate_orders: int
    unknown_open_orders: int
    unhandled: int
    fills: int
    orders: int
    real_seconds: float
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every invariant held."""
        return not self.problems


def _wait_for_time(emu: EmulatorProcess, target: float, bot: subprocess.Popen[str]) -> bool:
    """Until the emulator's clock reaches ``target``; False if the bot stopped first."""
    return wait_until(
        lambda: emu.time() >= target,
        f"emulator time {target:.0f}",
        RUN_END_TIMEOUT_S,
        give_up=lambda: bot.poll() is not None,
    )


def _query(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return [tuple(r) for r in conn.execute(sql)]


def run_chaos(
    config: ChaosConfig, home: Path, console: Console | None = None
) -> ChaosReport:
    """Run the chaos scenario under ``home``; returns the report (see ``ok``)."""
    out = console or Console()
    started = time.perf_counter()
    rng = random.Random(config.seed)
    emu = start_emulator_process(
        home / "emulator", config.seed, speed=config.speed, faults=config.faults
    )
    setup = new_setup(
        emu,
        home,
        speed=config.speed,
        extra_env={"VENUE_TIMEOUT_SEC": "1.0"},
    )
    log = home / "bot-output.log"
    try:
        now = emu.time()
        end = window_start(now) + (config.windows + 1) * WINDOW_SECONDS
        kill_times = sorted(rng.uniform(now + 120, end - 300) for _ in range(config.kills))
        post_only_at = rng.uniform(now + 120, end - 600)
        post_only_done = False
        bot = setup.start(duration=end - emu.time(), output=log)
        restarts = 0
        for kill_at in kill_times:
            if not post_only_done and post_only_at <= kill_at:
                _wait_for_time(emu, post_only_at, bot)
                emu.set_faults(f"{config.faults},engine:postonly={POST_ONLY_S:.0f}s")
                post_only_done = True
            if not _wait_for_time(emu, kill_at, bot):
                out.print(
                    f"⚠️ the bot stopped by itself (exit {bot.returncode}) before a kill"
                )
            bot.send_signal(signal.SIGKILL)
            bot.wait(30)
            restarts += 1
            out.print(f"💥 kill {restarts}/{config.kills} at emulator time {kill_at:.0f}")
            bot = setup.start(duration=end - emu.time(), output=log)
        if not post_only_done:
            _wait_for_time(emu, post_only_at, bot)
            emu.set_faults(f"{config.faults},engine:postonly={POST_ONLY_S:.0f}s")
        bot.wait(RUN_END_TIMEOUT_S)
        emu.set_faults("")  # the final reconciliation must be able to prove everything
        final = setup.cli("reconcile")
        report = _check(setup, emu, config, restarts, final)
    finally:
        emu.stop()
    report.real_seconds = time.perf_counter() - started
    _print(report, out)
    return report


def _check(
    setup: BotSetup,
    emu: EmulatorProcess,
    config: ChaosConfig,
    restarts: int,
    final: subprocess.CompletedProcess[str],
) -> ChaosReport:
    problems: list[str] = []
    if final.returncode != 0:
        problems.append(f"final reconcile failed: {final.stderr[-500:]}")
    dry = setup.cli("reconcile", "--dry-run", "--json")
    plan = json.loads(dry.stdout) if dry.returncode == 0 else {"actions": ["?"]}
    actions = len(plan.get("actions", [])) + len(plan.get("unresolved", []))
    if actions:
        problems.append(f"reconcile --dry-run not empty: {plan}")
    venue = emu.ledger(setup.address)
    db = setup.db
    [(cash,)] = _query(db, "SELECT COALESCE(SUM(amount_micro), 0) FROM cash_ledger")
    cash_diff = cash - int(Decimal(venue["collateral"]["balance"]) * MICRO)
    if cash_diff:
        problems.append(f"cash differs by {cash_diff} micro-units")
    held = {p["token_id"]: int(Decimal(p["size"]) * MICRO) for p in venue["positions"]}
    local = dict(
        _query(
            db,
            "SELECT p.token_id, CASE WHEN p.status = 'settled' THEN s.size_micro "
            "ELSE p.size_micro END FROM positions p LEFT JOIN settlements s "
            "ON s.position_id = p.id WHERE p.status IN ('open', 'closed', 'settled')",
        )
    )
    diffs = {
        t: local.get(t, 0) - held.get(t, 0)
        for t in set(held) | set(local)
        if local.get(t, 0) != held.get(t, 0)
    }
    if diffs:
        problems.append(f"token positions differ: {diffs}")
    venue_trades = {t["id"] for t in venue["trades"]}
    booked = {r[0].split("/")[0] for r in _query(db, "SELECT venue_trade_id FROM fills")}
    missing, invented = venue_trades - booked, booked - venue_trades
    if missing or invented:
        problems.append(f"fills: {len(missing)} missing, {len(invented)} invented")
    ours = [r[0] for r in _query(db, "SELECT venue_order_id FROM orders")]
    venue_orders = {o["id"]: o for o in venue["orders"]}
    foreign = set(venue_orders) - set(ours)
    duplicates = len(ours) - len(set(ours))
    if foreign or duplicates:
        problems.append(f"orders: {len(foreign)} unknown to us, {duplicates} duplicated")
    open_at_venue = {
        i for i, o in venue_orders.items() if str(o.get("status", "")).endswith("LIVE")
    }
    unknown_open = len(open_at_venue - set(ours))
    if unknown_open:
        problems.append(f"{unknown_open} open order(s) unknown to the ledger")
    unhandled = sum(
        path.read_text(errors="replace").count(UNHANDLED)
        for path in (setup.home / "logs").glob("*.log")
    )
    if unhandled:
        problems.append(f"{unhandled} unhandled exception(s) in the logs")
    return ChaosReport(
        windows=config.windows,
        coin_windows=config.windows * COINS,
        kills=config.kills,
        restarts=restarts,
        injected=dict(emu.faults().get("injected", {})),
        reconcile_actions=actions,
        cash_diff_micro=cash_diff,
        position_diffs=diffs,
        missing_fills=len(missing),
        invented_fills=len(invented),
        foreign_orders=len(foreign),
        duplicate_orders=duplicates,
        unknown_open_orders=unknown_open,
        unhandled=unhandled,
        fills=len(booked),
        orders=len(ours),
        real_seconds=0.0,
        problems=problems,
    )


def _print(report: ChaosReport, out: Console) -> None:
    faults = Table(title="Faults injected and survived")
    faults.add_column("kind")
    faults.add_column("count", justify="right")
    for kind, count in sorted(report.injected.items()):
        faults.add_row(kind, f"{count:,}")
    faults.add_row("SIGKILL + restart", f"{report.restarts:,}")
    out.print(faults)
    checks = Table(title="Ledger after the chaos run")
    checks.add_column("check")
    checks.add_column("value", justify="right")
    for name, value in (
        ("windows (× 4 coins)", f"{report.windows} ({report.coin_windows})"),
        ("orders / fills booked", f"{report.orders:,} / {report.fills:,}"),
        ("reconcile actions left", report.reconcile_actions),
        ("cash difference (micro-units)", report.cash_diff_micro),
        ("token positions differing", len(report.position_diffs)),
        ("fills missing / invented", f"{report.missing_fills} / {report.invented_fills}"),
        (
            "orders unknown / duplicated",
            f"{report.foreign_orders} / {report.duplicate_orders}",
        ),
        ("open orders unknown to the ledger", report.unknown_open_orders),
        ("unhandled exceptions", report.unhandled),
        ("real time", f"{report.real_seconds:.0f} s"),
    ):
        checks.add_row(name, str(value))
    out.print(checks)
    out.print("✅ ledger equals the venue's" if report.ok else f"❌ {report.problems}")


def main(argv: list[str] | None = None) -> int:
    """``python -m tests.chaos [--windows N] [--kills K] [--speed X] [--seed S]``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--windows", type=int, default=ChaosConfig.windows)
    parser.add_argument("--kills", type=int, default=ChaosConfig.kills)
    parser.add_argument("--speed", type=float, default=ChaosConfig.speed)
    parser.add_argument("--seed", type=int, default=ChaosConfig.seed)
    parser.add_argument("--faults", default=DEFAULT_FAULTS)
    parser.add_argument("--keep", type=Path, default=None, help="keep the run's files here")
    args = parser.parse_args(argv)
    config = ChaosConfig(args.windows, args.kills, args.speed, args.seed, args.faults)
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        report = run_chaos(config, args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="polyflup-chaos-") as tmp:
            report = run_chaos(config, Path(tmp))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
