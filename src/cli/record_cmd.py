"""``polyflup record``: record real Polymarket quotes into daily CSV files."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path

import click

from src.cli.common import (
    EXIT_FAILURE,
    build_settings,
    console,
    err_console,
    handle_errors,
    set_option,
    setup_logging,
)
from src.config.settings import Settings
from src.data.market_data.binance import BinanceMarketData, make_client
from src.data.market_data.polymarket import GammaClient
from src.data.market_data.windows import SUPPORTED_COINS, normalize_coin
from src.data.quotes import QuotesFileError
from src.recording.books import FollowingMarketStream, StreamBooks
from src.recording.files import DailyQuoteFiles, RecordingLockedError
from src.recording.recorder import Recorder, RecorderConfig
from src.recording.spot import SpotPrices
from src.recording.view import LiveStatus, render_summary
from src.trading.venue.paper import PublicBookReader
from src.trading.venue.port import VenueUnavailableError
from src.trading.venue.streams import channel_url
from src.utils.clock import AnchoredClock, Clock, SystemClock
from src.utils.logger import log

DEFAULT_OUT = Path("data/quotes")
STALE_AFTER_S = 10.0  # real seconds of socket silence before REST takes over
RESYNC_EVERY_S = 60.0  # real seconds between two REST checks of the socket's books
STATUS_EVERY_S = 60.0  # plain output: one status line per this many (clock) seconds
PAUSE_SLICE_S = 0.25  # real seconds: how soon a stop request is noticed


def _coins(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    coins = tuple(dict.fromkeys(normalize_coin(c) for c in text.split(",") if c.strip()))
    unknown = [c for c in coins if c not in SUPPORTED_COINS]
    if unknown or not coins:
        raise click.BadParameter(
            f"{','.join(unknown) or text!r}: choose from {','.join(SUPPORTED_COINS)}",
            param_hint="--symbols",
        )
    return coins


def build_recorder(
    settings: Settings,
    coins: tuple[str, ...],
    out_dir: Path,
    *,
    interval: float,
    duration: float | None,
    windows: int | None,
    speed: float | None,
    plain: bool,
) -> Recorder:
    """The recorder on the configured venue: Gamma, the market websocket with REST
    ``/books`` behind it, Binance; the clock is the system's, or the CLOB's ``/time`` run
    at ``speed`` (an emulator)."""
    reader = PublicBookReader(settings.polymarket_clob_url, settings.chain_id)
    clock: Clock = SystemClock()
    if speed is not None:
        clock = AnchoredClock(reader.server_time, speed)
        log(f"⏱️ clock anchored to the venue's /time, ×{speed:g}")
    scale = speed or 1.0
    stream = FollowingMarketStream(channel_url(settings.polymarket_ws_url, "market"), clock)
    books = StreamBooks(
        clock,
        stream,
        reader.books,
        max_age_s=STALE_AFTER_S * scale,
        resync_every_s=RESYNC_EVERY_S * scale,
    )
    binance = BinanceMarketData(
        make_client(settings.binance_api_url, settings.binance_futures_url), clock
    )
    config = RecorderConfig(
        coins=coins,
        interval_s=interval,
        duration_s=duration,
        windows=windows,
        pause_slice_s=PAUSE_SLICE_S * scale,
        status_every_s=STATUS_EVERY_S if plain else None,
    )
    return Recorder(
        config,
        clock,
        GammaClient(settings.polymarket_gamma_url),
        books,
        SpotPrices(binance, workers=len(coins)),
        DailyQuoteFiles(out_dir),
    )


def install_stop_handlers(stop: Callable[[str], None]) -> Callable[[], None]:
    """SIGINT and SIGTERM ask the recorder to stop; returns the restorer (main thread
    only: elsewhere there is nothing to install)."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {
        sig: signal.signal(sig, lambda *_: stop("signal"))
        for sig in (signal.SIGINT, signal.SIGTERM)
    }

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore


@click.command("record")
@click.option(
    "--symbols",
    default=None,
    metavar="BTC,ETH…",
    help="Coins to record, comma-separated (default: the MARKETS setting).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_OUT,
    metavar="DIR",
    show_default=True,
    help="Folder of the daily files <coin>-updown-15m-quotes-YYYY-MM-DD.csv.",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.05),
    default=1.0,
    show_default=True,
    metavar="SECONDS",
    help="Seconds between two observations of each window.",
)
@click.option(
    "--duration",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="SECONDS",
    help="Stop by itself after this many seconds.",
)
@click.option(
    "--windows",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Stop after this many 15-minute windows ended, once their outcomes are in.",
)
@click.option(
    "--speed",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="X",
    help="Venue seconds per real second (recording an accelerated emulator).",
)
@set_option
@click.pass_context
@handle_errors
def record_cmd(
    ctx: click.Context,
    symbols: str | None,
    out_dir: Path,
    interval: float,
    duration: float | None,
    windows: int | None,
    speed: float | None,
    set_pairs: tuple[str, ...],
) -> None:
    """Record the books of the 15-minute Up/Down markets, about once a second.

    One row per running window and observation (best bid/ask and sizes of both tokens,
    the Binance price) into one CSV per coin and UTC day; the outcome is written into a
    window's rows once it resolves. Books come from the market websocket, from REST
    /books when the socket is down or silent. Stop it at any moment (Ctrl-C, SIGTERM):
    run it again to resume. Example:

      polyflup record --symbols BTC,ETH --out data/quotes
    """
    if windows is not None and duration is not None:
        raise click.UsageError("give --windows or --duration, not both")
    chosen = _coins(symbols)
    settings = build_settings(ctx, None, set_pairs)
    setup_logging(settings)
    coins = chosen or tuple(settings.markets)
    out = console()
    plain = not out.is_terminal
    try:
        recorder = build_recorder(
            settings,
            coins,
            out_dir,
            interval=interval,
            duration=duration,
            windows=windows,
            speed=speed,
            plain=plain,
        )
    except VenueUnavailableError as exc:
        err_console().print(f"❌ the CLOB did not answer: {exc}", markup=False)
        ctx.exit(EXIT_FAILURE)
    pace = f"×{speed:g}" if speed else "real time"
    out.print(
        f"📼 Recording {','.join(coins)} every {interval:g} s ({pace}) → {out_dir}; "
        f"books from {settings.polymarket_ws_url} (REST {settings.polymarket_clob_url})",
        markup=False,
    )
    restore = install_stop_handlers(recorder.request_stop)
    try:
        if plain:
            summary = recorder.run()
        else:
            with LiveStatus(recorder.status, out):
                summary = recorder.run()
    except RecordingLockedError as exc:
        err_console().print(f"❌ {exc}", markup=False)
        ctx.exit(EXIT_FAILURE)
    except QuotesFileError as exc:
        err_console().print(
            f"❌ {exc}\n   Move that file out of {out_dir} (or fix it) and run again.",
            markup=False,
        )
        ctx.exit(EXIT_FAILURE)
    finally:
        restore()
    out.print(render_summary(summary))
