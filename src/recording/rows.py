"""Pure pieces of a recording: one row from two books, and the daily file it goes to.

A row is one observation of one window: the best bid and ask of its Up and Down tokens,
the shares resting at each of those prices, and the underlying's Binance price — in the
layout of :mod:`src.data.quotes`, whose :func:`~src.data.quotes.format_row` writes it.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from decimal import Decimal

from src.data.market_data.polymarket import OrderBook
from src.data.market_data.windows import WindowRef
from src.data.quotes import QuoteRow

FILE_SUFFIX = "-updown-15m-quotes-"
TIME_PLACES = 3  # the formatter writes t_s with milliseconds: round before comparing


def quote_time(t_s: float) -> float:
    """``t_s`` as written and read back (milliseconds), so resume checks compare equal."""
    return round(float(t_s), TIME_PLACES)


def _best(book: OrderBook, side: str) -> tuple[Decimal | None, Decimal | None]:
    levels = book.bids if side == "bid" else book.asks
    if not levels:
        return None, None
    return levels[0].price, levels[0].size


def quote_row(
    window: WindowRef,
    t_s: float,
    up: OrderBook,
    down: OrderBook,
    spot: float | None,
    outcome: str | None = None,
) -> QuoteRow:
    """The row of ``window`` observed at ``t_s`` from its Up and Down books.

    An empty side gives an empty price and size; a spot that is not a positive finite
    number is left out (unknown) rather than written.
    """
    up_bid, up_bid_size = _best(up, "bid")
    up_ask, up_ask_size = _best(up, "ask")
    down_bid, down_bid_size = _best(down, "bid")
    down_ask, down_ask_size = _best(down, "ask")
    good_spot = spot is not None and math.isfinite(spot) and spot > 0
    return QuoteRow(
        slug=window.slug,
        window_start=window.start,
        t_s=quote_time(t_s),
        up_bid=up_bid,
        up_ask=up_ask,
        down_bid=down_bid,
        down_ask=down_ask,
        outcome=outcome,
        up_bid_size=up_bid_size,
        up_ask_size=up_ask_size,
        down_bid_size=down_bid_size,
        down_ask_size=down_ask_size,
        spot=float(spot) if good_spot else None,  # type: ignore[arg-type]
    )


def utc_day(t_s: float) -> date:
    """The UTC day of ``t_s`` (the day of the file a row goes to)."""
    return datetime.fromtimestamp(t_s, tz=UTC).date()


def daily_file_name(coin: str, day: date) -> str:
    """``btc-updown-15m-quotes-2026-01-02.csv``."""
    return f"{coin.lower()}{FILE_SUFFIX}{day.isoformat()}.csv"


def parse_daily_file_name(name: str) -> tuple[str, date] | None:
    """``(coin, day)`` of a daily file name, None for any other name."""
    if not name.endswith(".csv") or FILE_SUFFIX not in name:
        return None
    coin, _, rest = name[: -len(".csv")].partition(FILE_SUFFIX)
    if not coin or not coin.isalnum() or coin != coin.lower() or len(rest) != 10:
        return None
    try:
        day = date.fromisoformat(rest)
    except ValueError:
        return None
    return coin.upper(), day
