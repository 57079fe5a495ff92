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
from contextlib import nullcontext

from src.bot.engine import Bot
from src.data.db_connection import db_connection
from src.trading.ledger.recorder import record_fills
from src.trading.venue.port import Venue

LEAD_S = 300.0  # after an idle stretch, wake this long before the world needs the bot
DEFAULT_RESOLUTION_S = 10.0  # simulated seconds between two ticks
OVERLAP_MS = 120_000  # re-read this much before the last read: a fill may be stamped late
BACKTEST_TICKS_PER_COMMIT = 256  # a backtest's ledger is scratch until the run ends


class Lockstep:
    """Steps a :class:`Bot` (built with ``RunOptions(lockstep=True)``) through time."""

    def __init__(
        self,
        bot: Bot,
        advance_to: Callable[[float], float],
        resolution_s: float,
        venue: Venue | None = None,
        next_activity: Callable[[float], float | None] | None = None,
        ticks_per_commit: int = 1,
    ) -> None:
        """``next_activity(now)``, if given, is when the world next needs the bot (None:
        never again): idle stretches (a recording's gaps) are crossed in one step that
        lands ``LEAD_S`` before it.

        ``ticks_per_commit`` > 1 lets :meth:`run_until` commit the ledger once every so
        many ticks instead of every tick (each tick is then a savepoint inside it). Only
        for a ledger nobody else reads while it runs (a backtest's): another connection
        sees the ticks of a batch only when it commits, and a crash loses the batch.
        """
        if resolution_s <= 0:
            raise ValueError("resolution_s must be > 0")
        if ticks_per_commit < 1:
            raise ValueError("ticks_per_commit must be >= 1")
        self.bot = bot
        self.advance_to = advance_to
        self.resolution_s = resolution_s
        self.venue = venue
        self.next_activity = next_activity
        self.ticks_per_commit = ticks_per_commit
        self.ticks = 0
        self._read_ms = 0

    def tick(self) -> float:
        """Move the world one step and let every worker act once; returns the time."""
        bot = self.bot
        now = self.advance_to(self._next_time(bot.clock.now()))
        # One transaction a tick (a savepoint, inside a batch of ticks): each worker's own
        # becomes a savepoint in it (an error still undoes just that worker's writes).
        # Nothing else writes the ledger while the workers take turns, and a commit per
        # worker was a fifth of a light tick (a commit a tick, a tenth).
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
        batched = self.ticks_per_commit > 1
        more = True
        while more:
            # one commit per batch of ticks (see ticks_per_commit)
            with db_connection() if batched else nullcontext():
                for _ in range(self.ticks_per_commit):
                    more = self._due(until)
                    if not more:
                        break
                    now = self.tick()
                    if on_tick is not None:
                        on_tick(now)

    def _due(self, until: float) -> bool:
        """Whether a next tick lands at or before ``until``."""
        now = self.bot.clock.now()
        return now < until and self._next_time(now) <= until
