"""Which mode a run uses: backtest, sim, paper or live. Live is never a default."""

from __future__ import annotations

from enum import StrEnum

from src.config.errors import ConfigError, ConfigProblem


class Mode(StrEnum):
    """The four ways to run the same engine."""

    BACKTEST = "backtest"
    SIM = "sim"
    PAPER = "paper"
    LIVE = "live"


def resolve_run_mode(sim: bool, paper: bool, live: bool, has_wallet: bool) -> Mode:
    """The mode for ``polyflup run``: ``sim`` unless ``--paper`` or ``--live`` is given.

    ``--live`` also needs a wallet key; a configured wallet alone never means live.
    """
    chosen = [
        name
        for name, flag in (("--sim", sim), ("--paper", paper), ("--live", live))
        if flag
    ]
    if len(chosen) > 1:
        raise ConfigError(
            [ConfigProblem("mode", " ".join(chosen), "only one of --sim, --paper, --live")]
        )
    if live:
        if not has_wallet:
            raise ConfigError(
                [
                    ConfigProblem(
                        "POLYMARKET_PRIVATE_KEY",
                        "(not set)",
                        "a signing key in the environment or .env: --live trades real money and "
                        "needs a wallet",
                    )
                ]
            )
        return Mode.LIVE
    return Mode.PAPER if paper else Mode.SIM
