"""The ``polyflup`` command line."""

from __future__ import annotations

from pathlib import Path

import click

from src import __version__
from src.cli.backtest_cmd import backtest_cmd
from src.cli.calibrate_cmd import calibrate_cmd
from src.cli.config_cmd import config_group
from src.cli.data_cmd import data_group
from src.cli.db_cmd import migrate, positions, trades
from src.cli.emulator_cmd import emulator
from src.cli.record_cmd import record_cmd
from src.cli.redeem_cmd import redeem_cmd
from src.cli.run_cmd import run
from src.cli.stats_cmd import stats
from src.cli.venue_cmd import cancel_all_cmd, doctor_cmd, reconcile_cmd
from src.config.settings import DEFAULT_ENV_FILE


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@click.version_option(__version__, "--version", "-V", prog_name="polyflup")
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_ENV_FILE,
    show_default=True,
    help="Settings file read before the environment (missing is fine).",
)
@click.pass_context
def cli(ctx: click.Context, env_file: Path) -> None:
    """PolyFlup — a bot for Polymarket's 15-minute crypto Up/Down markets.

    Runs on a local simulator by default; real money needs `run --live` and a wallet.
    Settings come from the environment and .env, a risk profile, then flags.
    Exit codes: 0 ok, 1 failure, 2 invalid configuration or usage.
    """
    ctx.ensure_object(dict)
    ctx.obj["env_file"] = env_file


cli.add_command(run)
cli.add_command(config_group)
cli.add_command(migrate)
cli.add_command(positions)
cli.add_command(trades)
cli.add_command(stats)
cli.add_command(emulator)
cli.add_command(reconcile_cmd)
cli.add_command(redeem_cmd)
cli.add_command(cancel_all_cmd)
cli.add_command(doctor_cmd)
cli.add_command(data_group)
cli.add_command(backtest_cmd)
cli.add_command(calibrate_cmd)
cli.add_command(record_cmd)


def main() -> None:
    """Console-script entry point."""
    cli.main(prog_name="polyflup")
