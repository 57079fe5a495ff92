"""Polymarket market data: Gamma discovery, book parsing, batched midpoints, resolution.

Parsers take the JSON the venue sends and return typed snapshots, or raise
:class:`MarketDataError`; they never let a ``KeyError`` or ``TypeError`` escape. The
:class:`MarketDirectory` caches token ids per window and discovers upcoming windows in the
background, so a slow Gamma never blocks the threads that trade.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

import requests
from tenacity import (
    retry,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from src.data.market_data.windows import (  # re-exported: one place for window rules
    WINDOW_SECONDS,
    SlugError,
    WindowRef,
    current_window,
    parse_slug,
    window_slug,
    window_start,
)
from src.utils.clock import Clock
from src.utils.logger import log, log_warning
from src.utils.money import AmountError, to_decimal
from src.utils.safe_json import loads_bounded

__all__ = [
    "WINDOW_SECONDS",
    "BookLevel",
    "GammaClient",
    "MarketDataError",
    "MarketDirectory",
    "MarketInfo",
    "OrderBook",
    "Outcome",
    "SlugError",
    "WindowRef",
    "current_window",
    "parse_book",
    "parse_gamma_market",
    "parse_midpoints",
    "parse_slug",
    "window_slug",
    "window_start",
]

DEFAULT_TIMEOUT_S = 5.0


# Sanity bounds on what a book may say: the venue's tick sizes, a share count no book
# holds (10^12) and a millisecond timestamp before the year 5000.
TICK_SIZES = frozenset(Decimal(t) for t in ("0.1", "0.01", "0.001", "0.0001"))
MAX_BOOK_SIZE = Decimal(10) ** 12
MAX_TIMESTAMP_MS = 95_617_584_000_000


class MarketDataError(ValueError):
    """A payload that cannot be turned into market data (malformed, wrong type, missing)."""


class Outcome(StrEnum):
    """How a window resolved."""

    UP = "UP"
    DOWN = "DOWN"


@dataclass(frozen=True, slots=True)
class MarketInfo:
    """One Up/Down market as Gamma describes it."""

    slug: str
    coin: str
    start: int
    end: int
    condition_id: str
    up_token_id: str
    down_token_id: str
    tick_size: Decimal
    min_order_size: Decimal
    fee_rate: Decimal
    fee_exponent: int
    neg_risk: bool
    accepting_orders: bool
    closed: bool
    outcome: Outcome | None

    @property
    def window(self) -> WindowRef:
        """The window this market covers."""
        return WindowRef(self.coin, self.start)

    def token_for(self, outcome: Outcome) -> str:
        """The token id that pays if ``outcome`` happens."""
        return self.up_token_id if outcome is Outcome.UP else self.down_token_id

    def outcome_of(self, token_id: str) -> Outcome | None:
        """Which outcome ``token_id`` pays on, or None if it is not this market's."""
        if token_id == self.up_token_id:
            return Outcome.UP
        if token_id == self.down_token_id:
            return Outcome.DOWN
        return None


@dataclass(frozen=True, slots=True)
class BookLevel:
    """One price level."""

    price: Decimal
    size: Decimal


@dataclass(frozen=True, slots=True)
class OrderBook:
    """A token's book, best levels first on both sides."""

    token_id: str
    bids: tuple[BookLevel, ...]
    asks: tuple[BookLevel, ...]
    timestamp_ms: int
    tick_size: Decimal | None = None
    min_order_size: Decimal | None = None
    last_trade_price: Decimal | None = None

    @property
    def best_bid(self) -> Decimal | None:
        """Highest bid, if any."""
        return self.bids[0].price if self.bids else None

    @property
    def best_ask(self) -> Decimal | None:
        """Lowest ask, if any."""
        return self.asks[0].price if self.asks else None

    @property
    def mid(self) -> Decimal | None:
        """Midpoint of best bid and ask; None unless both sides exist."""
        if self.best_bid is None or self.best_ask is None:
            return None
        return (self.best_bid + self.best_ask) / 2

    @property
    def spread(self) -> Decimal | None:
        """Best ask minus best bid; None unless both sides exist."""
        if self.best_bid is None or self.best_ask is None:
            return None
        return self.best_ask - self.best_bid

    def ask_depth_usd(self, up_to: Decimal) -> Decimal:
        """Collateral needed to buy every share offered at or below ``up_to``."""
        return sum(
            (lv.price * lv.size for lv in self.asks if lv.price <= up_to), Decimal(0)
        )

    def bid_depth_usd(self, down_to: Decimal) -> Decimal:
        """Collateral received for selling into every bid at or above ``down_to``."""
        return sum(
            (lv.price * lv.size for lv in self.bids if lv.price >= down_to), Decimal(0)
        )


# --- parsing --------------------------------------------------------------------------


def _require(payload: Mapping[str, Any], key: str) -> Any:
    if key not in payload or payload[key] is None:
        raise MarketDataError(f"missing field {key!r}")
    return payload[key]


def _json_list(value: Any, key: str) -> list[Any]:
    """Gamma sends some lists as JSON strings (``'["Up", "Down"]'``)."""
    if isinstance(value, str):
        try:
            value = loads_bounded(value)
        except ValueError as exc:
            raise MarketDataError(f"{key} is not a JSON list: {value[:40]!r}") from exc
    if not isinstance(value, list):
        raise MarketDataError(f"{key} is not a list")
    return value


def _decimal(value: Any, key: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise MarketDataError(f"{key} is not a number: {value!r}")
    try:
        return to_decimal(value)
    except AmountError as exc:
        raise MarketDataError(f"{key} is not a finite number: {value!r}") from exc


def _timestamp(value: Any, key: str) -> int:
    """Gamma times are ISO strings (``Z``), sometimes ``'2026-09-28 17:46:27+00'``."""
    if not isinstance(value, str):
        raise MarketDataError(f"{key} is not a time string")
    text = value.strip().replace("Z", "+00:00")
    if text.endswith("+00"):
        text += ":00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise MarketDataError(f"{key} is not an ISO time: {value!r}") from exc
    if parsed.tzinfo is None:
        raise MarketDataError(f"{key} has no time zone: {value!r}")
    return int(parsed.timestamp())


def _bool(payload: Mapping[str, Any], key: str, default: bool) -> bool:
    value = payload.get(key, default)
    if isinstance(value, bool):
        return value
    raise MarketDataError(f"{key} is not a boolean: {value!r}")


def _fee(payload: Mapping[str, Any]) -> tuple[Decimal, int]:
    if payload.get("feesEnabled") is False:
        return Decimal(0), 1
    schedule = payload.get("feeSchedule")
    if isinstance(schedule, Mapping) and "rate" in schedule:
        exponent = schedule.get("exponent", 1)
        if isinstance(exponent, bool) or not isinstance(exponent, (int, float)):
            raise MarketDataError(f"feeSchedule.exponent is not a number: {exponent!r}")
        rate = _decimal(schedule["rate"], "feeSchedule.rate")
        if not Decimal(0) <= rate < Decimal(1) or exponent not in (1, 2):
            raise MarketDataError(f"feeSchedule out of range: {dict(schedule)!r}")
        return rate, int(exponent)
    # Without a schedule the legacy base fee fields are inert; assume the crypto default.
    return Decimal("0.07"), 1


def _outcome(payload: Mapping[str, Any], outcomes: list[Any]) -> Outcome | None:
    if not payload.get("closed"):
        return None
    raw = payload.get("outcomePrices")
    if raw is None:
        return None
    prices = [_decimal(p, "outcomePrices") for p in _json_list(raw, "outcomePrices")]
    if len(prices) != len(outcomes):
        raise MarketDataError("outcomePrices and outcomes differ in length")
    winners = [str(outcomes[i]).upper() for i, p in enumerate(prices) if p == 1]
    if winners == ["UP"]:
        return Outcome.UP
    if winners == ["DOWN"]:
        return Outcome.DOWN
    return None  # closed but not (or not yet) resolved to a single winner


def parse_gamma_market(payload: Any) -> MarketInfo:
    """A Gamma market object (or an event holding one market) → :class:`MarketInfo`."""
    if isinstance(payload, list):
        if len(payload) != 1:
            raise MarketDataError(f"expected one market, got {len(payload)}")
        payload = payload[0]
    if not isinstance(payload, Mapping):
        raise MarketDataError(f"market payload is not an object: {type(payload).__name__}")
    if "markets" in payload and "conditionId" not in payload:
        markets = payload.get("markets")
        if not isinstance(markets, list) or len(markets) != 1:
            raise MarketDataError("event does not hold exactly one market")
        payload = markets[0]
        if not isinstance(payload, Mapping):
            raise MarketDataError("event market is not an object")
    try:
        slug = str(_require(payload, "slug"))
        coin = slug.split("-", 1)[0].upper()
        outcomes = [str(o) for o in _json_list(_require(payload, "outcomes"), "outcomes")]
        tokens = [
            str(t) for t in _json_list(_require(payload, "clobTokenIds"), "clobTokenIds")
        ]
        names = [o.upper() for o in outcomes]
        if sorted(names) != ["DOWN", "UP"] or len(tokens) != 2:
            raise MarketDataError(f"not an Up/Down market: outcomes {outcomes!r}")
        end = _timestamp(_require(payload, "endDate"), "endDate")
        start_raw = payload.get("eventStartTime")
        start = (
            _timestamp(start_raw, "eventStartTime") if start_raw else end - WINDOW_SECONDS
        )
        if end <= start:
            raise MarketDataError("endDate is not after eventStartTime")
        fee_rate, fee_exponent = _fee(payload)
        return MarketInfo(
            slug=slug,
            coin=coin,
            start=start,
            end=end,
            condition_id=str(_require(payload, "conditionId")),
            up_token_id=tokens[names.index("UP")],
            down_token_id=tokens[names.index("DOWN")],
            tick_size=_decimal(payload.get("orderPriceMinTickSize", "0.01"), "tick size"),
            min_order_size=_decimal(payload.get("orderMinSize", 5), "orderMinSize"),
            fee_rate=fee_rate,
            fee_exponent=fee_exponent,
            neg_risk=_bool(payload, "negRisk", False),
            accepting_orders=_bool(payload, "acceptingOrders", False),
            closed=_bool(payload, "closed", False),
            outcome=_outcome(payload, outcomes),
        )
    except MarketDataError:
        raise
    except (TypeError, ValueError, AttributeError) as exc:
        raise MarketDataError(f"malformed market payload: {exc}") from exc


def _levels(raw: Any, side: str) -> list[BookLevel]:
    if not isinstance(raw, list):
        raise MarketDataError(f"book {side} is not a list")
    levels = []
    for entry in raw:
        if not isinstance(entry, Mapping):
            raise MarketDataError(f"book {side} level is not an object")
        price = _decimal(_require(entry, "price"), f"{side} price")
        size = _decimal(_require(entry, "size"), f"{side} size")
        if not Decimal(0) < price < Decimal(1) or not 0 <= size <= MAX_BOOK_SIZE:
            raise MarketDataError(f"book {side} level out of range: {price} × {size}")
        if size > 0:
            levels.append(BookLevel(price, size))
    return levels


def parse_book(payload: Any) -> OrderBook:
    """A CLOB ``/book`` response → :class:`OrderBook`, best levels first.

    The wire lists bids ascending and asks descending (best last); we sort by price
    instead of trusting the order, and refuse a crossed book.
    """
    if not isinstance(payload, Mapping):
        raise MarketDataError("book payload is not an object")
    bids = sorted(_levels(payload.get("bids", []), "bids"), key=lambda lv: -lv.price)
    asks = sorted(_levels(payload.get("asks", []), "asks"), key=lambda lv: lv.price)
    if bids and asks and bids[0].price >= asks[0].price:
        raise MarketDataError(f"crossed book: bid {bids[0].price} ≥ ask {asks[0].price}")
    try:
        timestamp = int(str(payload.get("timestamp", "0"))[:20])
    except ValueError as exc:
        raise MarketDataError("book timestamp is not an integer") from exc
    if not 0 <= timestamp < MAX_TIMESTAMP_MS:
        raise MarketDataError(f"book timestamp out of range: {timestamp}")
    optional = {
        "tick_size": payload.get("tick_size"),
        "min_order_size": payload.get("min_order_size"),
        "last_trade_price": payload.get("last_trade_price"),
    }
    parsed = {k: None if v in (None, "") else _decimal(v, k) for k, v in optional.items()}
    tick = parsed["tick_size"]
    if tick is not None and tick not in TICK_SIZES:
        raise MarketDataError(f"book tick size is not one of the venue's: {tick}")
    minimum = parsed["min_order_size"]
    if minimum is not None and not 0 <= minimum <= MAX_BOOK_SIZE:
        raise MarketDataError(f"book minimum order size out of range: {minimum}")
    last = parsed["last_trade_price"]
    if last is not None and not 0 <= last <= 1:
        parsed["last_trade_price"] = None  # informative only: drop it, keep the book
    return OrderBook(
        token_id=str(_require(payload, "asset_id")),
        bids=tuple(bids),
        asks=tuple(asks),
        timestamp_ms=timestamp,
        **parsed,
    )


def parse_midpoints(payload: Any) -> dict[str, Decimal]:
    """A ``/midpoints`` response (``{token_id: "0.5"}``) → token → mid; bad entries dropped.

    One malformed entry must not cost the others, so it is logged and skipped.
    """
    if not isinstance(payload, Mapping):
        raise MarketDataError("midpoints payload is not an object")
    result: dict[str, Decimal] = {}
    for token, value in payload.items():
        try:
            mid = _decimal(value, f"midpoint of {token}")
        except MarketDataError as exc:
            log_warning(f"⚠️ Ignoring midpoint: {exc}")
            continue
        if Decimal(0) < mid < Decimal(1):
            result[str(token)] = mid
    return result


# --- fetching ---------------------------------------------------------------------------


class BookReader(Protocol):
    """The read calls of ``py_clob_client_v2.ClobClient`` used here (one batched request
    each, never one per token)."""

    def get_midpoints(self, params: list[Any]) -> Any:
        """``POST /midpoints``."""
        ...

    def get_order_books(self, params: list[Any]) -> Any:
        """``POST /books``."""
        ...


def _book_params(token_ids: Iterable[str]) -> list[Any]:
    from py_clob_client_v2.clob_types import BookParams

    return [BookParams(token_id=t) for t in dict.fromkeys(token_ids)]


def fetch_midpoints(client: BookReader, token_ids: Iterable[str]) -> dict[str, Decimal]:
    """Midpoints of many tokens in one request; malformed entries are dropped (logged)."""
    params = _book_params(token_ids)
    return parse_midpoints(client.get_midpoints(params)) if params else {}


def fetch_books(client: BookReader, token_ids: Iterable[str]) -> dict[str, OrderBook]:
    """Books of many tokens in one request; a malformed book is dropped (logged)."""
    params = _book_params(token_ids)
    if not params:
        return {}
    payload = client.get_order_books(params)
    if not isinstance(payload, list):
        raise MarketDataError("books payload is not a list")
    books: dict[str, OrderBook] = {}
    for raw in payload:
        try:
            book = parse_book(raw)
        except MarketDataError as exc:
            log_warning(f"⚠️ Ignoring book: {exc}")
            continue
        books[book.token_id] = book
    return books


class TransientHTTPError(RuntimeError):
    """A 5xx, 429 or connection problem: worth another try (reads only)."""


def _http_get(session: requests.Session, url: str, timeout: float) -> Any:
    try:
        response = session.get(url, timeout=timeout)
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise TransientHTTPError(f"GET {url}: {exc.__class__.__name__}") from exc
    if response.status_code == 404:
        return None
    if response.status_code == 429 or response.status_code >= 500:
        raise TransientHTTPError(f"GET {url}: HTTP {response.status_code}")
    if response.status_code >= 400:
        raise MarketDataError(f"GET {url}: HTTP {response.status_code}")
    try:
        return response.json()
    except ValueError as exc:
        raise MarketDataError(f"GET {url}: body is not JSON") from exc


class GammaClient:
    """Reads Up/Down markets from Gamma (idempotent GETs, retried with backoff)."""

    def __init__(
        self,
        base_url: str,
        session: requests.Session | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        attempts: int = 4,
        wait_s: float = 0.5,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()
        self.timeout_s = timeout_s
        self._get = retry(
            retry=retry_if_exception_type(TransientHTTPError),
            stop=stop_after_attempt(attempts),
            wait=wait_exponential(multiplier=wait_s, max=8),
            reraise=True,
        )(self._get_once)

    def _get_once(self, path: str) -> Any:
        return _http_get(self.session, f"{self.base_url}{path}", self.timeout_s)

    def market_by_slug(self, slug: str) -> MarketInfo | None:
        """The market for ``slug``, or None when Gamma does not list it (yet)."""
        payload = self._get(f"/markets/slug/{slug}")
        return None if payload is None else parse_gamma_market(payload)

    def market_by_token(self, token_id: str) -> MarketInfo | None:
        """The market one of whose outcome tokens is ``token_id`` (open or closed), or None
        when Gamma does not know it. Gamma lists open markets only unless ``closed`` is
        given, so both are asked for."""
        for closed in ("false", "true"):
            payload = self._get(f"/markets?clob_token_ids={token_id}&closed={closed}")
            if isinstance(payload, list) and payload:
                return parse_gamma_market(payload[0])
            if payload is not None and not isinstance(payload, list):
                raise MarketDataError("Gamma /markets did not answer a list")
        return None


class MarketDirectory:
    """Token ids and metadata per window, cached, discovered without blocking callers.

    ``lookup`` returns what is known now and, when a window is missing, starts one
    background fetch for it (or, ``synchronous``, fetches it at once — lockstep runs)
    (at most one in flight per window, retried no sooner than
    ``retry_after_s``). Resolved markets are cached for good; open ones until they close.
    """

    def __init__(
        self,
        fetch: Callable[[str], MarketInfo | None],
        clock: Clock,
        retry_after_s: float = 4.0,
        workers: int = 2,
        synchronous: bool = False,
    ) -> None:
        self._fetch = fetch
        self._synchronous = synchronous  # lockstep runs: discover inline, deterministically
        self._clock = clock
        self._retry_after_s = retry_after_s
        self._lock = threading.Lock()
        self._cache: dict[str, MarketInfo] = {}
        self._inflight: dict[str, Future[MarketInfo | None]] = {}
        self._last_attempt: dict[str, float] = {}
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gamma")

    def lookup(self, window: WindowRef) -> MarketInfo | None:
        """The cached market of ``window``; schedules discovery when unknown."""
        slug = window.slug
        with self._lock:
            info = self._cache.get(slug)
            if info is not None:
                return info
            if slug in self._inflight:
                return None
            last = self._last_attempt.get(slug)
            if last is not None and self._clock.now() - last < self._retry_after_s:
                return None
            self._last_attempt[slug] = self._clock.now()
            if not self._synchronous:
                self._inflight[slug] = self._pool.submit(self._discover, slug)
                return None
        return self._discover(slug)

    def prefetch(self, windows: Iterable[WindowRef]) -> None:
        """Start discovery of several windows (e.g. the current and next of each coin)."""
        for window in windows:
            self.lookup(window)

    def wait(self, window: WindowRef, timeout_s: float) -> MarketInfo | None:
        """Block up to ``timeout_s`` for ``window`` (CLI and tests; workers use lookup)."""
        info = self.lookup(window)
        if info is not None:
            return info
        with self._lock:
            future = self._inflight.get(window.slug)
        if future is not None:
            future.result(timeout=timeout_s)
        with self._lock:
            return self._cache.get(window.slug)

    def refresh(self, window: WindowRef) -> MarketInfo | None:
        """Fetch ``window`` again now (resolution checks); updates the cache."""
        info = self._discover(window.slug)
        return info

    def _discover(self, slug: str) -> MarketInfo | None:
        try:
            info = self._fetch(slug)
        except (MarketDataError, TransientHTTPError) as exc:
            log_warning(f"⚠️ [{slug}] market discovery failed: {exc}")
            info = None
        except Exception as exc:  # a background thread must never die silently
            log_warning(f"⚠️ [{slug}] market discovery error: {exc!r}")
            info = None
        with self._lock:
            self._inflight.pop(slug, None)
            if info is not None:
                if info.slug != slug:
                    log_warning(f"⚠️ [{slug}] Gamma returned {info.slug}; ignored")
                    return None
                first = slug not in self._cache
                self._cache[slug] = info
                if first:
                    log(f"👀 [{info.coin}] discovered {slug}")
        return info

    def close(self) -> None:
        """Stop the background fetchers."""
        self._pool.shutdown(wait=False, cancel_futures=True)
