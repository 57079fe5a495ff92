"""PolyFlup: a trading bot for Polymarket's 15-minute crypto Up/Down markets."""

__version__ = "0.6.0"
