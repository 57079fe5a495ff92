"""``ClobVenue``'s paged ``/data/*`` reads, offline: the real ``py_clob_client_v2`` with
its HTTP layer (``http_helpers.helpers.request``) answering scripted pages.

A normal venue is paged from ``MA==`` to ``LTE=`` as the client does; a venue that repeats
a cursor or never sends the last one fails the read with ``VenueUnavailableError`` (what
every caller already handles) instead of keeping the bot in the loop for ever.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from py_clob_client_v2 import ApiCreds, ClobClient
from py_clob_client_v2.http_helpers import helpers

from src.trading.venue.clob import DATA_PAGE, MAX_PAGES, ClobVenue
from src.trading.venue.port import VenueUnavailableError

START, END = "MA==", "LTE="


def cursor(n: int) -> str:
    return base64.b64encode(str(n).encode()).decode()


@pytest.fixture
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


@pytest.fixture
def venue_pages(monkeypatch: pytest.MonkeyPatch) -> Callable[..., list[dict[str, Any]]]:
    """Install ``answer(params) -> page``; returns the list of requests' params."""

    def install(answer: Callable[[dict[str, Any]], Any]) -> list[dict[str, Any]]:
        asked: list[dict[str, Any]] = []

        def request(
            endpoint: str,
            method: str,
            headers: Any = None,
            data: Any = None,
            params: Any = None,
        ) -> Any:
            asked.append({"endpoint": endpoint, **(params or {})})
            return answer(params or {})

        monkeypatch.setattr(helpers, "request", request)
        return asked

    return install


def test_a_normal_venue_is_read_page_by_page_to_the_end_cursor(
    venue: ClobVenue, venue_pages: Callable[..., list[dict[str, Any]]]
) -> None:
    following = {START: cursor(2), cursor(2): cursor(4), cursor(4): END}
    asked = venue_pages(
        lambda p: {"data": [p["next_cursor"]], "next_cursor": following[p["next_cursor"]]}
    )
    assert venue._pages("trades", "/data/trades") == [START, cursor(2), cursor(4)]
    assert [a["next_cursor"] for a in asked] == [START, cursor(2), cursor(4)]
    assert all(a["endpoint"].endswith("/data/trades") for a in asked)


def test_an_empty_account_is_one_page(
    venue: ClobVenue, venue_pages: Callable[..., list[dict[str, Any]]]
) -> None:
    asked = venue_pages(lambda p: {"data": [], "next_cursor": END})
    assert venue.open_orders() == []
    assert venue.fills() == []
    assert [a["endpoint"] for a in asked] == [
        "http://127.0.0.1:9/data/orders",
        "http://127.0.0.1:9/data/trades",
    ]


def test_one_trade_is_its_first_page_only(
    venue: ClobVenue, venue_pages: Callable[..., list[dict[str, Any]]]
) -> None:
    asked = venue_pages(lambda p: {"data": [], "next_cursor": cursor(2)})
    assert venue.fills_of_trade("t-1") == []
    assert asked == [
        {"endpoint": "http://127.0.0.1:9/data/trades", "id": "t-1", "next_cursor": START}
    ]


@pytest.mark.parametrize(
    "repeated",
    [
        lambda p: cursor(2),  # the same next cursor on every page
        lambda p: START,  # back to the first page
        lambda p: {START: cursor(2), cursor(2): cursor(4)}.get(p["next_cursor"], START),
    ],
)
def test_a_repeated_cursor_fails_the_read(
    venue: ClobVenue,
    venue_pages: Callable[..., list[dict[str, Any]]],
    repeated: Callable[[dict[str, Any]], str],
) -> None:
    asked = venue_pages(lambda p: {"data": [], "next_cursor": repeated(p)})
    with pytest.raises(VenueUnavailableError, match="repeated a page cursor"):
        venue.open_orders()
    assert len(asked) <= 3
    asked.clear()
    with pytest.raises(VenueUnavailableError, match="repeated a page cursor"):
        venue.fills()
    assert len(asked) <= 3


def test_a_venue_that_never_sends_the_last_page_fails_after_max_pages(
    venue: ClobVenue, venue_pages: Callable[..., list[dict[str, Any]]]
) -> None:
    asked = venue_pages(
        lambda p: {
            "data": [],
            "next_cursor": cursor(int(base64.b64decode(p["next_cursor"])) + 1),
        }
    )
    with pytest.raises(VenueUnavailableError, match=f"no last page after {MAX_PAGES}"):
        venue.fills()
    assert len(asked) == MAX_PAGES
    assert len({a["next_cursor"] for a in asked}) == MAX_PAGES


@pytest.mark.parametrize("bad", [None, 5, ["MQ=="], ""])
def test_a_cursor_that_is_not_a_string_is_a_malformed_page(
    venue: ClobVenue, venue_pages: Callable[..., list[dict[str, Any]]], bad: Any
) -> None:
    asked = venue_pages(
        lambda p: {"data": [], "next_cursor": bad if p["next_cursor"] == START else END}
    )
    if bad == "":  # a string: asked for, as the client would, and the venue ends there
        assert venue.open_orders() == []
        assert [a["next_cursor"] for a in asked] == [START, ""]
        return
    with pytest.raises(VenueUnavailableError, match="malformed"):
        venue.open_orders()
    assert len(asked) == 1


class _Full:
    status_code = 200

    def json(self) -> Any:
        return [{"asset": str(i)} for i in range(DATA_PAGE)]


class _AlwaysFullPositions:
    """A Data API that answers a full page for every offset."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def get(self, url: str, timeout: float) -> Any:
        self.urls.append(url)
        return _Full()


def test_positions_that_never_end_fail_after_max_pages(venue: ClobVenue) -> None:
    session = _AlwaysFullPositions()
    venue._session = session  # type: ignore[assignment]
    with pytest.raises(VenueUnavailableError, match=f"no last page after {MAX_PAGES}"):
        venue._position_tokens()
    assert len(session.urls) == MAX_PAGES
    assert session.urls[-1].endswith(f"offset={(MAX_PAGES - 1) * DATA_PAGE}")
