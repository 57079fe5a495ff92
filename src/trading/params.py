"""Every threshold, weight and limit the strategy and the decision use, in one frozen object.

:class:`StrategyParams` is what the pure core reads; nothing in ``src/trading/strategy.py``,
``src/trading/signals/`` or ``src/trading/logic.py`` hard-codes a tunable number. The
settings layer maps its validated options onto this object (field names match the settings'
field names where both exist, e.g. ``min_edge`` ↔ ``MIN_EDGE``).

Each field carries its allowed range in its metadata; :meth:`StrategyParams.__post_init__`
checks every range and the cross-field rules, so an invalid combination cannot be built.
:func:`describe_params` lists the table (used by ``docs/STRATEGY.md`` and its test).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any

from src.data.market_data.indicators import IndicatorConfig
from src.data.market_data.price_validation import ValidationConfig

CONFIDENCE_METHODS = ("additive", "bayesian")
FAIR_VALUE_MODELS = ("normal", "student_t")
ORDER_STYLES = ("auto", "maker", "taker")


class ParamsError(ValueError):
    """A parameter outside its allowed range, or an inconsistent combination."""


def _p(
    default: Any,
    doc: str,
    low: float | Decimal | None = None,
    high: float | Decimal | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
    choices: tuple[Any, ...] | None = None,
) -> Any:
    """A dataclass field with its documentation and allowed range as metadata."""
    meta = {
        "doc": doc,
        "low": low,
        "high": high,
        "low_open": low_open,
        "high_open": high_open,
        "choices": choices,
    }
    return field(default=default, metadata=meta)


def _d(doc: str, low: str, high: str, *, low_open: bool = False) -> dict[str, Any]:
    """Metadata of a ``Decimal`` field (bounds given as exact decimal strings)."""
    return _p(None, doc, Decimal(low), Decimal(high), low_open=low_open).metadata


@dataclass(frozen=True, slots=True)
class StrategyParams:
    """All strategy, confidence, decision and sizing parameters (see docs/STRATEGY.md)."""

    # --- Signal weights (the user's standards; normalised by their sum) --------------------
    weight_price_momentum: float = _p(0.30, "Weight of Binance price momentum.", 0.0, 1.0)
    weight_polymarket_momentum: float = _p(
        0.20, "Weight of the Up token's own momentum.", 0.0, 1.0
    )
    weight_order_flow: float = _p(0.20, "Weight of taker buy/sell pressure.", 0.0, 1.0)
    weight_divergence: float = _p(
        0.20, "Weight of fair value vs Polymarket price divergence.", 0.0, 1.0
    )
    weight_volume_momentum: float = _p(
        0.10, "Weight of VWAP distance with volume quality.", 0.0, 1.0
    )

    # --- Indicator look-backs (minutes of 1m klines) ----------------------------------------
    momentum_lookback_minutes: int = _p(
        15, "Velocity look-back L (acceleration: L//2).", 2, 60
    )
    rsi_window: int = _p(14, "RSI window (Wilder / ta).", 2, 100)
    vwap_lookback_minutes: int = _p(15, "VWAP window.", 2, 240)
    flow_lookback_minutes: int = _p(5, "Taker-flow window.", 1, 60)
    vol_lookback_minutes: int = _p(60, "Realised-volatility window.", 5, 1440)
    volume_short_minutes: int = _p(5, "Recent-volume window for volume quality.", 1, 60)
    min_history_minutes: int = _p(
        30, "Valid klines needed before any trade (warm-up).", 3, 1440
    )
    max_kline_age_s: float = _p(
        150.0,
        "Latest kline must have closed at most this long ago.",
        0.0,
        3600.0,
        low_open=True,
    )
    max_book_age_s: float = _p(
        15.0, "Book older than this (when timestamped) is stale.", 0.0, 600.0, low_open=True
    )

    # --- Signal shapes --------------------------------------------------------------------
    momentum_velocity_weight: float = _p(0.6, "Velocity share of price momentum.", 0.0, 1.0)
    momentum_acceleration_weight: float = _p(
        0.2, "Acceleration share of price momentum.", 0.0, 1.0
    )
    momentum_rsi_weight: float = _p(0.2, "RSI share of price momentum.", 0.0, 1.0)
    rsi_scale: float = _p(
        12.0, "RSI points equal to one standard unit.", 0.0, 50.0, low_open=True
    )
    momentum_scale: float = _p(
        1.5, "Composite momentum z at which strength is tanh(1).", 0.0, 10.0, low_open=True
    )
    pm_lookback_s: float = _p(
        120.0, "Polymarket momentum look-back.", 0.0, 900.0, low_open=True
    )
    pm_min_span_s: float = _p(
        30.0,
        "Shortest history span that gives a Polymarket momentum.",
        0.0,
        900.0,
        low_open=True,
    )
    pm_scale: float = _p(
        0.3, "Up-mid log-odds change at which strength is tanh(1).", 0.0, 5.0, low_open=True
    )
    flow_scale: float = _p(
        0.3, "Taker imbalance at which strength is tanh(1).", 0.0, 1.0, low_open=True
    )
    divergence_scale: float = _p(
        0.5,
        "Fair-vs-market log-odds gap at which strength is tanh(1).",
        0.0,
        5.0,
        low_open=True,
    )
    vwm_scale: float = _p(
        1.5, "VWAP-distance z at which strength is tanh(1).", 0.0, 10.0, low_open=True
    )
    neutral_dead_zone: float = _p(
        0.10,
        "Raw strength below this is NEUTRAL (soft dead zone).",
        0.0,
        1.0,
        high_open=True,
    )
    strong_signal_threshold: float = _p(
        0.50,
        "Strength at which a signal counts as a confirmation.",
        0.0,
        1.0,
        low_open=True,
    )

    # --- Fair value -----------------------------------------------------------------------
    fair_value_model: str = _p(
        "student_t", "End-price distribution.", choices=FAIR_VALUE_MODELS
    )
    student_t_dof: float = _p(
        4.0, "Degrees of freedom of the unit-variance Student-t.", 2.0, 100.0, low_open=True
    )
    basis_bp: float = _p(
        1.0, "Std of the Binance-vs-Chainlink reference basis, in bp.", 0.0, 50.0
    )
    settlement_twap_s: float = _p(
        60.0, "Averaging window of the settlement price (0 = spot).", 0.0, 900.0
    )
    min_sigma_bp: float = _p(
        0.5, "Floor on the 1-minute volatility, in bp.", 0.0, 100.0, low_open=True
    )
    chainlink_basis_bp: float = _p(
        0.3,
        "Std of the Chainlink reference's own noise when it gives spot and strike, in bp.",
        0.0,
        50.0,
    )
    chainlink_band_bp: float = _p(
        5.0,
        "Binance distance from the strike within which the Chainlink reference is used, bp.",
        0.0,
        10000.0,
    )
    chainlink_max_age_sec: float = _p(
        10.0,
        "A Chainlink reference price older than this is not used.",
        0.0,
        300.0,
        low_open=True,
    )

    # --- Confidence ------------------------------------------------------------------------
    confidence_method: str = _p(
        "bayesian", "Which confidence drives the decision.", choices=CONFIDENCE_METHODS
    )
    bayes_llr_scale: float = _p(
        0.5,
        "Log-odds shift when every signal is fully strong and agrees (calibrated).",
        0.0,
        10.0,
    )
    additive_max_shift: float = _p(
        0.25,
        "Share of the remaining probability room a unanimous vote moves (calibrated).",
        0.0,
        1.0,
    )
    additive_opposition_penalty: float = _p(
        1.0, "How much opposing votes subtract from the dominant side.", 0.0, 1.0
    )
    prior_clip: float = _p(
        0.0005,
        "Market prior is clipped to [c, 1 − c] before log-odds.",
        0.0,
        0.1,
        low_open=True,
    )
    confidence_cap: float = _p(
        0.85, "Confidence is never above this.", 0.5, 0.85, low_open=True
    )
    min_confidence: float = _p(0.55, "Lowest confidence that may trade.", 0.5, 0.85)
    price_validation_min_confidence: float = _p(
        0.75, "Above this, recent price action must pass validation.", 0.5, 0.85
    )
    extreme_confidence: float = _p(
        0.80, "Above this, multi-confirmation is required.", 0.5, 0.85
    )
    multi_confirmation_min_signals: int = _p(
        3, "Independent strong agreeing sources needed above extreme_confidence.", 1, 5
    )
    validation_refuse_flags: int = _p(
        2, "Distinct suspicious flags that refuse (not just damp) a trade.", 1, 6
    )

    # --- Price validation (wicks, volume spikes, gaps, reversals) --------------------------
    validation_lookback_minutes: int = _p(15, "Klines examined by validation.", 4, 120)
    validation_recent_minutes: int = _p(
        5, "Most recent klines checked for wicks, spikes and gaps.", 1, 60
    )
    wick_body_ratio: float = _p(
        3.0, "Wick must exceed this × body.", 0.0, 100.0, low_open=True
    )
    wick_min_sigma: float = _p(
        3.0, "…and this × the 1-minute volatility.", 0.0, 100.0, low_open=True
    )
    volume_spike_ratio: float = _p(
        4.0, "Minute volume above this × the median is a spike.", 1.0, 1000.0, low_open=True
    )
    gap_min_sigma: float = _p(
        3.0,
        "Open-vs-previous-close jump above this × σ is a gap.",
        0.0,
        100.0,
        low_open=True,
    )
    reversal_short_minutes: int = _p(3, "Recent leg of the reversal check.", 1, 30)
    reversal_min_sigma: float = _p(
        2.0, "Both legs must exceed this many σ·√n.", 0.0, 100.0, low_open=True
    )

    # --- Decision --------------------------------------------------------------------------
    min_edge: float = _p(
        0.03, "Hard gate: EV per share after fees.", 0.0, 1.0, low_open=True, high_open=True
    )
    losing_side_min_edge: float = _p(
        0.06,
        "EV gate when buying the cheaper side (price < 0.50).",
        0.0,
        1.0,
        low_open=True,
        high_open=True,
    )
    fair_value_veto: float = _p(
        0.15,
        "Refuse to pay more than the fair value of the side plus this (1 = off).",
        0.0,
        1.0,
    )
    maker_adverse_selection: float = _p(
        0.01, "Per-share adverse-selection charge on a resting order's EV.", 0.0, 0.5
    )
    order_style: str = _p("auto", "maker, taker, or auto.", choices=ORDER_STYLES)
    maker_improve_ticks: int = _p(
        1, "Ticks above the best bid for a maker order (never crossing).", 0, 10
    )
    max_spread: float = _p(
        0.05, "Skip markets whose Up spread is wider.", 0.0, 0.5, low_open=True
    )
    min_book_depth_usd: Decimal = field(
        default=Decimal("20"),
        metadata=_d(
            "Collateral resting at the best ask of the side bought.", "0", "100000"
        ),
    )
    entry_min_elapsed_sec: int = _p(60, "No entry earlier in the window.", 0, 899)
    entry_max_elapsed_sec: int = _p(780, "No entry later in the window.", 1, 900)

    # --- Sizing and risk -------------------------------------------------------------------
    bet_percent: float = _p(
        4.0, "Base stake, % of cash balance.", 0.0, 100.0, low_open=True
    )
    confidence_scaling_factor: float = _p(
        2.0, "Stake × (1 + f·(conf − 0.5)/(cap − 0.5)).", 0.0, 10.0
    )
    kelly_fraction: float = _p(
        0.5, "Stake ≤ this × Kelly fraction × balance.", 0.0, 1.0, low_open=True
    )
    max_trade_usd: Decimal = field(
        default=Decimal("50"),
        metadata=_d("Largest cost of one entry.", "0", "1000000000", low_open=True),
    )
    max_window_exposure_usd: Decimal = field(
        default=Decimal("100"),
        metadata=_d("Largest cost in one coin's window.", "0", "1000000000", low_open=True),
    )
    max_total_exposure_pct: float = _p(
        30.0, "Largest open cost, % of equity.", 0.0, 100.0, low_open=True
    )
    daily_loss_limit_pct: float = _p(
        10.0,
        "No new entries after losing this % of day-start equity.",
        0.0,
        100.0,
        low_open=True,
    )
    max_size: Decimal = field(
        default=Decimal("500"), metadata=_d("Largest order, in shares.", "5", "10000000")
    )
    min_order_shares: Decimal = field(
        default=Decimal("5"),
        metadata=_d("Venue minimum order size, in shares.", "0", "1000", low_open=True),
    )
    min_marketable_usd: Decimal = field(
        default=Decimal("1"),
        metadata=_d("Venue minimum amount of a marketable BUY.", "0", "1000"),
    )
    allow_min_size_bump: bool = _p(
        True, "Raise a small order to the venue minimum when the hard caps allow it."
    )
    # Computed once in __post_init__: every decision stores it, so it must be cheap.
    _digest: str = field(default="", init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        problems = [
            p for f in _public_fields() if (p := _check_field(f, getattr(self, f.name)))
        ]
        if not problems:
            # Cross-field rules compare values, so they run only once every type is right.
            problems = _cross_checks(self)
        if problems:
            raise ParamsError("; ".join(problems))
        text = "|".join(f"{f.name}={getattr(self, f.name)!r}" for f in _public_fields())
        object.__setattr__(self, "_digest", hashlib.sha256(text.encode()).hexdigest()[:12])

    @property
    def weights(self) -> tuple[float, float, float, float, float]:
        """Signal weights normalised to sum to 1, in :class:`SignalName` order."""
        raw = (
            self.weight_price_momentum,
            self.weight_polymarket_momentum,
            self.weight_order_flow,
            self.weight_divergence,
            self.weight_volume_momentum,
        )
        total = sum(raw)
        return tuple(w / total for w in raw)  # type: ignore[return-value]

    def indicator_config(self) -> IndicatorConfig:
        """The indicator windows these parameters imply."""
        return IndicatorConfig(
            rsi_window=self.rsi_window,
            momentum_lookback=self.momentum_lookback_minutes,
            vwap_lookback=self.vwap_lookback_minutes,
            flow_lookback=self.flow_lookback_minutes,
            vol_lookback=self.vol_lookback_minutes,
            volume_short=self.volume_short_minutes,
            # The state also serves the klines price validation inspects.
            keep_klines=max(32, self.validation_lookback_minutes + 1),
        )

    def validation_config(self) -> ValidationConfig:
        """The price-validation thresholds these parameters imply."""
        return ValidationConfig(
            lookback=self.validation_lookback_minutes,
            recent=self.validation_recent_minutes,
            wick_body_ratio=self.wick_body_ratio,
            wick_min_sigma=self.wick_min_sigma,
            volume_spike_ratio=self.volume_spike_ratio,
            gap_min_sigma=self.gap_min_sigma,
            reversal_short=self.reversal_short_minutes,
            reversal_min_sigma=self.reversal_min_sigma,
        )

    def digest(self) -> str:
        """Short stable fingerprint of every value, stored with each decision."""
        return self._digest


@dataclass(frozen=True, slots=True)
class ParamInfo:
    """One row of the parameter table."""

    name: str
    type_name: str
    default: Any
    allowed: str
    doc: str


def describe_params() -> list[ParamInfo]:
    """Every parameter with its type, default, allowed range and meaning."""
    rows = []
    for f in _public_fields():
        meta = f.metadata
        rows.append(
            ParamInfo(
                f.name, _type_name(f.default), f.default, _allowed_text(meta), meta["doc"]
            )
        )
    return rows


def _public_fields() -> tuple[Any, ...]:
    return tuple(f for f in fields(StrategyParams) if not f.name.startswith("_"))


def _type_name(value: Any) -> str:
    return type(value).__name__


def params_markdown() -> str:
    """The parameter table of ``docs/STRATEGY.md`` (a test keeps the two identical)."""
    lines = ["| parameter | type | default | allowed | meaning |", "|---|---|---|---|---|"]
    lines += [
        f"| `{r.name}` | {r.type_name} | {r.default} | {r.allowed} | {r.doc} |"
        for r in describe_params()
    ]
    return "\n".join(lines)


def _allowed_text(meta: Any) -> str:
    if meta["choices"]:
        return ", ".join(str(c) for c in meta["choices"])
    low, high = meta["low"], meta["high"]
    if low is None and high is None:
        return "true, false"
    left = "(" if meta["low_open"] else "["
    right = ")" if meta["high_open"] else "]"
    return f"{left}{low}, {high}{right}"


def _check_field(f: Any, value: Any) -> str | None:
    meta = f.metadata
    expected = type(f.default)
    if isinstance(value, bool) != isinstance(f.default, bool):
        return f"{f.name} must be {expected.__name__}, got {value!r}"
    if expected is float and isinstance(value, int):
        value = float(value)
    elif not isinstance(value, expected):
        return f"{f.name} must be {expected.__name__}, got {value!r}"
    if meta["choices"]:
        return (
            None
            if value in meta["choices"]
            else f"{f.name} must be one of {meta['choices']}"
        )
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return f"{f.name} must be finite"
    if isinstance(value, Decimal) and not value.is_finite():
        return f"{f.name} must be finite"
    low, high = meta["low"], meta["high"]
    too_low = low is not None and (value <= low if meta["low_open"] else value < low)
    too_high = high is not None and (value >= high if meta["high_open"] else value > high)
    if too_low or too_high:
        return f"{f.name}={value!r} outside {_allowed_text(meta)}"
    return None


def _cross_checks(p: StrategyParams) -> list[str]:
    problems = []
    if sum(_raw_weights(p)) <= 0:
        problems.append("at least one signal weight must be positive")
    parts = (
        p.momentum_velocity_weight,
        p.momentum_acceleration_weight,
        p.momentum_rsi_weight,
    )
    if sum(parts) <= 0:
        problems.append("at least one price-momentum component weight must be positive")
    rules = (
        (p.losing_side_min_edge >= p.min_edge, "losing_side_min_edge must be ≥ min_edge"),
        (p.min_confidence <= p.confidence_cap, "min_confidence must be ≤ confidence_cap"),
        (
            p.price_validation_min_confidence <= p.extreme_confidence,
            "extreme_confidence must be ≥ price_validation_min_confidence",
        ),
        (p.extreme_confidence <= p.confidence_cap, "extreme_confidence must be ≤ cap"),
        (
            p.entry_min_elapsed_sec < p.entry_max_elapsed_sec,
            "entry_min_elapsed_sec must be < entry_max_elapsed_sec",
        ),
        (
            p.max_trade_usd <= p.max_window_exposure_usd,
            "max_trade_usd must be ≤ max_window_exposure_usd",
        ),
        (
            p.min_history_minutes >= max(p.momentum_lookback_minutes + 1, p.rsi_window),
            "min_history_minutes must cover momentum_lookback_minutes + 1 and rsi_window",
        ),
        (
            p.validation_recent_minutes < p.validation_lookback_minutes,
            "validation_recent_minutes must be < validation_lookback_minutes",
        ),
        (
            p.reversal_short_minutes < p.validation_lookback_minutes - 1,
            "reversal_short_minutes must leave a longer leg inside the look-back",
        ),
        (p.pm_min_span_s <= p.pm_lookback_s, "pm_min_span_s must be ≤ pm_lookback_s"),
        (p.max_size >= p.min_order_shares, "max_size must be ≥ min_order_shares"),
    )
    problems.extend(text for ok, text in rules if not ok)
    return problems


def _raw_weights(p: StrategyParams) -> tuple[Any, ...]:
    return (
        p.weight_price_momentum,
        p.weight_polymarket_momentum,
        p.weight_order_flow,
        p.weight_divergence,
        p.weight_volume_momentum,
    )


def params_from_settings(settings: Any, **overrides: Any) -> StrategyParams:
    """The strategy parameters of a validated ``Settings``: every field the two share by
    name is taken from the settings (its value already range-checked there); the rest keep
    their documented defaults unless given in ``overrides``."""
    names = {f.name for f in fields(StrategyParams)}
    shared = {name: getattr(settings, name) for name in names if hasattr(settings, name)}
    return StrategyParams(**{**shared, **overrides})
