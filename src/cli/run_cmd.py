"""``polyflup run``: start the bot."""

from __future__ import annotations

from pathlib import Path

import click

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
from src.config.modes import Mode, resolve_run_mode
from src.data.migrations import run_migrations
from src.utils.logger import log

# What `run` still needs before it can trade, per mode (removed as each part lands).
MISSING_PARTS = {
    Mode.SIM: "the simulated venue and local emulator (issues 3 and 4) and the "
    "trading workers (issue 7)",
    Mode.PAPER: "the live market-data adapters (issues 5 and 6) and the trading workers "
    "(issue 7)",
    Mode.LIVE: "the CLOB venue adapter and ledger (issue 6) and the trading workers "
    "(issue 7)",
}


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
    db_path: Path | None,
    set_pairs: tuple[str, ...],
) -> None:
    """Run the bot: poll markets, decide, place orders and manage positions.

    With no mode flag it runs on the embedded simulator; real money needs --live and a
    wallet key. Examples:

      polyflup run --profile aggressive

      polyflup run --sim --speed 60 --windows 4

      polyflup run --live --profile conservative
    """
    if windows is not None and duration is not None:
        raise click.UsageError("give --windows or --duration, not both")
    settings = build_settings(ctx, profile, set_pairs, db_path)
    mode = resolve_run_mode(sim, paper, live, settings.has_wallet)
    setup_logging(settings)
    report = run_migrations(settings.db_path)
    out = console()
    out.print(
        f"🚀 PolyFlup — mode [bold]{mode}[/bold], profile [bold]{settings.profile}"
        f"[/bold], markets {','.join(settings.markets)}, database {settings.db_path} "
        f"(schema v{report.current_version})"
    )
    if mode is Mode.SIM and settings.has_wallet:
        out.print(
            "ℹ️  A wallet is configured but --live was not given: nothing real is traded."
        )
    log(f"🚀 run requested: mode={mode} profile={settings.profile}")
    out.print(
        f"⏳ Not available yet: `run --{mode}` needs {MISSING_PARTS[mode]}. "
        "Configuration and database are ready; see `polyflup config show`.",
        markup=False,
    )
    ctx.exit(EXIT_FAILURE if mode is not Mode.SIM else 0)
