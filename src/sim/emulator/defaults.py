"""The emulator's default figures (a light module: the CLI reads it without loading the
server or the signature code)."""

from __future__ import annotations

DEFAULT_BALANCE_MICRO = 1_000_000_000
"""Collateral credited to every new address: 1,000.00."""

DEFAULT_PORT = 8799
"""Where ``polyflup emulator`` listens unless told otherwise."""

DEFAULT_PAGE_SIZE = 500
"""Rows per page of ``/data/orders`` and ``/data/trades`` (the venue's page size)."""

HEARTBEAT_TIMEOUT_S = 10.0
"""Open orders are cancelled when no valid heartbeat came for this long (emulator clock)."""

WARMUP_S = 24 * 3600
"""A generated feed starts this long before the simulated clock, so the bot finds a day
of kline history for its indicators."""
