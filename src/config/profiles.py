"""The four risk profiles: named sets of overrides applied on top of the environment.

Every profile sets the same keys, so switching profile changes the same knobs and nothing
else. Values are strings, exactly as they would be written in ``.env``: they go through the
same parser and validation as any other source. Reasoning: ``docs/RISK_PROFILES.md``.
"""

from __future__ import annotations

from types import MappingProxyType

_COLUMNS = ("conservative", "balanced", "aggressive", "ultra")

# setting: (conservative, balanced, aggressive, ultra)
_TABLE: dict[str, tuple[str, str, str, str]] = {
    "BET_PERCENT": ("2", "4", "6", "10"),
    "CONFIDENCE_SCALING_FACTOR": ("1.0", "2.0", "3.0", "4.0"),
    "MAX_TRADE_USD": ("20", "50", "100", "200"),
    "MAX_WINDOW_EXPOSURE_USD": ("40", "100", "200", "400"),
    "MAX_TOTAL_EXPOSURE_PCT": ("15", "30", "45", "60"),
    "DAILY_LOSS_LIMIT_PCT": ("5", "10", "15", "25"),
    "MIN_EDGE": ("0.05", "0.03", "0.02", "0.015"),
    "LOSING_SIDE_MIN_EDGE": ("0.10", "0.06", "0.04", "0.03"),
    "MIN_CONFIDENCE": ("0.60", "0.55", "0.53", "0.52"),
    "MAX_SPREAD": ("0.03", "0.05", "0.06", "0.08"),
    "ORDER_STYLE": ("maker", "auto", "auto", "auto"),
    "EXIT_PRICE_TARGET": ("0.99", "0.99", "0.99", "0.99"),
    "ENABLE_SCALE_IN": ("NO", "YES", "YES", "YES"),
    "SCALE_IN_MIN_PRICE": ("0.65", "0.60", "0.58", "0.55"),
    "SCALE_IN_MAX_PRICE": ("0.85", "0.85", "0.88", "0.90"),
    "SCALE_IN_MULTIPLIER": ("0.25", "0.5", "0.75", "1.0"),
    "STOP_LOSS_PRICE": ("0.35", "0.30", "0.25", "0.20"),
    "ENABLE_REVERSAL": ("NO", "NO", "YES", "YES"),
}

PROFILES: MappingProxyType[str, MappingProxyType[str, str]] = MappingProxyType(
    {
        name: MappingProxyType({key: values[i] for key, values in _TABLE.items()})
        for i, name in enumerate(_COLUMNS)
    }
)
DEFAULT_PROFILE = "balanced"
