"""Binance market data through python-binance: klines, ticker, funding, the window's strike.

Klines are cached per symbol and refreshed incrementally (only minutes after the last one
held), with the time of the last successful refresh kept for staleness checks. Every
parser accepts malformed input without crashing: a typed :class:`MarketDataError`, a log
line, and a neutral result (``None`` or an empty list) for the caller.
"""

from __future__ import annotations

import functools
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

import requests
from binance.client import Client
from binance.exceptions import BinanceAPIException, BinanceRequestException

from src.data.market_data.polymarket import MarketDataError
from src.data.market_data.windows import normalize_coin
from src.sim.feeds.base import MINUTE_MS, Kline
from src.utils.clock import Clock
from src.utils.logger import log_warning

DEFAULT_HISTORY = 240
_INT64 = 2**63  # the integers a kline's times and counts may reach (exclusive)
_FETCH_LIMIT = 1000  # Binance's maximum rows per klines request


@functools.lru_cache(maxsize=256)  # a handful of coins, asked for on every poll
def binance_symbol(coin: str) -> str:
    """``'btc'`` → ``'BTCUSDT'``."""
    return f"{normalize_coin(coin)}USDT"


def make_client(api_url: str, futures_url: str, timeout_s: float = 5.0) -> Client:
    """A python-binance client aimed at ``api_url`` (real Binance or our emulator).

    ``ping=False`` keeps construction offline; the URLs are instance attributes, which is
    what python-binance reads when it builds each request.
    """
    client = Client(ping=False, requests_params={"timeout": timeout_s})
    client.API_URL = api_url.rstrip("/")
    client.FUTURES_URL = futures_url.rstrip("/")
    return client


def _number(value: Any, what: str) -> float:
    if type(value) is float:  # an in-process client's rows: nothing to convert
        number = value
    elif isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise MarketDataError(f"{what} is not a number: {value!r}")
    else:
        try:
            number = float(value)
        except (ValueError, OverflowError) as exc:  # a 400-digit integer overflows
            raise MarketDataError(f"{what} is not a number: {str(value)[:40]!r}") from exc
    if number - number != 0.0:  # NaN or ±inf: x - x is 0.0 for every finite x
        raise MarketDataError(f"{what} is not finite: {value!r}")
    return number


def _integer(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise MarketDataError(f"{what} is not an integer: {value!r}")
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError) as exc:  # int(inf) overflows
        raise MarketDataError(f"{what} is not an integer: {str(value)[:40]!r}") from exc
    if not -_INT64 <= number < _INT64:  # no time or count of ours needs more
        raise MarketDataError(f"{what} is out of range: {str(value)[:40]!r}")
    return number


def _typed_kline(row: list[Any] | tuple[Any, ...]) -> Kline | None:
    """The row's candle when every field already is what converting it gives (an
    in-process client's rows: ints in range, finite floats), which ``_integer`` and
    ``_number`` would return unchanged; None otherwise (the general rules then decide,
    with their messages). One sum checks the eight floats are finite: a NaN or an
    infinity makes it NaN or infinite (so may an overflow: the general rules again)."""
    t, o, h, lo, c, v, ct, qv, n, tb, tbq = row[:11]
    if not (
        type(t) is int
        and type(ct) is int
        and type(n) is int
        and type(o) is float
        and type(h) is float
        and type(lo) is float
        and type(c) is float
        and type(v) is float
        and type(qv) is float
        and type(tb) is float
        and type(tbq) is float
    ):
        return None
    total = o + h + lo + c + v + qv + tb + tbq
    if total - total != 0.0 or not (
        -_INT64 <= t < _INT64 and -_INT64 <= ct < _INT64 and -_INT64 <= n < _INT64
    ):
        return None
    return Kline(t, o, h, lo, c, v, ct, qv, n, tb, tbq)


def parse_kline_row(row: Any) -> Kline:
    """One row of ``/api/v3/klines`` (12 fields, numbers as strings) → :class:`Kline`."""
    if not isinstance(row, (list, tuple)) or len(row) < 11:
        raise MarketDataError(f"kline row has the wrong shape: {str(row)[:80]}")
    kline = _typed_kline(row) or Kline(  # positional: a keyword call costs more
        _integer(row[0], "open time"),
        _number(row[1], "open"),
        _number(row[2], "high"),
        _number(row[3], "low"),
        _number(row[4], "close"),
        _number(row[5], "volume"),
        _integer(row[6], "close time"),
        _number(row[7], "quote volume"),
        _integer(row[8], "trade count"),
        _number(row[9], "taker buy volume"),
        _number(row[10], "taker buy quote volume"),
    )
    prices = (kline.open, kline.high, kline.low, kline.close)
    if min(prices) <= 0 or kline.low > min(prices) or kline.high < max(prices):
        raise MarketDataError(f"kline prices are inconsistent at {kline.open_time_ms}")
    if kline.volume < 0 or not 0 <= kline.taker_buy_volume <= kline.volume * (1 + 1e-9):
        raise MarketDataError(f"kline volumes are inconsistent at {kline.open_time_ms}")
    return kline


def parse_klines(rows: Any) -> list[Kline]:
    """A klines response → candles, oldest first, skipping (and logging) bad rows."""
    if not isinstance(rows, list):
        raise MarketDataError("klines response is not a list")
    klines: list[Kline] = []
    for row in rows:
        try:
            klines.append(parse_kline_row(row))
        except MarketDataError as exc:
            log_warning(f"⚠️ Skipping kline: {exc}")
    klines.sort(key=lambda k: k.open_time_ms)
    return klines


def parse_ticker_price(payload: Any) -> float:
    """``/api/v3/ticker/price`` → price."""
    if not isinstance(payload, dict):
        raise MarketDataError("ticker response is not an object")
    price = _number(payload.get("price"), "ticker price")
    if price <= 0:
        raise MarketDataError(f"ticker price is not positive: {price}")
    return price


def parse_funding_rate(payload: Any) -> float:
    """``/fapi/v1/fundingRate`` (a list, newest last) → the latest funding rate."""
    if not isinstance(payload, list) or not payload or not isinstance(payload[-1], dict):
        raise MarketDataError("funding-rate response is not a non-empty list of objects")
    rate = _number(payload[-1].get("fundingRate"), "funding rate")
    if abs(rate) > 0.1:
        raise MarketDataError(f"funding rate out of range: {rate}")
    return rate


@dataclass(frozen=True, slots=True)
class KlineSnapshot:
    """The closed candles of a symbol and how fresh they are."""

    symbol: str
    klines: tuple[Kline, ...]
    last_price: float | None
    refreshed_ms: int | None

    def age_s(self, now: float) -> float | None:
        """Seconds since the last successful refresh (None if never)."""
        return None if self.refreshed_ms is None else now - self.refreshed_ms / 1000


_TRANSIENT = (BinanceRequestException, requests.RequestException)


class BinanceMarketData:
    """Cached Binance data for a few symbols, safe to share between threads."""

    def __init__(
        self, client: Client, clock: Clock, history: int = DEFAULT_HISTORY
    ) -> None:
        self._client = client
        self._clock = clock
        self._history = history
        self._lock = threading.Lock()
        self._klines: dict[str, deque[Kline]] = {}
        # _klines as tuples, until they grow (a snapshot per poll, a new kline per minute)
        self._frozen: dict[str, tuple[Kline, ...]] = {}
        self._last_price: dict[str, float] = {}
        self._refreshed_ms: dict[str, int] = {}

    def _now_ms(self) -> int:
        return int(self._clock.now() * 1000)

    def _call(self, what: str, func: Any, **params: Any) -> Any:
        try:
            return func(**params)
        except BinanceAPIException as exc:
            raise MarketDataError(
                f"{what}: Binance error {exc.code}: {exc.message}"
            ) from exc
        except _TRANSIENT as exc:
            raise MarketDataError(f"{what}: {exc.__class__.__name__}") from exc
        except ValueError as exc:  # a body that is not JSON
            raise MarketDataError(f"{what}: malformed response") from exc

    def _klines_answer(self, what: str, params: dict[str, Any]) -> list[Kline]:
        """A klines request, parsed. A client that answers with parsed candles itself
        (``parsed_klines``: the backtest's in-process one, which has no text to write and
        read back) is asked that way; python-binance, over HTTP, has no such call."""
        parsed = getattr(self._client, "parsed_klines", None)
        if parsed is not None:
            return self._call(what, parsed, **params)  # type: ignore[no-any-return]
        return parse_klines(self._call(what, self._client.get_klines, **params))

    def refresh(self, coin: str) -> KlineSnapshot:
        """Fetch the minutes after the last cached one; on failure keep the old data."""
        symbol = binance_symbol(coin)
        with self._lock:
            cached = self._klines.get(symbol)
            since = cached[-1].open_time_ms + MINUTE_MS if cached else None
        now_ms = self._now_ms()
        params: dict[str, Any] = {"symbol": symbol, "interval": "1m"}
        if since is None:
            params["limit"] = min(self._history + 1, _FETCH_LIMIT)
        else:
            params["startTime"] = since
            params["limit"] = _FETCH_LIMIT
        try:
            rows = self._klines_answer("klines", params)
        except MarketDataError as exc:
            log_warning(f"⚠️ [{symbol}] kline refresh failed, keeping cached data: {exc}")
            return self.snapshot(coin)
        closed = [k for k in rows if k.close_time_ms < now_ms]
        with self._lock:
            store = self._klines.get(symbol)
            if store is None:  # (not setdefault: that builds a deque every poll)
                store = self._klines[symbol] = deque(maxlen=self._history)
            for kline in closed:
                if not store or kline.open_time_ms > store[-1].open_time_ms:
                    store.append(kline)
                    self._frozen.pop(symbol, None)
            if rows:
                self._last_price[symbol] = rows[-1].close
            self._refreshed_ms[symbol] = now_ms
            # what snapshot(coin) answers, under the same lock (one acquisition a poll)
            return self._snapshot_locked(symbol)

    def _snapshot_locked(self, symbol: str) -> KlineSnapshot:
        """:meth:`snapshot` of ``symbol``; the caller holds the lock."""
        klines = self._frozen.get(symbol)
        if klines is None:
            klines = self._frozen[symbol] = tuple(self._klines.get(symbol, ()))
        return KlineSnapshot(
            symbol, klines, self._last_price.get(symbol), self._refreshed_ms.get(symbol)
        )

    def snapshot(self, coin: str) -> KlineSnapshot:
        """What is cached for ``coin`` now, without any request."""
        symbol = binance_symbol(coin)
        with self._lock:
            return self._snapshot_locked(symbol)

    def is_stale(self, coin: str, max_age_s: float) -> bool:
        """True when the data is older than ``max_age_s`` or was never fetched."""
        age = self.snapshot(coin).age_s(self._clock.now())
        return age is None or age > max_age_s

    def strike_price(self, coin: str, window_start: int) -> float | None:
        """The window's strike: the open of the 1-minute candle starting at its start.

        Markets resolve on Chainlink, not Binance; this is the best proxy we have and the
        fair-value model treats prices within a basis point of it as uncertain.
        """
        start_ms = window_start * 1000
        for kline in reversed(self.snapshot(coin).klines):
            if kline.open_time_ms == start_ms:
                return kline.open
            if kline.open_time_ms < start_ms:
                break
        params = {
            "symbol": binance_symbol(coin),
            "interval": "1m",
            "startTime": start_ms,
            "limit": 1,
        }
        try:
            rows = self._klines_answer("strike", params)
        except MarketDataError as exc:
            log_warning(f"⚠️ [{coin}] strike lookup failed: {exc}")
            return None
        match = [k for k in rows if k.open_time_ms == start_ms]
        return match[0].open if match else None

    def ticker_price(self, coin: str) -> float | None:
        """The latest trade price, or None (logged) when Binance does not answer sensibly."""
        try:
            payload = self._call(
                "ticker", self._client.get_symbol_ticker, symbol=binance_symbol(coin)
            )
            return parse_ticker_price(payload)
        except MarketDataError as exc:
            log_warning(f"⚠️ [{coin}] ticker failed: {exc}")
            return None

    def funding_rate(self, coin: str) -> float | None:
        """The latest perpetual funding rate, or None (logged)."""
        try:
            payload = self._call(
                "funding",
                self._client.futures_funding_rate,
                symbol=binance_symbol(coin),
                limit=1,
            )
            return parse_funding_rate(payload)
        except MarketDataError as exc:
            log_warning(f"⚠️ [{coin}] funding rate failed: {exc}")
            return None
