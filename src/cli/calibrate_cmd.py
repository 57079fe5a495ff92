"""``polyflup calibrate``: fit the simulated makers' book parameters to real recordings."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from src.cli.common import console, emit_json, err_console, handle_errors
from src.sim.market_model.calibration import FITTED, Calibration, FitRow

MEASURED_BY = {
    "maker_lag_s": "cross-correlation of the mid's and the fair value's changes",
    "noise_sd_logit": "sd of logit(mid) − logit(fair) at the minute marks",
    "noise_half_life_s": "autocorrelation of that residual (60–300 s)",
    "base_half_spread": "mean spread by time left × distance to strike",
    "uncertainty_mult": "mean spread by time left × distance to strike",
    "requote_margin": "share of seconds the top of book changes",
}


def _hold(
    _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> tuple[str, ...]:
    unknown = [v for v in values if v not in FITTED]
    if unknown:
        raise click.BadParameter(
            f"{', '.join(unknown)}: not a fitted parameter (choose from {', '.join(FITTED)})"
        )
    return values


@click.command("calibrate")
@click.option(
    "--quotes",
    "quote_files",
    multiple=True,
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Polymarket quote recordings, CSV plain or gzip (repeatable).",
)
@click.option(
    "--data",
    "data_files",
    multiple=True,
    required=True,
    metavar="[SYMBOL=]FILE",
    help="Binance 1m kline CSV files covering the recorded windows (repeatable); the "
    "symbol comes from the file name unless given.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the fitted parameters to this JSON file (for SIM_MARKET_PARAMS or "
    "`emulator --market-params`).",
)
@click.option(
    "--hold",
    multiple=True,
    callback=_hold,
    metavar="NAME",
    help=f"Keep a fitted parameter at its default instead (repeatable): "
    f"{', '.join(FITTED)}.",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seeds the sub-minute paths and the simulated makers' error.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the fit as JSON.")
@handle_errors
def calibrate_cmd(
    quote_files: tuple[Path, ...],
    data_files: tuple[str, ...],
    out: Path | None,
    hold: tuple[str, ...],
    seed: int,
    as_json: bool,
) -> None:
    """Fit the market model's book parameters to recorded Polymarket quotes.

    Compares the recorded best bid/ask with books simulated over the same windows and
    seconds (fair value from the klines) and fits the makers' lag, error, spread and
    requote margin; prints the fitted values and a recorded-vs-simulated table.
    Examples:

      polyflup calibrate --quotes btc-quotes.csv.gz --data BTCUSDT-1m-2025-12.csv.gz

      polyflup calibrate --quotes q.csv.gz --data k.csv.gz --out market.json --json
    """
    from src.data.quotes import QuotesFileError, load_recordings
    from src.sim.emulator.feed_setup import DataFileError, parse_data_arg
    from src.sim.feeds import KlineFileError, KlineTable, read_klines_csv
    from src.sim.market_model.calibration import (
        CalibrationError,
        calibrate,
        prepare_windows,
    )
    from src.sim.market_model.params_file import save_market_params

    try:
        recordings = load_recordings(quote_files)
    except QuotesFileError as exc:
        raise click.BadParameter(str(exc), param_hint="--quotes") from None
    klines: dict[str, list[KlineTable]] = {}
    for arg in data_files:
        try:
            symbol, path = parse_data_arg(arg)
            if not path.exists():
                raise DataFileError(f"{arg!r}: no such file")
            klines.setdefault(symbol, []).append(read_klines_csv(path))
        except (DataFileError, KlineFileError) as exc:
            raise click.BadParameter(str(exc), param_hint="--data") from None
    try:
        data = prepare_windows(recordings, klines, seed=seed)
    except CalibrationError as exc:
        raise click.UsageError(str(exc)) from None

    with Progress(
        TextColumn("🔧 {task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err_console(),
        transient=True,
        disable=as_json,
    ) as progress:
        task = progress.add_task("fitting", total=1)

        def report(stage: str, done: int, total: int) -> None:
            progress.update(task, description=stage, completed=done, total=total)

        result = calibrate(data, hold=hold, seed=seed, progress=report)

    header = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "recordings": [str(p) for p in quote_files],
        "klines": list(data_files),
        "seed": seed,
        **result.report(),
    }
    if out is not None:
        save_market_params(result.params, out, header)
    if as_json:
        emit_json({"fit": header, "params": _params_json(result)})
        return
    _print(result, out)


def _params_json(result: Calibration) -> dict[str, Any]:
    from src.sim.market_model.params_file import params_document

    return params_document(result.params)["params"]


def _print(result: Calibration, out: Path | None) -> None:
    from src.sim.market_model.params import MarketModelParams

    defaults = MarketModelParams()
    out_console = console()
    fitted = Table(title="Fitted market-model parameters")
    fitted.add_column("parameter", no_wrap=True)
    fitted.add_column("fitted", justify="right")
    fitted.add_column("default", justify="right")
    fitted.add_column("fitted to")
    for name in FITTED:
        value = getattr(result.params, name)
        held = " (held)" if name in result.held else ""
        fitted.add_row(
            name, f"{value:.4g}{held}", f"{getattr(defaults, name):.4g}", MEASURED_BY[name]
        )
    out_console.print(fitted)
    table = Table(title="Goodness of fit: recorded vs simulated with the fitted parameters")
    table.add_column("measure")
    table.add_column("recorded", justify="right")
    table.add_column("simulated", justify="right")
    for row in result.rows:
        table.add_row(row.measure, _shown(row.recorded, row), _shown(row.simulated, row))
    out_console.print(table)
    skipped = f", {len(result.skipped)} skipped (no klines)" if result.skipped else ""
    out_console.print(
        f"✅ {result.windows} windows, {result.observations:,} observations{skipped}; "
        f"{result.rounds} rounds; mean relative error {result.score:.3f}",
        markup=False,
    )
    if out is not None:
        out_console.print(f"💾 wrote {out} (SIM_MARKET_PARAMS={out})", markup=False)


def _shown(value: float, row: FitRow) -> str:
    if value != value:  # NaN: nothing observed
        return "—"
    if row.unit == "%":
        return f"{100 * value:.1f} %"
    if row.unit == "c":
        return f"{value:.2f} c"
    if row.unit == "s":
        return f"{value:+.1f} s"
    return f"{value:.3f}"
