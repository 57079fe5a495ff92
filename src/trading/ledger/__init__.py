"""The ledger: cash, positions, cost basis, fees and PnL — from real fills only."""
