"""Underlying price feeds (replayed or generated), all in Binance's 1-minute kline format."""
