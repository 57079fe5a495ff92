"""What the driver hands out: snapshots of markets, books and counters."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from src.sim.calendar import Phase, SimMarket
from src.sim.venue import BookSnapshot, Outcome


@dataclass(frozen=True, slots=True)
class MarketState:
    """One simulated market as the driver sees it at one instant.

    ``strike`` is the reference price at the window's start (None before it);
    ``end_price`` the reference price at the end (None until the window has ended);
    ``outcome`` the winner (None until resolved). ``tick`` is the Up book's current tick
    (micro-units; the Down book's is the same). ``maker_fair`` is the makers' probability
    of Up now (their lagged, noisy view), ``feed_open`` the feed's price at the start.
    """

    market: SimMarket
    phase: Phase
    strike: float | None
    feed_open: float | None
    end_price: float | None
    outcome: Outcome | None
    fee_rate: Decimal
    tick: int
    maker_fair: float | None

    @property
    def condition_id(self) -> str:
        """The market's condition id."""
        return self.market.condition_id

    @property
    def slug(self) -> str:
        """The market's slug."""
        return self.market.slug

    @property
    def up_token_id(self) -> str:
        """The Up token."""
        return self.market.up_token_id

    @property
    def down_token_id(self) -> str:
        """The Down token."""
        return self.market.down_token_id


@dataclass(frozen=True, slots=True)
class MarketBooks:
    """Both books of one market at one instant (best level first on each side)."""

    condition_id: str
    up: BookSnapshot
    down: BookSnapshot


@dataclass(frozen=True, slots=True)
class ModelStats:
    """Counters since the driver was built.

    A **book update** is one maker order placed, cancelled or reduced in place at the venue
    (a moved level is two). ``requotes`` counts quote changes applied; ``mirror_fixes``
    fills of a maker leg answered by shrinking its mirror (or withdrawing the pair).
    """

    ticks: int
    markets_listed: int
    markets_resolved: int
    maker_placed: int
    maker_cancelled: int
    maker_reduced: int
    maker_rejected: int
    requotes: int
    mirror_fixes: int
    replenishments: int
    taker_arrivals: int
    taker_orders: int
    taker_trades: int
    informed_passes: int

    @property
    def book_updates(self) -> int:
        """Maker orders placed, cancelled or reduced."""
        return self.maker_placed + self.maker_cancelled + self.maker_reduced
