"""Market-model parameter files: round trip, strict loading, and the settings and emulator
configuration that read them."""

from __future__ import annotations

import json
from dataclasses import fields, replace
from decimal import Decimal
from pathlib import Path

import pytest

from src.config.errors import ConfigError
from src.config.settings import load_settings
from src.sim.calendar import MarketCalendar
from src.sim.emulator.config import EmulatorConfig
from src.sim.emulator.sources import model_source
from src.sim.market_model import MarketModelParams
from src.sim.market_model.params_file import (
    FORMAT,
    MarketParamsFileError,
    load_market_params,
    market_params_setting,
    save_market_params,
)
from src.sim.venue import SimVenue
from src.utils.clock import SimClock
from tests.unit.market_model.support import START, generated_feed

CUSTOM = replace(
    MarketModelParams(),
    maker_lag_s=2.0,
    noise_sd_logit=0.08,
    base_half_spread=0.004,
    levels=4,
    fair_value_model="normal",
    fee_rate=Decimal("0.0625"),
)


def _write(path: Path, document: object) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_a_saved_file_loads_back_equal_with_its_header(tmp_path: Path) -> None:
    report = {"windows": 68, "score": 0.2, "fitted": {"maker_lag_s": 2.0}}
    path = save_market_params(CUSTOM, tmp_path / "market.json", report)
    assert load_market_params(path) == CUSTOM
    document = json.loads(path.read_text())
    assert document["format"] == FORMAT and document["version"] == 1
    assert document["fitted"] == report
    assert list(document["params"]) == [f.name for f in fields(MarketModelParams)]
    assert document["params"]["fee_rate"] == "0.0625"
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_partial_file_keeps_the_defaults_for_the_rest(tmp_path: Path) -> None:
    path = _write(tmp_path / "p.json", {"params": {"requote_margin": 0.5, "levels": 5}})
    assert load_market_params(path) == replace(
        MarketModelParams(), requote_margin=0.5, levels=5
    )


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"params": {"noise_sd": 0.1}}, "unknown parameter 'noise_sd'"),
        ({"params": {}, "extra": 1}, "unknown key 'extra' at the top level"),
        ({"params": {"noise_sd_logit": -0.1}}, "noise_sd_logit must be >= 0"),
        ({"params": {"requote_margin": 2}}, "requote_margin must be in"),
        ({"params": {"levels": 2.5}}, "parameter 'levels': 2.5 is not a whole number"),
        ({"params": {"maker_lag_s": "1"}}, "parameter 'maker_lag_s': '1' is not a number"),
        ({"params": {"maker_lag_s": True}}, "'maker_lag_s': True is not a number"),
        ({"params": {"fee_rate": "abc"}}, "'fee_rate': 'abc' is not a decimal"),
        ({"params": {"fair_value_model": 3}}, "'fair_value_model': 3 is not a string"),
        ({"params": {"fair_value_model": "cauchy"}}, "fair_value_model must be"),
        ({"format": "other", "params": {}}, "format is 'other'"),
        ({"version": 2, "params": {}}, "version 2 is not supported"),
        ({"fitted": {}}, "'params' must be a JSON object"),
        ([1, 2], "expected a JSON object"),
    ],
)
def test_a_bad_file_names_the_file_and_what_is_wrong(
    tmp_path: Path, document: object, message: str
) -> None:
    path = _write(tmp_path / "bad.json", document)
    with pytest.raises(MarketParamsFileError, match=message) as info:
        load_market_params(path)
    assert str(info.value).startswith(f"{path}: ")


def test_unreadable_and_non_json_files(tmp_path: Path) -> None:
    with pytest.raises(MarketParamsFileError, match="cannot read"):
        load_market_params(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"params": {\n  "levels": ,\n}}')
    with pytest.raises(MarketParamsFileError, match=r"not JSON \(line 2"):
        load_market_params(broken)


def test_the_setting_is_empty_or_a_valid_file(tmp_path: Path) -> None:
    assert market_params_setting("") is None
    assert market_params_setting("  ") is None
    path = save_market_params(CUSTOM, tmp_path / "m.json")
    assert market_params_setting(str(path)) == CUSTOM
    settings = load_settings(environ={"SIM_MARKET_PARAMS": str(path)}, env_file=None)
    assert settings.sim_market_params == str(path)
    assert load_settings(environ={}, env_file=None).sim_market_params == ""


def test_a_bad_file_in_the_setting_is_a_configuration_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "bad.json", {"params": {"noise_half_life_s": 0}})
    with pytest.raises(ConfigError) as info:
        load_settings(environ={"SIM_MARKET_PARAMS": str(path)}, env_file=None)
    text = str(info.value)
    assert "SIM_MARKET_PARAMS" in text and "noise_half_life_s must be > 0" in text
    assert str(path) in text


def test_the_emulator_builds_its_market_model_with_the_configured_params() -> None:
    clock = SimClock(START)
    venue = SimVenue(clock, seed=1)
    feed = generated_feed(1, 1.0)
    calendar = MarketCalendar(("BTC",), seed=1)
    source = model_source(venue, feed, calendar, EmulatorConfig(market_params=CUSTOM))
    assert source.exchange.params == CUSTOM  # type: ignore[attr-defined]
    default = model_source(venue, feed, calendar, EmulatorConfig())
    assert default.exchange.params == MarketModelParams()  # type: ignore[attr-defined]


def test_the_backtest_world_reads_sim_market_params(tmp_path: Path) -> None:
    from src.backtest.runner import BacktestSpec, build_world

    path = save_market_params(CUSTOM, tmp_path / "m.json")
    settings = load_settings(environ={"SIM_MARKET_PARAMS": str(path)}, env_file=None)
    world = build_world(BacktestSpec(days=0.1, coins=("BTC",)), settings)
    assert world.context.source.exchange.params == CUSTOM  # type: ignore[attr-defined]
