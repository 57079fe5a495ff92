"""Position lifecycle: entry, exit plan, scale-in, stop-loss, reversal, settlement,
reconciliation."""
