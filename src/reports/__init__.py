"""Reports drawn from the ledger's figures (charts for ``polyflup stats``, later backtests)."""
