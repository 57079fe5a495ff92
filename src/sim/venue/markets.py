"""Markets as the venue registers them: the static description and the run-time state.

A :class:`VenueMarket` is what gets registered (ids, tick, minimum size, fee rate, end
time); :func:`VenueMarket.for_window` builds one for a 15-minute window using the window
arithmetic of :mod:`src.data.market_data.windows`. The mutable state (accepting orders,
per-token tick, resolution) lives in :class:`MarketState` inside the venue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from decimal import Decimal

from src.data.market_data.windows import WindowRef, normalize_coin
from src.sim.calendar import market_ids
from src.sim.venue.amounts import exact_micro, tick_micro
from src.sim.venue.book import OrderBook
from src.sim.venue.fees import fee_rate_micro
from src.sim.venue.types import Outcome

COIN_NAMES = {"BTC": "Bitcoin", "ETH": "Ethereum", "SOL": "Solana", "XRP": "XRP"}
LISTING_LEAD_SECONDS = 24 * 3600
"""Up/Down markets are listed (and accept orders) about a day before their window."""


def _eastern() -> tzinfo:
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo("America/New_York")
    except Exception:  # no tz database on this machine: titles fall back to UTC
        return UTC


def _clock_text(moment: datetime) -> str:
    hour = moment.hour % 12 or 12
    return f"{hour}:{moment.minute:02d}{'AM' if moment.hour < 12 else 'PM'}"


def window_question(window: WindowRef) -> str:
    """The venue's title, e.g. ``Bitcoin Up or Down - September 13, 3:15PM-3:30PM ET``."""
    zone = _eastern()
    start = datetime.fromtimestamp(window.start, tz=zone)
    end = datetime.fromtimestamp(window.end, tz=zone)
    suffix = "ET" if zone is not UTC else "UTC"
    coin = normalize_coin(window.coin)
    name = COIN_NAMES.get(coin, coin)
    return (
        f"{name} Up or Down - {start.strftime('%B')} {start.day}, "
        f"{_clock_text(start)}-{_clock_text(end)} {suffix}"
    )


@dataclass(slots=True, frozen=True)
class VenueMarket:
    """A binary Up/Down market as registered at the venue.

    ``tick_size``, ``min_order_size`` and ``fee_rate`` are decimals as the venue publishes
    them (``Decimal('0.01')``, ``Decimal('5')``, ``Decimal('0.07')``). Orders are refused
    before ``accepting_from`` (if set), at or after ``end_time``, and whenever
    ``accepting_orders`` is false.
    """

    condition_id: str
    slug: str
    question: str
    up_token_id: str
    down_token_id: str
    end_time: float
    tick_size: Decimal = Decimal("0.01")
    min_order_size: Decimal = Decimal("5")
    fee_rate: Decimal = Decimal("0.07")
    neg_risk: bool = False
    accepting_orders: bool = True
    start_time: float | None = None
    accepting_from: float | None = None

    @classmethod
    def for_window(
        cls,
        window: WindowRef,
        *,
        fee_rate: Decimal = Decimal("0.07"),
        tick_size: Decimal = Decimal("0.01"),
        min_order_size: Decimal = Decimal("5"),
        listing_lead: float | None = LISTING_LEAD_SECONDS,
    ) -> VenueMarket:
        """The market of one 15-minute window, with ids derived from its slug.

        Ids follow :func:`src.sim.calendar.market_ids` (seed 0), the one rule for simulated
        ids, so the same window always gets the same ids. ``listing_lead`` seconds before
        the start it begins accepting orders (None: from registration).
        """
        slug = window.slug
        ids = market_ids(slug)
        accepting_from = None if listing_lead is None else window.start - listing_lead
        return cls(
            condition_id=ids.condition_id,
            slug=slug,
            question=window_question(window),
            up_token_id=ids.up_token_id,
            down_token_id=ids.down_token_id,
            end_time=float(window.end),
            tick_size=tick_size,
            min_order_size=min_order_size,
            fee_rate=fee_rate,
            start_time=float(window.start),
            accepting_from=accepting_from,
        )

    @property
    def token_ids(self) -> tuple[str, str]:
        """``(up_token_id, down_token_id)``, the venue's ``clobTokenIds`` order."""
        return (self.up_token_id, self.down_token_id)

    def outcome_of(self, token_id: str) -> Outcome:
        """Which outcome ``token_id`` pays on."""
        if token_id == self.up_token_id:
            return Outcome.UP
        if token_id == self.down_token_id:
            return Outcome.DOWN
        raise KeyError(token_id)

    def token_of(self, outcome: Outcome) -> str:
        """The token id paying on ``outcome``."""
        return self.up_token_id if outcome is Outcome.UP else self.down_token_id


class MarketState:
    """The venue's mutable view of one market."""

    __slots__ = (
        "accepting",
        "accepting_from",
        "backing",
        "closed",
        "condition_id",
        "end_time",
        "fee_rate",
        "min_size",
        "resolved_at",
        "spec",
        "tokens",
        "winner",
    )

    def __init__(self, spec: VenueMarket) -> None:
        self.spec = spec
        self.condition_id = spec.condition_id
        self.end_time = spec.end_time
        self.accepting_from = spec.accepting_from
        self.accepting = spec.accepting_orders
        self.closed = False
        self.winner: Outcome | None = None
        self.resolved_at: float | None = None
        self.min_size = exact_micro(spec.min_order_size)
        self.fee_rate = fee_rate_micro(spec.fee_rate)
        self.backing = 0  # collateral locked in this market's complete sets
        tick = tick_micro(spec.tick_size)
        self.tokens = (
            TokenState(spec.up_token_id, self, Outcome.UP, tick),
            TokenState(spec.down_token_id, self, Outcome.DOWN, tick),
        )

    @property
    def resolved(self) -> bool:
        """True once a winner is known."""
        return self.winner is not None

    def accepts_orders_at(self, now: float) -> bool:
        """True when an order placed at ``now`` may enter the book."""
        if not self.accepting or now >= self.end_time:
            return False
        return self.accepting_from is None or now >= self.accepting_from


class TokenState:
    """One outcome token: its market, current tick and order book."""

    __slots__ = ("book", "market", "outcome", "tick", "token_id")

    def __init__(
        self, token_id: str, market: MarketState, outcome: Outcome, tick: int
    ) -> None:
        self.token_id = token_id
        self.market = market
        self.outcome = outcome
        self.tick = tick
        self.book = OrderBook(token_id)
