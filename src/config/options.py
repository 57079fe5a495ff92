"""How one setting is described, parsed, checked and shown."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

_TRUE = {"1", "true", "yes", "y", "on"}
_FALSE = {"0", "false", "no", "n", "off"}
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_PRIVATE_KEY = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")


@dataclass(frozen=True)
class Option:
    """Metadata of one setting: its environment name, help, type and allowed values."""

    env: str
    group: str
    help: str
    kind: str = "str"
    low: Any = None
    high: Any = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[Any, ...] = ()
    secret: bool = False
    profile: bool = True
    upper: bool = False
    lower: bool = False

    @property
    def field(self) -> str:
        """The attribute name on ``Settings``."""
        return _FIELD_NAMES.get(self.env, self.env.lower())

    def allowed(self) -> str:
        """Human description of the allowed values, used in error messages."""
        if self.choices:
            return "one of " + ", ".join(str(c) for c in self.choices)
        described = _KIND_TEXT.get(self.kind, "text")
        if self.low is None and self.high is None:
            return described
        lo = "" if self.low is None else f"{'>' if self.low_open else '≥'} {self.low}"
        hi = "" if self.high is None else f"{'<' if self.high_open else '≤'} {self.high}"
        return f"{described} {' and '.join(p for p in (lo, hi) if p)}"

    def parse(self, text: str) -> Any:
        """Turn the raw text into a typed, range-checked value (``ValueError`` otherwise)."""
        raw = str(text).strip()
        if self.upper:
            raw = raw.upper()
        if self.lower:
            raw = raw.lower()
        value = _PARSERS[self.kind](raw)
        if self.choices and value not in self.choices:
            raise ValueError("not one of the choices")
        self._check_range(value)
        return value

    def _check_range(self, value: Any) -> None:
        if self.low is not None and (
            value < self.low or (self.low_open and value == self.low)
        ):
            raise ValueError("too low")
        if self.high is not None and (
            value > self.high or (self.high_open and value == self.high)
        ):
            raise ValueError("too high")

    def render(self, value: Any) -> str:
        """The value as it would be written in ``.env``."""
        if isinstance(value, bool):
            return "YES" if value else "NO"
        if isinstance(value, tuple):
            return ",".join(str(v) for v in value)
        return str(value)


# Settings whose attribute name is not simply the lower-cased environment name.
_FIELD_NAMES = {
    "POLYFLUP_PROFILE": "profile",
    "POLYFLUP_DB": "db_path",
    "POLYFLUP_LOG_DIR": "log_dir",
    "POLYMARKET_CHAIN_ID": "chain_id",
    "POLYMARKET_SIGNATURE_TYPE": "signature_type",
    "POLYMARKET_FUNDER_ADDRESS": "funder_address",
    "POLYMARKET_PRIVATE_KEY": "private_key",
    "POLYMARKET_API_KEY": "api_key",
    "POLYMARKET_API_SECRET": "api_secret",
    "POLYMARKET_API_PASSPHRASE": "api_passphrase",
}


def opt(env: str, group: str, help: str, **kwargs: Any) -> dict[str, Option]:
    """Field metadata for a setting (used inside ``dataclasses.field(metadata=...)``)."""
    return {"option": Option(env=env, group=group, help=help, **kwargs)}


def _parse_bool(raw: str) -> bool:
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise ValueError("not a yes/no value")


def _parse_int(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ValueError("not a whole number") from None


def _parse_float(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError("not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError("not a finite number")
    return value


def _parse_decimal(raw: str) -> Decimal:
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ValueError("not a decimal number") from None
    if not value.is_finite():
        raise ValueError("not a finite number")
    return value


def _parse_url(raw: str, schemes: tuple[str, ...]) -> str:
    if raw == "":
        return raw
    parsed = urlparse(raw)
    if parsed.scheme not in schemes or not parsed.netloc:
        raise ValueError(f"not a {'/'.join(schemes)} URL")
    # Websocket bases keep their trailing slash: clients append the stream path to it.
    return raw if schemes[0] == "ws" else raw.rstrip("/")


def _parse_address(raw: str) -> str:
    if raw and not _ADDRESS.match(raw):
        raise ValueError("not a 0x-prefixed 40-hex-digit address")
    return raw


def _parse_private_key(raw: str) -> str:
    if raw and not _PRIVATE_KEY.match(raw):
        raise ValueError("not a 64-hex-digit key")
    return raw if not raw or raw.startswith("0x") else "0x" + raw


def _parse_coins(raw: str) -> tuple[str, ...]:
    from src.config.settings import _coins

    return _coins(raw)


def _parse_profile(raw: str) -> str:
    from src.config.profiles import PROFILES

    name = raw.lower()
    if name not in PROFILES:
        raise ValueError(f"unknown profile; valid: {', '.join(PROFILES)}")
    return name


def _parse_path(raw: str) -> Path:
    if not raw:
        raise ValueError("empty path")
    return Path(raw).expanduser()


def _parse_market_params(raw: str) -> str:
    """A market-model parameter file, loaded here so that a bad one fails the settings."""
    if not raw:
        return ""
    from src.sim.market_model.params_file import MarketParamsFileError, load_market_params

    try:
        load_market_params(Path(raw).expanduser())
    except MarketParamsFileError as exc:
        raise ValueError(str(exc)) from None
    return raw


_PARSERS: dict[str, Callable[[str], Any]] = {
    "str": lambda raw: raw,
    "bool": _parse_bool,
    "int": _parse_int,
    "float": _parse_float,
    "decimal": _parse_decimal,
    "url": lambda raw: _parse_url(raw, ("http", "https")),
    "ws_url": lambda raw: _parse_url(raw, ("ws", "wss")),
    "address": _parse_address,
    "private_key": _parse_private_key,
    "coins": _parse_coins,
    "profile": _parse_profile,
    "path": _parse_path,
    "market_params": _parse_market_params,
}

_KIND_TEXT = {
    "bool": "YES or NO",
    "int": "a whole number",
    "float": "a number",
    "decimal": "a decimal number",
    "url": "an http(s) URL",
    "ws_url": "a ws(s) URL",
    "address": "a 0x address (40 hex digits)",
    "private_key": "0x followed by 64 hex digits",
    "coins": "a comma-separated list of BTC, ETH, SOL, XRP",
    "profile": "conservative, balanced, aggressive or ultra",
    "path": "a file path",
    "market_params": "a market-model parameter file (polyflup calibrate --out), or empty",
    "str": "text",
}
