"""Lockstep: the bot's workers run one after another at each tick of a manual clock.

It drives both ``polyflup backtest`` (the world in-process) and ``polyflup run --sim
--lockstep`` (the embedded emulator's world, traded over HTTP).

The same objects as ``polyflup run`` — market poller, signal generator, order placer,
position monitor, settler — in a fixed order, so a run is deterministic for a seed and as
fast as the machine allows. Fills of resting orders are read back each tick (what the user
websocket and the watchdog do in a threaded run).
"""

from __future__ import annotations

from collections.abc import Callable

from src.bot.engine import Bot
from src.data.db_connection import db_connection
from src.trading.ledger.recorder import record_fills
from src.trading.venue.port import Venue

LEAD_S = 300.0  # after an idle stretch, wake this long before the world needs the bot
DEFAULT_RESOLUTION_S = 10.0  # simulated seconds between two ticks
OVERLAP_MS = 120_000  # re-read this much before the last read: a fill may be stamped late


class Lockstep:
    """Steps a :class:`Bot` (built with ``RunOptions(lockstep=True)``) through time."""

    def __init__(
        self,
        bot: Bot,
        advance_to: Callable[[float], float],
        resolution_s: float,
        venue: Venue | None = None,
        next_activity: Callable[[float], float | None] | None = None,
    ) -> None:
        """``next_activity(now)``, if given, is when the world next needs the bot (None:
        never again): idle stretches (a recording's gaps) are crossed in one step that
        lands ``LEAD_S`` before it."""
        if resolution_s <= 0:
            raise ValueError("resolution_s must be > 0")
        self.bot = bot
        self.advance_to = advance_to
        self.resolution_s = resolution_s
        self.venue = venue
        self.next_activity = next_activity
        self.ticks = 0
        self._read_ms = 0

    def tick(self) -> float:
        """Move the world one step and let every worker act once; returns the time."""
        bot = self.bot
        now = self.advance_to(self._next_time(bot.clock.now()))
        # One transaction a tick: each worker's own becomes a savepoint in it (an error
        # still undoes just that worker's writes). Nothing else writes the ledger while
        # the workers take turns, and a commit per worker was a fifth of a light tick.
        with db_connection():
            if self.venue is not None:
                self._book_fills()
            bot.poller.step()
            bot.signals.step()
            bot.placer.drain()
            bot.monitor.step()
            bot.placer.drain()
            bot.settler.step()
            bot.placer.drain()
        self.ticks += 1
        return now

    def _next_time(self, now: float) -> float:
        step = now + self.resolution_s
        if self.next_activity is None:
            return step
        due = self.next_activity(now)
        if due is None:
            return step  # nothing left to replay: tick on (settlement, redemption)
        lead = due - LEAD_S
        if lead <= step:
            return step
        return lead - lead % self.resolution_s  # stay on the resolution's grid

    def _book_fills(self) -> None:
        started = int(self.bot.clock.now() * 1000)
        fills = self.venue.fills(max(0, self._read_ms - OVERLAP_MS))  # type: ignore[union-attr]
        if fills:
            record_fills(fills, self.bot.clock, self.bot.context.recent)
        self._read_ms = started

    def run_until(
        self, until: float, on_tick: Callable[[float], None] | None = None
    ) -> None:
        """Tick until the clock reaches ``until``."""
        while self.bot.clock.now() < until:
            if self._next_time(self.bot.clock.now()) > until:
                break
            now = self.tick()
            if on_tick is not None:
                on_tick(now)
