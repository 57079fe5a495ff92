"""Exact amounts: micro-units in, Decimal out, no float drift."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from src.utils.money import AmountError, from_micro, micro_str, to_micro, to_micro_floor


@pytest.mark.parametrize(
    ("value", "micro"),
    [
        ("1", 1_000_000),
        ("0.1", 100_000),
        (0.1, 100_000),
        (Decimal("2.5"), 2_500_000),
        ("0.0000005", 0),
        ("0.0000015", 2),
        (" 3.25 ", 3_250_000),
        (-1, -1_000_000),
    ],
)
def test_to_micro(value: object, micro: int) -> None:
    assert to_micro(value) == micro


def test_floor_never_rounds_up() -> None:
    assert to_micro_floor("1.9999999") == 1_999_999


@pytest.mark.parametrize("bad", ["nan", "inf", "-Infinity", "abc", "", True, None])
def test_rejects_non_amounts(bad: object) -> None:
    with pytest.raises(AmountError):
        to_micro(bad)


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_round_trip_is_exact(micro: int) -> None:
    assert to_micro(from_micro(micro)) == micro


def test_micro_str_is_plain_decimal() -> None:
    assert micro_str(1_500_000) == "1.5"
    assert micro_str(0) == "0"
    assert micro_str(100_000_000) == "100"
