"""Typed errors and warnings of the price feeds."""

from __future__ import annotations

from src.utils.file_errors import FileLineError


class FeedError(Exception):
    """Base class of every price-feed error."""


class KlineFileError(FeedError, FileLineError):
    """A kline file that cannot be used as is: names the file, the line and the reason."""


class KlineRepairWarning(UserWarning):
    """Bad data that the reader repaired (what was repaired, in which file and line)."""


class UnknownSymbolError(FeedError, LookupError):
    """A symbol the feed does not serve."""

    def __init__(self, symbol: str, served: tuple[str, ...]) -> None:
        self.symbol = symbol
        super().__init__(f"unknown symbol {symbol!r}; this feed serves {', '.join(served)}")


class FeedRangeError(FeedError, LookupError):
    """A time outside the span of minutes the feed can serve."""

    def __init__(self, symbol: str, t_ms: int, first_ms: int, end_ms: int) -> None:
        self.symbol = symbol
        self.t_ms = t_ms
        super().__init__(
            f"{symbol}: time {t_ms} ms is outside the feed's range "
            f"[{first_ms}, {end_ms}) ms"
        )
