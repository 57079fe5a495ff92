"""A backtest: build the simulated world in-process, step the bot's own engine through it
in lockstep, and leave a ledger behind for the reports.

The world is the emulator's (same feed, calendar, market model, matching engine, for the
same seed) without its HTTP server; the bot is the same :class:`~src.bot.engine.Bot` that
``polyflup run`` starts, with in-process adapters. Same data and seed, same trades.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from src.backtest.adapters import InProcessBinanceClient, InProcessGamma
from src.backtest.lockstep import BACKTEST_TICKS_PER_COMMIT, Lockstep
from src.bot.engine import Bot, RunOptions
from src.bot.wiring import Adapters
from src.config.modes import Mode
from src.config.settings import Settings
from src.data.db_connection import configure_database, db_connection
from src.data.market_data.binance import BinanceMarketData
from src.data.market_data.windows import WINDOW_SECONDS
from src.data.migrations import run_migrations
from src.data.quotes import load_recordings
from src.sim.calendar import MarketCalendar
from src.sim.emulator.config import EmulatorConfig
from src.sim.emulator.context import EmulatorContext
from src.sim.emulator.feed_setup import DataFileError, replay_setup
from src.sim.emulator.recorded import (
    RecordedMarketSource,
    ReplayRules,
    recorded_source_factory,
)
from src.sim.emulator.server import Emulator, SourceFactory
from src.sim.emulator.world import MarketSource
from src.sim.emulator.world_spec import SETTLE_TAIL_S, WorldSpec, traded_coins
from src.sim.feeds.base import PriceFeed
from src.sim.market_model.light import light_source
from src.sim.market_model.params_file import market_params_setting
from src.sim.venue import SimVenue
from src.trading.logic import DecisionAudit
from src.trading.state import RecentFills
from src.trading.venue.in_process import InProcessVenue
from src.utils.money import to_micro

MARKET_MODEL = "model"  # the full market model: a maker ladder and simulated takers
MARKET_LIGHT = "light"  # the makers' quotes only, replayed as a tape
MARKETS = (MARKET_MODEL, MARKET_LIGHT)
RECORDING_WARMUP_S = 60 * 60  # klines a recorded window needs before it (volatility)


@dataclass(frozen=True, slots=True)
class BacktestSpec:
    """What to replay and how."""

    seed: int = 0
    days: float | None = None  # generated days; with data files, at most this many
    data_files: tuple[str, ...] = ()
    coins: tuple[str, ...] = ("BTC", "ETH", "SOL", "XRP")
    resolution_s: float = 10.0
    quote_files: tuple[str, ...] = ()  # Polymarket recordings: the market replayed
    market: str = MARKET_MODEL  # or MARKET_LIGHT: the makers' quotes only (fast)
    replay: ReplayRules = field(default_factory=ReplayRules)
    # what each stored decision keeps: the reports' inputs (LEAN) or everything (FULL)
    audit: DecisionAudit = DecisionAudit.LEAN

    def account(self) -> str:
        """The backtest's trading account (an address derived from the seed)."""
        digest = hashlib.sha256(f"polyflup-backtest/{self.seed}".encode()).hexdigest()
        return "0x" + digest[:40]


@dataclass(frozen=True, slots=True)
class BacktestRun:
    """What a finished run leaves: where, over which span, how many windows."""

    db_path: Path
    start: float
    end: float
    windows: int
    ticks: int
    coins: tuple[str, ...]


def build_world(spec: BacktestSpec, settings: Settings) -> Emulator:
    """The emulator's world on a manual clock, built but not served: the same world
    ``run --sim --lockstep`` serves for the same seed, coins and data."""
    world = WorldSpec(
        seed=spec.seed,
        coins=spec.coins,
        data_files=spec.data_files,
        days=spec.days or 1,
        balance_micro=to_micro(settings.sim_starting_balance),
        market_params=market_params_setting(settings.sim_market_params),
    )
    if spec.quote_files:
        emulator = recorded_world(spec, world.config())
    else:
        factory = None if spec.market == MARKET_MODEL else light_factory(spec.resolution_s)
        emulator = world.emulator(None, source_factory=factory)
    emulator.build()
    return emulator


def light_factory(sample_s: float) -> SourceFactory:
    """The light market (:mod:`src.sim.market_model.light`), sampled at ``sample_s``."""

    def build(
        venue: SimVenue, feed: PriceFeed, calendar: MarketCalendar, config: EmulatorConfig
    ) -> MarketSource:
        return light_source(venue, feed, calendar, config, sample_s=sample_s)

    return build


def recorded_world(spec: BacktestSpec, config: EmulatorConfig) -> Emulator:
    """A world whose books replay ``spec.quote_files`` over the ``spec.data_files``
    klines (files of one coin may leave days out between them: flat candles fill in)."""
    if not spec.data_files:
        raise DataFileError("--quotes needs the matching Binance klines (--data FILE…)")
    windows = load_recordings(spec.quote_files)
    setup = replay_setup(spec.data_files, spec.seed, None, fill_gaps=True)
    first_ms, end_ms = setup.feed.time_range()
    usable = [
        w
        for w in windows
        if w.outcome is not None
        and first_ms / 1000 + RECORDING_WARMUP_S <= w.window_start
        and w.window_start + WINDOW_SECONDS <= end_ms / 1000
    ]
    if not usable:
        raise DataFileError(
            "no recorded window with an outcome lies inside the klines (each needs "
            f"{RECORDING_WARMUP_S // 60} minutes of klines before it)"
        )
    first = usable[0].window_start - WINDOW_SECONDS  # list, then warm up the bot
    config = dataclasses.replace(config, start_time=float(first))
    return Emulator(
        config,
        feed=setup.feed,
        source_factory=recorded_source_factory(usable, spec.replay),
    )


def run_backtest(
    spec: BacktestSpec,
    settings: Settings,
    db_path: Path,
    on_tick: Callable[[float, float, float], None] | None = None,
) -> BacktestRun:
    """Replay ``spec`` with ``settings``; the ledger goes to ``db_path`` (created fresh).

    ``on_tick(start, now, end)`` is called after every tick (progress bars).
    """
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    run_migrations(db_path)
    configure_database(db_path)
    emulator = build_world(spec, settings)
    context = emulator.context
    clock = context.clock
    address = context.accounts.ensure(spec.account())
    venue = InProcessVenue(context.venue, address)
    coins = traded_coins(spec.coins, context.feed.symbols)
    adapters = Adapters(
        mode=Mode.BACKTEST,
        settings=dataclasses.replace(settings, db_path=db_path, markets=coins),
        clock=clock,
        venue=venue,
        gamma=InProcessGamma(context),  # type: ignore[arg-type]
        binance=BinanceMarketData(InProcessBinanceClient(context, clock), clock),  # type: ignore[arg-type]
        speed=None,
        recent=RecentFills(),
    )
    bot = Bot(adapters, RunOptions(lockstep=True, decision_audit=spec.audit))
    bot.prepare()
    start = clock.now()
    feed_end = context.feed.time_range()[1] / 1000
    source = context.source
    next_activity = None
    if isinstance(source, RecordedMarketSource):
        recorded = source.windows
        last = max(m.end for m in recorded)
        window_count = len(recorded)
        next_activity = source.next_activity
    else:
        last = feed_end - SETTLE_TAIL_S
        if spec.days:
            last = min(last, start + spec.days * 86_400)
        last -= last % WINDOW_SECONDS
        span = int((last - (start - start % WINDOW_SECONDS)) // WINDOW_SECONDS)
        window_count = span * len(coins)
    end = min(last + SETTLE_TAIL_S, feed_end)
    lockstep = Lockstep(
        bot,
        emulator.step,
        spec.resolution_s,
        venue,
        next_activity,
        ticks_per_commit=BACKTEST_TICKS_PER_COMMIT,
    )

    def tick(now: float) -> None:
        if on_tick is not None:
            on_tick(start, now, end)

    try:
        lockstep.run_until(end, tick)
    finally:
        bot.directory.close()
    record_outcomes(context)
    return BacktestRun(db_path, start, end, window_count, lockstep.ticks, coins)


def record_outcomes(context: EmulatorContext) -> int:
    """Write every resolved window's outcome into the ledger (decisions of windows the bot
    never traded are scored against it too); returns how many were written."""
    with db_connection() as cur:
        rows = cur.execute(
            "SELECT id, condition_id FROM windows WHERE outcome IS NULL"
        ).fetchall()
        written = 0
        for window_id, condition_id in rows:
            try:
                winner = context.venue.market_status(condition_id).winner
            except Exception:  # a market the world never listed: leave it unknown
                continue
            if winner is not None:
                cur.execute(
                    "UPDATE windows SET outcome = ? WHERE id = ?",
                    (str(winner).upper(), window_id),
                )
                written += 1
    return written
