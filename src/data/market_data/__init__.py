"""market_data package."""
