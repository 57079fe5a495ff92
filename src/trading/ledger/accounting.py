"""Pure accounting of fills: what each fill does to cash and to a position.

Everything is integer micro-units. Cost basis is the cash actually paid for the shares still
held (average cost); PnL is realised only by sells and settlement, from real fill prices and
real fees — never from midpoints or intended prices. Taker fees follow the venue: in shares
on a BUY (fewer tokens arrive), in collateral on a SELL (less cash arrives).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from src.utils.money import MICRO


class LedgerError(ValueError):
    """A fill that cannot be booked (e.g. selling more shares than held)."""


class Side(StrEnum):
    """Side of our order in the fill."""

    BUY = "BUY"
    SELL = "SELL"


class FeeAsset(StrEnum):
    """What the fee was collected in."""

    COLLATERAL = "collateral"
    SHARES = "shares"


def notional(size_micro: int, price_micro: int) -> int:
    """Collateral for ``size`` shares at ``price`` (exact for the venue's lots and ticks)."""
    return size_micro * price_micro // MICRO


@dataclass(frozen=True, slots=True)
class FillAmounts:
    """The economics of one fill of one of our orders."""

    side: Side
    price_micro: int
    size_micro: int
    fee_micro: int = 0
    fee_asset: FeeAsset = FeeAsset.COLLATERAL
    # The exact collateral exchanged when the venue reports it (a taker fill across several
    # price levels has an average price that is rounded; its collateral is not).
    exact_notional_micro: int | None = None

    def __post_init__(self) -> None:
        if not 0 < self.price_micro < MICRO:
            raise LedgerError(f"fill price out of (0, 1): {self.price_micro}")
        if self.exact_notional_micro is not None and not (
            0 < self.exact_notional_micro < self.size_micro
        ):
            raise LedgerError("fill collateral must lie between 0 and its size")
        if self.size_micro <= 0 or self.fee_micro < 0:
            raise LedgerError("fill size must be positive and fee non-negative")
        if (
            self.side is Side.BUY
            and self.fee_asset is FeeAsset.SHARES
            and (self.fee_micro >= self.size_micro)
        ):
            raise LedgerError("a share fee cannot take the whole fill")

    @property
    def notional_micro(self) -> int:
        """Collateral exchanged: as reported, or price × size."""
        if self.exact_notional_micro is not None:
            return self.exact_notional_micro
        return notional(self.size_micro, self.price_micro)

    @property
    def fee_value_micro(self) -> int:
        """The fee's value in collateral (share fees valued at the fill price)."""
        if self.fee_asset is FeeAsset.SHARES:
            return notional(self.fee_micro, self.price_micro)
        return self.fee_micro

    @property
    def share_delta_micro(self) -> int:
        """Change in shares held: a BUY adds the size less a share fee; a SELL removes it."""
        if self.side is Side.BUY:
            fee = self.fee_micro if self.fee_asset is FeeAsset.SHARES else 0
            return self.size_micro - fee
        return -self.size_micro

    def cash_flows(self) -> list[tuple[str, int]]:
        """Cash movements as ``(kind, amount)`` for the cash ledger (``trade``, ``fee``)."""
        if self.side is Side.BUY:
            flows = [("trade", -self.notional_micro)]
        else:
            flows = [("trade", self.notional_micro)]
        if self.fee_asset is FeeAsset.COLLATERAL and self.fee_micro:
            flows.append(("fee", -self.fee_micro))
        return flows

    @property
    def cash_delta_micro(self) -> int:
        """Net change in cash."""
        return sum(amount for _, amount in self.cash_flows())


@dataclass(frozen=True, slots=True)
class PositionTotals:
    """A position's running totals."""

    size_micro: int = 0
    cost_micro: int = 0
    fees_micro: int = 0
    realized_pnl_micro: int = 0

    @property
    def avg_price_micro(self) -> int | None:
        """Average cost per share held (None when flat)."""
        return None if self.size_micro == 0 else self.cost_micro * MICRO // self.size_micro


def apply_fill(totals: PositionTotals, fill: FillAmounts) -> PositionTotals:
    """The position after ``fill`` (average-cost method)."""
    if fill.side is Side.BUY:
        return PositionTotals(
            size_micro=totals.size_micro + fill.share_delta_micro,
            cost_micro=totals.cost_micro + fill.notional_micro,
            fees_micro=totals.fees_micro + fill.fee_value_micro,
            realized_pnl_micro=totals.realized_pnl_micro,
        )
    if fill.size_micro > totals.size_micro:
        raise LedgerError(
            f"sell of {fill.size_micro} shares exceeds the {totals.size_micro} held"
        )
    # Release cost pro rata; the last sell releases all of it, so flat means zero cost.
    if fill.size_micro == totals.size_micro:
        released = totals.cost_micro
    else:
        released = totals.cost_micro * fill.size_micro // totals.size_micro
    proceeds = fill.cash_delta_micro
    return PositionTotals(
        size_micro=totals.size_micro - fill.size_micro,
        cost_micro=totals.cost_micro - released,
        fees_micro=totals.fees_micro + fill.fee_value_micro,
        realized_pnl_micro=totals.realized_pnl_micro + proceeds - released,
    )


def fold_fills(
    fills: Iterable[FillAmounts], start: PositionTotals | None = None
) -> PositionTotals:
    """Totals after applying ``fills`` in order (FAILED fills must be left out)."""
    totals = start or PositionTotals()
    for fill in fills:
        totals = apply_fill(totals, fill)
    return totals


@dataclass(frozen=True, slots=True)
class SettlementResult:
    """A position closed by the market's resolution."""

    totals: PositionTotals
    payout_micro: int
    pnl_micro: int


def settle(totals: PositionTotals, won: bool) -> SettlementResult:
    """Resolve the position: winning shares pay 1.00 each, losing shares nothing."""
    payout = totals.size_micro if won else 0
    pnl = payout - totals.cost_micro
    return SettlementResult(
        totals=PositionTotals(
            size_micro=0,
            cost_micro=0,
            fees_micro=totals.fees_micro,
            realized_pnl_micro=totals.realized_pnl_micro + pnl,
        ),
        payout_micro=payout,
        pnl_micro=pnl,
    )
