"""``polyflup emulator``: serve the Polymarket and Binance APIs locally from the simulator."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import click

from src.cli.common import console, err_console, handle_errors
from src.sim.emulator.defaults import DEFAULT_BALANCE_MICRO, DEFAULT_PORT
from src.sim.emulator.faults import FaultSpecError, parse_fault_spec
from src.sim.emulator.wire import dec, parse_amount
from src.utils.logger import configure_logging

if TYPE_CHECKING:
    from src.sim.market_model.params import MarketModelParams


def _balance(_ctx: click.Context, _param: click.Parameter, value: str) -> int:
    try:
        return parse_amount(value.replace(",", ""))
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _market_params(
    _ctx: click.Context, _param: click.Parameter, value: Path | None
) -> MarketModelParams | None:
    from src.sim.market_model.params_file import MarketParamsFileError, load_market_params

    if value is None:
        return None
    try:
        return load_market_params(value)
    except MarketParamsFileError as exc:
        raise click.BadParameter(str(exc)) from None


def _faults(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    try:
        parse_fault_spec(value)
    except FaultSpecError as exc:
        raise click.BadParameter(str(exc)) from None
    return value


@click.command("emulator")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="Port for every API (0: any free port).",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seeds ids, prices, faults."
)
@click.option(
    "--data",
    "data_files",
    multiple=True,
    metavar="[SYMBOL=]FILE",
    help="Replay Binance 1m kline CSV files (repeatable); the symbol comes from the "
    "file name (BTCUSDT-1m-….csv.gz) unless given.",
)
@click.option(
    "--synthetic",
    is_flag=True,
    help="Generate prices (the default when no --data is given).",
)
@click.option(
    "--speed",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="Simulated seconds per real second.",
)
@click.option(
    "--faults",
    default="",
    callback=_faults,
    metavar="SPEC",
    help="Fault injection, e.g. 'order:5xx=0.1,book:latency=50ms,all:429=0.02,ws:drop=30s' "
    "(see docs/SIMULATOR.md); changeable later via PUT /admin/faults.",
)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write emulator.json (URLs) on start and ledger.json on stop here.",
)
@click.option(
    "--market-params",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    callback=_market_params,
    metavar="FILE",
    help="Market-model parameters (a file from `polyflup calibrate --out`); default: "
    "the built-in ones.",
)
@click.option(
    "--balance",
    default=dec(DEFAULT_BALANCE_MICRO),
    show_default=True,
    callback=_balance,
    metavar="AMOUNT",
    help="Collateral credited to every new address.",
)
@handle_errors
def emulator(
    host: str,
    port: int,
    seed: int,
    data_files: tuple[str, ...],
    synthetic: bool,
    speed: float,
    faults: str,
    state_dir: Path | None,
    balance: int,
    market_params: MarketModelParams | None,
) -> None:
    """Serve the CLOB, Gamma, Data API, websockets and Binance on one local port.

    The unmodified py-clob-client-v2 and python-binance work against it. Prints the
    environment lines that point the bot here, then runs until Ctrl-C. Examples:

      polyflup emulator --port 8799 --speed 10

      polyflup emulator --data BTCUSDT=btc.csv.gz --faults 'order:timeout=0.05'
    """
    if synthetic and data_files:
        raise click.UsageError("give --data FILE… or --synthetic, not both")
    configure_logging(None, "INFO")
    # The server, the feeds and the signature code load only for this command.
    from src.sim.emulator.config import EmulatorConfig
    from src.sim.emulator.feed_setup import DataFileError
    from src.sim.emulator.server import Emulator

    config = EmulatorConfig(
        host=host,
        port=port,
        seed=seed,
        data_files=data_files,
        speed=speed,
        faults=faults,
        state_dir=state_dir,
        default_balance=balance,
        market_params=market_params,
    )
    stop = threading.Event()

    def _on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    # Ctrl-C and SIGTERM only ask to stop, from the start, so a signal arriving while the
    # URLs are printed still ends in a clean stop().
    previous = {
        sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        try:
            handle = Emulator(config).start()
        except DataFileError as exc:
            raise click.BadParameter(str(exc), param_hint="--data") from None
        try:
            out = console()
            out.print(
                f"🚀 PolyFlup emulator on {handle.base_url} (seed {seed}, speed ×{speed:g})"
            )
            out.print("   Point the bot here with:", markup=False)
            for line in handle.env_lines():
                out.print(f"   {line}", markup=False)
            out.print(
                f"   Admin (127.0.0.1 only): {handle.base_url}/admin/ledger, /admin/fund, "
                "/admin/faults. Ctrl-C stops.",
                markup=False,
            )
            while not stop.wait(0.5):
                pass
        finally:
            handle.stop()
            err_console().print("🧹 emulator stopped", markup=False)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
