"""Market-model parameter files: what ``polyflup calibrate --out`` writes and the simulator,
the backtest and the emulator read (``SIM_MARKET_PARAMS``, ``--market-params``).

A JSON object::

    {
      "format": "polyflup-market-params",
      "version": 1,
      "fitted": {"created": "…", "recordings": […], "klines": […], "fit": {…}},
      "params": {"maker_lag_s": 0.0, "noise_sd_logit": 0.05, …}
    }

``params`` holds :class:`~src.sim.market_model.params.MarketModelParams` fields by name (a
written file holds all of them; a hand-written one may give only some, the rest keep their
defaults); ``fitted`` is free-form: what the values were fitted on and how well they fit.
Loading is strict: an unknown key, a value of the wrong type or out of its range is a
:class:`MarketParamsFileError` naming the file and the parameter.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import fields
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from src.sim.market_model.params import MarketModelParams, MarketModelParamsError

FORMAT = "polyflup-market-params"
VERSION = 1
TOP_LEVEL_KEYS = ("format", "version", "fitted", "params")


class MarketParamsFileError(ValueError):
    """A parameter file that cannot be used: names the file and what is wrong."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def load_market_params(path: str | Path) -> MarketModelParams:
    """The parameters in the file at ``path``, validated by :class:`MarketModelParams`."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MarketParamsFileError(path, f"cannot read: {exc}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MarketParamsFileError(
            path, f"not JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}"
        ) from None
    return params_from_document(document, path)


def params_from_document(
    document: object, path: str | Path = "<document>"
) -> MarketModelParams:
    """The parameters of a parsed parameter file (``path`` names it in errors)."""
    if not isinstance(document, dict):
        raise MarketParamsFileError(path, "expected a JSON object at the top level")
    unknown = [key for key in document if key not in TOP_LEVEL_KEYS]
    if unknown:
        raise MarketParamsFileError(
            path,
            f"unknown key {unknown[0]!r} at the top level "
            f"(expected {', '.join(TOP_LEVEL_KEYS)})",
        )
    if document.get("format", FORMAT) != FORMAT:
        raise MarketParamsFileError(
            path, f"format is {document['format']!r}, expected {FORMAT!r}"
        )
    version = document.get("version", VERSION)
    if version != VERSION or isinstance(version, bool):
        raise MarketParamsFileError(
            path, f"version {version!r} is not supported (this build reads {VERSION})"
        )
    raw = document.get("params")
    if not isinstance(raw, dict):
        raise MarketParamsFileError(path, "'params' must be a JSON object of parameters")
    types = {f.name: f.type for f in fields(MarketModelParams)}
    values: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in types:
            raise MarketParamsFileError(
                path, f"unknown parameter {name!r} (not a MarketModelParams field)"
            )
        values[name] = _coerce(name, value, str(types[name]), path)
    try:
        return MarketModelParams(**values)
    except MarketModelParamsError as exc:
        raise MarketParamsFileError(path, f"parameter out of range: {exc}") from None


def _coerce(name: str, value: object, kind: str, path: str | Path) -> Any:
    def wrong(expected: str) -> MarketParamsFileError:
        return MarketParamsFileError(
            path, f"parameter {name!r}: {value!r} is not {expected}"
        )

    if kind == "Decimal":
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise wrong("a decimal number")
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise wrong("a decimal number") from None
        if not number.is_finite():
            raise wrong("a finite decimal number")
        return number
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong("a whole number")
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise wrong("a number")
        if not math.isfinite(value):
            raise wrong("a finite number")
        return float(value)
    if kind == "str":
        if not isinstance(value, str):
            raise wrong("a string")
        return value
    raise wrong(f"of a supported type ({kind})")  # pragma: no cover - a new field type


def params_document(
    params: MarketModelParams, fit_report: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The JSON document of ``params`` with ``fit_report`` as its ``fitted`` header."""
    values: dict[str, Any] = {}
    for f in fields(MarketModelParams):
        value = getattr(params, f.name)
        values[f.name] = str(value) if isinstance(value, Decimal) else value
    document: dict[str, Any] = {"format": FORMAT, "version": VERSION}
    if fit_report is not None:
        document["fitted"] = dict(fit_report)
    document["params"] = values
    return document


def save_market_params(
    params: MarketModelParams,
    path: str | Path,
    fit_report: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``params`` (every field) and the ``fit_report`` header to ``path``; returns
    the path. The file is written whole or not at all (a temporary file, then renamed)."""
    target = Path(path)
    text = json.dumps(params_document(params, fit_report), indent=2, default=str) + "\n"
    temporary = target.with_name(f".{target.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(target)
    return target


def market_params_setting(value: str | Path | None) -> MarketModelParams | None:
    """The parameters a ``SIM_MARKET_PARAMS`` value names (None: empty, the built-in
    defaults)."""
    if value is None or not str(value).strip():
        return None
    return load_market_params(Path(str(value).strip()).expanduser())
