"""Settings reach the strategy: every shared option, every profile."""

from __future__ import annotations

from dataclasses import fields

import pytest

from src.config.profiles import PROFILES
from src.config.settings import Settings, load_settings
from src.trading.params import StrategyParams, params_from_settings


@pytest.mark.parametrize("profile", list(PROFILES))
def test_every_profile_gives_valid_params(profile: str) -> None:
    settings = load_settings(environ={}, env_file=None, profile=profile)
    params = params_from_settings(settings)
    shared = {f.name for f in fields(StrategyParams)} & {f.name for f in fields(Settings)}
    assert len(shared) >= 20
    for name in shared:
        assert getattr(params, name) == getattr(settings, name), name


def test_a_flag_reaches_the_decision_threshold() -> None:
    settings = load_settings(
        environ={},
        env_file=None,
        overrides={"MIN_EDGE": "0.07", "LOSING_SIDE_MIN_EDGE": "0.09"},
    )
    assert params_from_settings(settings).min_edge == 0.07


def test_overrides_for_parameters_without_a_setting() -> None:
    settings = load_settings(environ={}, env_file=None)
    assert params_from_settings(settings, kelly_fraction=0.25).kelly_fraction == 0.25
