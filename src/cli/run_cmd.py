"""``polyflup run``: start the bot."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import click
from rich.console import Console

from src.backtest.lockstep import DEFAULT_RESOLUTION_S, Lockstep
from src.bot.engine import Bot, RunOptions, StartupError, install_signal_handlers
from src.bot.instance_lock import InstanceLock, InstanceLockedError
from src.bot.live_view import render_summary
from src.bot.status import RunSummary
from src.bot.wiring import SimWorld, connect
from src.cli.common import (
    EXIT_FAILURE,
    build_settings,
    console,
    db_option,
    handle_errors,
    set_option,
    setup_logging,
)
from src.cli.config_cmd import profile_option
from src.config.errors import ConfigError, ConfigProblem
from src.config.modes import Mode, resolve_run_mode
from src.config.settings import Settings
from src.data.db_connection import configure_database
from src.data.migrations import run_migrations
from src.data.notifications_store import DbNotificationStore
from src.notifications.discord import DiscordSender
from src.notifications.notifier import Notifier, NullSender, Sender
from src.sim.emulator.feed_setup import DataFileError, parse_data_arg
from src.utils.clock import Clock, SystemClock
from src.utils.logger import log


@click.command("run")
@profile_option
@click.option(
    "--sim", "sim", is_flag=True, help="Trade on the embedded simulator (the default)."
)
@click.option(
    "--paper", is_flag=True, help="Live market data, simulated fills against the live book."
)
@click.option(
    "--live",
    is_flag=True,
    help="Trade real money. Needs POLYMARKET_PRIVATE_KEY as well as this flag.",
)
@click.option(
    "--speed",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Simulated seconds per real second (sim, or live against an emulator).",
)
@click.option(
    "--windows",
    type=click.IntRange(min=1),
    default=None,
    help="Stop by itself after this many 15-minute windows.",
)
@click.option(
    "--duration",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="SECONDS",
    help="Stop by itself after this many (simulated) seconds.",
)
@click.option(
    "--data",
    "data_files",
    multiple=True,
    metavar="[SYMBOL=]FILE",
    help="Sim: Binance 1m kline CSV files to replay instead of generating (repeatable).",
)
@click.option(
    "--lockstep",
    is_flag=True,
    help="Sim: step the emulator and the bot together on a manual clock, as a backtest "
    "does (same seed and data, same trades), still over HTTP.",
)
@click.option(
    "--resolution",
    type=click.FloatRange(min=1, max=60),
    default=None,
    metavar="SECONDS",
    help=f"With --lockstep: simulated seconds per step (default {DEFAULT_RESOLUTION_S:g}).",
)
@db_option
@set_option
@click.pass_context
@handle_errors
def run(
    ctx: click.Context,
    profile: str | None,
    sim: bool,
    paper: bool,
    live: bool,
    speed: float | None,
    windows: int | None,
    duration: float | None,
    data_files: tuple[str, ...],
    lockstep: bool,
    resolution: float | None,
    db_path: Path | None,
    set_pairs: tuple[str, ...],
) -> None:
    """Run the bot: poll markets, decide, place orders and manage positions.

    With no mode flag it runs on the embedded simulator; real money needs --live and a
    wallet key. Examples:

      polyflup run --profile aggressive

      polyflup run --sim --speed 60 --windows 4

      polyflup run --sim --lockstep --data BTCUSDT=btc.csv.gz --windows 8

      polyflup run --live --profile conservative
    """
    if windows is not None and duration is not None:
        raise click.UsageError("give --windows or --duration, not both")
    _check_lockstep(lockstep, resolution, speed)
    settings = build_settings(ctx, profile, set_pairs, db_path)
    mode = resolve_run_mode(sim, paper, live, settings.has_wallet)
    if mode is not Mode.SIM and (lockstep or data_files):
        flag = "--lockstep" if lockstep else "--data"
        raise click.UsageError(f"{flag} is for the simulator only (--sim), not {mode}")
    _check_data_files(data_files)
    world = SimWorld(data_files=data_files, lockstep=lockstep)
    settings = dataclasses.replace(settings, db_path=mode_database(settings, mode))
    setup_logging(settings)
    lock = InstanceLock(settings.db_path)
    try:
        lock.acquire()  # before anything touches the database another bot may be using
    except InstanceLockedError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        if mode is Mode.SIM:
            reset_database(settings.db_path)
        report = run_migrations(settings.db_path)
        configure_database(settings.db_path)
        out = console()
        out.print(banner(settings, mode, speed, report.current_version, lockstep))
        log(f"🚀 run requested: mode={mode} profile={settings.profile}")
        summary = run_bot(
            settings,
            mode,
            speed,
            windows,
            duration,
            out,
            world,
            resolution or DEFAULT_RESOLUTION_S,
        )
    finally:
        lock.release()
    out.print(render_summary(summary))
    if summary.stop_reason == "error":
        ctx.exit(EXIT_FAILURE)


def _check_lockstep(lockstep: bool, resolution: float | None, speed: float | None) -> None:
    """--resolution belongs to --lockstep, which has no --speed (exit 2 otherwise)."""
    if resolution is not None and not lockstep:
        raise click.UsageError("--resolution needs --lockstep")
    if lockstep and speed is not None:
        raise click.UsageError(
            "--lockstep runs as fast as the machine allows: it takes no --speed"
        )


def _check_data_files(data_files: tuple[str, ...]) -> None:
    """Every --data argument names a symbol and an existing file (exit 2 otherwise)."""
    for arg in data_files:
        try:
            _, path = parse_data_arg(arg)
        except DataFileError as exc:
            raise click.BadParameter(str(exc), param_hint="--data") from None
        if not path.is_file():
            raise click.BadParameter(f"{arg!r}: no such file", param_hint="--data")


def banner(
    settings: Settings,
    mode: Mode,
    speed: float | None,
    schema: int,
    lockstep: bool = False,
) -> str:
    """The first line of a run: what trades where, and whether it is real money."""
    pace = f"×{speed:g}" if speed else "real time"
    if mode is Mode.SIM:
        pace = "lockstep" if lockstep else f"×{speed or settings.sim_speed:g}"
        money = "🧪 SIMULATION on the embedded emulator — no real money" + (
            " (a wallet is configured but --live was not given)"
            if settings.has_wallet
            else " (no wallet configured)"
        )
    elif mode is Mode.PAPER:
        money = "📄 PAPER: live market data, simulated fills — no real money"
    else:
        money = f"💸 LIVE: real orders at {settings.polymarket_clob_url}"
    return (
        f"🚀 PolyFlup — {money}\n   profile [bold]{settings.profile}[/bold], markets "
        f"{','.join(settings.markets)}, clock {pace}, database {settings.db_path} "
        f"(schema v{schema})"
    )


def mode_database(settings: Settings, mode: Mode) -> Path:
    """The ledger a run of ``mode`` writes to, never shared between kinds of money.

    Sim and paper default to their own files next to the configured database (``sim.db``,
    ``paper.db``) unless ``--db``/``POLYFLUP_DB`` names one. A database holding orders of
    another mode is refused (exit 2): paper fills in a live ledger would be reconciled
    against the real venue. A sim ledger starts empty each run, like the embedded
    emulator's new world (``reset_database``, once the instance lock is held).
    """
    path = settings.db_path
    if mode is not Mode.LIVE and settings.source_of("db_path") == "default":
        path = path.with_name(f"{mode}.db")
    others = _modes_in(path) - {str(mode)}
    if others:
        raise ConfigError(
            [
                ConfigProblem(
                    "POLYFLUP_DB",
                    str(path),
                    f"a database of {mode!s} orders only",
                    f"it holds {', '.join(sorted(others))} orders; give this {mode} run "
                    f"its own file (--db data/{mode}.db)",
                )
            ]
        )
    return path


def reset_database(path: Path) -> None:
    """Start a sim ledger empty (call it holding the instance lock)."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _modes_in(path: Path) -> set[str]:
    if not path.exists():
        return set()
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            return {r[0] for r in conn.execute("SELECT DISTINCT mode FROM orders")}
    except sqlite3.Error:  # not migrated yet: no orders of any mode
        return set()


def run_bot(
    settings: Settings,
    mode: Mode,
    speed: float | None,
    windows: int | None,
    duration: float | None,
    out: Console,
    world: SimWorld | None = None,
    resolution_s: float = DEFAULT_RESOLUTION_S,
) -> RunSummary:
    """Connect, reconcile, trade until a stop condition, disconnect.

    With ``world.lockstep`` the bot is stepped by the backtest's driver: each tick moves
    the embedded emulator's world ``resolution_s`` on, then runs every worker once.
    """
    world = world or SimWorld()
    adapters = connect(settings, mode, speed, world)
    clock = adapters.clock
    if world.lockstep:  # only the driver may move a manual clock: the notifier's
        clock = RealWaits(clock)  # retry waits are real ones
    notifier = build_notifier(adapters.settings, clock)
    restore = lambda: None  # noqa: E731 - replaced once the bot exists
    try:
        bot = Bot(
            adapters,
            RunOptions(
                windows,
                duration,
                live_view=out.is_terminal and not world.lockstep,
                lockstep=world.lockstep,
            ),
            notifier,
            out,
        )
        try:
            bot.prepare()
        except StartupError as exc:
            raise click.ClickException(str(exc)) from exc
        restore = install_signal_handlers(bot)
        if world.lockstep:
            assert adapters.world_step is not None
            driver = Lockstep(bot, adapters.world_step, resolution_s, adapters.venue)
            return bot.run_stepped(driver.tick)
        return bot.run()
    finally:
        restore()
        adapters.close()
        notifier.stop()


class RealWaits:
    """A clock's time with real waits: for threads other than a lockstep run's driver,
    which alone moves the manual clock."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def now(self) -> float:
        """The wrapped clock's time."""
        return self._clock.now()

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of real time."""
        SystemClock().sleep(seconds)


def build_notifier(settings: Settings, clock: Clock) -> Notifier:
    """Discord when a webhook is configured, else a notifier that only records."""
    sender: Sender = (
        DiscordSender(settings.discord_webhook_url)
        if settings.discord_webhook_url
        else NullSender()
    )
    return Notifier(sender, clock, store=DbNotificationStore()).start()
