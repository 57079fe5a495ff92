"""``polyflup backtest``: would this profile have made money, and is its confidence honest?"""

from __future__ import annotations

import time
import warnings
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from src.backtest.report import (
    FORECASTERS,
    METHODS,
    BacktestReport,
    BaselineRules,
    write_outputs,
)
from src.backtest.runner import MARKET_MODEL, MARKETS, BacktestSpec, run_backtest
from src.cli.common import build_settings, console, handle_errors, set_option
from src.cli.config_cmd import display_value, profile_option
from src.config.settings import options
from src.data.market_data.windows import SUPPORTED_COINS, normalize_coin
from src.data.quotes import QuotesFileError, QuotesRepairWarning
from src.data.stats import CalibrationBucket, GroupStats
from src.sim.emulator.feed_setup import DataFileError
from src.sim.emulator.recorded import DEFAULT_DEPTH_SHARES, ReplayRules
from src.sim.emulator.world import DEFAULT_FEE_RATE
from src.sim.feeds.errors import KlineFileError, KlineRepairWarning
from src.trading.logic import DecisionAudit
from src.utils.logger import configure_logging
from src.utils.money import format_micro, to_micro

PROGRESS_EVERY_TICKS = 50
BASELINE_LABELS = {
    "favourite": "always the favourite",
    "fair_value": "fair value only",
    "random": "random side",
}


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
@click.option(
    "--quotes",
    "quote_files",
    multiple=True,
    metavar="FILE",
    help="Polymarket quote recordings to trade against instead of the book model "
    "(repeatable; needs the matching --data klines).",
)
@click.option(
    "--depth",
    type=click.FloatRange(min=5),
    default=float(DEFAULT_DEPTH_SHARES),
    show_default=True,
    metavar="SHARES",
    help="With --quotes: shares at each recorded best price when the file has no sizes.",
)
@click.option(
    "--fee-rate",
    type=click.FloatRange(min=0, max=1),
    default=float(DEFAULT_FEE_RATE),
    show_default=True,
    help="With --quotes: the taker fee rate of the replayed markets (0: no fee, as when "
    "the shared recordings were made).",
)
@click.option(
    "--market",
    type=click.Choice(MARKETS),
    default=MARKET_MODEL,
    show_default=True,
    help="The simulated Polymarket side: the full book model (maker ladder, takers), or "
    "light — the makers' quotes only, several times faster (no takers: a resting order "
    "fills when the quote moves through it).",
)
@click.option("--synthetic", is_flag=True, help="Generate prices instead of replaying.")
@click.option(
    "--days",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Days to simulate (--synthetic), or at most this many of the --data files.",
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
    "--audit",
    type=click.Choice([a.value for a in DecisionAudit]),
    default=DecisionAudit.LEAN.value,
    show_default=True,
    help="What each stored decision keeps in ledger.db: lean — what the reports read "
    "(a few dozen bytes); full — every input and signal, as `run` stores them (about "
    "3 kB a decision: ~130 MB a day of 4 coins).",
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
    quote_files: tuple[str, ...],
    depth: float,
    fee_rate: float,
    market: str,
    synthetic: bool,
    days: float | None,
    symbols: str | None,
    seed: int,
    resolution: float,
    method: str | None,
    audit: str,
    out: Path | None,
    set_pairs: tuple[str, ...],
) -> None:
    """Replay data window by window through the bot's own engine and report.

    The same strategy, execution and position management as `polyflup run`, stepped
    over a simulated market in this process as fast as it goes; same seed, same files.
    Examples:

      polyflup backtest --profile aggressive --synthetic --days 2 --seed 7

      polyflup backtest --data BTCUSDT=btc.csv.gz --data ETHUSDT=eth.csv.gz

      polyflup backtest --quotes btc-quotes.csv.gz --data BTCUSDT-1m-….csv.gz
    """
    if bool(data_files) == synthetic:
        raise click.UsageError("give --data FILE… or --synthetic --days N (one of them)")
    if quote_files and not data_files:
        raise click.UsageError("--quotes needs the matching Binance klines: --data FILE…")
    if synthetic and days is None:
        raise click.UsageError("--synthetic needs --days N")
    pairs = set_pairs + ((f"CONFIDENCE_METHOD={method}",) if method else ())
    settings = build_settings(ctx, profile, pairs, None)
    configure_logging(None, "WARNING")  # the progress bar is the output; errors still show
    out_dir = out or Path("backtests") / datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    out_dir.mkdir(parents=True, exist_ok=True)
    spec = BacktestSpec(
        seed=seed,
        days=days,
        data_files=data_files,
        coins=_coins(symbols),
        resolution_s=resolution,
        quote_files=quote_files,
        market=market,
        audit=DecisionAudit(audit),
        replay=ReplayRules(
            depth_shares=Decimal(str(depth)), fee_rate=Decimal(str(fee_rate))
        ),
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
            with warnings.catch_warnings(record=True) as repaired:
                warnings.simplefilter("always", KlineRepairWarning)
                warnings.simplefilter("always", QuotesRepairWarning)
                run = run_backtest(spec, settings, out_dir / "ledger.db", on_tick)
        except (DataFileError, KlineFileError) as exc:
            raise click.BadParameter(str(exc), param_hint="--data") from None
        except QuotesFileError as exc:
            raise click.BadParameter(str(exc), param_hint="--quotes") from None
        progress.update(task, completed=1.0)
    for warning in repaired:
        screen.print(f"[yellow]⚠️ {warning.message}[/]", soft_wrap=True)
    meta: dict[str, Any] = {
        "seed": seed,
        "profile": settings.profile,
        "resolution_s": resolution,
        "coins": list(run.coins),
        "data": list(data_files),
        "quotes": list(quote_files),
        "market": "recorded" if quote_files else market,
        **({"depth_shares": depth, "fee_rate": fee_rate} if quote_files else {}),
        "days": days,
        "audit": audit,
        "start": datetime.fromtimestamp(run.start, tz=UTC).isoformat(),
        "end": datetime.fromtimestamp(run.end, tz=UTC).isoformat(),
        "settings": {o.env: display_value(settings, o.env) for o in options()},
    }
    rules = BaselineRules(
        seed=seed,
        min_edge=settings.min_edge,
        losing_side_min_edge=settings.losing_side_min_edge,
        entry_min_elapsed_s=settings.entry_min_elapsed_sec,
        entry_max_elapsed_s=settings.entry_max_elapsed_sec,
    )
    report = write_outputs(
        out_dir, to_micro(settings.sim_starting_balance), run.windows, meta, rules
    )
    _print_summary(report, out_dir, time.perf_counter() - started)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _money(micro: int) -> str:
    """Signed money text: ``+12.34``, ``-5.00``, ``0.00``."""
    text = format_micro(micro)
    return f"+{text}" if micro > 0 else text


def _pnl(micro: int) -> str:
    style = "green" if micro > 0 else "red" if micro < 0 else ""
    return f"[{style}]{_money(micro)}[/]" if style else _money(micro)


def _figure(value: float | None, places: int) -> str:
    return "—" if value is None else f"{value:.{places}f}"


def headline_table(report: BacktestReport) -> Table:
    """The headline figures, one per row."""
    summary, total = report.summary, report.total
    table = Table(title="Headline")
    table.add_column("Figure", no_wrap=True)
    table.add_column("Value", justify="right", no_wrap=True)
    rows = (
        ("windows", f"{summary['windows']:,}"),
        ("decisions", f"{summary['decisions']:,}"),
        ("trades (closed)", f"{summary['trades']:,} ({total.positions:,})"),
        ("win rate", _pct(total.win_rate)),
        ("PnL (USDC)", _pnl(total.pnl_micro)),
        ("ROI", _pct(summary["roi"])),
        ("max drawdown (USDC)", format_micro(report.max_drawdown_micro)),
        ("Sharpe (daily, annualised)", _figure(summary["sharpe"], 2)),
        ("fees paid (USDC)", format_micro(report.fees_micro)),
        ("Brier additive", _figure(summary["brier_additive"], 4)),
        ("Brier bayesian", _figure(summary["brier_bayesian"], 4)),
    )
    for name, value in rows:
        table.add_row(name, value)
    return table


def _money_columns(table: Table, first: str) -> None:
    table.add_column(first, no_wrap=True)
    for name in ("Trades", "Win rate", "Cost", "Fees", "PnL", "ROI"):
        table.add_column(name, justify="right", no_wrap=True)


def _money_row(table: Table, group: GroupStats, label: str | None = None) -> None:
    table.add_row(
        label or group.key,
        f"{group.positions:,}",
        _pct(group.win_rate),
        format_micro(group.cost_micro),
        format_micro(group.fees_micro, 4),
        _pnl(group.pnl_micro),
        _pct(group.roi),
    )


def groups_table(
    title: str, first: str, groups: tuple[GroupStats, ...], total: GroupStats | None
) -> Table:
    """Closed positions per group (USDC), with a total row when ``total`` is given."""
    table = Table(title=title)
    _money_columns(table, first)
    for group in groups:
        _money_row(table, group)
    if total is not None:
        table.add_section()
        _money_row(table, total, "[bold]total[/]")
    return table


def calibration_table(report: BacktestReport) -> Table:
    """Both methods' calibration side by side, one row per confidence bucket."""
    table = Table(
        title="Calibration: confidence of the side each method points to, all decisions",
        caption="n decisions · mean confidence · share whose side won",
    )
    table.add_column("Confidence", no_wrap=True)
    for method in METHODS:
        for name in ("n", "conf", "won"):
            table.add_column(f"{method}\n{name}", justify="right", no_wrap=True)
    by_bucket: dict[tuple[float, float], dict[str, CalibrationBucket]] = {}
    for b in report.calibration:
        by_bucket.setdefault((b.low, b.high), {})[b.method] = b
    for (low, high), methods in sorted(by_bucket.items()):
        cells = [f"{low:.2f}–{high:.2f}"]
        for method in METHODS:
            b = methods.get(method)
            cells += (
                ["0", "—", "—"]
                if b is None
                else [f"{b.count:,}", f"{b.mean_confidence:.3f}", _pct(b.hit_rate)]
            )
        table.add_row(*cells)
    return table


def brier_minute_table(report: BacktestReport) -> Table:
    """Brier score of P(Up) by minute into the window: market, model, confidences."""
    table = Table(
        title="Does the model know more than the market? Brier score by minute",
        caption="first decision of each window in the minute; lower is better, best bold",
    )
    table.add_column("Minute", justify="right", no_wrap=True)
    table.add_column("Windows", justify="right", no_wrap=True)
    labels = ("market mid", "fair value", "additive", "bayesian")
    for label in labels:
        table.add_column(label, justify="right", no_wrap=True)
    for row in report.brier_by_minute:
        values = [getattr(row, name) for name in FORECASTERS]
        best = min((v for v in values if v is not None), default=None)
        cells = [
            "—" if v is None else f"[bold]{v:.4f}[/]" if v == best else f"{v:.4f}"
            for v in values
        ]
        table.add_row(str(row.minute), f"{row.windows:,}", *cells)
    return table


def baselines_table(report: BacktestReport) -> Table:
    """The bot against the simple strategies on the same windows."""
    table = Table(
        title="Baselines on the same windows",
        caption=(
            f"baselines: {format_micro(report.stake_micro)} USDC per trade at the ask of "
            "the window's first decision in the entry period, taker fee, held to settlement"
        ),
    )
    _money_columns(table, "Strategy")
    _money_row(table, report.total, "bot (this run)")
    table.add_section()
    for group in report.baselines:
        _money_row(table, group, BASELINE_LABELS.get(group.key, group.key))
    return table


def _print_summary(report: BacktestReport, out_dir: Path, seconds: float) -> None:
    summary = report.summary
    screen = console()
    screen.print(
        f"[bold]📊 Backtest[/] — profile {summary.get('profile')}, seed "
        f"{summary.get('seed')}: {summary['windows']:,} windows in {seconds:.1f} s"
    )
    screen.print(headline_table(report))
    if report.total.positions:
        screen.print(
            groups_table("PnL by symbol", "Symbol", report.by_symbol, report.total)
        )
        screen.print(
            groups_table("PnL by exit reason", "Exit reason", report.by_exit_reason, None)
        )
    else:
        screen.print("No closed positions.")
    if report.calibration:
        screen.print(calibration_table(report))
    if report.brier_by_minute:
        screen.print(brier_minute_table(report))
    screen.print(baselines_table(report))
    screen.print(f"📁 {out_dir}: {', '.join(report.files)}", soft_wrap=True)
