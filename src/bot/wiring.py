"""The adapters of each mode, behind the same ports: one engine, four ways to run it.

* ``sim`` — starts the emulator in this process (its own HTTP port on 127.0.0.1, a fresh
  generated key) and connects to it exactly as ``live`` connects to Polymarket: the
  official client, real HTTP, websockets. The bot shares the emulator's clock.
* ``live`` — Polymarket (or an emulator the URLs point at), the configured key; the clock
  is the system's, or the venue's ``/time`` run at ``--speed`` for rehearsals.
* ``paper`` — live market data, fills simulated against the live book.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from eth_account import Account

from src.config.modes import Mode
from src.config.settings import Settings, option_by_name
from src.data.market_data.binance import BinanceMarketData, make_client
from src.data.market_data.polymarket import GammaClient
from src.trading.state import RecentFills, recent_fills
from src.trading.venue.clob import ClobVenue, Heartbeats
from src.trading.venue.port import Venue
from src.trading.venue.streams import HeartbeatLoop, UserStream, Watchdog
from src.utils.clock import AnchoredClock, Clock, SystemClock
from src.utils.logger import log
from src.utils.money import to_micro
from src.utils.redaction import REDACTOR

# Above this speed the venue's 10-second dead-man switch is a fraction of a real second
# away, so heartbeats would cancel orders on any hiccup: they stay off.
MAX_HEARTBEAT_SPEED = 5.0


@dataclass
class Adapters:
    """Everything the engine talks to in one mode."""

    mode: Mode
    settings: Settings  # with the URLs actually used
    clock: Clock
    venue: Venue
    gamma: GammaClient
    binance: BinanceMarketData
    speed: float | None
    streams: list[object] = field(default_factory=list)  # start()/stop() objects
    watchdog: Watchdog | None = None
    emulator: object | None = None  # EmulatorHandle in sim
    # fill reports already applied: shared by the streams and execution (one process, one
    # account); a backtest brings its own
    recent: RecentFills = field(default_factory=lambda: recent_fills)

    def close(self) -> None:
        """Stop the streams and, in sim, the emulator."""
        for stream in reversed(self.streams):
            stream.stop()  # type: ignore[attr-defined]
        if self.emulator is not None:
            self.emulator.stop()  # type: ignore[attr-defined]


def connect(settings: Settings, mode: Mode, speed: float | None) -> Adapters:
    """Build (and for sim, start) the adapters of ``mode``."""
    if mode is Mode.SIM:
        return _sim(settings, speed)
    if mode is Mode.PAPER:
        from src.bot.paper import connect_paper

        return connect_paper(settings, speed)
    return _live(settings, speed)


def _sim(settings: Settings, speed: float | None) -> Adapters:
    from src.sim.emulator.config import EmulatorConfig
    from src.sim.emulator.server import Emulator

    run_speed = speed or settings.sim_speed
    config = EmulatorConfig(
        seed=settings.sim_seed,
        speed=run_speed,
        coins=tuple(settings.markets),
        default_balance=to_micro(settings.sim_starting_balance),
    )
    handle = Emulator(config).start()
    try:
        key = Account.create().key.hex()
        REDACTOR.register(key)
        urls = {option_by_name(name).field: value for name, value in handle.env().items()}
        # the embedded emulator knows only this run's key: configured API credentials
        # belong to another account (or venue) and would be refused
        sim_settings = dataclasses.replace(
            settings, private_key=key, api_key="", api_secret="", api_passphrase="", **urls
        )
        adapters = _connect(sim_settings, Mode.SIM, handle.clock, run_speed)
    except BaseException:
        handle.stop()
        raise
    adapters.emulator = handle
    log(f"🧪 embedded emulator at {handle.base_url} (seed {config.seed}, ×{run_speed:g})")
    return adapters


def _live(settings: Settings, speed: float | None) -> Adapters:
    venue = clob_venue(settings)
    clock: Clock = SystemClock()
    if speed is not None:
        clock = AnchoredClock(venue.server_time, speed)
        log(f"⏱️ clock anchored to the venue's /time, ×{speed:g}")
    return _connect(settings, Mode.LIVE, clock, speed, venue)


def clob_venue(settings: Settings) -> ClobVenue:
    """The CLOB venue for the configured key (credentials derived when not given)."""
    from src.cli.venue_cmd import venue_from_settings

    return venue_from_settings(settings)


def _connect(
    settings: Settings,
    mode: Mode,
    clock: Clock,
    speed: float | None,
    venue: ClobVenue | None = None,
) -> Adapters:
    venue = venue or clob_venue(settings)
    gamma = GammaClient(settings.polymarket_gamma_url)
    binance = BinanceMarketData(
        make_client(settings.binance_api_url, settings.binance_futures_url), clock
    )
    stream = UserStream.for_venue(venue, settings.polymarket_ws_url, clock)
    watchdog = Watchdog(venue, clock, last_message_at=lambda: stream.last_message_at)
    stream.on_connect(watchdog.kick)
    streams: list[object] = [watchdog, stream]
    if settings.open_orders_on_exit == "cancel" and (speed or 1.0) <= MAX_HEARTBEAT_SPEED:
        streams.append(HeartbeatLoop(Heartbeats(venue.client), clock))
    return Adapters(
        mode=mode,
        settings=settings,
        clock=clock,
        venue=venue,
        gamma=gamma,
        binance=binance,
        speed=speed,
        streams=streams,
        watchdog=watchdog,
    )
