"""The five directional signals, each against a hand computation."""

import math
from dataclasses import replace
from decimal import Decimal

import pytest

from src.data.market_data.indicators import Indicators
from src.trading.params import StrategyParams
from src.trading.signals import directional
from src.trading.signals.types import Direction, SignalName

P = StrategyParams()
NOW = 1_767_225_900.0


def _strength(x: float, scale: float) -> float:
    return (math.tanh(abs(x) / scale) - 0.1) / 0.9


def _ind(**kw: float) -> Indicators:
    base = replace(
        Indicators.empty(),
        bars=100,
        close=100.0,
        sigma_1m=0.001,
        velocity=0.0,
        acceleration=0.0,
        rsi=50.0,
        rsi_centered=0.0,
        vwap=100.0,
        vwap_distance=0.0,
        taker_imbalance=0.0,
        volume_ratio=1.0,
    )
    return replace(base, **kw)


def test_price_momentum_by_hand() -> None:
    ind = _ind(velocity=0.003, acceleration=0.001, rsi_centered=6.0)
    z_v = 0.003 / (0.001 * math.sqrt(15))
    z_a = 0.001 / (0.001 * math.sqrt(14))
    z_r = 6.0 / 12.0
    composite = 0.6 * z_v + 0.2 * z_a + 0.2 * z_r
    s = directional.price_momentum(ind, 0.001, P)
    assert s.name is SignalName.PRICE_MOMENTUM and s.direction is Direction.UP
    assert s.value == pytest.approx(composite)
    assert s.strength == pytest.approx(_strength(composite, 1.5))


def test_price_momentum_down_and_missing_parts() -> None:
    ind = _ind(velocity=-0.003, acceleration=math.nan, rsi_centered=-6.0)
    composite = (0.6 * -0.003 / (0.001 * math.sqrt(15)) + 0.2 * -0.5) / 0.8
    s = directional.price_momentum(ind, 0.001, P)
    assert s.direction is Direction.DOWN and s.value == pytest.approx(composite)
    no_velocity = directional.price_momentum(_ind(velocity=math.nan), 0.001, P)
    assert no_velocity.direction is Direction.NEUTRAL and no_velocity.note


def test_small_momentum_is_neutral() -> None:
    s = directional.price_momentum(_ind(velocity=0.0003), 0.001, P)
    assert s.direction is Direction.NEUTRAL and s.strength == 0.0


def test_polymarket_momentum_by_hand() -> None:
    history = [
        (NOW - 130, Decimal("0.50")),
        (NOW - 100, Decimal("0.55")),
        (NOW - 10, Decimal("0.58")),
    ]
    s = directional.polymarket_momentum(Decimal("0.60"), history, NOW, P)
    change = math.log(0.6 / 0.4)  # from 0.50 (the latest point ≥ 120 s old)
    assert s.direction is Direction.UP
    assert s.value == pytest.approx(change)
    assert s.strength == pytest.approx(_strength(change, 0.3))
    # Only a 100 s old point: it is used (older than the 30 s minimum span).
    s2 = directional.polymarket_momentum(Decimal("0.60"), history[1:], NOW, P)
    assert s2.value == pytest.approx(change - math.log(0.55 / 0.45))
    # Only a 10 s old point, a future point and junk: no evidence.
    junk = [(NOW - 10, Decimal("0.58")), (NOW + 50, Decimal("0.1")), (math.nan, Decimal(1))]
    s3 = directional.polymarket_momentum(Decimal("0.60"), junk, NOW, P)
    assert s3.direction is Direction.NEUTRAL and s3.note == "no mid history"


def test_order_flow_by_hand() -> None:
    up = directional.order_flow(_ind(taker_imbalance=0.15), P)
    down = directional.order_flow(_ind(taker_imbalance=-0.15), P)
    assert up.direction is Direction.UP and down.direction is Direction.DOWN
    assert up.strength == down.strength == pytest.approx(_strength(0.15, 0.3))
    assert (
        directional.order_flow(_ind(taker_imbalance=0.02), P).direction is Direction.NEUTRAL
    )
    silent = directional.order_flow(_ind(taker_imbalance=math.nan), P)
    assert silent.direction is Direction.NEUTRAL and silent.note == "no volume"


def test_divergence_by_hand() -> None:
    s = directional.divergence(0.6, 0.4, Decimal("0.5"), P)
    assert s.direction is Direction.UP
    assert s.value == pytest.approx(math.log(1.5))
    assert s.strength == pytest.approx(_strength(math.log(1.5), 0.5))
    low = directional.divergence(0.2, 0.8, Decimal("0.5"), P)
    assert low.direction is Direction.DOWN and low.value == pytest.approx(math.log(0.25))
    same = directional.divergence(0.5, 0.5, Decimal("0.5"), P)
    assert same.direction is Direction.NEUTRAL


def test_volume_momentum_by_hand() -> None:
    z = 0.002 / (0.001 * math.sqrt(5))
    thin = directional.volume_momentum(
        _ind(vwap_distance=0.002, volume_ratio=0.5), 0.001, P
    )
    assert thin.direction is Direction.UP and thin.value == pytest.approx(z)
    assert thin.strength == pytest.approx(_strength(z, 1.5) * (2 * 0.5 / 1.5))
    busy = directional.volume_momentum(
        _ind(vwap_distance=-0.002, volume_ratio=2.0), 0.001, P
    )
    assert busy.direction is Direction.DOWN
    assert busy.strength == pytest.approx(_strength(z, 1.5))
    unknown = directional.volume_momentum(
        _ind(vwap_distance=0.002, volume_ratio=math.nan), 0.001, P
    )
    assert unknown.strength == pytest.approx(_strength(z, 1.5) * 0.5)
    dead = directional.volume_momentum(
        _ind(vwap_distance=0.002, volume_ratio=0.0), 0.001, P
    )
    assert dead.direction is Direction.NEUTRAL
    missing = directional.volume_momentum(_ind(vwap_distance=math.nan), 0.001, P)
    assert missing.direction is Direction.NEUTRAL and missing.note
