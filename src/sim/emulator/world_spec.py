"""One description of the simulated world, shared by ``polyflup backtest`` and
``polyflup run --sim``: the same seed, coins and data files build the same feed, start
time, market calendar, market model and starting balance, whether the world is then
stepped in-process (a backtest) or served over HTTP (the embedded emulator).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from src.data.market_data.windows import SUPPORTED_COINS, normalize_coin
from src.sim.calendar import DEFAULT_RESOLVE_DELAY_S
from src.sim.emulator.config import EmulatorConfig
from src.sim.emulator.defaults import DEFAULT_BALANCE_MICRO, WARMUP_S
from src.sim.emulator.feed_setup import GENERATED_DAYS
from src.sim.emulator.server import Emulator, SourceFactory
from src.sim.feeds.generator import DEFAULT_START_MS, MINUTES_PER_DAY, GeneratedFeed

if TYPE_CHECKING:
    from src.sim.market_model.params import MarketModelParams

SETTLE_TAIL_S = DEFAULT_RESOLVE_DELAY_S + 3 * 60
"""After the last window: time for it to resolve and be redeemed."""


@dataclass(frozen=True, slots=True)
class WorldSpec:
    """What the simulated world is made of.

    Attributes:
        seed: seeds the generated feed, the calendar's ids and the market model.
        coins: coins with markets (replayed files name their own).
        data_files: ``[SYMBOL=]PATH`` kline files to replay instead of generating.
        days: how much a generated feed covers after its day of warm-up (``None``: the
            emulator's default length). The prices do not depend on it — a generated
            path is drawn day block by day block — only where the feed ends.
        balance_micro: collateral credited to every new account.
        market_params: the market model's parameters (``None``: its defaults).
    """

    seed: int = 0
    coins: tuple[str, ...] = SUPPORTED_COINS
    data_files: tuple[str, ...] = ()
    days: float | None = None
    balance_micro: int = DEFAULT_BALANCE_MICRO
    market_params: MarketModelParams | None = None

    def config(self, speed: float | None = None) -> EmulatorConfig:
        """The emulator's configuration (``speed=None``: a manual clock)."""
        return EmulatorConfig(
            seed=self.seed,
            speed=speed,
            coins=self.coins,
            data_files=self.data_files,
            start_time=None if self.data_files else DEFAULT_START_MS / 1000 + WARMUP_S,
            default_balance=self.balance_micro,
            market_params=self.market_params,
        )

    def generated_minutes(self) -> int:
        """Minutes of a generated feed: the warm-up day, the days asked, the settlement
        tail and an hour of margin."""
        if self.days is None:
            return GENERATED_DAYS * MINUTES_PER_DAY
        return int((self.days + 1) * MINUTES_PER_DAY + SETTLE_TAIL_S // 60 + 60)

    def emulator(
        self, speed: float | None = None, source_factory: SourceFactory | None = None
    ) -> Emulator:
        """The world's emulator, neither built nor started: ``build()`` it to step it
        in-process, ``start()`` it to serve it on 127.0.0.1. ``source_factory`` picks
        another market than the full model (the same for both, or the worlds differ)."""
        config = self.config(speed)
        if self.data_files:
            return Emulator(config, source_factory=source_factory)
        feed = GeneratedFeed(
            self.seed, start_ms=DEFAULT_START_MS, minutes=self.generated_minutes()
        )
        return Emulator(config, feed=feed, source_factory=source_factory)


def traded_coins(wanted: Iterable[str], fed_symbols: Iterable[str]) -> tuple[str, ...]:
    """The coins to trade: those asked for that the world has prices for, else every
    coin it has (data files name their own)."""
    fed = {normalize_coin(symbol) for symbol in fed_symbols}
    return tuple(c for c in wanted if c in fed) or tuple(sorted(fed))
