"""Underlying price feeds, replayed or generated, in Binance's 1-minute kline format."""
