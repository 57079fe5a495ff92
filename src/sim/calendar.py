"""The simulated market calendar: one 15-minute Up/Down market per coin and window.

Each market gets deterministic ids (the same seed and window always give the same condition
id and token ids, shaped like the venue's), is listed ahead of its window, accepts orders
until the window ends, and resolves a little later: **Up iff the reference price at the end
is at least the price at the start** (ties go Up).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from src.data.market_data.windows import (
    WINDOW_SECONDS,
    SlugError,
    WindowRef,
    normalize_coin,
    parse_slug,
    window_start,
)

COIN_NAMES = {"BTC": "Bitcoin", "ETH": "Ethereum", "SOL": "Solana", "XRP": "XRP"}
DEFAULT_LIST_AHEAD_S = 2 * WINDOW_SECONDS
DEFAULT_RESOLVE_DELAY_S = 60


class Phase(StrEnum):
    """Where a market is in its life."""

    UNLISTED = "unlisted"
    LISTED = "listed"  # accepting orders, window not started
    OPEN = "open"  # the window is running
    CLOSED = "closed"  # window over, not accepting orders, awaiting resolution
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class SimMarket:
    """One simulated Up/Down market."""

    window: WindowRef
    condition_id: str
    question_id: str
    up_token_id: str
    down_token_id: str
    listed_at: int
    resolves_at: int

    @property
    def slug(self) -> str:
        """The Gamma slug."""
        return self.window.slug

    @property
    def symbol(self) -> str:
        """The Binance symbol of the underlying (``BTCUSDT``)."""
        return f"{self.window.coin}USDT"

    @property
    def question(self) -> str:
        """Title in the venue's style (times in UTC here)."""
        start = datetime.fromtimestamp(self.window.start, tz=UTC)
        end = datetime.fromtimestamp(self.window.end, tz=UTC)
        name = COIN_NAMES.get(self.window.coin, self.window.coin)
        return f"{name} Up or Down - {start:%B} {start.day}, {start:%H:%M}-{end:%H:%M} UTC"

    def phase(self, now: float) -> Phase:
        """The market's phase at ``now``."""
        if now < self.listed_at:
            return Phase.UNLISTED
        if now < self.window.start:
            return Phase.LISTED
        if now < self.window.end:
            return Phase.OPEN
        if now < self.resolves_at:
            return Phase.CLOSED
        return Phase.RESOLVED

    def accepting_orders(self, now: float) -> bool:
        """Orders are accepted from listing until the window ends."""
        return self.phase(now) in (Phase.LISTED, Phase.OPEN)


def resolve_outcome(start_price: float, end_price: float) -> str:
    """``"UP"`` when the end price is at least the start price (ties go Up), else ``"DOWN"``."""
    return "UP" if end_price >= start_price else "DOWN"


def _digest(*parts: object) -> bytes:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()


@dataclass(frozen=True, slots=True)
class MarketIds:
    """A simulated market's identifiers, shaped like the venue's."""

    condition_id: str
    question_id: str
    up_token_id: str
    down_token_id: str


def market_ids(slug: str, seed: int = 0) -> MarketIds:
    """The one rule for simulated ids: a pure function of the slug and the seed.

    Condition and question ids are ``0x`` + 64 hex; token ids are uint256 in decimal.
    """

    def token(outcome: str) -> str:
        return str(int.from_bytes(_digest("token", seed, slug, outcome), "big"))

    return MarketIds(
        condition_id="0x" + _digest("condition", seed, slug).hex(),
        question_id="0x" + _digest("question", seed, slug).hex(),
        up_token_id=token("Up"),
        down_token_id=token("Down"),
    )


class MarketCalendar:
    """Which markets exist when, for a set of coins; ids are a pure function of the seed."""

    def __init__(
        self,
        coins: tuple[str, ...],
        seed: int = 0,
        list_ahead_s: int = DEFAULT_LIST_AHEAD_S,
        resolve_delay_s: int = DEFAULT_RESOLVE_DELAY_S,
    ) -> None:
        if list_ahead_s < 0 or resolve_delay_s < 0:
            raise ValueError("list_ahead_s and resolve_delay_s must be ≥ 0")
        self.coins = tuple(normalize_coin(c) for c in coins)
        self.seed = seed
        self.list_ahead_s = list_ahead_s
        self.resolve_delay_s = resolve_delay_s
        self._cache: dict[WindowRef, SimMarket] = {}
        self._by_token: dict[str, SimMarket] = {}

    def market(self, window: WindowRef) -> SimMarket:
        """The market of ``window`` (built once, then cached)."""
        cached = self._cache.get(window)
        if cached is not None:
            return cached
        ids = market_ids(window.slug, self.seed)
        market = SimMarket(
            window=window,
            condition_id=ids.condition_id,
            question_id=ids.question_id,
            up_token_id=ids.up_token_id,
            down_token_id=ids.down_token_id,
            listed_at=window.start - self.list_ahead_s,
            resolves_at=window.end + self.resolve_delay_s,
        )
        self._cache[window] = market
        self._by_token[market.up_token_id] = market
        self._by_token[market.down_token_id] = market
        return market

    def next_listing(self, now: float) -> int:
        """When the next window after those live at ``now`` is listed (a world that lists
        from :meth:`live_markets` need not look again before then)."""
        return window_start(now + self.list_ahead_s) + WINDOW_SECONDS - self.list_ahead_s

    def live_markets(self, now: float) -> list[SimMarket]:
        """Markets listed and not yet resolved at ``now``, oldest window first."""
        first = window_start(now - WINDOW_SECONDS - self.resolve_delay_s)
        last = window_start(now + self.list_ahead_s)
        markets = []
        for start in range(first, last + 1, WINDOW_SECONDS):
            for coin in self.coins:
                market = self.market(WindowRef(coin, start))
                if market.phase(now) not in (Phase.UNLISTED, Phase.RESOLVED):
                    markets.append(market)
        return markets

    def by_token(self, token_id: str) -> SimMarket | None:
        """The (already built) market that issued ``token_id``."""
        return self._by_token.get(token_id)

    def by_slug(self, slug: str) -> SimMarket | None:
        """The market of ``slug`` if it belongs to one of our coins."""
        try:
            window = parse_slug(slug)
        except SlugError:
            return None
        return self.market(window) if window.coin in self.coins else None
