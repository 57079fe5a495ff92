"""``polyflup backtest``: would this profile have made money, and is its confidence honest?"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from src.backtest.report import write_outputs
from src.backtest.runner import BacktestSpec, run_backtest
from src.cli.common import build_settings, console, handle_errors, set_option
from src.cli.config_cmd import display_value, profile_option
from src.config.errors import ConfigError, ConfigProblem
from src.config.settings import options
from src.data.market_data.windows import SUPPORTED_COINS, normalize_coin
from src.sim.emulator.feed_setup import DataFileError
from src.utils.logger import configure_logging
from src.utils.money import to_micro

PROGRESS_EVERY_TICKS = 50


def _coins(text: str | None) -> tuple[str, ...]:
    if not text:
        return SUPPORTED_COINS
    coins = tuple(normalize_coin(c) for c in text.split(",") if c.strip())
    unknown = [c for c in coins if c not in SUPPORTED_COINS]
    if unknown or not coins:
        raise click.BadParameter(
            f"{','.join(unknown) or text!r}: choose from {','.join(SUPPORTED_COINS)}",
            param_hint="--symbols",
        )
    return coins


@click.command("backtest")
@profile_option
@click.option(
    "--data",
    "data_files",
    multiple=True,
    metavar="[SYMBOL=]FILE",
    help="Binance 1m kline CSV files (gzip or plain) to replay (repeatable).",
)
@click.option("--synthetic", is_flag=True, help="Generate prices instead of replaying.")
@click.option(
    "--days",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Days to simulate with --synthetic.",
)
@click.option(
    "--symbols", default=None, help="Coins to trade, e.g. BTC,ETH (all by default)."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seeds the world.")
@click.option(
    "--resolution",
    type=click.FloatRange(min=1, max=60),
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="Simulated seconds between two steps of the bot.",
)
@click.option(
    "--method",
    type=click.Choice(["additive", "bayesian"]),
    default=None,
    help="Confidence method that drives decisions (default: the profile's).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Output folder (default: backtests/<timestamp>).",
)
@set_option
@click.pass_context
@handle_errors
def backtest_cmd(
    ctx: click.Context,
    profile: str | None,
    data_files: tuple[str, ...],
    synthetic: bool,
    days: float | None,
    symbols: str | None,
    seed: int,
    resolution: float,
    method: str | None,
    out: Path | None,
    set_pairs: tuple[str, ...],
) -> None:
    """Replay data window by window through the bot's own engine and report.

    The same strategy, execution and position management as `polyflup run`, stepped
    over a simulated market in this process as fast as it goes; same seed, same files.
    Examples:

      polyflup backtest --profile aggressive --synthetic --days 2 --seed 7

      polyflup backtest --data BTCUSDT=btc.csv.gz --data ETHUSDT=eth.csv.gz
    """
    if bool(data_files) == synthetic:
        raise click.UsageError("give --data FILE… or --synthetic --days N (one of them)")
    if synthetic and days is None:
        raise click.UsageError("--synthetic needs --days N")
    pairs = set_pairs + ((f"CONFIDENCE_METHOD={method}",) if method else ())
    settings = build_settings(ctx, profile, pairs, None)
    configure_logging(None, "WARNING")  # the progress bar is the output; errors still show
    out_dir = out or Path("backtests") / datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    out_dir.mkdir(parents=True, exist_ok=True)
    spec = BacktestSpec(
        seed=seed,
        synthetic_days=days if synthetic else None,  # type: ignore[arg-type]
        data_files=data_files,
        coins=_coins(symbols),
        resolution_s=resolution,
    )
    screen = console()
    started = time.perf_counter()
    with Progress(
        TextColumn("[bold]backtest"),
        BarColumn(),
        TextColumn("{task.percentage:>5.1f}%  {task.fields[sim]}"),
        TimeElapsedColumn(),
        console=screen,
        transient=False,
    ) as progress:
        task = progress.add_task("run", total=1.0, sim="")
        seen = [0]

        def on_tick(start: float, now: float, end: float) -> None:
            seen[0] += 1
            if seen[0] % PROGRESS_EVERY_TICKS:
                return
            when = datetime.fromtimestamp(now, tz=UTC).strftime("%Y-%m-%d %H:%M")
            progress.update(task, completed=(now - start) / max(end - start, 1), sim=when)

        try:
            run = run_backtest(spec, settings, out_dir / "ledger.db", on_tick)
        except DataFileError as exc:
            raise ConfigError(
                [ConfigProblem("--data", str(exc), "a readable kline file")]
            ) from None
        progress.update(task, completed=1.0)
    meta: dict[str, Any] = {
        "seed": seed,
        "profile": settings.profile,
        "resolution_s": resolution,
        "coins": list(run.coins),
        "data": list(data_files),
        "synthetic_days": days if synthetic else None,
        "start": datetime.fromtimestamp(run.start, tz=UTC).isoformat(),
        "end": datetime.fromtimestamp(run.end, tz=UTC).isoformat(),
        "settings": {o.env: display_value(settings, o.env) for o in options()},
    }
    summary = write_outputs(
        out_dir, to_micro(settings.sim_starting_balance), run.windows, meta
    )
    _print_summary(summary, out_dir, time.perf_counter() - started)


def _print_summary(summary: dict[str, Any], out_dir: Path, seconds: float) -> None:
    table = Table(title=f"Backtest — {summary['windows']:,} windows in {seconds:.1f} s")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key in (
        "decisions",
        "trades",
        "win_rate",
        "pnl",
        "roi",
        "max_drawdown",
        "sharpe",
        "fees_paid",
        "brier_additive",
        "brier_bayesian",
    ):
        value = summary.get(key)
        table.add_row(key.replace("_", " "), "—" if value is None else str(value))
    screen = console()
    screen.print(table)
    screen.print(f"📁 {out_dir}: trades.csv, decisions.csv, summary.json, ledger.db")
