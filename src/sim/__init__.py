"""The simulated venue: clock-driven markets, price feeds and a matching engine."""
