"""Every PolyFlup setting, its default, how it is parsed and what values are allowed.

One frozen :class:`Settings` object is built by :func:`load_settings` from, in order of
increasing precedence: the defaults below, the ``.env`` file, the process environment, the
chosen risk profile, then CLI flags (``--set NAME=VALUE``). Each value remembers where it came
from, for ``polyflup config show``. Secrets are read only from the environment (or ``.env``):
a profile or a flag that tries to set one is an error.

The option table lives in the field metadata of :class:`Settings`: one place per rule.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any

from dotenv import dotenv_values

from src.config.errors import ConfigError, ConfigProblem
from src.config.options import Option, opt

DEFAULT_ENV_FILE = Path(".env")
COINS = ("BTC", "ETH", "SOL", "XRP")


def _coins(raw: str) -> tuple[str, ...]:
    coins = tuple(dict.fromkeys(c.strip().upper() for c in raw.split(",") if c.strip()))
    if not coins:
        raise ValueError("empty list")
    unknown = [c for c in coins if c not in COINS]
    if unknown:
        raise ValueError(f"unknown coin {', '.join(unknown)}")
    return coins


@dataclass(frozen=True)
class Settings:
    """The effective configuration. Build it with :func:`load_settings`, never by hand."""

    # --- General ------------------------------------------------------------------------
    profile: str = field(
        default="balanced",
        metadata=opt(
            "POLYFLUP_PROFILE",
            "General",
            "Risk profile applied on top of the environment "
            "(conservative, balanced, aggressive, ultra).",
            kind="profile",
            profile=False,
        ),
    )
    markets: tuple[str, ...] = field(
        default=COINS,
        metadata=opt(
            "MARKETS",
            "General",
            "Coins to trade, comma-separated (BTC, ETH, SOL, XRP).",
            kind="coins",
        ),
    )
    db_path: Path = field(
        default=Path("polyflup.db"),
        metadata=opt(
            "POLYFLUP_DB",
            "General",
            "Path of the sqlite database.",
            kind="path",
            profile=False,
        ),
    )
    log_dir: Path = field(
        default=Path("logs"),
        metadata=opt(
            "POLYFLUP_LOG_DIR",
            "General",
            "Folder for the rotating log files.",
            kind="path",
            profile=False,
        ),
    )
    log_level: str = field(
        default="INFO",
        metadata=opt(
            "LOG_LEVEL",
            "General",
            "Console log level.",
            choices=("DEBUG", "INFO", "WARNING", "ERROR"),
            upper=True,
            profile=False,
        ),
    )

    # --- Endpoints ----------------------------------------------------------------------
    polymarket_clob_url: str = field(
        default="https://clob.polymarket.com",
        metadata=opt(
            "POLYMARKET_CLOB_URL",
            "Endpoints",
            "Polymarket CLOB REST base URL.",
            kind="url",
            profile=False,
        ),
    )
    polymarket_gamma_url: str = field(
        default="https://gamma-api.polymarket.com",
        metadata=opt(
            "POLYMARKET_GAMMA_URL",
            "Endpoints",
            "Polymarket Gamma (market metadata) URL.",
            kind="url",
            profile=False,
        ),
    )
    polymarket_data_url: str = field(
        default="https://data-api.polymarket.com",
        metadata=opt(
            "POLYMARKET_DATA_URL",
            "Endpoints",
            "Polymarket Data API (positions, trades) URL.",
            kind="url",
            profile=False,
        ),
    )
    polymarket_ws_url: str = field(
        default="wss://ws-subscriptions-clob.polymarket.com/ws",
        metadata=opt(
            "POLYMARKET_WS_URL",
            "Endpoints",
            "Polymarket websocket base; /market and /user are appended.",
            kind="ws_url",
            profile=False,
        ),
    )
    rtds_ws_url: str = field(
        default="wss://ws-live-data.polymarket.com",
        metadata=opt(
            "RTDS_WS_URL",
            "Endpoints",
            "Polymarket real-time data socket (Chainlink prices, CHAINLINK_REFERENCE).",
            kind="ws_url",
            profile=False,
        ),
    )
    binance_api_url: str = field(
        default="https://api.binance.com/api",
        metadata=opt(
            "BINANCE_API_URL",
            "Endpoints",
            "Binance spot REST base (python-binance API_URL).",
            kind="url",
            profile=False,
        ),
    )
    binance_futures_url: str = field(
        default="https://fapi.binance.com/fapi",
        metadata=opt(
            "BINANCE_FUTURES_URL",
            "Endpoints",
            "Binance futures REST base (funding rate).",
            kind="url",
            profile=False,
        ),
    )
    binance_ws_url: str = field(
        default="wss://stream.binance.com:9443/",
        metadata=opt(
            "BINANCE_WS_URL",
            "Endpoints",
            "Binance websocket stream base.",
            kind="ws_url",
            profile=False,
        ),
    )
    polygon_rpc_url: str = field(
        default="",
        metadata=opt(
            "POLYGON_RPC_URL",
            "Endpoints",
            "Polygon JSON-RPC node for `polyflup redeem` on the real venue; empty = not "
            "configured (a secret: providers often put their API key in the URL).",
            kind="url",
            secret=True,
        ),
    )

    # --- Wallet (secrets come only from the environment) -------------------------------
    chain_id: int = field(
        default=137,
        metadata=opt(
            "POLYMARKET_CHAIN_ID",
            "Wallet",
            "Chain id (137 Polygon, 80002 Amoy).",
            kind="int",
            choices=(137, 80002),
            profile=False,
        ),
    )
    signature_type: int = field(
        default=0,
        metadata=opt(
            "POLYMARKET_SIGNATURE_TYPE",
            "Wallet",
            "Order signature type: 0 EOA, 1 email/Magic proxy, 2 browser-wallet proxy.",
            kind="int",
            choices=(0, 1, 2),
            profile=False,
        ),
    )
    funder_address: str = field(
        default="",
        metadata=opt(
            "POLYMARKET_FUNDER_ADDRESS",
            "Wallet",
            "Proxy wallet holding the funds (signature types 1 and 2); empty for EOA.",
            kind="address",
            profile=False,
        ),
    )
    private_key: str = field(
        default="",
        metadata=opt(
            "POLYMARKET_PRIVATE_KEY",
            "Wallet",
            "Signer private key (0x + 64 hex). Secret.",
            kind="private_key",
            secret=True,
        ),
    )
    api_key: str = field(
        default="",
        metadata=opt(
            "POLYMARKET_API_KEY",
            "Wallet",
            "CLOB API key; derived from the key when empty.",
            secret=True,
        ),
    )
    api_secret: str = field(
        default="",
        metadata=opt(
            "POLYMARKET_API_SECRET", "Wallet", "CLOB API secret. Secret.", secret=True
        ),
    )
    api_passphrase: str = field(
        default="",
        metadata=opt(
            "POLYMARKET_API_PASSPHRASE",
            "Wallet",
            "CLOB API passphrase. Secret.",
            secret=True,
        ),
    )
    discord_webhook_url: str = field(
        default="",
        metadata=opt(
            "DISCORD_WEBHOOK_URL",
            "Notifications",
            "Discord webhook for alerts. Secret.",
            kind="url",
            secret=True,
        ),
    )

    # --- Sizing and exposure -----------------------------------------------------------
    bet_percent: float = field(
        default=4.0,
        metadata=opt(
            "BET_PERCENT",
            "Sizing",
            "Base stake as a percentage of the cash balance.",
            kind="float",
            low=0.0,
            high=100.0,
            low_open=True,
        ),
    )
    confidence_scaling_factor: float = field(
        default=2.0,
        metadata=opt(
            "CONFIDENCE_SCALING_FACTOR",
            "Sizing",
            "How much the stake grows with confidence above 50% (0 = flat stakes).",
            kind="float",
            low=0.0,
            high=10.0,
        ),
    )
    max_trade_usd: Decimal = field(
        default=Decimal("50"),
        metadata=opt(
            "MAX_TRADE_USD",
            "Sizing",
            "Largest cost of one entry, in collateral.",
            kind="decimal",
            low=Decimal(0),
            low_open=True,
        ),
    )
    max_window_exposure_usd: Decimal = field(
        default=Decimal("100"),
        metadata=opt(
            "MAX_WINDOW_EXPOSURE_USD",
            "Sizing",
            "Largest total cost in one coin's window (entry, scale-ins, reversal).",
            kind="decimal",
            low=Decimal(0),
            low_open=True,
        ),
    )
    max_total_exposure_pct: float = field(
        default=30.0,
        metadata=opt(
            "MAX_TOTAL_EXPOSURE_PCT",
            "Sizing",
            "Largest cost of all open positions, as a percentage of equity.",
            kind="float",
            low=0.0,
            high=100.0,
            low_open=True,
        ),
    )
    daily_loss_limit_pct: float = field(
        default=10.0,
        metadata=opt(
            "DAILY_LOSS_LIMIT_PCT",
            "Sizing",
            "Stop opening positions for the UTC day after losing this share of equity.",
            kind="float",
            low=0.0,
            high=100.0,
            low_open=True,
        ),
    )
    max_size: Decimal = field(
        default=Decimal("500"),
        metadata=opt(
            "MAX_SIZE",
            "Sizing",
            "Largest position in one token, in shares.",
            kind="decimal",
            low=Decimal(5),
        ),
    )

    # --- Decision ----------------------------------------------------------------------
    min_edge: float = field(
        default=0.03,
        metadata=opt(
            "MIN_EDGE",
            "Decision",
            "Hard gate: expected value per share after fees (probability − price − fee).",
            kind="float",
            low=0.0,
            high=1.0,
            low_open=True,
            high_open=True,
        ),
    )
    losing_side_min_edge: float = field(
        default=0.06,
        metadata=opt(
            "LOSING_SIDE_MIN_EDGE",
            "Decision",
            "Higher edge required to buy the cheaper side (price below 0.50).",
            kind="float",
            low=0.0,
            high=1.0,
            low_open=True,
            high_open=True,
        ),
    )
    min_confidence: float = field(
        default=0.55,
        metadata=opt(
            "MIN_CONFIDENCE",
            "Decision",
            "Lowest confidence that may trade.",
            kind="float",
            low=0.5,
            high=0.85,
        ),
    )
    confidence_cap: float = field(
        default=0.85,
        metadata=opt(
            "CONFIDENCE_CAP",
            "Decision",
            "Confidence is never above this (at most 0.85).",
            kind="float",
            low=0.5,
            high=0.85,
            low_open=True,
        ),
    )
    price_validation_min_confidence: float = field(
        default=0.75,
        metadata=opt(
            "PRICE_VALIDATION_MIN_CONFIDENCE",
            "Decision",
            "Above this confidence, recent price action must pass validation "
            "(wicks, volume spikes, gaps, reversals).",
            kind="float",
            low=0.5,
            high=0.85,
        ),
    )
    extreme_confidence: float = field(
        default=0.80,
        metadata=opt(
            "EXTREME_CONFIDENCE",
            "Decision",
            "Above this, several independent strong signals must agree (multi-confirmation).",
            kind="float",
            low=0.5,
            high=0.85,
        ),
    )
    multi_confirmation_min_signals: int = field(
        default=3,
        metadata=opt(
            "MULTI_CONFIRMATION_MIN_SIGNALS",
            "Decision",
            "Strong agreeing signals needed for extreme confidence.",
            kind="int",
            low=1,
            high=5,
        ),
    )
    confidence_method: str = field(
        default="bayesian",
        metadata=opt(
            "CONFIDENCE_METHOD",
            "Decision",
            "Which confidence drives decisions; both are always computed and stored.",
            choices=("additive", "bayesian"),
            lower=True,
        ),
    )
    fair_value_model: str = field(
        default="student_t",
        metadata=opt(
            "FAIR_VALUE_MODEL",
            "Decision",
            "Distribution of the end price for fair value.",
            choices=("normal", "student_t"),
            lower=True,
        ),
    )
    vol_lookback_minutes: int = field(
        default=60,
        metadata=opt(
            "VOL_LOOKBACK_MINUTES",
            "Decision",
            "Minutes of klines for realised volatility.",
            kind="int",
            low=5,
            high=1440,
        ),
    )
    momentum_lookback_minutes: int = field(
        default=15,
        metadata=opt(
            "MOMENTUM_LOOKBACK_MINUTES",
            "Decision",
            "Minutes of klines for momentum signals.",
            kind="int",
            low=2,
            high=60,
        ),
    )
    max_spread: float = field(
        default=0.05,
        metadata=opt(
            "MAX_SPREAD",
            "Decision",
            "Skip a market whose Up-token spread is wider.",
            kind="float",
            low=0.0,
            high=0.5,
            low_open=True,
        ),
    )
    min_book_depth_usd: Decimal = field(
        default=Decimal("20"),
        metadata=opt(
            "MIN_BOOK_DEPTH_USD",
            "Decision",
            "Skip a market with less than this resting on the side we would take.",
            kind="decimal",
            low=Decimal(0),
        ),
    )
    entry_min_elapsed_sec: int = field(
        default=60,
        metadata=opt(
            "ENTRY_MIN_ELAPSED_SEC",
            "Decision",
            "No entry in the first seconds of a window.",
            kind="int",
            low=0,
            high=899,
        ),
    )
    entry_max_elapsed_sec: int = field(
        default=780,
        metadata=opt(
            "ENTRY_MAX_ELAPSED_SEC",
            "Decision",
            "No new entry after this many seconds.",
            kind="int",
            low=1,
            high=900,
        ),
    )
    order_style: str = field(
        default="auto",
        metadata=opt(
            "ORDER_STYLE",
            "Decision",
            "maker (post-only), taker, or auto (taker only when the edge pays the fee).",
            choices=("auto", "maker", "taker"),
            lower=True,
        ),
    )
    chainlink_reference: str = field(
        default="off",
        metadata=opt(
            "CHAINLINK_REFERENCE",
            "Decision",
            "on: in live and sim, read Chainlink prices from RTDS_WS_URL and, near the "
            "strike, value the window on them (never in backtests).",
            choices=("off", "on"),
            lower=True,
            profile=False,
        ),
    )
    chainlink_max_age_sec: float = field(
        default=10.0,
        metadata=opt(
            "CHAINLINK_MAX_AGE_SEC",
            "Decision",
            "A Chainlink price older than this many seconds is not used.",
            kind="float",
            low=0.0,
            high=300.0,
            low_open=True,
        ),
    )

    # --- Position management -----------------------------------------------------------
    enable_exit_plan: bool = field(
        default=True,
        metadata=opt(
            "ENABLE_EXIT_PLAN",
            "Positions",
            "Rest a sell near 1.00 once an entry fills.",
            kind="bool",
        ),
    )
    exit_price_target: Decimal = field(
        default=Decimal("0.99"),
        metadata=opt(
            "EXIT_PRICE_TARGET",
            "Positions",
            "Price of the exit-plan sell.",
            kind="decimal",
            low=Decimal("0.5"),
            high=Decimal("0.999"),
            low_open=True,
        ),
    )
    exit_high_confidence_price: Decimal = field(
        default=Decimal("0.999"),
        metadata=opt(
            "EXIT_HIGH_CONFIDENCE_PRICE",
            "Positions",
            "Exit price when confidence is high and the 0.001 tick allows it.",
            kind="decimal",
            low=Decimal("0.5"),
            high=Decimal("0.999"),
            low_open=True,
        ),
    )
    enable_scale_in: bool = field(
        default=True,
        metadata=opt(
            "ENABLE_SCALE_IN",
            "Positions",
            "Add to winning positions late in the window.",
            kind="bool",
        ),
    )
    scale_in_min_price: Decimal = field(
        default=Decimal("0.60"),
        metadata=opt(
            "SCALE_IN_MIN_PRICE",
            "Positions",
            "Lowest token price for a scale-in.",
            kind="decimal",
            low=Decimal(0),
            high=Decimal(1),
            low_open=True,
            high_open=True,
        ),
    )
    scale_in_max_price: Decimal = field(
        default=Decimal("0.85"),
        metadata=opt(
            "SCALE_IN_MAX_PRICE",
            "Positions",
            "Highest token price for a scale-in.",
            kind="decimal",
            low=Decimal(0),
            high=Decimal(1),
            low_open=True,
            high_open=True,
        ),
    )
    scale_in_time_left_sec: int = field(
        default=300,
        metadata=opt(
            "SCALE_IN_TIME_LEFT_SEC",
            "Positions",
            "Scale-in only with at most this much time left (earlier at high confidence).",
            kind="int",
            low=0,
            high=900,
        ),
    )
    scale_in_multiplier: float = field(
        default=0.5,
        metadata=opt(
            "SCALE_IN_MULTIPLIER",
            "Positions",
            "Scale-in size as a multiple of the position.",
            kind="float",
            low=0.0,
            high=5.0,
            low_open=True,
        ),
    )
    enable_stop_loss: bool = field(
        default=True,
        metadata=opt(
            "ENABLE_STOP_LOSS",
            "Positions",
            "Sell when the midpoint falls to the trigger.",
            kind="bool",
        ),
    )
    stop_loss_price: Decimal = field(
        default=Decimal("0.30"),
        metadata=opt(
            "STOP_LOSS_PRICE",
            "Positions",
            "Midpoint at which the stop-loss sells.",
            kind="decimal",
            low=Decimal(0),
            high=Decimal(1),
            low_open=True,
            high_open=True,
        ),
    )
    enable_reversal: bool = field(
        default=False,
        metadata=opt(
            "ENABLE_REVERSAL",
            "Positions",
            "Buy the other side when the signal flips.",
            kind="bool",
        ),
    )
    reversal_min_confidence: float = field(
        default=0.70,
        metadata=opt(
            "REVERSAL_MIN_CONFIDENCE",
            "Positions",
            "Confidence a flip needs to reverse.",
            kind="float",
            low=0.5,
            high=0.85,
        ),
    )

    # --- Runtime -----------------------------------------------------------------------
    monitor_interval_sec: float = field(
        default=1.0,
        metadata=opt(
            "MONITOR_INTERVAL_SEC",
            "Runtime",
            "Seconds between position-monitor cycles.",
            kind="float",
            low=0.0,
            high=60.0,
            low_open=True,
        ),
    )
    poll_interval_sec: float = field(
        default=2.0,
        metadata=opt(
            "POLL_INTERVAL_SEC",
            "Runtime",
            "Seconds between market polls without websocket.",
            kind="float",
            low=0.0,
            high=60.0,
            low_open=True,
        ),
    )
    venue_timeout_sec: float = field(
        default=5.0,
        metadata=opt(
            "VENUE_TIMEOUT_SEC",
            "Runtime",
            "Seconds before an unanswered venue request counts as ambiguous.",
            kind="float",
            low=0.1,
            high=60.0,
        ),
    )
    open_orders_on_exit: str = field(
        default="cancel",
        metadata=opt(
            "OPEN_ORDERS_ON_EXIT",
            "Runtime",
            "On Ctrl-C/SIGTERM: cancel or keep open orders.",
            choices=("cancel", "keep"),
            lower=True,
        ),
    )
    sim_starting_balance: Decimal = field(
        default=Decimal("1000"),
        metadata=opt(
            "SIM_STARTING_BALANCE",
            "Runtime",
            "Collateral of a new account in sim and backtest.",
            kind="decimal",
            low=Decimal(0),
            low_open=True,
        ),
    )
    sim_seed: int = field(
        default=42,
        metadata=opt(
            "SIM_SEED",
            "Runtime",
            "Seed of the simulated market (same seed, same market).",
            kind="int",
            low=0,
        ),
    )
    sim_speed: float = field(
        default=1.0,
        metadata=opt(
            "SIM_SPEED",
            "Runtime",
            "Simulated seconds per real second in sim mode.",
            kind="float",
            low=0.0,
            high=10000.0,
            low_open=True,
        ),
    )
    sim_market_params: str = field(
        default="",
        metadata=opt(
            "SIM_MARKET_PARAMS",
            "Runtime",
            "Market-model parameter file for sim and backtest (written by polyflup "
            "calibrate); empty: the built-in defaults.",
            kind="market_params",
        ),
    )

    sources: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType({}), compare=False, repr=False
    )

    @property
    def has_wallet(self) -> bool:
        """True when a signing key is configured (a precondition of ``--live``)."""
        return bool(self.private_key)

    def source_of(self, name: str) -> str:
        """Where the value of the option ``name`` (field or env name) came from."""
        option = option_by_name(name)
        return self.sources.get(option.env, "default")

    def __repr__(self) -> str:
        # A repr never shows a secret, so a stray log line or traceback cannot leak one.
        parts = []
        for f in fields(self):
            if f.name == "sources":
                continue
            value = getattr(self, f.name)
            if _option(f).secret and value:
                value = "***"
            parts.append(f"{f.name}={value!r}")
        return f"Settings({', '.join(parts)})"


def _option(f: Any) -> Option:
    return f.metadata["option"]


def options() -> list[Option]:
    """Every option, in declaration order (the basis of ``.env.example`` and ``config show``)."""
    return [_option(f) for f in fields(Settings) if "option" in f.metadata]


def option_by_name(name: str) -> Option:
    """Find an option by its environment name (``MIN_EDGE``) or field name (``min_edge``)."""
    wanted = name.strip()
    for option in options():
        if wanted in (option.env, option.field, option.env.lower()):
            return option
    raise ConfigError(
        [ConfigProblem(name, "", "a known setting (see polyflup config show)")]
    )


def secret_values(settings: Settings) -> list[str]:
    """The non-empty secret values, for the log redaction filter."""
    return [
        getattr(settings, o.field)
        for o in options()
        if o.secret and getattr(settings, o.field)
    ]


def load_settings(
    *,
    environ: Mapping[str, str] | None = None,
    env_file: Path | None = DEFAULT_ENV_FILE,
    profile: str | None = None,
    overrides: Mapping[str, str] | None = None,
) -> Settings:
    """Build the effective settings: defaults < ``.env`` < environment < profile < flags.

    ``environ`` defaults to ``os.environ``; ``profile`` (from ``--profile``) overrides
    ``POLYFLUP_PROFILE``; ``overrides`` are ``NAME=VALUE`` pairs from CLI flags.
    Raises :class:`ConfigError` listing every invalid value.
    """
    from src.config.profiles import PROFILES  # local: profiles are validated through here

    layers: list[tuple[str, Mapping[str, str]]] = []
    if env_file is not None and env_file.is_file():
        dotenv = {k: v for k, v in dotenv_values(env_file).items() if v is not None}
        layers.append((".env", dotenv))
    layers.append(("env", dict(os.environ if environ is None else environ)))

    # Every value from every layer is parsed, even one a later layer overrides: a typo in
    # .env must not hide behind a profile today and surface when the profile changes.
    raw: dict[str, list[tuple[str, str]]] = {}
    known = {o.env for o in options()}
    for source, values in layers:
        for key, value in values.items():
            if key in known:
                raw.setdefault(key, []).append((value, source))

    flag_values = {option_by_name(k).env: v for k, v in (overrides or {}).items()}
    env_profile = raw.get("POLYFLUP_PROFILE", [("balanced", "default")])[-1]
    profile_name = (
        (profile or flag_values.get("POLYFLUP_PROFILE") or env_profile[0]).strip().lower()
    )
    if profile_name not in PROFILES:
        raise ConfigError(
            [
                ConfigProblem(
                    "--profile" if profile else "POLYFLUP_PROFILE",
                    profile_name,
                    f"one of {', '.join(PROFILES)}",
                    "unknown profile",
                )
            ]
        )
    problems: list[ConfigProblem] = []
    profile_source = (
        "flag" if profile or "POLYFLUP_PROFILE" in flag_values else (env_profile[1])
    )
    raw["POLYFLUP_PROFILE"] = [(profile_name, profile_source)]
    for key, value in PROFILES[profile_name].items():
        raw.setdefault(key, []).append((value, f"profile:{profile_name}"))
    for key, value in flag_values.items():
        if key == "POLYFLUP_PROFILE":
            continue
        if option_by_name(key).secret:
            problems.append(
                ConfigProblem(key, "***", "only the environment or .env (it is a secret)")
            )
            continue
        raw.setdefault(key, []).append((value, "flag"))
    return _build(raw, problems)


def _build(
    raw: Mapping[str, list[tuple[str, str]]], problems: list[ConfigProblem]
) -> Settings:
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for option in options():
        for text, source in raw.get(option.env, []):
            try:
                values[option.field] = option.parse(text)
                sources[option.env] = source
            except ValueError as exc:
                shown = "***" if option.secret else text
                where = f"{exc}; from {source}" if source != "env" else str(exc)
                problems.append(ConfigProblem(option.env, shown, option.allowed(), where))
    if problems:
        raise ConfigError(problems)
    settings = Settings(**values, sources=MappingProxyType(sources))
    validate(settings)
    return settings


# Cross-field rules: (settings that must be named in the error, check, what is allowed).
_CrossRule = tuple[tuple[str, str], Callable[[Settings], bool], str]
_CROSS_RULES: tuple[_CrossRule, ...] = (
    (
        ("SCALE_IN_MIN_PRICE", "SCALE_IN_MAX_PRICE"),
        lambda s: s.scale_in_min_price < s.scale_in_max_price,
        "SCALE_IN_MIN_PRICE must be below SCALE_IN_MAX_PRICE",
    ),
    (
        ("STOP_LOSS_PRICE", "SCALE_IN_MIN_PRICE"),
        lambda s: (
            not (s.enable_stop_loss and s.enable_scale_in)
            or s.stop_loss_price < s.scale_in_min_price
        ),
        "STOP_LOSS_PRICE must be below SCALE_IN_MIN_PRICE (a scale-in would trigger the stop)",
    ),
    (
        ("STOP_LOSS_PRICE", "EXIT_PRICE_TARGET"),
        lambda s: s.stop_loss_price < s.exit_price_target,
        "STOP_LOSS_PRICE must be below EXIT_PRICE_TARGET",
    ),
    (
        ("EXIT_PRICE_TARGET", "EXIT_HIGH_CONFIDENCE_PRICE"),
        lambda s: s.exit_price_target <= s.exit_high_confidence_price,
        "EXIT_HIGH_CONFIDENCE_PRICE must be at least EXIT_PRICE_TARGET",
    ),
    (
        ("MIN_EDGE", "LOSING_SIDE_MIN_EDGE"),
        lambda s: s.losing_side_min_edge >= s.min_edge,
        "LOSING_SIDE_MIN_EDGE must be at least MIN_EDGE",
    ),
    (
        ("MIN_CONFIDENCE", "CONFIDENCE_CAP"),
        lambda s: s.min_confidence <= s.confidence_cap,
        "MIN_CONFIDENCE must not exceed CONFIDENCE_CAP",
    ),
    (
        ("PRICE_VALIDATION_MIN_CONFIDENCE", "CONFIDENCE_CAP"),
        lambda s: s.price_validation_min_confidence <= s.confidence_cap,
        "PRICE_VALIDATION_MIN_CONFIDENCE must not exceed CONFIDENCE_CAP",
    ),
    (
        ("PRICE_VALIDATION_MIN_CONFIDENCE", "EXTREME_CONFIDENCE"),
        lambda s: s.price_validation_min_confidence <= s.extreme_confidence,
        "EXTREME_CONFIDENCE must be at least PRICE_VALIDATION_MIN_CONFIDENCE",
    ),
    (
        ("ENTRY_MIN_ELAPSED_SEC", "ENTRY_MAX_ELAPSED_SEC"),
        lambda s: s.entry_min_elapsed_sec < s.entry_max_elapsed_sec,
        "ENTRY_MIN_ELAPSED_SEC must be below ENTRY_MAX_ELAPSED_SEC",
    ),
    (
        ("MAX_TRADE_USD", "MAX_WINDOW_EXPOSURE_USD"),
        lambda s: s.max_trade_usd <= s.max_window_exposure_usd,
        "MAX_TRADE_USD must not exceed MAX_WINDOW_EXPOSURE_USD",
    ),
    (
        ("POLYMARKET_SIGNATURE_TYPE", "POLYMARKET_FUNDER_ADDRESS"),
        lambda s: s.signature_type == 0 or bool(s.funder_address),
        "POLYMARKET_FUNDER_ADDRESS is required with signature types 1 and 2",
    ),
    (
        ("POLYMARKET_API_KEY", "POLYMARKET_API_SECRET"),
        lambda s: bool(s.api_key) == bool(s.api_secret) == bool(s.api_passphrase),
        "POLYMARKET_API_KEY, _SECRET and _PASSPHRASE are set together or not at all",
    ),
)


def validate(settings: Settings) -> None:
    """Check the rules that span several settings; raise :class:`ConfigError` if any fails."""
    problems = []
    for names, check, allowed in _CROSS_RULES:
        if not check(settings):
            shown = ", ".join(f"{n}={_shown(settings, n)}" for n in names)
            problems.append(ConfigProblem(names[0], shown, allowed, rule=True))
    if problems:
        raise ConfigError(problems)


def _shown(settings: Settings, env: str) -> str:
    option = option_by_name(env)
    value = getattr(settings, option.field)
    return "***" if option.secret and value else option.render(value)


def with_overrides(settings: Settings, **changes: Any) -> Settings:
    """A validated copy with some fields changed (for tests and the CLI's ``--db``)."""
    updated = replace(settings, **changes)
    validate(updated)
    return updated
