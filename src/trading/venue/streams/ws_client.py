"""The websocket plumbing both CLOB channels share: a daemon thread running its own
asyncio loop, one connection at a time, reconnect with backoff, and the venue's text
``PING``/``PONG`` keep-alive (reference §6: ``PING`` every 10 s, the server answers
``PONG``).

Timing here is real time on purpose — keep-alives and reconnect pacing are about the
network, not about the trading clock; a manual test clock would never move them.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

from src.trading.venue.streams.messages import PING, PONG, backoff_s
from src.trading.venue.streams.pacing import Signal
from src.utils.logger import log, log_error, log_warning


@dataclass(frozen=True, slots=True)
class WsOptions:
    """Connection tuning (real seconds)."""

    ping_interval_s: float = 10.0
    silence_timeout_s: float = 25.0  # no frame at all (not even PONG): the link is dead
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 30.0
    open_timeout_s: float = 5.0


class WsChannel:
    """One websocket channel in a background thread. Subclasses give the subscribe
    messages and handle each text frame; the base never lets a handler's exception end
    the reader."""

    name = "ws"

    def __init__(self, url: str, options: WsOptions | None = None) -> None:
        self.url = url
        self.options = options or WsOptions()
        self.signal = Signal()
        self.connects = 0
        self.disconnects = 0
        self._on_connect: list[Callable[[int], None]] = []
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_async: asyncio.Event | None = None
        self._ws: ClientConnection | None = None
        self._stopping = threading.Event()
        self._started = threading.Event()

    # --- hooks for subclasses ------------------------------------------------------------

    def subscribe_messages(self) -> Sequence[str]:
        """Messages sent right after each (re)connect."""
        raise NotImplementedError

    def handle_text(self, text: str) -> None:
        """Handle one text frame (runs on the channel's loop; must be quick)."""
        raise NotImplementedError

    # --- public --------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while a connection is open."""
        return self._ws is not None

    def on_connect(self, callback: Callable[[int], None]) -> None:
        """Call ``callback(n)`` after the n-th successful connect (1 = the first); it runs
        on the channel's loop, so it must not block (e.g. wake a watchdog)."""
        self._on_connect.append(callback)

    def start(self) -> None:
        """Start the background thread (once)."""
        if self._thread is not None:
            raise RuntimeError(f"{self.name} already started")
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        self._started.wait(5.0)

    def stop(self, timeout: float = 5.0) -> None:
        """Close the connection and end the thread (idempotent)."""
        self._stopping.set()
        loop, stop_async = self._loop, self._stop_async
        if loop is not None and stop_async is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop ended meanwhile
                loop.call_soon_threadsafe(stop_async.set)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def send(self, text: str) -> bool:
        """Send a frame on the live connection from any thread; False when not connected."""
        loop, ws = self._loop, self._ws
        if loop is None or ws is None or loop.is_closed():
            return False
        with contextlib.suppress(RuntimeError):
            asyncio.run_coroutine_threadsafe(ws.send(text), loop)
            return True
        return False

    def wait_connected(self, count: int = 1, timeout: float = 5.0) -> bool:
        """Wait until at least ``count`` connects happened and one is open."""
        return self.signal.wait_for(
            lambda: self.connects >= count and self.connected, timeout
        )

    # --- the loop ------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception:
            log_error(f"❌ {self.name}: websocket thread ended")

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop_async = asyncio.Event()
        self._started.set()
        attempt = 0
        while not self._stopping.is_set():
            try:
                async with connect(
                    self.url,
                    ping_interval=None,  # the venue's keep-alive is the text PING
                    open_timeout=self.options.open_timeout_s,
                    close_timeout=1,
                    max_size=2**24,
                ) as ws:
                    for message in self.subscribe_messages():
                        await ws.send(message)
                    self._ws = ws
                    attempt = 0
                    self.connects += 1
                    log(f"🔌 {self.name}: connected ({self.connects})")
                    self._connected(self.connects)
                    await self._serve(ws)
            except (OSError, TimeoutError, WebSocketException) as exc:
                # the exception text names the transport problem only, never a message
                if not self._stopping.is_set():
                    log_warning(
                        f"⚠️ {self.name}: connection lost ({exc.__class__.__name__})"
                    )
            finally:
                if self._ws is not None:
                    self.disconnects += 1
                self._ws = None
                self.signal.notify()
            if self._stopping.is_set():
                break
            delay = backoff_s(
                attempt, self.options.backoff_base_s, self.options.backoff_cap_s
            )
            attempt += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop_async.wait(), delay)

    def _connected(self, count: int) -> None:
        for callback in self._on_connect:
            try:
                callback(count)
            except Exception:
                log_error(f"❌ {self.name}: on_connect callback failed")
        self.signal.notify()

    async def _serve(self, ws: ClientConnection) -> None:
        """Read until the link fails or stop() is asked, pinging meanwhile."""
        assert self._stop_async is not None
        reader = asyncio.create_task(self._read(ws))
        pinger = asyncio.create_task(self._ping(ws))
        stopper = asyncio.create_task(self._stop_async.wait())
        try:
            done, _ = await asyncio.wait(
                {reader, pinger, stopper}, return_when=asyncio.FIRST_COMPLETED
            )
            for task in done:
                if task is not stopper and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
        finally:
            for task in (reader, pinger, stopper):
                task.cancel()
            for task in (reader, pinger, stopper):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _ping(self, ws: ClientConnection) -> None:
        while True:
            await asyncio.sleep(self.options.ping_interval_s)
            await ws.send(PING)

    async def _read(self, ws: ClientConnection) -> None:
        while True:
            frame = await asyncio.wait_for(ws.recv(), self.options.silence_timeout_s)
            text = frame if isinstance(frame, str) else frame.decode("utf-8", "replace")
            if text.strip() == PING:  # answer a server-side keep-alive too
                await ws.send(PONG)
            try:
                self.handle_text(text)
            except Exception:  # never out of the reader: one bad frame is one bad frame
                log_error(f"❌ {self.name}: handler failed on a frame")
            self.signal.notify()
