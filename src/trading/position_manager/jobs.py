"""What the position manager and the signal generator ask of the order placer.

A :class:`Job` is one unit of venue work, done in order by the only thread that writes to
the venue: cancel these orders, then place this one (or redeem a market). ``key`` names the
purpose ("exit plan of token X"), and the placer holds at most one job per key, so a rule
that fires every second while its order is in flight does not place it twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from src.trading.execution import TradeParams


@dataclass(frozen=True, slots=True)
class RedeemRequest:
    """Redeem a resolved market's tokens and book the collateral received."""

    condition_id: str
    window_id: int
    slug: str


@dataclass(frozen=True, slots=True)
class Job:
    """Cancel ``cancel`` (venue order ids), then place ``place``, redeem ``redeem`` or
    sync order statuses — in the placer, so a sync never races an order being posted."""

    key: str
    reason: str
    cancel: tuple[str, ...] = ()
    place: TradeParams | None = None
    is_reversal: bool = False
    redeem: RedeemRequest | None = None
    sync_orders: bool = False  # look up working orders the venue no longer lists
    mark_position: tuple[int, str] | None = None  # (position id, exit reason) once placed
    origin_perf: float | None = None  # perf_counter of the data tick behind it (latency)
    not_after: float | None = (
        None  # Clock time past which the order is pointless (window end)
    )
