"""Trading: strategy, decisions, execution, orders, ledger and position management.

``from src.trading import execute_trade`` is the standard way to place an order.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TradeParams", "execute_trade"]


def __getattr__(name: str) -> Any:
    # Lazy, so that importing a leaf module (e.g. the ledger) does not pull in execution.
    if name in __all__:
        from src.trading import execution

        return getattr(execution, name)
    raise AttributeError(f"module 'src.trading' has no attribute {name!r}")
