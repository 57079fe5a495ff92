"""The adapters of each mode, behind the same ports: one engine, four ways to run it.

* ``sim`` — starts the emulator in this process (its own HTTP port on 127.0.0.1, a fresh
  generated key) and connects to it exactly as ``live`` connects to Polymarket: the
  official client, real HTTP, websockets. The bot shares the emulator's clock. With
  ``lockstep`` that clock is manual and the world moves only through
  :attr:`Adapters.world_step` (the backtest's driver steps both; no streams: fills are
  read from the venue each tick) — the same world as a backtest of the same seed and
  data, traded over HTTP.
* ``live`` — Polymarket (or an emulator the URLs point at), the configured key; the clock
  is the system's, or the venue's ``/time`` run at ``--speed`` for rehearsals.
* ``paper`` — live market data, fills simulated against the live book.

``live`` and ``sim`` (not lockstep) also read the Chainlink reference from the real-time
data socket when ``CHAINLINK_REFERENCE=on`` (the emulator serves it too); ``paper``, the
lockstep sim and backtests never do.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

from eth_account import Account

from src.config.modes import Mode
from src.config.settings import Settings, option_by_name
from src.data.market_data.binance import BinanceMarketData, make_client
from src.data.market_data.chainlink import ChainlinkStream, ReferenceSource
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
# a lockstep run is paced by its driver, not by the venue's limits
LOCKSTEP_RATE_PER_S = 1e6


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
    # lockstep sim: moves the world (and its manual clock) to a time, returns the time
    world_step: Callable[[float], float] | None = None
    # the Chainlink reference (CHAINLINK_REFERENCE=on; live and sim only)
    reference: ReferenceSource | None = None

    def close(self) -> None:
        """Stop the streams and, in sim, the emulator."""
        for stream in reversed(self.streams):
            stream.stop()  # type: ignore[attr-defined]
        if self.emulator is not None:
            self.emulator.stop()  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class SimWorld:
    """What ``run --sim`` simulates beyond the settings: replayed files, and lockstep."""

    data_files: tuple[str, ...] = ()
    lockstep: bool = False


def connect(
    settings: Settings, mode: Mode, speed: float | None, world: SimWorld | None = None
) -> Adapters:
    """Build (and for sim, start) the adapters of ``mode``."""
    if mode is Mode.SIM:
        return _sim(settings, speed, world or SimWorld())
    if mode is Mode.PAPER:
        from src.bot.paper import connect_paper

        return connect_paper(settings, speed)
    return _live(settings, speed)


def _sim(settings: Settings, speed: float | None, world: SimWorld) -> Adapters:
    from src.sim.emulator.world_spec import WorldSpec, traded_coins
    from src.sim.market_model.params_file import market_params_setting

    spec = WorldSpec(
        seed=settings.sim_seed,
        coins=tuple(settings.markets),
        data_files=world.data_files,
        balance_micro=to_micro(settings.sim_starting_balance),
        # SIM_MARKET_PARAMS: fitted market parameters
        market_params=market_params_setting(settings.sim_market_params),
    )
    run_speed = None if world.lockstep else speed or settings.sim_speed
    emulator = spec.emulator(run_speed)
    handle = emulator.start()
    try:
        key = Account.create().key.hex()
        REDACTOR.register(key)
        urls = {option_by_name(name).field: value for name, value in handle.env().items()}
        # the embedded emulator knows only this run's key: configured API credentials
        # belong to another account (or venue) and would be refused; the coins traded
        # are those the world has prices for (data files name their own)
        sim_settings = dataclasses.replace(
            settings,
            private_key=key,
            api_key="",
            api_secret="",
            api_passphrase="",
            markets=traded_coins(settings.markets, handle.context.feed.symbols),
            **urls,
        )
        if world.lockstep:
            adapters = _lockstep(sim_settings, handle.clock)
            adapters.world_step = emulator.step
        else:
            adapters = _connect(sim_settings, Mode.SIM, handle.clock, run_speed)
    except BaseException:
        handle.stop()
        raise
    adapters.emulator = handle
    pace = "lockstep" if run_speed is None else f"×{run_speed:g}"
    log(f"🧪 embedded emulator at {handle.base_url} (seed {spec.seed}, {pace})")
    return adapters


def _lockstep(settings: Settings, clock: Clock) -> Adapters:
    """The sim's HTTP adapters for a run stepped on the emulator's manual clock: no
    streams (the driver reads fills each tick), no rate limit (the world waits for the
    bot, and real-time pacing only slows the run), fill reports of this run only."""
    from src.cli.venue_cmd import venue_from_settings

    venue = venue_from_settings(settings, rate_per_s=LOCKSTEP_RATE_PER_S)
    return Adapters(
        mode=Mode.SIM,
        settings=settings,
        clock=clock,
        venue=venue,
        gamma=GammaClient(settings.polymarket_gamma_url),
        binance=BinanceMarketData(
            make_client(settings.binance_api_url, settings.binance_futures_url), clock
        ),
        speed=None,
        recent=RecentFills(),
    )


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
    reference = None
    if settings.chainlink_reference == "on":
        reference = ChainlinkStream(settings.rtds_ws_url, settings.markets, clock)
        streams.append(reference)
        log(f"🔗 Chainlink reference from {settings.rtds_ws_url}")
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
        reference=reference,
    )
