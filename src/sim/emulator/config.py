"""The emulator's settings: where it listens, what it simulates, and how it answers."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from src.data.market_data.windows import SUPPORTED_COINS
from src.sim.calendar import DEFAULT_LIST_AHEAD_S, DEFAULT_RESOLVE_DELAY_S
from src.sim.emulator.auth import DEFAULT_MAX_SKEW_SECONDS, POLYGON
from src.sim.emulator.defaults import (
    DEFAULT_BALANCE_MICRO,
    DEFAULT_PAGE_SIZE,
    HEARTBEAT_TIMEOUT_S,
)
from src.sim.emulator.wire import RejectStyle, StatusStyle

if TYPE_CHECKING:
    from src.sim.market_model.params import MarketModelParams


@dataclass(frozen=True, slots=True)
class EmulatorConfig:
    """Everything that shapes one emulator run (all defaults are the CLI's).

    Attributes:
        host, port: where to listen; port 0 picks a free one.
        seed: seeds ids, the generated feed, fault draws and trade failures.
        coins: coins with markets (``BTC`` …); replayed files name their own.
        data_files: ``[SYMBOL=]PATH`` kline files to replay instead of generating.
        speed: simulated seconds per real second; ``None`` is a manual clock that moves
            only through ``EmulatorHandle.advance`` (tests).
        start_time: simulated start (Unix s); default: the feed's start plus a day of
            history (generated) or plus the history available (replayed).
        default_balance: collateral micro-units credited to every new address.
        faults: the fault spec (see :mod:`src.sim.emulator.faults`).
        state_dir: where ``emulator.json`` (URLs) and ``ledger.json`` (final ledger) go.
        page_size: rows per page of the paginated CLOB lists.
        reject_style: refused orders as HTTP 400 ``{"error"}`` or 200 ``{"success":false}``.
        status_style: order/trade statuses as ``LIVE`` or ``ORDER_STATUS_LIVE``.
        heartbeat_timeout: the dead-man switch of ``/v1/heartbeats`` (emulator seconds).
        confirm_delay: simulated seconds from MATCHED to CONFIRMED/FAILED.
        failure_probability: chance that a matched trade ends FAILED.
        tick_seconds: real seconds between two steps of the world (running clock only).
        auth_skew: accepted distance of auth timestamps from the wall clock or the
            emulator's clock (either passes); ``None`` turns the check off.
        market_params: the market model's parameters (``None``: its built-in defaults;
            ``polyflup calibrate`` writes fitted ones).
    """

    host: str = "127.0.0.1"
    port: int = 0
    seed: int = 0
    coins: tuple[str, ...] = SUPPORTED_COINS
    data_files: tuple[str, ...] = ()
    speed: float | None = 1.0
    start_time: float | None = None
    default_balance: int = DEFAULT_BALANCE_MICRO
    faults: str = ""
    state_dir: Path | None = None
    page_size: int = DEFAULT_PAGE_SIZE
    reject_style: RejectStyle = RejectStyle.HTTP_400
    status_style: StatusStyle = StatusStyle.PLAIN
    heartbeat_timeout: float = HEARTBEAT_TIMEOUT_S
    confirm_delay: float = 0.0
    failure_probability: float = 0.0
    tick_seconds: float = 0.1
    auth_skew: float | None = DEFAULT_MAX_SKEW_SECONDS
    chain_id: int = POLYGON
    list_ahead_s: int = DEFAULT_LIST_AHEAD_S
    resolve_delay_s: int = DEFAULT_RESOLVE_DELAY_S
    market_params: MarketModelParams | None = None
    server_secret: bytes | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.speed is not None and self.speed <= 0:
            raise ValueError(f"speed must be > 0, got {self.speed}")
        if self.default_balance < 0:
            raise ValueError("default_balance must be ≥ 0")
        if self.page_size < 1:
            raise ValueError("page_size must be ≥ 1")
        if self.heartbeat_timeout <= 0 or self.tick_seconds <= 0:
            raise ValueError("heartbeat_timeout and tick_seconds must be > 0")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port out of range: {self.port}")

    def secret(self) -> bytes:
        """The key of API-credential derivation: given, else a function of the seed, so a
        restart with the same seed hands every address the same credentials."""
        if self.server_secret:
            return self.server_secret
        return hashlib.sha256(f"polyflup-emulator-secret/{self.seed}".encode()).digest()
