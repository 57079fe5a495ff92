"""Polymarket market data: parsers on real payloads, fuzzing, Gamma over local HTTP."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from src.data.market_data.polymarket import (
    GammaClient,
    MarketDataError,
    MarketDirectory,
    MarketInfo,
    Outcome,
    TransientHTTPError,
    parse_book,
    parse_gamma_market,
    parse_midpoints,
)
from src.data.market_data.windows import WindowRef
from src.utils.clock import SimClock
from tests.conftest import shared_path

START = 1_767_225_600  # 2026-01-01 00:00 UTC


def gamma_market(slug: str = f"btc-updown-15m-{START}", **changes: Any) -> dict[str, Any]:
    """A 15-minute market in Gamma's shape (JSON-string lists, ISO times)."""
    market = {
        "id": "1",
        "slug": slug,
        "conditionId": "0xcond",
        "outcomes": '["Up", "Down"]',
        "outcomePrices": '["0.505", "0.495"]',
        "clobTokenIds": '["111", "222"]',
        "eventStartTime": "2026-01-01T00:00:00Z",
        "endDate": "2026-01-01T00:15:00Z",
        "orderPriceMinTickSize": 0.01,
        "orderMinSize": 5,
        "negRisk": False,
        "acceptingOrders": True,
        "closed": False,
        "feesEnabled": True,
        "feeSchedule": {"exponent": 1, "rate": 0.07, "takerOnly": True, "rebateRate": 0.2},
    }
    market.update(changes)
    return market


def fixture(name: str) -> Any:
    return json.loads(shared_path("reference", "fixtures", name).read_text())


def test_parse_a_15_minute_market() -> None:
    info = parse_gamma_market(gamma_market())
    assert info.window == WindowRef("BTC", START)
    assert (info.up_token_id, info.down_token_id) == ("111", "222")
    assert info.token_for(Outcome.DOWN) == "222"
    assert info.tick_size == Decimal("0.01") and info.min_order_size == 5
    assert (info.fee_rate, info.fee_exponent) == (Decimal("0.07"), 1)
    assert info.accepting_orders and not info.closed and info.outcome is None


def test_token_order_follows_outcomes() -> None:
    info = parse_gamma_market(gamma_market(outcomes='["Down", "Up"]'))
    assert (info.up_token_id, info.down_token_id) == ("222", "111")


@pytest.mark.parametrize(
    ("prices", "outcome"),
    [
        ('["1", "0"]', Outcome.UP),
        ('["0", "1"]', Outcome.DOWN),
        ('["0", "0"]', None),
        ('["0.5", "0.5"]', None),
    ],
)
def test_resolution(prices: str, outcome: Outcome | None) -> None:
    info = parse_gamma_market(gamma_market(closed=True, outcomePrices=prices))
    assert info.outcome is outcome


def test_event_wrapping_one_market_and_legacy_close_time() -> None:
    event = {"slug": "x", "markets": [gamma_market(endDate="2026-01-01 00:15:00+00")]}
    assert parse_gamma_market(event).end == START + 900


def test_fees_disabled() -> None:
    assert parse_gamma_market(gamma_market(feesEnabled=False)).fee_rate == 0


@pytest.mark.parametrize(
    "changes",
    [
        {"outcomes": '["Yes", "No"]'},
        {"clobTokenIds": '["1"]'},
        {"clobTokenIds": "not json"},
        {"endDate": "yesterday"},
        {"endDate": "2025-12-31T00:00:00Z"},
        {"orderPriceMinTickSize": "NaN"},
        {"negRisk": "false"},
        {"conditionId": None},
        {"feeSchedule": {"rate": "Infinity"}},
        {"feeSchedule": {"rate": 0.07, "exponent": 7}},
        {"endDate": "2026-01-01T00:15:00"},
    ],
)
def test_malformed_markets_raise_a_typed_error(changes: dict[str, Any]) -> None:
    with pytest.raises(MarketDataError):
        parse_gamma_market(gamma_market(**changes))


def test_real_gamma_fixtures() -> None:
    info = parse_gamma_market(fixture("gamma_market.json"))
    assert info.coin == "BTC" and info.end - info.start == 300  # a 5-minute sibling
    assert len(info.up_token_id) > 30
    for name in (
        "gamma_market_closed_binary_accepting_false.json",
        "gamma_market_sports_market_money_line.json",
        "gamma_event.json",
    ):
        with pytest.raises(MarketDataError):
            parse_gamma_market(fixture(name))  # not Up/Down markets


def test_parse_book_sorts_best_first() -> None:
    book = parse_book(fixture("clob_book_response.json"))
    assert book.best_bid == Decimal("0.50") and book.best_ask == Decimal("0.51")
    assert book.mid == Decimal("0.505") and book.spread == Decimal("0.01")
    assert [lv.price for lv in book.bids] == sorted(
        (lv.price for lv in book.bids), reverse=True
    )
    assert (
        book.ask_depth_usd(Decimal("0.52")) == Decimal("0.51") * 120 + Decimal("0.52") * 180
    )


def test_book_edge_cases() -> None:
    empty = parse_book({"asset_id": "1", "bids": [], "asks": [], "timestamp": "5"})
    assert empty.mid is None and empty.spread is None and empty.best_bid is None
    with pytest.raises(MarketDataError, match="crossed"):
        parse_book(
            {
                "asset_id": "1",
                "bids": [{"price": "0.6", "size": "1"}],
                "asks": [{"price": "0.5", "size": "1"}],
            }
        )
    with pytest.raises(MarketDataError):
        parse_book({"asset_id": "1", "bids": [{"price": "1.5", "size": "1"}], "asks": []})
    zero = parse_book(
        {"asset_id": "1", "bids": [{"price": "0.4", "size": "0"}], "asks": []}
    )
    assert zero.bids == ()


def test_midpoints_skip_bad_entries() -> None:
    mids = parse_midpoints({"1": "0.5", "2": "abc", "3": None, "4": "1.2", "5": 0.25})
    assert mids == {"1": Decimal("0.5"), "5": Decimal("0.25")}
    with pytest.raises(MarketDataError):
        parse_midpoints(["0.5"])


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=15), inner, max_size=6)
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_parsers_never_raise_anything_but_market_data_error(payload: Any) -> None:
    for parser in (parse_gamma_market, parse_book, parse_midpoints):
        with contextlib.suppress(MarketDataError):
            parser(payload)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(list(gamma_market())), json_values, max_size=5))
def test_corrupting_fields_of_a_real_market_is_always_handled(
    corrupt: dict[str, Any],
) -> None:
    try:
        info = parse_gamma_market(gamma_market(**corrupt))
    except MarketDataError:
        return
    assert isinstance(info, MarketInfo) and info.end > info.start


# --- Gamma over real HTTP on 127.0.0.1 -------------------------------------------------


class _Gamma(BaseHTTPRequestHandler):
    responses: ClassVar[list[tuple[int, str]]] = []
    paths: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        _Gamma.paths.append(self.path)
        status, body = _Gamma.responses.pop(0) if _Gamma.responses else (404, "{}")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def gamma_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Gamma)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Gamma.responses, _Gamma.paths = [], []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_gamma_client_retries_transient_errors(gamma_server: str) -> None:
    _Gamma.responses = [
        (502, "bad gateway"),
        (429, "{}"),
        (200, json.dumps(gamma_market())),
    ]
    info = GammaClient(gamma_server, wait_s=0).market_by_slug(f"btc-updown-15m-{START}")
    assert info is not None and info.up_token_id == "111"
    assert _Gamma.paths == [f"/markets/slug/btc-updown-15m-{START}"] * 3


def test_gamma_client_not_listed_and_gives_up(gamma_server: str) -> None:
    client = GammaClient(gamma_server, attempts=2, wait_s=0)
    assert client.market_by_slug("btc-updown-15m-0") is None  # 404
    _Gamma.responses = [(500, ""), (500, "")]
    with pytest.raises(TransientHTTPError):
        client.market_by_slug("btc-updown-15m-0")
    _Gamma.responses = [(200, "not json")]
    with pytest.raises(MarketDataError):
        client.market_by_slug("btc-updown-15m-0")


def test_directory_never_blocks_and_caches() -> None:
    release = threading.Event()
    calls: list[str] = []

    def slow_fetch(slug: str) -> MarketInfo | None:
        calls.append(slug)
        assert release.wait(5)
        return parse_gamma_market(gamma_market(slug))

    clock = SimClock(start=START)
    directory = MarketDirectory(slow_fetch, clock, retry_after_s=4)
    window = WindowRef("BTC", START)
    assert directory.lookup(window) is None  # returns at once, fetch in flight
    assert directory.lookup(window) is None  # no second fetch while one is in flight
    release.set()
    info = directory.wait(window, timeout_s=5)
    assert info is not None and info.slug == window.slug
    assert directory.lookup(window) is info and calls == [window.slug]
    directory.close()


def test_directory_retries_a_missing_market_after_a_pause() -> None:
    attempts: list[str] = []

    def not_listed(slug: str) -> MarketInfo | None:
        attempts.append(slug)
        return None

    clock = SimClock(start=START)
    directory = MarketDirectory(not_listed, clock, retry_after_s=4)
    window = WindowRef("ETH", START)
    assert directory.wait(window, 5) is None
    assert directory.lookup(window) is None and len(attempts) == 1  # too soon to retry
    clock.advance(5)
    assert directory.wait(window, 5) is None and len(attempts) == 2
    directory.close()


def test_directory_survives_a_broken_fetch() -> None:
    def broken(slug: str) -> MarketInfo | None:
        raise MarketDataError("garbage")

    directory = MarketDirectory(broken, SimClock(start=START))
    assert directory.wait(WindowRef("SOL", START), 5) is None
    directory.close()


def test_deeply_nested_json_strings_are_refused_not_fatal() -> None:
    # py_ecc (via the CLOB client) raises the recursion limit; unbounded json.loads on this
    # would crash the process instead of raising.
    with pytest.raises(MarketDataError):
        parse_gamma_market(gamma_market(outcomes="[" * 30_000 + "]" * 30_000))
