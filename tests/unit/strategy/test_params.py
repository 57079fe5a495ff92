"""StrategyParams: defaults valid, every range and cross rule enforced, table complete."""

from dataclasses import fields, replace
from decimal import Decimal
from pathlib import Path

import pytest

from src.trading.params import ParamsError, StrategyParams, describe_params, params_markdown


def test_defaults_are_valid_and_follow_the_standards() -> None:
    p = StrategyParams()
    assert p.confidence_cap == 0.85
    assert p.price_validation_min_confidence == 0.75
    assert p.weights == pytest.approx((0.30, 0.20, 0.20, 0.20, 0.10))
    assert sum(p.weights) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("confidence_cap", 0.9),
        ("confidence_cap", 0.5),
        ("min_edge", 0.0),
        ("min_edge", -0.01),
        ("bet_percent", 0.0),
        ("student_t_dof", 2.0),
        ("basis_bp", -1.0),
        ("basis_bp", float("nan")),
        ("confidence_method", "magic"),
        ("fair_value_model", "cauchy"),
        ("order_style", "market"),
        ("max_trade_usd", Decimal(0)),
        ("max_trade_usd", Decimal("NaN")),
        ("momentum_lookback_minutes", 1),
        ("multi_confirmation_min_signals", 0),
        ("weight_order_flow", 1.5),
        ("min_edge", "0.03"),
        ("allow_min_size_bump", 1),
        ("rsi_window", True),
    ],
)
def test_out_of_range_values_are_refused(name: str, value: object) -> None:
    with pytest.raises(ParamsError, match=name):
        replace(StrategyParams(), **{name: value})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"losing_side_min_edge": 0.02}, "losing_side_min_edge"),
        ({"min_confidence": 0.8, "confidence_cap": 0.7}, "min_confidence"),
        ({"extreme_confidence": 0.7}, "extreme_confidence"),
        ({"entry_min_elapsed_sec": 800}, "entry_min_elapsed_sec"),
        ({"max_trade_usd": Decimal("500")}, "max_trade_usd"),
        ({"min_history_minutes": 10}, "min_history_minutes"),
        (
            {
                "weight_price_momentum": 0.0,
                "weight_polymarket_momentum": 0.0,
                "weight_order_flow": 0.0,
                "weight_divergence": 0.0,
                "weight_volume_momentum": 0.0,
            },
            "weight",
        ),
    ],
)
def test_cross_field_rules(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ParamsError, match=message):
        replace(StrategyParams(), **changes)


def test_integers_accepted_for_floats_and_weights_normalised() -> None:
    p = replace(StrategyParams(), bet_percent=5, weight_volume_momentum=0.3)
    assert sum(p.weights) == pytest.approx(1.0)
    assert p.weights[0] == pytest.approx(0.3 / 1.2)


def test_describe_params_lists_every_field() -> None:
    rows = describe_params()
    public = [f.name for f in fields(StrategyParams) if not f.name.startswith("_")]
    assert [r.name for r in rows] == public
    by_name = {r.name: r for r in rows}
    assert by_name["confidence_cap"].allowed == "(0.5, 0.85]"
    assert by_name["confidence_method"].allowed == "additive, bayesian"
    assert by_name["max_trade_usd"].type_name == "Decimal"
    assert all(r.doc for r in rows)


def test_digest_changes_with_any_value() -> None:
    base = StrategyParams()
    assert base.digest() == StrategyParams().digest()
    assert base.digest() != replace(base, min_edge=0.031).digest()


def test_indicator_state_keeps_what_validation_needs() -> None:
    p = replace(StrategyParams(), validation_lookback_minutes=60)
    assert p.indicator_config().keep_klines == 61
    assert p.validation_config().lookback == 60
    assert StrategyParams().indicator_config().momentum_lookback == 15


def test_strategy_doc_table_is_the_code() -> None:
    doc = (Path(__file__).resolve().parents[3] / "docs" / "STRATEGY.md").read_text()
    start, end = "<!-- params-table:start -->\n", "\n<!-- params-table:end -->"
    table = doc[doc.index(start) + len(start) : doc.index(end)]
    assert table == params_markdown()
