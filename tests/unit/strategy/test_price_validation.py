"""Price-movement validation: each flag on a hand-built case, clean data stays clean."""

import math
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from src.data.market_data.price_validation import (
    PriceFlag,
    ValidationConfig,
    validate_price_movement,
)
from src.sim.feeds.base import MINUTE_MS
from tests.unit.strategy.builders import kline, klines_from_closes

T_END = 1_767_225_600_000
SIGMA = 0.001  # 10 bp per minute, given explicitly so every threshold is hand-checkable


def _clean(n: int = 15) -> list:
    # ±5 bp zig-zag: no wicks, no gaps, no trend.
    closes = [100.0 * (1.0005 if i % 2 else 1.0) for i in range(n)]
    return list(klines_from_closes(closes, T_END))


def test_clean_history_has_no_flags() -> None:
    result = validate_price_movement(_clean(), SIGMA)
    assert result.flags == PriceFlag.NONE and not result.suspicious
    assert result.reason == "clean" and result.flag_count == 0
    assert result.max_wick_sigma == 0.0 and result.max_volume_ratio == 1.0


def test_long_wick_on_a_small_body() -> None:
    ks = _clean()
    last = ks[-1]
    ks[-1] = replace(last, close=last.open * 1.0001, high=last.open * 1.005)
    result = validate_price_movement(ks, SIGMA)
    assert result.flags == PriceFlag.WICK
    expected = math.log(1.005 / 1.0001) / SIGMA  # ≈ 48.9 σ, and ≥ 3 × the 1 bp body
    assert result.max_wick_sigma == pytest.approx(expected)
    assert result.reason == "wick"


def test_wick_shorter_than_three_bodies_is_not_flagged() -> None:
    ks = _clean()
    last = ks[-1]
    # Body 60 bp, upper wick 50 bp: a strong candle, not a rejection.
    ks[-1] = replace(last, close=last.open * 1.006, high=last.open * 1.006 * 1.005)
    result = validate_price_movement(ks, SIGMA, ValidationConfig(reversal_min_sigma=100))
    assert PriceFlag.WICK not in result.flags


def test_wick_below_three_sigma_is_not_flagged() -> None:
    ks = _clean()
    last = ks[-1]
    ks[-1] = replace(last, low=min(last.open, last.close) * (1 - 0.0025))  # 2.5 σ
    assert PriceFlag.WICK not in validate_price_movement(ks, SIGMA).flags


@pytest.mark.parametrize(("volume", "flagged"), [(50.0, True), (40.0, True), (35.0, False)])
def test_volume_spike(volume: float, flagged: bool) -> None:
    ks = _clean()
    ks[-2] = replace(ks[-2], volume=volume, taker_buy_volume=volume / 2)
    result = validate_price_movement(ks, SIGMA)
    assert (PriceFlag.VOLUME_SPIKE in result.flags) is flagged
    assert result.max_volume_ratio == pytest.approx(volume / 10.0)


def test_gap_between_close_and_next_open() -> None:
    ks = _clean()
    prev_close = ks[-3].close
    ks[-2] = kline(ks[-2].open_time_ms, prev_close * 1.005, prev_close * 1.005)
    ks[-1] = kline(ks[-1].open_time_ms, prev_close * 1.005, prev_close * 1.005)
    result = validate_price_movement(ks, SIGMA)
    assert PriceFlag.GAP in result.flags
    assert result.max_gap_sigma == pytest.approx(math.log(1.005) / SIGMA)


def test_sharp_reversal() -> None:
    # +1 % over 11 minutes (3.0 σ√11), then −0.5 % over 3 minutes (−2.9 σ√3).
    closes = [100.0 * (1 + 0.01 * i / 11) for i in range(12)]
    closes += [closes[-1] * (1 - 0.005 * i / 3) for i in range(1, 4)]
    ks = list(klines_from_closes(closes, T_END))
    result = validate_price_movement(ks, SIGMA)
    assert result.flags == PriceFlag.REVERSAL
    assert result.reversal_long_z == pytest.approx(math.log(1.01) / (SIGMA * math.sqrt(11)))
    assert result.reversal_short_z == pytest.approx(
        math.log(0.995) / (SIGMA * math.sqrt(3))
    )


def test_continuation_is_not_a_reversal() -> None:
    closes = [100.0 * (1 + 0.015 * i / 14) for i in range(15)]
    result = validate_price_movement(klines_from_closes(closes, T_END), SIGMA)
    assert PriceFlag.REVERSAL not in result.flags


def test_malformed_and_missing_minutes() -> None:
    ks = _clean()
    ks[5] = replace(ks[5], close=math.nan)
    result = validate_price_movement(ks, SIGMA)
    assert PriceFlag.MISSING_DATA in result.flags
    holes = _clean()
    del holes[7]
    assert PriceFlag.MISSING_DATA in validate_price_movement(holes, SIGMA).flags


@pytest.mark.parametrize("n", [0, 1, 5, 14])
def test_too_few_klines(n: int) -> None:
    result = validate_price_movement(_clean(15)[15 - n :], SIGMA)
    assert PriceFlag.INSUFFICIENT_DATA in result.flags and result.suspicious


def test_sigma_estimated_when_missing() -> None:
    result = validate_price_movement(_clean(), None)
    # Every close-to-close move is ±5 bp: the median absolute move × 1.4826.
    assert result.sigma_1m == pytest.approx(math.log(1.0005) * 1.4826, rel=1e-9)
    assert validate_price_movement(_clean(), math.nan).sigma_1m == result.sigma_1m
    flat = list(klines_from_closes([3.0] * 15, T_END))
    assert validate_price_movement(flat, 0.0).flags == PriceFlag.NONE


@given(
    st.lists(st.floats(-0.004, 0.004), min_size=15, max_size=15),
    st.lists(st.floats(0.0, 0.003), min_size=15, max_size=15),
    st.lists(st.sampled_from([1.0, 10.0, 80.0]), min_size=15, max_size=15),
)
@settings(max_examples=60, deadline=None)
def test_flags_are_mirror_invariant(steps, wicks, volumes) -> None:
    price, ks = 100.0, []
    for i, (step, wick, volume) in enumerate(zip(steps, wicks, volumes, strict=True)):
        close = price * math.exp(step)
        t = T_END - (15 - i) * MINUTE_MS
        ks.append(
            kline(t, price, close, high=max(price, close) * (1 + wick), volume=volume)
        )
        price = close
    strike = 100.0
    mirrored = [
        replace(
            k,
            open=strike * strike / k.open,
            close=strike * strike / k.close,
            high=strike * strike / k.low,
            low=strike * strike / k.high,
        )
        for k in ks
    ]
    a, b = validate_price_movement(ks, SIGMA), validate_price_movement(mirrored, SIGMA)
    assert a.max_wick_sigma == pytest.approx(b.max_wick_sigma, rel=1e-6, abs=1e-9)
    assert a.reversal_long_z == pytest.approx(-b.reversal_long_z, rel=1e-6, abs=1e-9)
    assert a.max_volume_ratio == b.max_volume_ratio
