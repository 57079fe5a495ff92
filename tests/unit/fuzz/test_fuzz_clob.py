"""Fuzz: the CLOB adapter — its pure parsers, then ``ClobVenue`` over the real
``py_clob_client_v2`` whose HTTP layer answers garbage.

Documented contracts checked here:

* ``fills_from_trade``, ``parse_open_order`` and ``parse_trade_status`` raise only
  :class:`ClobVenueError` (a ``RuntimeError``, not a ``ValueError``);
* ``classify_post_error`` never raises and calls REJECTED only an HTTP 400 with a venue
  text that is not ``Duplicated``;
* every ``ClobVenue`` query raises only :class:`VenueUnavailableError` ("Queries raise
  VenueUnavailableError rather than guess"), and ``submit`` never raises: whatever the
  venue answers is ACCEPTED, REJECTED or AMBIGUOUS.

The HTTP layer is replaced at ``py_clob_client_v2.http_helpers.helpers.request``, so the
client's own handling of the body (``resp.json()`` or, when that fails, ``resp.text``;
pagination over ``data``/``next_cursor``) runs unmodified.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from py_clob_client_v2 import ApiCreds, ClobClient
from py_clob_client_v2.exceptions import PolyApiException
from py_clob_client_v2.http_helpers import helpers

from src.trading.ledger.accounting import Side
from src.trading.ledger.events import FillEvent, FillStatus
from src.trading.venue.clob import (
    DUPLICATED,
    ClobVenue,
    ClobVenueError,
    classify_post_error,
    fills_from_trade,
    parse_open_order,
    parse_trade_status,
)
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
from tests.unit.fuzz.payloads import corrupted, json_values, scalars, unix_time_trade

pytestmark = pytest.mark.usefixtures("reference_samples")

FUZZ = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
ME = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"  # the taker/maker address in the samples
END = "LTE="  # the client's last-page cursor

TRADE_FIELDS = (
    "id",
    "taker_order_id",
    "side",
    "status",
    "fee_rate_bps",
    "last_update",
    "match_time",
    "maker_address",
    "trader_side",
    "maker_orders",
    "order_id",
    "price",
    "matched_amount",
)
ORDER_FIELDS = (
    "id",
    "asset_id",
    "side",
    "price",
    "original_size",
    "size_matched",
    "status",
)
TRADES = ("http_trade_report.json", "ws_user_trade.json", "ws_user_trade_msg.json")
ORDERS = (
    "http_open_order.json",
    "http_open_order_sell_fok.json",
    "ws_user_order_msg.json",
    "ws_user_order_matched.json",
    "ws_user_order_cancellation.json",
)


trades = st.deferred(
    lambda: corrupted(*TRADES, keys=TRADE_FIELDS, extra=[unix_time_trade()] * 3)
)
open_orders = corrupted(*ORDERS, keys=ORDER_FIELDS)
statuses = scalars | st.sampled_from([s.value for s in FillStatus])


# --- pure parsers ---------------------------------------------------------------------


@FUZZ
@given(trade=trades, account=st.sampled_from([ME, ME.upper(), "0xother", ""]))
def test_fills_from_trade_raises_only_clob_venue_error(trade: Any, account: str) -> None:
    try:
        fills = fills_from_trade(trade, account)
    except ClobVenueError:
        event("refused")
        return
    event(f"parsed, {len(fills)} fill(s)")
    assert isinstance(fills, list)
    for fill in fills:
        assert isinstance(fill, FillEvent)
        assert isinstance(fill.status, FillStatus) and isinstance(fill.side, Side)
        for amount in (fill.price_micro, fill.size_micro, fill.fee_micro, fill.at_ms):
            assert type(amount) is int


@FUZZ
@given(body=open_orders)
def test_parse_open_order_raises_only_clob_venue_error(body: Any) -> None:
    try:
        order = parse_open_order(body)
    except ClobVenueError:
        event("refused")
        return
    event("parsed")
    assert isinstance(order, VenueOrder) and isinstance(order.side, Side)
    assert all(type(v) is int for v in (order.price_micro, order.size_micro))
    assert type(order.matched_micro) is int and type(order.live) is bool
    assert not order.status.startswith("ORDER_STATUS_")


@FUZZ
@given(raw=statuses | json_values())
def test_parse_trade_status_raises_only_clob_venue_error(raw: Any) -> None:
    try:
        status = parse_trade_status(raw)
    except ClobVenueError:
        return
    assert isinstance(status, FillStatus)


def api_error(status: int | None, body: Any, raw: bool) -> PolyApiException:
    """The client's exception for an HTTP answer (``None``: no answer at all)."""
    if status is None:  # what the client raises when no answer came
        return PolyApiException(
            error_msg=body if body is not None else "Request exception!"
        )
    request = httpx.Request("POST", "http://127.0.0.1/order")
    content = str(body).encode() if raw else json.dumps(body, allow_nan=True).encode()
    return PolyApiException(httpx.Response(status, content=content, request=request))


post_errors = st.one_of(
    st.builds(
        api_error,
        st.none() | st.sampled_from([400, 401, 404, 409, 425, 429, 500, 502, 503]),
        json_values(("error", "errorMsg"))
        | st.fixed_dictionaries({"error": scalars | st.just(f"order is {DUPLICATED}")}),
        st.booleans(),
    ),
    st.sampled_from(
        [
            httpx.ReadTimeout("slow"),
            httpx.ConnectError("refused"),
            ValueError("not json"),
            KeyError("orderID"),
            RecursionError(),
            OverflowError(),
        ]
    ),
)


@FUZZ
@given(exc=post_errors)
def test_classify_post_error_never_raises_and_rejects_only_a_venue_refusal(
    exc: Exception,
) -> None:
    status, text = classify_post_error(exc)
    assert isinstance(status, PlaceStatus) and isinstance(text, str)
    if status is PlaceStatus.REJECTED:
        assert isinstance(exc, PolyApiException) and exc.status_code == 400
        assert text and DUPLICATED not in text
    else:
        assert status is PlaceStatus.AMBIGUOUS


# --- ClobVenue over the real client ------------------------------------------------------


@pytest.fixture(scope="module")
def venue() -> ClobVenue:
    client = ClobClient("http://127.0.0.1:9", chain_id=137, key="0x" + "11" * 32)
    secret = base64.urlsafe_b64encode(b"s" * 32).decode()
    client.set_api_creds(ApiCreds("key", secret, "pass"))
    return ClobVenue(
        client,
        data_url="http://127.0.0.1:9/data",
        rate_per_s=1e6,
        read_attempts=1,
        retry_wait_s=0,
    )


@contextlib.contextmanager
def venue_answers(answer: Any, *, paged: str = "") -> Iterator[list[str]]:
    """Every request gets ``answer`` once; requests after it get an empty last page (so a
    drawn ``next_cursor`` cannot page forever). Yields the endpoints asked."""
    asked: list[str] = []

    def request(endpoint: str, method: str, *args: Any, **kwargs: Any) -> Any:
        asked.append(endpoint)
        if len(asked) > 1:
            return {"data": [], "next_cursor": END}
        if isinstance(answer, PolyApiException):
            raise answer
        return answer

    original = helpers.request
    helpers.request = request
    try:
        yield asked
    finally:
        helpers.request = original


def pages(rows: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``/data/*`` pages of ``rows`` (cursor good or bad), or anything at all instead."""
    return st.one_of(
        st.fixed_dictionaries(
            {
                "data": st.lists(rows, max_size=3) | scalars,
                "next_cursor": st.sampled_from([END, "MA==", ""]) | scalars,
            }
        ),
        json_values(("data", "next_cursor")),
    )


refusals = st.builds(
    api_error,
    st.none() | st.sampled_from([400, 404, 429, 500]),
    json_values(("error",)),
    st.booleans(),
)


def only_venue_unavailable(call: Callable[[], Any]) -> Any:
    """``call()``'s result, or None when it raised VenueUnavailableError (anything else
    fails the test)."""
    try:
        return call()
    except VenueUnavailableError:
        return None


@FUZZ
@given(answer=json_values(("balance", "allowance")) | refusals)
def test_collateral_raises_only_venue_unavailable(venue: ClobVenue, answer: Any) -> None:
    with venue_answers(answer):
        balance = only_venue_unavailable(venue.collateral_micro)
    assert balance is None or type(balance) is int


@FUZZ
@given(answer=open_orders | json_values(ORDER_FIELDS) | refusals)
def test_get_order_raises_only_venue_unavailable(venue: ClobVenue, answer: Any) -> None:
    with venue_answers(answer):
        order = only_venue_unavailable(lambda: venue.get_order("0x1"))
    assert order is None or isinstance(order, VenueOrder)


@FUZZ
@given(answer=st.lists(json_values(("id", "type", "payload")), max_size=3) | refusals)
def test_notifications_raise_only_venue_unavailable(venue: ClobVenue, answer: Any) -> None:
    with venue_answers(answer):
        notices = only_venue_unavailable(venue.notifications)
    assert notices is None or all(isinstance(n, dict) for n in notices)


@FUZZ
@given(
    answer=corrupted("clob_book_response.json", keys=("bids", "asks", "price", "size"))
    | st.lists(corrupted("clob_book_response.json"), max_size=3)
    | refusals
)
def test_books_raise_only_venue_unavailable(venue: ClobVenue, answer: Any) -> None:
    with venue_answers(answer):
        only_venue_unavailable(lambda: venue.book("1"))
    with venue_answers(answer):
        books = only_venue_unavailable(lambda: venue.books(["1", "2"]))
    assert books is None or isinstance(books, dict)


# Found by fuzzing (fixed): a null or shapeless /data/orders page raised
# TypeError/KeyError out of open_orders()
@FUZZ
@example(answer=None)
@given(answer=pages(open_orders) | refusals)
def test_open_orders_raise_only_venue_unavailable(venue: ClobVenue, answer: Any) -> None:
    with venue_answers(answer):
        orders = only_venue_unavailable(venue.open_orders)
    assert orders is None or all(isinstance(o, VenueOrder) for o in orders)


# Found by fuzzing (fixed): a non-JSON /data/trades body (the client returns resp.text)
# raised TypeError out of fills()
@FUZZ
@example(answer="<html>bad gateway</html>")
@given(answer=pages(trades) | refusals)
def test_fills_raise_only_venue_unavailable(venue: ClobVenue, answer: Any) -> None:
    with venue_answers(answer):
        fills = only_venue_unavailable(venue.fills)
    assert fills is None or all(isinstance(f, FillEvent) for f in fills)


# Found by fuzzing (fixed): a trade page with data: null raised TypeError out of
# fills_of_trade()
@FUZZ
@example(answer={"data": None, "next_cursor": END})
@given(answer=pages(trades) | refusals)
def test_fills_of_trade_raise_only_venue_unavailable(venue: ClobVenue, answer: Any) -> None:
    with venue_answers(answer):
        fills = only_venue_unavailable(lambda: venue.fills_of_trade("t-1"))
    assert fills is None or all(isinstance(f, FillEvent) for f in fills)


# Found by fuzzing (fixed): a /data/trades row that is not an object raised AttributeError
# out of token_balances()
@FUZZ
@example(answer={"data": ["x"], "next_cursor": END})
@given(answer=pages(trades) | refusals)
def test_token_balances_raise_only_venue_unavailable(venue: ClobVenue, answer: Any) -> None:
    venue._session = EmptyPositions()  # type: ignore[assignment]
    with venue_answers(answer):
        balances = only_venue_unavailable(venue.token_balances)
    assert balances is None or all(type(v) is int for v in balances.values())


# Found by fuzzing (fixed): a non-numeric /time answer raised ValueError out of
# server_time()
@FUZZ
@example(answer="<html>bad gateway</html>")
@given(answer=json_values() | refusals)
def test_server_time_raises_only_venue_unavailable(venue: ClobVenue, answer: Any) -> None:
    with venue_answers(answer):
        now = only_venue_unavailable(venue.server_time)
    assert now is None or type(now) is int


# Found by fuzzing (fixed): canceled: 5 in a cancel answer raised TypeError out of
# cancel()
@FUZZ
@example(answer={"canceled": 5, "not_canceled": {}})
@given(
    answer=corrupted(
        "http_batch_cancel_response.json",
        "http_cancel_response_ok.json",
        "http_cancel_response_failed.json",
        keys=("canceled", "not_canceled"),
    )
    | refusals
)
def test_cancel_raises_only_venue_unavailable(venue: ClobVenue, answer: Any) -> None:
    for call in (lambda: venue.cancel(["0x1"]), venue.cancel_all):
        with venue_answers(answer):
            reply = only_venue_unavailable(call)
        assert reply is None or isinstance(reply, CancelReply)


class EmptyPositions:
    """A Data API session listing no positions."""

    def get(self, url: str, timeout: float) -> Any:
        return _Answer([])


class _Answer:
    status_code = 200

    def __init__(self, body: Any) -> None:
        self.body = body

    def json(self) -> Any:
        return self.body


ORDER = PreparedOrder(
    OrderSpec("cid-1", "tok", Side.BUY, OrderType.GTC, 500_000, 10_000_000), "0xabc", None
)
post_answers = st.one_of(
    corrupted(
        "http_order_response_ok.json",
        "http_order_response_failed.json",
        "http_order_response_error_500.json",
        keys=("success", "orderID", "errorMsg", "tradeIDs", "status"),
        extra=[
            {"success": True, "orderID": "0xabc", "tradeIDs": ["t-1"], "status": "live"}
        ],
    ),
    refusals,
)


# Found by fuzzing (fixed): tradeIDs: 5 in an accepted order's answer made submit() raise
# TypeError
@FUZZ
@example(answer={"success": True, "orderID": "0xabc", "tradeIDs": 5})
@given(answer=post_answers)
def test_submit_never_raises(venue: ClobVenue, answer: Any) -> None:
    # Only the POST is faked here; the trade read that follows gets the empty last page.
    venue._payload = lambda order: {}  # type: ignore[method-assign]
    with venue_answers(answer):
        reply = venue.submit(ORDER)
    assert isinstance(reply, PlaceReply) and reply.client_order_id == "cid-1"
    if reply.status is PlaceStatus.REJECTED:
        assert reply.error and DUPLICATED not in reply.error
    with venue_answers([answer]):
        (reply,) = venue.submit_batch([ORDER])
    assert isinstance(reply, PlaceReply)
