"""Exact money and share amounts: integer micro-units inside, ``Decimal`` at the edges.

The venue counts collateral and outcome tokens with 6 decimals; so do we. Floats never hold
money: they appear only inside signal math.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal, InvalidOperation

MICRO = 1_000_000
_MICRO_DEC = Decimal(MICRO)
_SIX_PLACES = Decimal("0.000001")


class AmountError(ValueError):
    """A value that cannot be an exact amount (NaN, infinite, not a number)."""


def to_decimal(value: object) -> Decimal:
    """Parse ``value`` (str, int, Decimal or float) into a finite ``Decimal``.

    Floats go through ``repr`` so ``0.1`` becomes ``Decimal("0.1")``, not its binary tail.
    """
    if isinstance(value, bool):
        raise AmountError(f"not an amount: {value!r}")
    try:
        if isinstance(value, Decimal):
            result = value
        elif isinstance(value, float):
            result = Decimal(repr(value))
        else:
            result = Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise AmountError(f"not an amount: {value!r}") from exc
    if not result.is_finite():
        raise AmountError(f"not a finite amount: {value!r}")
    return result


def to_micro(value: object, rounding: str = ROUND_HALF_EVEN) -> int:
    """Convert an amount to integer micro-units, rounding to 6 places with ``rounding``."""
    quantized = to_decimal(value).quantize(_SIX_PLACES, rounding=rounding)
    return int(quantized * _MICRO_DEC)


def to_micro_floor(value: object) -> int:
    """Convert to micro-units rounding toward zero (for sizes we must not exceed)."""
    return to_micro(value, rounding=ROUND_DOWN)


def from_micro(micro: int) -> Decimal:
    """Integer micro-units back to an exact ``Decimal`` with 6 places."""
    if isinstance(micro, bool) or not isinstance(micro, int):
        raise AmountError(f"micro-units must be an int, got {micro!r}")
    return (Decimal(micro) / _MICRO_DEC).quantize(_SIX_PLACES)


def format_micro(micro: int, places: int = 2) -> str:
    """Human text for a micro amount, e.g. ``1234567 → '1.23'`` (banker's rounding)."""
    quantum = Decimal(1).scaleb(-places)
    return f"{from_micro(micro).quantize(quantum, rounding=ROUND_HALF_EVEN):,}"


def micro_str(micro: int) -> str:
    """Exact decimal string for JSON output: ``1500000 → '1.5'``, ``0 → '0'``."""
    text = format(from_micro(micro).normalize(), "f")
    return text
