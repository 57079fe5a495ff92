"""Settings: parsing, every validation rule, precedence, profiles and secrets."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from src.config.errors import ConfigError
from src.config.profiles import PROFILES
from src.config.settings import Settings, load_settings, option_by_name, options, validate

REPO = Path(__file__).resolve().parents[3]
KEY = "0x" + "ab" * 32


def load(env: dict[str, str] | None = None, **kwargs: object) -> Settings:
    return load_settings(environ=env or {}, env_file=None, **kwargs)  # type: ignore[arg-type]


def test_defaults_are_valid_and_equal_the_balanced_profile() -> None:
    settings = load()
    assert settings.profile == "balanced"
    defaults = Settings()
    for env, value in PROFILES["balanced"].items():
        option = option_by_name(env)
        assert getattr(defaults, option.field) == option.parse(value), env


@pytest.mark.parametrize(
    ("name", "value"),
    [
        # type errors
        ("BET_PERCENT", "five"),
        ("MAX_SIZE", "lots"),
        ("SIM_SEED", "1.5"),
        ("ENABLE_STOP_LOSS", "maybe"),
        ("MIN_EDGE", "nan"),
        ("MIN_EDGE", "inf"),
        ("MAX_TRADE_USD", "Infinity"),
        # ranges
        ("BET_PERCENT", "0"),
        ("BET_PERCENT", "100.01"),
        ("BET_PERCENT", "-5"),
        ("MIN_EDGE", "0"),
        ("MIN_EDGE", "1"),
        ("MIN_EDGE", "-0.1"),
        ("LOSING_SIDE_MIN_EDGE", "1.5"),
        ("CONFIDENCE_CAP", "0.86"),
        ("CONFIDENCE_CAP", "0.9"),
        ("CONFIDENCE_CAP", "0.5"),
        ("MIN_CONFIDENCE", "0.49"),
        ("PRICE_VALIDATION_MIN_CONFIDENCE", "0.95"),
        ("EXTREME_CONFIDENCE", "1"),
        ("MULTI_CONFIRMATION_MIN_SIGNALS", "0"),
        ("MULTI_CONFIRMATION_MIN_SIGNALS", "6"),
        ("EXIT_PRICE_TARGET", "1"),
        ("EXIT_PRICE_TARGET", "0.9995"),
        ("EXIT_PRICE_TARGET", "0.5"),
        ("EXIT_HIGH_CONFIDENCE_PRICE", "1.0"),
        ("SCALE_IN_MIN_PRICE", "0"),
        ("SCALE_IN_MAX_PRICE", "1"),
        ("SCALE_IN_MULTIPLIER", "0"),
        ("SCALE_IN_MULTIPLIER", "6"),
        ("SCALE_IN_TIME_LEFT_SEC", "901"),
        ("STOP_LOSS_PRICE", "0"),
        ("STOP_LOSS_PRICE", "1"),
        ("MAX_SPREAD", "0"),
        ("MAX_SPREAD", "0.6"),
        ("MAX_TRADE_USD", "0"),
        ("MAX_WINDOW_EXPOSURE_USD", "-1"),
        ("MAX_TOTAL_EXPOSURE_PCT", "101"),
        ("DAILY_LOSS_LIMIT_PCT", "0"),
        ("MAX_SIZE", "4.99"),
        ("MIN_BOOK_DEPTH_USD", "-1"),
        ("ENTRY_MIN_ELAPSED_SEC", "900"),
        ("ENTRY_MAX_ELAPSED_SEC", "0"),
        ("VOL_LOOKBACK_MINUTES", "4"),
        ("MOMENTUM_LOOKBACK_MINUTES", "61"),
        ("MONITOR_INTERVAL_SEC", "0"),
        ("POLL_INTERVAL_SEC", "61"),
        ("SIM_STARTING_BALANCE", "0"),
        ("SIM_SEED", "-1"),
        ("SIM_SPEED", "0"),
        ("CONFIDENCE_SCALING_FACTOR", "11"),
        ("REVERSAL_MIN_CONFIDENCE", "0.9"),
        # choices and formats
        ("CONFIDENCE_METHOD", "magic"),
        ("FAIR_VALUE_MODEL", "cauchy"),
        ("ORDER_STYLE", "iceberg"),
        ("OPEN_ORDERS_ON_EXIT", "ignore"),
        ("LOG_LEVEL", "LOUD"),
        ("MARKETS", "BTC,DOGE"),
        ("MARKETS", " , "),
        ("POLYMARKET_CHAIN_ID", "1"),
        ("POLYMARKET_SIGNATURE_TYPE", "3"),
        ("POLYMARKET_CLOB_URL", "ftp://example"),
        ("POLYMARKET_GAMMA_URL", "localhost"),
        ("POLYMARKET_WS_URL", "http://127.0.0.1:1/ws"),
        ("BINANCE_WS_URL", "nope"),
        ("POLYMARKET_FUNDER_ADDRESS", "0x1234"),
        ("POLYMARKET_PRIVATE_KEY", "0xdeadbeef"),
        ("DISCORD_WEBHOOK_URL", "not a url"),
        ("POLYFLUP_PROFILE", "yolo"),
    ],
)
def test_each_bad_value_is_refused_naming_the_setting(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        load({name: value})
    assert info.value.settings == [name]
    message = str(info.value)
    assert name in message and "allowed" in message
    option = option_by_name(name)
    if option.secret:
        assert value not in message  # never echo a secret, even a malformed one
    else:
        assert value.strip() in message or name == "POLYFLUP_PROFILE"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"SCALE_IN_MIN_PRICE": "0.8", "SCALE_IN_MAX_PRICE": "0.7"}, "SCALE_IN_MIN_PRICE"),
        ({"SCALE_IN_MIN_PRICE": "0.7", "SCALE_IN_MAX_PRICE": "0.7"}, "SCALE_IN_MIN_PRICE"),
        ({"STOP_LOSS_PRICE": "0.65", "SCALE_IN_MIN_PRICE": "0.6"}, "STOP_LOSS_PRICE"),
        (
            {"EXIT_PRICE_TARGET": "0.99", "EXIT_HIGH_CONFIDENCE_PRICE": "0.98"},
            "EXIT_PRICE_TARGET",
        ),
        ({"MIN_EDGE": "0.1", "LOSING_SIDE_MIN_EDGE": "0.05"}, "MIN_EDGE"),
        (
            {
                "MIN_CONFIDENCE": "0.8",
                "CONFIDENCE_CAP": "0.78",
                "EXTREME_CONFIDENCE": "0.78",
                "PRICE_VALIDATION_MIN_CONFIDENCE": "0.75",
            },
            "MIN_CONFIDENCE",
        ),
        (
            {"PRICE_VALIDATION_MIN_CONFIDENCE": "0.8", "CONFIDENCE_CAP": "0.75"},
            "PRICE_VALIDATION_MIN_CONFIDENCE",
        ),
        (
            {"PRICE_VALIDATION_MIN_CONFIDENCE": "0.8", "EXTREME_CONFIDENCE": "0.78"},
            "PRICE_VALIDATION_MIN_CONFIDENCE",
        ),
        (
            {"ENTRY_MIN_ELAPSED_SEC": "600", "ENTRY_MAX_ELAPSED_SEC": "600"},
            "ENTRY_MIN_ELAPSED_SEC",
        ),
        ({"MAX_TRADE_USD": "500", "MAX_WINDOW_EXPOSURE_USD": "100"}, "MAX_TRADE_USD"),
        ({"POLYMARKET_SIGNATURE_TYPE": "2"}, "POLYMARKET_SIGNATURE_TYPE"),
    ],
)
def test_cross_field_rules(env: dict[str, str], named: str) -> None:
    # Flags, so no profile value masks the pair under test.
    with pytest.raises(ConfigError) as info:
        load(overrides=env)
    assert info.value.settings == [named]
    rule_names = str(info.value).split(" is invalid")[0]
    assert named in rule_names


def test_api_credentials_come_together() -> None:
    with pytest.raises(ConfigError) as info:
        load({"POLYMARKET_API_KEY": "k" * 10})
    assert info.value.settings == ["POLYMARKET_API_KEY"]
    assert "k" * 10 not in str(info.value) and "together" in str(info.value)


def test_stop_loss_above_scale_in_is_fine_when_scale_in_is_off() -> None:
    settings = load(
        overrides={
            "STOP_LOSS_PRICE": "0.65",
            "SCALE_IN_MIN_PRICE": "0.6",
            "ENABLE_SCALE_IN": "NO",
        }
    )
    assert settings.stop_loss_price == Decimal("0.65")


def test_all_problems_are_reported_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        load({"BET_PERCENT": "0", "MIN_EDGE": "2", "MARKETS": "ABC"})
    assert sorted(info.value.settings) == ["BET_PERCENT", "MARKETS", "MIN_EDGE"]


def test_parsing_of_each_kind() -> None:
    settings = load(
        {
            "MARKETS": "eth, btc,eth",
            "ENABLE_STOP_LOSS": "no",
            "LOG_LEVEL": "debug",
            "POLYFLUP_DB": "~/x.db",
            "POLYMARKET_CLOB_URL": "http://127.0.0.1:9/",
            "BINANCE_WS_URL": "ws://127.0.0.1:9/",
            "POLYMARKET_PRIVATE_KEY": "ab" * 32,
            "MAX_SIZE": "12.5",
        },
        overrides={"ENABLE_SCALE_IN": "off"},
    )
    assert settings.markets == ("ETH", "BTC")
    assert settings.enable_stop_loss is False and settings.enable_scale_in is False
    assert settings.log_level == "DEBUG"
    assert settings.db_path == Path("~/x.db").expanduser()
    assert settings.polymarket_clob_url == "http://127.0.0.1:9"
    assert settings.binance_ws_url == "ws://127.0.0.1:9/"
    assert settings.private_key == KEY
    assert settings.max_size == Decimal("12.5")


def test_precedence_env_then_profile_then_flag(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("BET_PERCENT=1\nMAX_SIZE=100\nSIM_SEED=7\nLOG_LEVEL=DEBUG\n")
    # .env < environment
    s = load_settings(environ={"SIM_SEED": "8"}, env_file=env_file)
    assert s.sim_seed == 8 and s.source_of("SIM_SEED") == "env"
    assert s.log_level == "DEBUG" and s.source_of("LOG_LEVEL") == ".env"
    assert s.max_size == Decimal(100) and s.source_of("MAX_SIZE") == ".env"
    # environment < profile (the profile owns BET_PERCENT)
    assert s.bet_percent == 4.0 and s.source_of("BET_PERCENT") == "profile:balanced"
    s = load_settings(environ={"BET_PERCENT": "1"}, env_file=env_file, profile="aggressive")
    assert s.bet_percent == 6.0 and s.source_of("BET_PERCENT") == "profile:aggressive"
    # profile < flag
    s = load_settings(
        environ={},
        env_file=env_file,
        profile="aggressive",
        overrides={"BET_PERCENT": "2.5", "sim_seed": "9"},
    )
    assert s.bet_percent == 2.5 and s.source_of("BET_PERCENT") == "flag"
    assert s.sim_seed == 9
    assert s.source_of("MIN_BOOK_DEPTH_USD") == "default"


def test_profile_from_environment_and_flag() -> None:
    assert load({"POLYFLUP_PROFILE": "ULTRA"}).profile == "ultra"
    assert load({"POLYFLUP_PROFILE": "ultra"}, profile="conservative").profile == (
        "conservative"
    )


def test_unknown_profile_lists_the_valid_names() -> None:
    with pytest.raises(ConfigError) as info:
        load(profile="yolo")
    assert info.value.settings == ["--profile"]
    assert "conservative, balanced, aggressive, ultra" in str(info.value)


def test_a_bad_value_overridden_by_the_profile_is_still_reported() -> None:
    with pytest.raises(ConfigError) as info:
        load({"BET_PERCENT": "five"}, profile="aggressive")
    assert info.value.settings == ["BET_PERCENT"]


@pytest.mark.parametrize("name", list(PROFILES))
def test_every_profile_is_valid(name: str) -> None:
    settings = load(profile=name)
    assert settings.profile == name
    assert settings.confidence_cap <= 0.85


def test_profiles_are_ordered_by_risk() -> None:
    ladders = {name: load(profile=name) for name in PROFILES}
    order = ["conservative", "balanced", "aggressive", "ultra"]
    for field in (
        "bet_percent",
        "max_trade_usd",
        "max_total_exposure_pct",
        "daily_loss_limit_pct",
    ):
        values = [getattr(ladders[n], field) for n in order]
        assert values == sorted(values), field
    edges = [ladders[n].min_edge for n in order]
    assert edges == sorted(edges, reverse=True)


def test_profiles_set_only_known_non_secret_keys() -> None:
    keys = {frozenset(p) for p in PROFILES.values()}
    assert len(keys) == 1, "every profile sets the same keys"
    for env in next(iter(keys)):
        option = option_by_name(env)
        assert option.profile and not option.secret


def test_secrets_only_from_the_environment() -> None:
    with pytest.raises(ConfigError) as info:
        load(overrides={"POLYMARKET_PRIVATE_KEY": KEY})
    assert info.value.settings == ["POLYMARKET_PRIVATE_KEY"]
    assert KEY not in str(info.value)
    assert load({"POLYMARKET_PRIVATE_KEY": KEY}).has_wallet


def test_secrets_never_in_repr() -> None:
    settings = load(
        {
            "POLYMARKET_PRIVATE_KEY": KEY,
            "DISCORD_WEBHOOK_URL": "https://discord.com/api/webhooks/1/abc",
        }
    )
    text = repr(settings)
    assert KEY not in text and "webhooks/1/abc" not in text


def test_unknown_flag_setting_is_an_error() -> None:
    with pytest.raises(ConfigError) as info:
        load(overrides={"NOT_A_SETTING": "1"})
    assert info.value.settings == ["NOT_A_SETTING"]


def test_validate_rejects_a_hand_built_bad_combination() -> None:
    bad = Settings(scale_in_min_price=Decimal("0.9"), scale_in_max_price=Decimal("0.8"))
    with pytest.raises(ConfigError):
        validate(bad)


def test_env_example_documents_every_setting_with_its_default() -> None:
    from scripts.gen_env_example import render

    text = (REPO / ".env.example").read_text()
    assert text == render(), "run: python scripts/gen_env_example.py"
    keys = {
        line.split("=", 1)[0]
        for line in text.splitlines()
        if line and not line.startswith("#")
    }
    assert keys == {o.env for o in options()}


def test_env_example_loads_as_is() -> None:
    settings = load_settings(environ={}, env_file=REPO / ".env.example")
    assert settings.profile == "balanced"
