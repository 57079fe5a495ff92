"""The emulator: one aiohttp server on a background event loop, plus the world's ticker.

``Emulator(config).start()`` builds the world (feed, venue, market calendar), serves every
API on one port from a daemon thread running an asyncio loop, and returns an
:class:`EmulatorHandle` with the URLs, the environment lines, and ``stop()``. With a
running clock (``speed``) a ticker thread moves the world every ``tick_seconds``; with a
manual clock (``speed=None``, tests) the world moves only through
:meth:`EmulatorHandle.advance` / :meth:`EmulatorHandle.step`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from src.sim.calendar import MarketCalendar
from src.sim.emulator.accounts import Accounts, canonical_address
from src.sim.emulator.admin_routes import STEP, ledger_body
from src.sim.emulator.app import build_app
from src.sim.emulator.auth import ApiKeyStore
from src.sim.emulator.config import EmulatorConfig
from src.sim.emulator.context import EmulatorContext
from src.sim.emulator.faults import FaultPlan
from src.sim.emulator.feed_setup import build_feed
from src.sim.emulator.heartbeats import Heartbeats
from src.sim.emulator.notifications import Notifications
from src.sim.emulator.sources import default_market_source
from src.sim.emulator.world import LockedFeed, MarketSource
from src.sim.emulator.ws_hub import WsHub
from src.sim.feeds.base import PriceFeed
from src.sim.venue import SimVenue
from src.utils.clock import Clock, SimClock, SystemClock
from src.utils.logger import log, log_error

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0
SHUTDOWN_GRACE_S = 0.5
"""How long ``stop()`` lets in-flight requests finish (a held "timeout" answer never does)."""

SourceFactory = Callable[
    [SimVenue, PriceFeed, MarketCalendar, EmulatorConfig], MarketSource
]


@dataclass(frozen=True, slots=True)
class EmulatorUrls:
    """Where each emulated API answers, and the settings that point the bot at them."""

    host: str
    port: int

    @property
    def base(self) -> str:
        """``http://host:port`` — also the CLOB's URL."""
        return f"http://{self.host}:{self.port}"

    @property
    def ws_base(self) -> str:
        """``ws://host:port``."""
        return f"ws://{self.host}:{self.port}"

    def env(self) -> dict[str, str]:
        """The settings (``src.config.settings`` names) for a bot to use this emulator."""
        return {
            "POLYMARKET_CLOB_URL": self.base,
            "POLYMARKET_GAMMA_URL": f"{self.base}/gamma",
            "POLYMARKET_DATA_URL": f"{self.base}/data-api",
            "POLYMARKET_WS_URL": f"{self.ws_base}/ws",
            "RTDS_WS_URL": f"{self.ws_base}/rtds",
            "BINANCE_API_URL": f"{self.base}/binance/api",
            "BINANCE_FUTURES_URL": f"{self.base}/binance/fapi",
            "BINANCE_WS_URL": f"{self.ws_base}/binance/",
        }

    def env_lines(self) -> list[str]:
        """``NAME=value`` lines, ready for a ``.env`` file or ``export``."""
        return [f"{name}={value}" for name, value in self.env().items()]


class EmulatorHandle:
    """A running emulator: its URLs, its world, and the controls tests and the CLI use."""

    def __init__(self, emulator: Emulator, urls: EmulatorUrls) -> None:
        self._emulator = emulator
        self.urls = urls

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return self.urls.base

    @property
    def port(self) -> int:
        """The port actually bound."""
        return self.urls.port

    def env(self) -> dict[str, str]:
        """The bot's endpoint settings for this emulator."""
        return self.urls.env()

    def env_lines(self) -> list[str]:
        """``POLYMARKET_CLOB_URL=…`` and the rest, one per line."""
        return self.urls.env_lines()

    @property
    def context(self) -> EmulatorContext:
        """The shared state (venue, keys, accounts, faults) — for tests and embedding."""
        return self._emulator.context

    @property
    def venue(self) -> SimVenue:
        """The matching engine behind the APIs."""
        return self._emulator.context.venue

    @property
    def clock(self) -> Clock:
        """The emulator's (simulated) clock."""
        return self._emulator.context.clock

    @property
    def source(self) -> MarketSource:
        """The world: listed markets, feed, resolution."""
        return self._emulator.context.source

    def step(self) -> float:
        """Bring the world to the clock's time now (list, settle, resolve, heartbeats)."""
        return self._emulator.step()

    def advance(self, seconds: float) -> float:
        """Move a manual clock ``seconds`` forward and step the world; returns the time."""
        return self._emulator.advance(seconds)

    def set_faults(self, spec: str) -> FaultPlan:
        """Replace the fault spec (raises ``FaultSpecError``); ``""`` clears it."""
        plan = FaultPlan.from_spec(spec, self._emulator.config.seed)
        self._emulator.context.set_faults(plan)
        return plan

    def fund(self, address: str, amount: int) -> None:
        """Deposit ``amount`` collateral micro-units into ``address``."""
        self._emulator.context.accounts.fund(canonical_address(address), amount)

    def user_subscribers(self) -> set[str]:
        """Addresses subscribed on the user websocket (so a test can wait for a client's
        subscription to reach the server before the world moves)."""
        hub = self._emulator.hub
        return set() if hub is None else hub.user_subscribers()

    def ledger(self, address: str | None = None) -> dict[str, Any]:
        """The admin ledger view (every trader account, fees, totals)."""
        return ledger_body(self._emulator.context, address)

    def stop(self) -> None:
        """Stop the ticker and the server; write ``ledger.json`` to the state dir."""
        self._emulator.stop()

    def __enter__(self) -> EmulatorHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Emulator:
    """Builds and runs one emulator. Anything not given is built from ``config``.

    Parameters:
        config: what to simulate and how to answer.
        clock: the simulated clock (default: ``SimClock`` at the feed's start time,
            running at ``config.speed``, or manual when it is ``None``).
        feed: the price feed (default: generated, or ``config.data_files`` replayed).
        source_factory: builds the world from venue, feed and calendar (default: the
            market model when available, else :class:`CalendarMarketSource`).
        wall: the real clock, used for auth timestamps (default: the system's).
    """

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        clock: Clock | None = None,
        feed: PriceFeed | None = None,
        source_factory: SourceFactory | None = None,
        wall: Clock | None = None,
    ) -> None:
        self.config = config or EmulatorConfig()
        self._clock = clock
        self._feed = feed
        self._source_factory = source_factory or default_market_source
        self._wall = wall or SystemClock()
        self._context: EmulatorContext | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ticker: threading.Thread | None = None
        self._stopping = threading.Event()
        self._step_lock = threading.Lock()
        self._hub: WsHub | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._post_only_until: float | None = None
        self._handle: EmulatorHandle | None = None

    @property
    def hub(self) -> WsHub | None:
        """The websocket hub (None before :meth:`start`)."""
        return self._hub

    @property
    def context(self) -> EmulatorContext:
        """The shared state (after :meth:`start`)."""
        if self._context is None:
            raise RuntimeError("the emulator is not started")
        return self._context

    # -- building ---------------------------------------------------------------------------

    def _build(self) -> EmulatorContext:
        config = self.config
        faults = FaultPlan.from_spec(config.faults, config.seed)  # bad spec: fail early
        if self._feed is not None:
            feed: PriceFeed = self._feed
            coins = tuple(config.coins)
            start_time = config.start_time
        else:
            setup = build_feed(config)
            feed, coins, start_time = setup.feed, setup.coins, setup.start_time
        if self._clock is not None:
            clock = self._clock
        else:
            first_ms = feed.time_range()[0]
            start = start_time if start_time is not None else first_ms / 1000
            clock = SimClock(start=start, speed=config.speed)
        locked = LockedFeed(feed)
        venue = SimVenue(
            clock,
            seed=config.seed,
            failure_probability=config.failure_probability,
            confirm_delay=config.confirm_delay,
        )
        calendar = MarketCalendar(
            coins,
            seed=config.seed,
            list_ahead_s=config.list_ahead_s,
            resolve_delay_s=config.resolve_delay_s,
        )
        source = self._source_factory(venue, locked, calendar, config)
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="emulator")
        context = EmulatorContext(
            config,
            source,
            wall=self._wall,
            keys=ApiKeyStore(config.secret()),
            accounts=Accounts(venue, config.default_balance),
            heartbeats=Heartbeats(config.heartbeat_timeout, config.seed),
            notifications=Notifications(),
            faults=faults,
            executor=self._executor,
        )
        context.on_faults_changed = self._apply_engine_faults
        return context

    def _apply_engine_faults(self, plan: FaultPlan) -> None:
        context = self.context
        on, duration = plan.engine_post_only()
        context.venue.set_post_only_mode(on)
        if on:
            context.fault_counts.add("postonly")
        self._post_only_until = (
            context.clock.now() + duration if on and duration is not None else None
        )
        failure = plan.engine_failure()
        context.venue.set_failure_probability(
            self.config.failure_probability if failure is None else failure
        )

    def build(self) -> EmulatorContext:
        """Build the world without serving it (backtests drive it in-process with
        :meth:`step`, the same world ``start`` would serve)."""
        if self._context is None:
            self._context = self._build()
            self._apply_engine_faults(self._context.faults)
            self.step()  # list the first markets, as start() does
        return self._context

    # -- running ----------------------------------------------------------------------------

    def start(self) -> EmulatorHandle:
        """Build the world, serve it, start the ticker; returns the handle."""
        if self._handle is not None:
            return self._handle
        context = self._context = self._build()
        self._apply_engine_faults(context.faults)
        hub = self._hub = WsHub(context)
        app = build_app(context, hub)
        app[STEP] = self.advance
        self.step()  # list the first markets before anyone asks
        ready = threading.Event()
        failure: list[BaseException] = []
        port_box: list[int] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._serve,
            args=(app, ready, failure, port_box),
            name="emulator-http",
            daemon=True,
        )
        self._thread.start()
        if not ready.wait(START_TIMEOUT_S) or failure:
            if self._executor is not None:
                self._executor.shutdown(wait=False)
            reason = failure[0] if failure else "timeout"
            raise RuntimeError(f"emulator failed to start: {reason}")
        urls = EmulatorUrls(self.config.host, port_box[0])
        if self.config.speed is not None and self._clock_runs(context.clock):
            self._ticker = threading.Thread(
                target=self._tick_loop, name="emulator-ticker", daemon=True
            )
            self._ticker.start()
        self._handle = EmulatorHandle(self, urls)
        self._write_state(urls)
        log(f"🚀 emulator listening on {urls.base} (seed {self.config.seed})")
        return self._handle

    @staticmethod
    def _clock_runs(clock: Clock) -> bool:
        return not isinstance(clock, SimClock) or clock.speed is not None

    def _serve(
        self,
        app: web.Application,
        ready: threading.Event,
        failure: list[BaseException],
        port_box: list[int],
    ) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        runner = web.AppRunner(
            app,
            handle_signals=False,
            access_log=None,
            shutdown_timeout=SHUTDOWN_GRACE_S,
        )
        try:
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, self.config.host, self.config.port)
            loop.run_until_complete(site.start())
            self._runner = runner
            server = site._server  # the bound socket tells the port when port=0
            assert server is not None
            port_box.append(server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        except BaseException as exc:  # report to start(), which raises in the caller
            failure.append(exc)
            with contextlib.suppress(Exception):
                loop.run_until_complete(runner.cleanup())
            loop.close()
            ready.set()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def _tick_loop(self) -> None:
        while not self._stopping.wait(self.config.tick_seconds):
            try:
                self.step()
            except Exception as exc:  # the ticker must outlive one bad step
                log_error(f"❌ emulator step failed: {exc!r}")

    def step(self, target: float | None = None) -> float:
        """Move the world to ``target`` (default: the clock's time; a manual clock is
        moved there by the world); returns the time reached."""
        context = self.context
        with self._step_lock:
            clock = context.clock
            context.source.advance_to(max(clock.now(), target or 0.0))
            now = clock.now()
            context.venue.step()
            for account in context.heartbeats.expired(now):
                done = context.venue.cancel_all(account)
                log(
                    f"💓 no heartbeat from {account} for {context.heartbeats.timeout:g}s: "
                    f"cancelled {len(done.canceled)} order(s)"
                )
            if self._post_only_until is not None and now >= self._post_only_until:
                self._post_only_until = None
                context.venue.set_post_only_mode(False)
                log("💥 post-only mode over")
        if self._hub is not None:
            self._hub.tick()
        return now

    def advance(self, seconds: float) -> float:
        """Move a manual clock ``seconds`` forward with the world; returns the time."""
        clock = self.context.clock
        if not isinstance(clock, SimClock) or clock.speed is not None:
            raise RuntimeError("only a manual SimClock can be advanced")
        if seconds < 0:
            raise ValueError(f"a clock cannot go backwards ({seconds} s)")
        return self.step(clock.now() + seconds)

    def stop(self) -> None:
        """Stop everything started; idempotent."""
        if self._handle is None or self._stopping.is_set():
            return
        self._stopping.set()
        if self._ticker is not None:
            self._ticker.join(STOP_TIMEOUT_S)
        loop, runner = self._loop, self._runner
        if loop is not None and runner is not None and not loop.is_closed():
            try:
                asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(
                    STOP_TIMEOUT_S
                )
            except Exception as exc:  # stopping must go on
                log_error(f"❌ emulator shutdown: {exc!r}", False)
            loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT_S)
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        self._write_ledger()
        log("🧹 emulator stopped")

    # -- state dir --------------------------------------------------------------------------

    def _write_state(self, urls: EmulatorUrls) -> None:
        state_dir = self.config.state_dir
        if state_dir is None:
            return
        Path(state_dir).mkdir(parents=True, exist_ok=True)
        info = {
            "base_url": urls.base,
            "env": urls.env(),
            "pid": os.getpid(),
            "seed": self.config.seed,
            "started_at": self.context.clock.now(),
        }
        (Path(state_dir) / "emulator.json").write_text(json.dumps(info, indent=2) + "\n")

    def _write_ledger(self) -> None:
        state_dir = self.config.state_dir
        if state_dir is None or self._context is None:
            return
        try:
            body = ledger_body(self._context, None)
            (Path(state_dir) / "ledger.json").write_text(json.dumps(body, indent=2) + "\n")
        except Exception as exc:  # the ledger is a courtesy; stopping must not fail
            log_error(f"❌ could not write the ledger: {exc!r}", False)
