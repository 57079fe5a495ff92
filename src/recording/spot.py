"""The underlying's price for each row: Binance's latest trade price per coin, read through
:class:`~src.data.market_data.binance.BinanceMarketData` (python-binance), the coins at once."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from src.data.market_data.binance import BinanceMarketData


class SpotPrices:
    """One ticker request per coin, concurrently; a coin Binance did not answer for is
    ``None`` (logged by the reader) — the row is written without its spot."""

    def __init__(self, binance: BinanceMarketData, workers: int = 4) -> None:
        self._binance = binance
        self._pool = ThreadPoolExecutor(
            max_workers=max(1, workers), thread_name_prefix="spot"
        )

    def prices(self, coins: Sequence[str]) -> dict[str, float | None]:
        """The latest price of each coin."""
        futures = {
            coin: self._pool.submit(self._binance.ticker_price, coin) for coin in coins
        }
        return {coin: future.result() for coin, future in futures.items()}

    def close(self) -> None:
        """Stop the readers."""
        self._pool.shutdown(wait=False, cancel_futures=True)
