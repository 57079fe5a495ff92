"""``polyflup data download``: historical 1-minute klines for backtests."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from src.cli.common import (
    EXIT_CONFIG,
    EXIT_FAILURE,
    build_settings,
    console,
    err_console,
    handle_errors,
    setup_logging,
)
from src.data.download import (
    DEFAULT_OUT,
    MAX_DAYS,
    SYMBOL_PATTERN,
    DownloadFailedError,
    DownloadReport,
    FetchError,
    InvalidSymbolError,
    KlineFetcher,
    check_symbols,
    download,
    plan_download,
    target_span,
)
from src.data.market_data.binance import make_client
from src.sim.feeds.errors import KlineFileError
from src.utils.clock import Clock, SystemClock
from src.utils.logger import log_error, log_warning

_GAPS_LOGGED = 3


def make_clock() -> Clock:
    """The clock for "now" and for waits between retries (tests substitute a manual one)."""
    return SystemClock()


def _symbols(
    _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> tuple[str, ...]:
    chosen: dict[str, None] = {}
    for value in values:
        symbol = value.strip().upper()
        if not SYMBOL_PATTERN.match(symbol):
            raise click.BadParameter(
                f"{value!r} is not a Binance symbol (letters and digits, e.g. BTCUSDT)"
            )
        chosen[symbol] = None
    return tuple(chosen)


@click.group("data")
def data_group() -> None:
    """Historical market data for backtests."""


def _report_table(report: DownloadReport, out_dir: Path) -> Table:
    table = Table(title=f"Klines in {out_dir}")
    table.add_column("Symbol", no_wrap=True)
    table.add_column("File", no_wrap=True)
    table.add_column("Rows", justify="right")
    table.add_column("Gaps (min)", justify="right")
    table.add_column("Fetched", justify="right")
    table.add_column("Already present", justify="right")
    for f in report.files:
        name = f.path.name if f.written else f"{f.path.name} (not written: no candles)"
        gaps = f"{f.gap_minutes:,} in {len(f.gaps)}" if f.gaps else "0"
        table.add_row(
            f.symbol, name, f"{f.rows:,}", gaps, f"{f.fetched:,}", f"{f.present:,}"
        )
    return table


def _log_gaps(report: DownloadReport) -> None:
    for f in report.files:
        if not f.gaps:
            continue
        shown = ", ".join(g.label() for g in f.gaps[:_GAPS_LOGGED])
        more = (
            f" and {len(f.gaps) - _GAPS_LOGGED} more" if len(f.gaps) > _GAPS_LOGGED else ""
        )
        log_warning(
            f"⚠️ [{f.symbol}] {f.path.name}: Binance has no candle for {f.gap_minutes} "
            f"minute(s) ({shown}{more}); left out, not invented"
        )


def _progress(out: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("minutes"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=out,
    )


@data_group.command("download")
@click.option(
    "--symbol",
    "symbols",
    multiple=True,
    required=True,
    metavar="SYMBOL",
    callback=_symbols,
    help="Binance symbol, e.g. BTCUSDT (repeatable).",
)
@click.option(
    "--days",
    type=click.IntRange(1, MAX_DAYS),
    required=True,
    help="How many days of 1-minute candles, ending at the last closed minute.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_OUT,
    show_default=True,
    help="Folder of the monthly files SYMBOL-1m-YYYY-MM.csv.gz.",
)
@click.option(
    "--until",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    metavar="YYYY-MM-DD",
    help="Last UTC day to include (default: up to the last closed minute).",
)
@click.pass_context
@handle_errors
def download_cmd(
    ctx: click.Context,
    symbols: tuple[str, ...],
    days: int,
    out_dir: Path,
    until: datetime | None,
) -> None:
    """Download 1-minute Binance klines into monthly gzip CSV files the backtest reads.

    Resumable: files already in --out are completed, never duplicated; after an
    interruption run the same command again. Minutes Binance has no candle for are
    reported as gaps, never invented. Uses BINANCE_API_URL.
    """
    settings = build_settings(ctx)
    setup_logging(settings)
    out = console()
    clock = make_clock()
    target = target_span(clock.now(), days, until.date() if until else None)
    try:
        plans = plan_download(symbols, out_dir, target)
    except KlineFileError as exc:
        err_console().print(
            f"❌ {exc}\n   Move or delete that file to download its month again.",
            markup=False,
        )
        ctx.exit(EXIT_FAILURE)
    total = sum(p.missing_minutes for p in plans)
    out.print(
        f"📥 {', '.join(symbols)}: {target.label()} ({target.minutes:,} minutes each) "
        f"→ {out_dir}",
        markup=False,
    )
    fetcher = KlineFetcher(
        make_client(settings.binance_api_url, settings.binance_futures_url), clock
    )
    try:
        if not total:
            out.print("✅ Everything asked for is already present.")
            report = download(fetcher, plans)  # no request: nothing is missing
        else:
            check_symbols(fetcher, plans)  # before the bar: an unknown symbol ends here
            with _progress(out) as bar:
                task = bar.add_task("klines", total=total)
                report = download(
                    fetcher,
                    plans,
                    on_progress=lambda symbol, minutes: bar.update(
                        task, advance=minutes, description=symbol
                    ),
                    symbols_checked=True,
                )
    except InvalidSymbolError as exc:
        err_console().print(f"❌ {exc}", markup=False)
        ctx.exit(EXIT_CONFIG)
    except FetchError as exc:  # while checking the symbols: nothing written yet
        log_error(f"❌ kline download failed: {exc}", include_traceback=False)
        err_console().print(
            f"❌ Binance did not answer: {exc}\n   Nothing was written; try again later.",
            markup=False,
        )
        ctx.exit(EXIT_FAILURE)
    except DownloadFailedError as exc:
        log_error(f"❌ kline download stopped: {exc}", include_traceback=False)
        out.print(_report_table(exc.report, out_dir))
        _log_gaps(exc.report)
        err_console().print(
            f"❌ Download stopped: {exc}\n"
            f"   Saved so far: {exc.report.fetched:,} new candles (table above), in "
            "valid files. Run the same command again to resume.",
            markup=False,
        )
        ctx.exit(EXIT_FAILURE)
    out.print(_report_table(report, out_dir))
    _log_gaps(report)
    out.print(
        f"✅ {report.fetched:,} candles fetched in {fetcher.requests} request(s); "
        "the backtest reads these files (--data FILE…).",
        markup=False,
    )
