"""Taker fees: ``shares × rate × p × (1 − p)``, floored to 5 decimals; makers pay nothing.

The venue collects the fee **in shares on a BUY** (the taker receives fewer tokens) and **in
collateral on a SELL** (the taker receives less cash). The share fee is the collateral fee
converted at the fill price: ``shares × rate × (1 − p)``. Both are floored to 0.00001 (10
micro-units), so a fee smaller than that is zero — the venue's "rounded to 5 decimals, min
0.00001", and the on-chain check ``108 @ 0.36, rate 0.07 → 1.741820``.
"""

from __future__ import annotations

from src.sim.venue.amounts import exact_micro
from src.utils.money import MICRO, AmountError

FEE_QUANTUM = 10
"""Fees are whole multiples of 0.00001 (5 decimals) in micro-units."""

_MICRO_2 = MICRO * MICRO
_MICRO_3 = _MICRO_2 * MICRO


def fee_rate_micro(rate: object) -> int:
    """A fee rate (``'0.07'``, ``Decimal``, or micro ``int``) as micro-units, in [0, 1]."""
    micro = (
        rate if isinstance(rate, int) and not isinstance(rate, bool) else exact_micro(rate)
    )
    if not 0 <= micro <= MICRO:
        raise AmountError(f"fee rate must lie in [0, 1]: {rate!r}")
    return micro


def fee_in_collateral(shares: int, price: int, rate: int) -> int:
    """Taker fee of a SELL fill, in collateral micro-units (all arguments micro-units)."""
    raw = shares * rate * price * (MICRO - price) // _MICRO_3
    return raw - raw % FEE_QUANTUM


def fee_in_shares(shares: int, price: int, rate: int) -> int:
    """Taker fee of a BUY fill in share micro-units: the collateral fee over ``price``."""
    raw = shares * rate * (MICRO - price) // _MICRO_2
    return raw - raw % FEE_QUANTUM


def taker_fee(is_buy: bool, shares: int, price: int, rate: int) -> int:
    """The taker's fee for one fill: shares on a BUY, collateral on a SELL."""
    if is_buy:
        return fee_in_shares(shares, price, rate)
    return fee_in_collateral(shares, price, rate)
