"""The Venue port over the Polymarket CLOB, with the unmodified ``py_clob_client_v2``.

What this adapter decides, and why:

* **Order id before sending.** ``prepare`` signs with the client's own builders and computes
  the EIP-712 hash of the signed order — the venue's order id — so the intent is written
  with it before anything leaves.
* **Unknown is not rejected.** ``submit`` answers ``REJECTED`` only for a venue refusal (HTTP
  400 with an error text, or a 200 ``success: false`` with ``errorMsg``). Timeouts, dropped
  connections, 5xx, 429, a malformed body — and ``Duplicated`` (the order *exists*) — are
  ``AMBIGUOUS``; reconciliation proves the state later. ``POST /order`` is never retried,
  and is sent without the client's up-to-30 s wait for settlement hashes (fills are read
  from ``/data/trades`` instead).
* **Reads retry, writes do not.** Idempotent GETs retry transient failures (tenacity); every
  query that still fails raises :class:`VenueUnavailableError` — ``get_order`` returns None
  only when the venue itself answers that it has no such order.
* **Paging is bounded.** The client's all-pages helpers ask for pages while the venue
  answers a cursor other than ``LTE=``: a venue that never sends it, or repeats a cursor,
  would keep them (and the bot) there for ever. The ``/data/*`` lists are therefore paged
  here, with the client's own signer and ``_get``, one read per page; a repeated cursor or
  more than :data:`MAX_PAGES` pages fails the read (:class:`VenueUnavailableError`).
* **Fills** come from ``/data/trades`` (every page) through
  :func:`src.trading.venue.mapping.trade_fills`, so ids and amounts equal the in-process
  adapter's and the user websocket's (:func:`fills_from_trade` takes either payload). The
  wire carries no fee amount: the taker fee is the venue's formula per maker leg
  (``fee_rate_bps`` of the trade), floored as the venue floors it.
* **Token balances**: the tokens to look at are those of the account's trades plus those
  the Data API ``/positions`` lists (which finds tokens that arrived without a trade); each
  balance is then read exactly, in base units, from ``/balance-allowance`` (CONDITIONAL).
  The Data API alone is not used for sizes: it shows floats and settled positions only.
* **Rate**: a token bucket keeps this process below the venue's limits (reference §8).
* **Tick size and amounts.** The client keeps each token's tick for good, so an order is
  signed on the tick of this adapter's last book read (``book``/``books``; older than
  ``tick_max_age_s``, the book is read again) and its values are handed over through
  :func:`~src.trading.venue.mapping.client_args`, which the client's float flooring maps
  onto the intended decimals exactly. When the client's own cache refuses that tick (it
  holds a coarser one), ``prepare`` re-reads the market and signs once more: nothing has a
  hash yet. When the *venue* refuses an order for its tick or amounts, ``submit`` re-reads
  the tick and answers ``REJECTED`` — it does not sign and post a replacement itself: the
  caller wrote its intent with the prepared hash before sending (the port's rule), so a
  replacement's fills would belong to an order the ledger does not know. The refused
  order never existed; the caller's next order (a new ``prepare``) is signed on the fresh
  tick.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import urlparse

import httpx
import requests
from py_clob_client_v2 import (
    ApiCreds,
    AssetType,
    BalanceAllowanceParams,
    ClobClient,
    DropNotificationParams,
    MarketOrderArgs,
    OrderArgs,
    PartialCreateOrderOptions,
)
from py_clob_client_v2.config import get_contract_config
from py_clob_client_v2.constants import END_CURSOR, INITIAL_CURSOR
from py_clob_client_v2.endpoints import ORDERS, POST_ORDER, POST_ORDERS, TRADES
from py_clob_client_v2.exceptions import PolyApiException, PolyException
from py_clob_client_v2.http_helpers import helpers as client_http
from py_clob_client_v2.order_utils.exchange_order_builder_v2 import ExchangeOrderBuilderV2
from py_clob_client_v2.order_utils.model.order_data_v2 import order_to_json_v2
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from src.data.market_data.polymarket import (
    MarketDataError,
    OrderBook,
    fetch_books,
    parse_book,
)
from src.sim.venue.fees import taker_fee  # the venue's fee rule: one place, shared
from src.trading.ledger.accounting import Side
from src.trading.ledger.events import FillEvent, FillStatus
from src.trading.venue.mapping import MakerLeg, client_args, trade_fills
from src.trading.venue.port import (
    CancelReply,
    OrderSpec,
    OrderType,
    PlaceReply,
    PlaceStatus,
    PreparedOrder,
    VenueOrder,
    VenueUnavailableError,
)
from src.utils.logger import log, log_warning
from src.utils.money import MICRO, AmountError, from_micro, to_micro

T = TypeVar("T")

DUPLICATED = "Duplicated"  # in the venue's text: the order exists already
LIVE_STATUSES = ("LIVE", "DELAYED", "UNMATCHED")
DEFAULT_RATE_PER_S = 15.0  # below every CLOB read limit we use (balance: 200/10 s)
DATA_PAGE = 500
# Most pages one paged read may take. The CLOB's pages hold up to 1,000 rows and the Data
# API's DATA_PAGE: a million rows is far beyond any account of this bot, so reaching this
# means a venue that never sends the last page, and the read fails instead of hanging.
MAX_PAGES = 1_000


DEFAULT_TIMEOUT_S = 5.0
TICK_MAX_AGE_S = 10.0  # a book's tick older than this is read again before signing
TICK_REFUSALS = (
    "invalid tick size",  # the client: a tick finer than the one it has cached
    "invalid price",  # the client: a price outside (tick, 1 - tick)
    "minimum tick size",  # the venue: "Price (…) breaks minimum tick size rule(s)"
    "invalid amounts",  # the venue: market order amounts with too many decimals
)


class ClobVenueError(RuntimeError):
    """A venue answer this adapter cannot use (never carries credentials)."""


class RedeemNotSupportedError(NotImplementedError):
    """Redemption on the real venue is an on-chain call, which ``polyflup redeem`` sends."""


class _TransientError(Exception):
    """A read that may succeed if tried again (network, timeout, 5xx, 429)."""


class RateLimiter:
    """A thread-safe token bucket: at most ``rate_per_s`` requests a second on average,
    ``burst`` at once. ``acquire`` waits (real time) for a token."""

    def __init__(self, rate_per_s: float, burst: int | None = None) -> None:
        if rate_per_s <= 0:
            raise ValueError("rate_per_s must be > 0")
        self._rate = rate_per_s
        self._capacity = float(burst if burst is not None else max(1, int(rate_per_s)))
        self._tokens = self._capacity
        self._stamp = time.monotonic()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Take one token, waiting for it if needed."""
        while True:
            with self._lock:
                now = time.monotonic()
                self._tokens = min(
                    self._capacity, self._tokens + (now - self._stamp) * self._rate
                )
                self._stamp = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                wait = (1 - self._tokens) / self._rate
            time.sleep(wait)


# --- pure parsing -------------------------------------------------------------------------


def _status_text(raw: object, prefix: str) -> str:
    text = str(raw or "").upper()
    return text[len(prefix) :] if text.startswith(prefix) else text


def parse_trade_status(raw: object) -> FillStatus:
    """``MATCHED`` / ``TRADE_STATUS_CONFIRMED`` / ``MATCHED_NOT_BROADCASTED`` → FillStatus."""
    text = _status_text(raw, "TRADE_STATUS_")
    if text.startswith("MATCHED"):
        return FillStatus.MATCHED
    try:
        return FillStatus(text)
    except ValueError as exc:
        raise ClobVenueError(f"unknown trade status {raw!r}") from exc


def _micro(value: object, what: str) -> int:
    try:
        return to_micro(str(value))
    except (AmountError, ValueError, ArithmeticError) as exc:
        raise ClobVenueError(f"malformed {what}: {value!r}") from exc


def _fee_rate_micro(bps: object) -> int:
    try:
        return int(str(bps or "0")) * MICRO // 10_000
    except ValueError as exc:
        raise ClobVenueError(f"malformed fee_rate_bps: {bps!r}") from exc


def fills_from_trade(trade: Mapping[str, Any], account: str) -> list[FillEvent]:
    """Our fill events of one CLOB trade object — a ``/data/trades`` row or a user
    websocket ``trade`` message (same keys) — by the shared mapping rules."""
    try:
        side = Side(str(trade["side"]).upper())
        legs = tuple(
            MakerLeg(
                order_id=str(m["order_id"]),
                owner=str(m.get("maker_address", "")),
                side=Side(str(m["side"]).upper()),
                price_micro=(price := _micro(m["price"], "maker price")),
                size_micro=(size := _micro(m["matched_amount"], "matched amount")),
                notional_micro=size * price // MICRO,
            )
            for m in trade["maker_orders"]
        )
        rate = _fee_rate_micro(trade.get("fee_rate_bps"))
        # The venue takes the taker fee per maker leg, each floored, then summed.
        fee = sum(
            taker_fee(side is Side.BUY, leg.size_micro, leg.price_micro, rate)
            for leg in legs
        )
        taker_account = (
            str(trade.get("maker_address", ""))
            if str(trade.get("trader_side", "")).upper() == "TAKER"
            else ""
        )
        return trade_fills(
            account=account,
            trade_id=str(trade["id"]),
            taker_order_id=str(trade["taker_order_id"]),
            taker_account=taker_account,
            side=side,
            status=parse_trade_status(trade["status"]),
            fee_micro=fee,
            at_ms=int(str(trade.get("last_update") or trade.get("match_time") or 0)) * 1000,
            legs=legs,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ClobVenueError(f"malformed trade: {exc}") from exc


def parse_open_order(body: Mapping[str, Any]) -> VenueOrder:
    """A CLOB OpenOrder object → :class:`VenueOrder` (status without ``ORDER_STATUS_``)."""
    try:
        status = _status_text(body["status"], "ORDER_STATUS_")
        return VenueOrder(
            venue_order_id=str(body["id"]),
            token_id=str(body["asset_id"]),
            side=Side(str(body["side"]).upper()),
            price_micro=_micro(body["price"], "price"),
            size_micro=_micro(body["original_size"], "original size"),
            matched_micro=_micro(body.get("size_matched", "0"), "matched size"),
            live=status in LIVE_STATUSES,
            status=status,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ClobVenueError(f"malformed order: {exc}") from exc


def _error_text(exc: PolyApiException) -> str:
    body = exc.error_msg
    if isinstance(body, Mapping):
        return str(body.get("error") or body.get("errorMsg") or "")
    return ""


def classify_post_error(exc: Exception) -> tuple[PlaceStatus, str]:
    """How a failed ``POST /order`` ends: REJECTED only for a venue refusal (HTTP 400 with
    its text, not ``Duplicated``); everything else may have placed the order."""
    if isinstance(exc, PolyApiException):
        text = _error_text(exc)
        if exc.status_code == 400 and text and DUPLICATED not in text:
            return PlaceStatus.REJECTED, text
        status = exc.status_code if exc.status_code is not None else "no answer"
        return PlaceStatus.AMBIGUOUS, f"HTTP {status}: {text or 'no venue text'}"
    return PlaceStatus.AMBIGUOUS, f"{exc.__class__.__name__}"


def is_tick_refusal(text: str) -> bool:
    """True for a refusal (the client's or the venue's) that a stale tick explains."""
    return any(marker in text for marker in TICK_REFUSALS)


def _malformed(what: str, shape: str) -> VenueUnavailableError:
    """The error for an answer of the wrong shape, logged here once. Only the shape is
    named, never the body: it may carry the account's orders, trades or balances."""
    log_warning(f"⚠️ {what}: malformed answer ({shape})")
    return VenueUnavailableError(f"{what}: malformed answer")


def _is_transient(exc: PolyApiException) -> bool:
    code = exc.status_code
    return code is None or code == 429 or code >= 500


def is_loopback(url: str) -> bool:
    """True when ``url`` points at this machine (the emulator), never at the real venue."""
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --- the adapter ----------------------------------------------------------------------------


class ClobVenue:
    """One trading account on the Polymarket CLOB (or the emulator), as a ``Venue``."""

    def __init__(
        self,
        client: ClobClient,
        *,
        data_url: str,
        rate_per_s: float = DEFAULT_RATE_PER_S,
        read_attempts: int = 3,
        retry_wait_s: float = 0.2,
        session: requests.Session | None = None,
        timeout_s: float | None = None,
        tick_max_age_s: float = TICK_MAX_AGE_S,
    ) -> None:
        if client.creds is None:
            raise ClobVenueError("the client needs L2 credentials (set_api_creds)")
        self.client = client
        self.data_url = data_url.rstrip("/")
        self._limiter = RateLimiter(rate_per_s)
        self._session = session or requests.Session()
        self._timeout_s = DEFAULT_TIMEOUT_S if timeout_s is None else timeout_s
        if timeout_s is not None:
            # the official client sends through one module-level httpx client: its
            # timeout is its configuration (unanswered by then = ambiguous, not lost)
            client_http._http_client.timeout = httpx.Timeout(timeout_s)
        self._version: int | None = None
        self._neg_risk: dict[str, bool] = {}
        self._ticks: dict[str, tuple[int, float]] = {}  # token → (tick, monotonic seen)
        self._tick_max_age_s = tick_max_age_s
        self._retrying = retry(
            retry=retry_if_exception_type(_TransientError),
            stop=stop_after_attempt(read_attempts),
            wait=wait_exponential(multiplier=retry_wait_s, max=4),
            reraise=True,
        )

    @classmethod
    def connect(
        cls,
        host: str,
        *,
        private_key: str,
        chain_id: int,
        data_url: str,
        signature_type: int = 0,
        funder: str | None = None,
        creds: ApiCreds | None = None,
        **options: Any,
    ) -> ClobVenue:
        """A venue for one key: L2 credentials as given, else derived (or created) via L1."""
        client = ClobClient(
            host,
            chain_id=chain_id,
            key=private_key,
            signature_type=signature_type,
            funder=funder or None,
        )
        if creds is None:
            try:
                creds = client.create_or_derive_api_key()
            except PolyException as exc:
                # the message holds the venue's answer, never the key
                raise VenueUnavailableError(
                    f"could not derive API credentials: {exc}"
                ) from exc
        client.set_api_creds(creds)
        return cls(client, data_url=data_url, **options)

    @property
    def address(self) -> str:
        """The account that holds the funds (the funder; the signer for EOA keys)."""
        return str(self.client.builder.funder)

    # --- plumbing ---------------------------------------------------------------------

    def _read(self, what: str, call: Callable[[], T]) -> T:
        """An idempotent read: rate-limited, retried on transient failures, and turned into
        :class:`VenueUnavailableError` when no answer came."""

        def once() -> T:
            self._limiter.acquire()
            try:
                return call()
            except PolyApiException as exc:
                if _is_transient(exc):
                    raise _TransientError(
                        f"{what}: HTTP {exc.status_code or 'no answer'}"
                    ) from exc
                raise
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise _TransientError(f"{what}: {exc.__class__.__name__}") from exc

        try:
            return self._retrying(once)()
        except _TransientError as exc:
            raise VenueUnavailableError(str(exc)) from exc
        except PolyApiException as exc:
            raise VenueUnavailableError(
                f"{what}: HTTP {exc.status_code}: {_error_text(exc) or 'refused'}"
            ) from exc

    def _pages(
        self,
        what: str,
        endpoint: str,
        params: Mapping[str, str] | None = None,
        *,
        first_only: bool = False,
    ) -> list[Any]:
        """Every row of a paged ``/data/*`` read (the first page only with ``first_only``).

        The client's own loop (``get_trades``, ``get_open_orders``), bounded: the same
        signed GETs from ``MA==`` until ``LTE=``, each page a rate-limited, retried
        :meth:`_read`. A cursor seen before, or more than :data:`MAX_PAGES` pages, fails
        the read with :class:`VenueUnavailableError`. A page that is not
        ``{data: [...], next_cursor: "…"}`` (or a body that is not JSON, which the client
        hands on as text) is a malformed answer.
        """
        rows: list[Any] = []
        cursor, seen = INITIAL_CURSOR, {INITIAL_CURSOR}
        for _ in range(MAX_PAGES):
            query = {**(params or {}), "next_cursor": cursor}

            def call(query: dict[str, str] = query) -> Any:
                headers = self.client._l2_headers("GET", endpoint)  # the client's signer
                return self.client._get(
                    f"{self.client.host}{endpoint}", headers=headers, params=query
                )

            page = self._read(what, call)
            if not (
                isinstance(page, Mapping)
                and isinstance(page.get("data"), list)
                and "next_cursor" in page
            ):
                raise _malformed(what, "page is not {data: [...], next_cursor}")
            rows.extend(page["data"])
            cursor = page["next_cursor"]
            if first_only or cursor == END_CURSOR:
                return rows
            if not isinstance(cursor, str):
                raise _malformed(what, "next_cursor is not a string")
            if cursor in seen:
                log_warning(f"⚠️ {what}: the venue repeated a page cursor; read refused")
                raise VenueUnavailableError(f"{what}: the venue repeated a page cursor")
            seen.add(cursor)
        log_warning(f"⚠️ {what}: no last page after {MAX_PAGES} pages; read refused")
        raise VenueUnavailableError(f"{what}: no last page after {MAX_PAGES} pages")

    def _version_of(self) -> int:
        if self._version is None:
            answer = self._read("version", self.client.get_version)
            try:
                self._version = int(answer)
            except (TypeError, ValueError, OverflowError):
                raise _malformed("version", type(answer).__name__) from None
        return self._version

    def _neg_risk_of(self, token_id: str) -> bool:
        if token_id not in self._neg_risk:
            self._neg_risk[token_id] = bool(
                self._read("neg-risk", lambda: self.client.get_neg_risk(token_id))
            )
        return self._neg_risk[token_id]

    def _order_hash(self, signed: Any, neg_risk: bool, version: int) -> str:
        """The EIP-712 hash of a signed order in its exchange's domain: the venue's id."""
        config = get_contract_config(self.client.chain_id)
        exchange = (
            config.exchange_v3
            if version == 3
            else config.neg_risk_exchange_v2
            if neg_risk
            else config.exchange_v2
        )
        builder = ExchangeOrderBuilderV2(
            exchange,
            self.client.chain_id,
            self.client.signer,
            domain_version=str(version),
        )
        return builder.build_order_hash(builder.build_order_typed_data(signed))

    # --- orders -----------------------------------------------------------------------

    def prepare(self, spec: OrderSpec) -> PreparedOrder:
        """Sign the order and fix its venue id (the order hash). Only reads may touch the
        network: cached neg-risk and version, the token's book for a tick not seen lately.

        Signed on the tick of the last book read; when the client refuses it (its cache
        holds a coarser tick, or the price is outside the tick's range) the market is read
        again and the order signed once more — before any hash exists, so nothing of the
        first attempt is left anywhere."""
        version = self._version_of()
        if version not in (2, 3):
            raise ClobVenueError(f"unsupported CLOB order version {version}")
        neg_risk = self._neg_risk_of(spec.token_id)
        try:
            signed = self._sign(spec, self._tick_of(spec.token_id), neg_risk, version)
        except PolyException as exc:
            if not is_tick_refusal(str(exc)):
                raise
            tick = self._refresh_tick(spec.token_id)
            signed = self._sign(spec, tick, neg_risk, version)
        # the venue knows the order by its signed amounts: record the shares they carry
        # (a market BUY's: its dollars / price, floored to 4 decimals)
        shares = int(signed.takerAmount if spec.side is Side.BUY else signed.makerAmount)
        if shares > 0 and shares != spec.size_micro:
            spec = dataclasses.replace(spec, size_micro=shares)
        return PreparedOrder(spec, self._order_hash(signed, neg_risk, version), signed)

    def _remember_tick(self, book: OrderBook) -> None:
        if book.tick_size is not None:
            self._ticks[book.token_id] = (to_micro(book.tick_size), time.monotonic())

    def _tick_of(self, token_id: str) -> int:
        """The token's tick (micro) from a book read at most ``tick_max_age_s`` ago
        (reading the book now if there is none)."""
        seen = self._ticks.get(token_id)
        if seen is None or time.monotonic() - seen[1] > self._tick_max_age_s:
            self._read_book_tick(token_id)
        return self._known_tick(token_id)

    def _read_book_tick(self, token_id: str) -> Any:
        """``GET /book`` for its tick (remembered when it names one); returns the body."""
        body = self._read("book", lambda: self.client.get_order_book(token_id))
        raw = body.get("tick_size") if isinstance(body, Mapping) else None
        try:
            self._ticks[token_id] = (_micro(raw, "tick size"), time.monotonic())
        except ClobVenueError:
            self._ticks.pop(token_id, None)  # none named: the client's cache answers
        return body

    def _known_tick(self, token_id: str) -> int:
        seen = self._ticks.get(token_id)
        if seen is not None:
            return seen[0]
        # a book without its tick: the client's (same lookup it would make itself)
        tick = self._read("tick-size", lambda: self.client.get_tick_size(token_id))
        return _micro(tick, "tick size")

    def _refresh_tick(self, token_id: str) -> int:
        """Re-read the market's tick: the book (remembered here) and the market info,
        which refreshes the client's cache (it keeps ticks for good otherwise) through
        its public calls. Returns the tick (micro)."""
        body = self._read_book_tick(token_id)
        condition_id = body.get("market") if isinstance(body, Mapping) else None
        if condition_id:
            self._read(
                "market-info", lambda: self.client.get_clob_market_info(str(condition_id))
            )
        return self._known_tick(token_id)

    def _sign(self, spec: OrderSpec, tick: int, neg_risk: bool, version: int) -> Any:
        """The client's signed order for ``spec`` on ``tick``, its values handed over so
        that its float flooring lands on them exactly (:func:`client_args`)."""
        try:
            args = client_args(spec, tick)
        except KeyError as exc:
            raise ClobVenueError(f"unsupported tick size {from_micro(tick)}") from exc
        options = PartialCreateOrderOptions(
            tick_size=args.tick, neg_risk=neg_risk, version=version
        )
        self._limiter.acquire()
        if spec.order_type in (OrderType.FOK, OrderType.FAK):
            return self.client.create_market_order(
                MarketOrderArgs(
                    token_id=spec.token_id,
                    amount=args.quantity,
                    side=str(spec.side),
                    price=args.price,
                    order_type=str(spec.order_type),
                ),
                options,
            )
        return self.client.create_order(
            OrderArgs(
                token_id=spec.token_id,
                price=args.price,
                size=args.quantity,
                side=str(spec.side),
                expiration=spec.expiration_s,
            ),
            options,
        )

    def _after_refusal(self, order: PreparedOrder, reply: PlaceReply) -> PlaceReply:
        """A refusal for the tick or the amounts: re-read the tick, so that the next
        order is signed on it (see the module's note: no replacement is posted here)."""
        if reply.status is not PlaceStatus.REJECTED or not is_tick_refusal(reply.error):
            return reply
        token = order.spec.token_id
        self._ticks.pop(token, None)  # read again by the next prepare if this fails
        try:
            tick = self._refresh_tick(token)
        except (VenueUnavailableError, ClobVenueError, PolyException) as exc:
            log_warning(f"⚠️ tick of {token} not re-read after a refusal: {exc}")
        else:
            log(f"🔄 tick of {token} re-read after a refusal: {from_micro(tick)}")
        return reply

    def _payload(self, order: PreparedOrder) -> dict[str, Any]:
        spec = order.spec
        return order_to_json_v2(
            order.payload,
            self.client.creds.api_key or "",
            str(spec.order_type),
            spec.post_only,
            False,
        )

    def _post(self, endpoint: str, payload: object) -> Any:
        """One signed POST, never retried (the client's own retry stays off)."""
        serialized = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
        headers = self.client._l2_headers(  # the client's own signer
            "POST", endpoint, body=payload, serialized_body=serialized
        )
        self._limiter.acquire()
        return client_http.post(
            f"{self.client.host}{endpoint}", headers=headers, data=serialized
        )

    def submit(self, order: PreparedOrder) -> PlaceReply:
        """``POST /order``, classified (see the module's rules)."""
        cid, oid = order.spec.client_order_id, order.venue_order_id
        try:
            answer = self._post(POST_ORDER, self._payload(order))
        except Exception as exc:  # every failure is classified
            status, text = classify_post_error(exc)
            log_warning(f"⚠️ order {oid} ({cid}) {status}: {text}")
            return self._after_refusal(order, PlaceReply(cid, oid, status, error=text))
        return self._after_refusal(order, self._reply(order, answer))

    def submit_batch(self, orders: Sequence[PreparedOrder]) -> list[PlaceReply]:
        """``POST /orders`` (≤ 15): each answer classified; a failed request classifies all."""
        if not orders:
            return []
        payload = [
            {**self._payload(o), "orderType": str(o.spec.order_type)} for o in orders
        ]
        try:
            answers = self._post(POST_ORDERS, payload)
        except Exception as exc:
            status, text = classify_post_error(exc)
            replies = [
                PlaceReply(o.spec.client_order_id, o.venue_order_id, status, error=text)
                for o in orders
            ]
            return self._after_refusals(orders, replies)
        if not isinstance(answers, list) or len(answers) != len(orders):
            return [
                PlaceReply(
                    o.spec.client_order_id,
                    o.venue_order_id,
                    PlaceStatus.AMBIGUOUS,
                    error="malformed batch answer",
                )
                for o in orders
            ]
        replies = [self._reply(o, a) for o, a in zip(orders, answers, strict=True)]
        return self._after_refusals(orders, replies)

    def _after_refusals(
        self, orders: Sequence[PreparedOrder], replies: list[PlaceReply]
    ) -> list[PlaceReply]:
        """:meth:`_after_refusal` for a batch, each token's tick re-read once."""
        done: set[str] = set()
        for order, reply in zip(orders, replies, strict=True):
            if order.spec.token_id not in done:
                self._after_refusal(order, reply)
                if reply.status is PlaceStatus.REJECTED and is_tick_refusal(reply.error):
                    done.add(order.spec.token_id)
        return replies

    def _reply(self, order: PreparedOrder, answer: object) -> PlaceReply:
        cid, oid = order.spec.client_order_id, order.venue_order_id
        if not isinstance(answer, Mapping):
            return PlaceReply(cid, oid, PlaceStatus.AMBIGUOUS, error="malformed answer")
        if answer.get("success") is False:
            text = str(answer.get("errorMsg") or "")
            status = (
                PlaceStatus.REJECTED
                if text and DUPLICATED not in text
                else PlaceStatus.AMBIGUOUS
            )
            return PlaceReply(cid, oid, status, error=text or "refused without a text")
        if answer.get("success") is not True:
            return PlaceReply(cid, oid, PlaceStatus.AMBIGUOUS, error="malformed answer")
        if str(answer.get("orderID", oid)).lower() != oid.lower():
            log_warning(f"⚠️ venue id {answer.get('orderID')} ≠ prepared {oid} ({cid})")
        trade_ids = answer.get("tradeIDs") or []
        if not isinstance(trade_ids, list) or not all(
            isinstance(t, str) for t in trade_ids
        ):
            # accepted, but with trades we cannot name: whether and how it filled is
            # for reconciliation to prove, as for any answer we cannot read
            log_warning(f"⚠️ order {oid} ({cid}) accepted with malformed tradeIDs")
            return PlaceReply(cid, oid, PlaceStatus.AMBIGUOUS, error="malformed answer")
        fills: tuple[FillEvent, ...] = ()
        try:
            fills = tuple(f for t in trade_ids if t for f in self._fills_of_trade(t))
        except (VenueUnavailableError, ClobVenueError) as exc:
            # Accepted all the same: fill polling and reconciliation book them later.
            log_warning(f"⚠️ order {oid} accepted; its fills could not be read yet: {exc}")
        return PlaceReply(
            cid,
            oid,
            PlaceStatus.ACCEPTED,
            resting=str(answer.get("status", "")).lower() == "live",
            fills=fills,
        )

    def _fills_of_trade(self, trade_id: str) -> list[FillEvent]:
        # as the client's TradeParams(id=…): an empty id is no filter
        params = {"id": trade_id} if trade_id else None
        rows = self._pages("trade", TRADES, params, first_only=True)
        return [f for row in rows for f in fills_from_trade(row, self.address)]

    def fills_of_trade(self, trade_id: str) -> list[FillEvent]:
        """Our fills of one trade (``/data/trades?id=…``), for a targeted resync."""
        try:
            return self._fills_of_trade(trade_id)
        except ClobVenueError as exc:
            raise VenueUnavailableError(str(exc)) from exc

    def notifications(self) -> list[Mapping[str, Any]]:
        """``GET /notifications`` (L2): the account's pending notices, as sent."""
        rows = self._read("notifications", self.client.get_notifications)
        if not isinstance(rows, list):
            raise VenueUnavailableError("notifications: malformed answer")
        return [r for r in rows if isinstance(r, Mapping)]

    def drop_notifications(self, ids: Sequence[str]) -> None:
        """``DELETE /notifications?ids=…``; idempotent, so retried like a read. Never
        called without ids: the venue reads "no ids" as "drop them all"."""
        if not ids:
            return
        params = DropNotificationParams(ids=[str(i) for i in ids])
        self._read("drop notifications", lambda: self.client.drop_notifications(params))

    def cancel(self, venue_order_ids: Sequence[str]) -> CancelReply:
        """``DELETE /orders``; no answer raises :class:`VenueUnavailableError`."""
        if not venue_order_ids:
            return CancelReply()
        return self._cancel(
            "cancel", lambda: self.client.cancel_orders(list(venue_order_ids))
        )

    def cancel_all(self) -> CancelReply:
        """``DELETE /cancel-all``."""
        return self._cancel("cancel-all", self.client.cancel_all)

    def _cancel(self, what: str, call: Callable[[], Any]) -> CancelReply:
        self._limiter.acquire()
        try:
            answer = call()
        except PolyApiException as exc:
            raise VenueUnavailableError(
                f"{what}: HTTP {exc.status_code or 'no answer'}: {_error_text(exc)}"
            ) from exc
        if not isinstance(answer, Mapping):
            raise VenueUnavailableError(f"{what}: malformed answer")
        canceled = answer.get("canceled") or []
        not_canceled = answer.get("not_canceled") or {}
        if not isinstance(canceled, list) or not isinstance(not_canceled, Mapping):
            raise _malformed(what, "canceled/not_canceled")
        cancelled = tuple(str(i) for i in canceled)
        not_cancelled = {str(k): str(v) for k, v in not_canceled.items()}
        if cancelled:
            log(f"🧹 cancelled {len(cancelled)} order(s)")
        return CancelReply(cancelled, not_cancelled)

    # --- queries ----------------------------------------------------------------------

    def get_order(self, venue_order_id: str) -> VenueOrder | None:
        """``GET /data/order/{id}``: None only for the venue's own "no such order"
        (``null``, an empty body or 404); any transport problem raises."""

        def call() -> Any:
            try:
                return self.client.get_order(venue_order_id)
            except PolyApiException as exc:
                if exc.status_code == 404:
                    return None
                raise

        body = self._read("order", call)
        if body is None or body == "" or body == {}:
            return None
        if not isinstance(body, Mapping):
            raise VenueUnavailableError(f"order {venue_order_id}: malformed answer")
        try:
            return parse_open_order(body)
        except ClobVenueError as exc:
            raise VenueUnavailableError(str(exc)) from exc

    def open_orders(self) -> list[VenueOrder]:
        """Every live order (all pages of ``/data/orders``)."""
        rows = self._pages("open orders", ORDERS)
        try:
            return [parse_open_order(r) for r in rows]
        except ClobVenueError as exc:
            raise VenueUnavailableError(str(exc)) from exc

    def _trades(self) -> list[Mapping[str, Any]]:
        rows = self._pages("trades", TRADES)
        if not all(isinstance(r, Mapping) for r in rows):
            raise _malformed("trades", "a row is not an object")
        return rows

    def fills(self, since_ms: int = 0) -> list[FillEvent]:
        """Our fills whose status changed at or after ``since_ms`` (every trade page)."""
        try:
            events = [
                f for row in self._trades() for f in fills_from_trade(row, self.address)
            ]
        except ClobVenueError as exc:
            raise VenueUnavailableError(str(exc)) from exc
        return [f for f in events if f.at_ms >= since_ms - since_ms % 1000]

    def _balance(self, params: BalanceAllowanceParams) -> int:
        body = self._read("balance", lambda: self.client.get_balance_allowance(params))
        if not isinstance(body, Mapping):
            raise VenueUnavailableError("balance: malformed answer")
        try:
            return int(str(body["balance"]))
        except (KeyError, ValueError) as exc:
            raise VenueUnavailableError("balance: malformed answer") from exc

    def collateral_micro(self) -> int:
        """``/balance-allowance`` COLLATERAL: free plus reserved, in base units."""
        return self._balance(BalanceAllowanceParams(asset_type=AssetType.COLLATERAL))

    def _position_tokens(self) -> set[str]:
        """Tokens the Data API lists for the account (any size), every page."""
        tokens: set[str] = set()
        for page in range(MAX_PAGES):
            offset = page * DATA_PAGE
            url = (
                f"{self.data_url}/positions?user={self.address}&sizeThreshold=0"
                f"&limit={DATA_PAGE}&offset={offset}"
            )

            def call(url: str = url) -> Any:
                try:
                    answer = self._session.get(url, timeout=self._timeout_s)
                except (requests.ConnectionError, requests.Timeout) as exc:
                    raise _TransientError(f"positions: {exc.__class__.__name__}") from exc
                if answer.status_code == 429 or answer.status_code >= 500:
                    raise _TransientError(f"positions: HTTP {answer.status_code}")
                if answer.status_code != 200:
                    raise VenueUnavailableError(f"positions: HTTP {answer.status_code}")
                try:
                    return answer.json()
                except ValueError as exc:  # requests' JSONDecodeError is a ValueError
                    raise _malformed("positions", "body is not JSON") from exc

            rows = self._read("positions", call)
            if not isinstance(rows, list):
                raise VenueUnavailableError("positions: malformed answer")
            tokens |= {
                str(r["asset"]) for r in rows if isinstance(r, Mapping) and "asset" in r
            }
            if len(rows) < DATA_PAGE:
                return tokens
        log_warning(f"⚠️ positions: no last page after {MAX_PAGES} pages; read refused")
        raise VenueUnavailableError(f"positions: no last page after {MAX_PAGES} pages")

    def token_balances(self) -> dict[str, int]:
        """Tokens held, exact (see the module's note on where the token list comes from)."""
        tokens = {
            str(row.get("asset_id")) for row in self._trades()
        } | self._position_tokens()
        balances = {}
        for token in sorted(tokens):
            size = self._balance(
                BalanceAllowanceParams(asset_type=AssetType.CONDITIONAL, token_id=token)
            )
            if size:
                balances[token] = size
        return balances

    def book(self, token_id: str) -> OrderBook:
        """``GET /book`` parsed with :func:`parse_book` (best levels first)."""
        body = self._read("book", lambda: self.client.get_order_book(token_id))
        try:
            book = parse_book(body)
        except MarketDataError as exc:
            raise VenueUnavailableError(f"book {token_id}: {exc}") from exc
        self._remember_tick(book)  # the tick the next order of this token is signed on
        return book

    def books(self, token_ids: Sequence[str]) -> dict[str, OrderBook]:
        """``POST /books``: many books in one request (the monitor's one read per cycle)."""
        if not token_ids:
            return {}
        try:
            books = self._read("books", lambda: fetch_books(self.client, token_ids))
        except MarketDataError as exc:
            raise VenueUnavailableError(f"books: {exc}") from exc
        for book in books.values():
            self._remember_tick(book)
        return books

    def server_time(self) -> int:
        """The venue's clock, unix seconds (``GET /time``)."""
        answer = self._read("time", self.client.get_server_time)
        try:
            return int(answer)
        except (TypeError, ValueError, OverflowError) as exc:  # not a number
            raise _malformed("time", exc.__class__.__name__) from exc

    def redeem(self, condition_id: str) -> int:
        """Against the emulator (a loopback URL): its admin redemption; returns collateral
        paid. On the real venue redemption is an on-chain transaction this adapter does
        not send: raises :class:`RedeemNotSupportedError`."""
        if not is_loopback(self.client.host):
            raise RedeemNotSupportedError(
                "redemption on Polymarket is an on-chain call: run `polyflup redeem` (EOA "
                "keys; proxy wallets redeem on the Polymarket site)"
            )
        self._limiter.acquire()
        try:
            answer = self._session.post(
                f"{self.client.host}/admin/redeem",
                json={"address": self.address, "condition_id": condition_id},
                timeout=self._timeout_s,
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise VenueUnavailableError(f"redeem: {exc.__class__.__name__}") from exc
        if answer.status_code != 200:
            raise ClobVenueError(f"redeem refused: HTTP {answer.status_code} {answer.text}")
        paid = to_micro(Decimal(str(answer.json()["paid"])))
        log(f"🏁 redeemed {condition_id[:10]}…: {from_micro(paid)} paid")
        return paid


class Heartbeats:
    """``POST /v1/heartbeats``: keeps the venue from cancelling our orders (it does after
    ~10 s without one). Call :meth:`beat` every few seconds from one thread."""

    def __init__(self, client: ClobClient) -> None:
        self._client = client
        self._id = ""

    def beat(self) -> str:
        """Send one heartbeat; returns the id for the next. A stale id is replaced by the
        one the venue expects and sent again once."""
        for _ in range(2):
            try:
                answer = self._client.post_heartbeat(self._id)
            except PolyApiException as exc:
                body = exc.error_msg if isinstance(exc.error_msg, Mapping) else {}
                if exc.status_code == 400 and "heartbeat_id" in body:
                    self._id = str(body["heartbeat_id"] or "")
                    continue
                raise VenueUnavailableError(
                    f"heartbeat: HTTP {exc.status_code or 'no answer'}"
                ) from exc
            if isinstance(answer, Mapping):
                self._id = str(answer.get("heartbeat_id") or "")
            return self._id
        raise VenueUnavailableError("heartbeat: the venue keeps refusing the id")
