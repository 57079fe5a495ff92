"""The public (L0) requests of py_clob_client_v2 1.2.1, as docs/EMULATOR_AUTH.md lists them.

L1 and L2 requests are pinned in test_auth_l1.py / test_auth_l2.py; this covers the rest, so
the endpoint table the HTTP server is built from is checked against the real client.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from py_clob_client_v2 import (
    BookParams,
    BuilderTradeParams,
    ClobClient,
    PricesHistoryParams,
)

from src.sim.emulator.auth import POLYGON
from tests.unit.emulator.fake_clob import Call, FakeTransport

TOKEN = "123456789"
CID = "0x" + "cd" * 32
BUILDER = "0x" + "0b" * 32


def answer(call: Call) -> object:
    """Minimal replies with the keys the client reads."""
    path = call.path
    replies: dict[str, object] = {
        "/ok": "OK",
        "/version": {"version": 2},
        "/time": 1_790_000_000,
        "/tick-size": {"minimum_tick_size": 0.01},
        "/neg-risk": {"neg_risk": False},
        "/fee-rate": {"base_fee": 0},
        f"/markets-by-token/{TOKEN}": {"condition_id": CID},
        f"/clob-markets/{CID}": {
            "t": [{"t": TOKEN, "o": "Up"}],
            "mts": 0.01,
            "fd": {"r": 0.07, "e": 1},
        },
        "/book": {
            "bids": [{"price": "0.48", "size": "30"}],
            "asks": [{"price": "0.52", "size": "100"}],
        },
    }
    return replies.get(path, {"next_cursor": "LTE=", "data": []})


L0_CALLS: list[
    tuple[str, Callable[[ClobClient], object], list[tuple[str, str, tuple[str, ...]]]]
] = [
    ("get_ok", lambda c: c.get_ok(), [("GET", "/ok", ())]),
    ("get_version", lambda c: c.get_version(), [("GET", "/version", ())]),
    ("get_server_time", lambda c: c.get_server_time(), [("GET", "/time", ())]),
    ("get_markets", lambda c: c.get_markets(), [("GET", "/markets", ("next_cursor",))]),
    (
        "get_simplified_markets",
        lambda c: c.get_simplified_markets(),
        [("GET", "/simplified-markets", ("next_cursor",))],
    ),
    (
        "get_sampling_markets",
        lambda c: c.get_sampling_markets(),
        [("GET", "/sampling-markets", ("next_cursor",))],
    ),
    (
        "get_sampling_simplified_markets",
        lambda c: c.get_sampling_simplified_markets(),
        [("GET", "/sampling-simplified-markets", ("next_cursor",))],
    ),
    ("get_market", lambda c: c.get_market(CID), [("GET", f"/markets/{CID}", ())]),
    (
        "get_clob_market_info",
        lambda c: c.get_clob_market_info(CID),
        [("GET", f"/clob-markets/{CID}", ())],
    ),
    (
        "get_order_book",
        lambda c: c.get_order_book(TOKEN),
        [("GET", "/book", ("token_id",))],
    ),
    (
        "get_order_books",
        lambda c: c.get_order_books([BookParams(TOKEN)]),
        [("POST", "/books", ())],
    ),
    (
        "get_tick_size",
        lambda c: c.get_tick_size(TOKEN),
        [("GET", "/tick-size", ("token_id",))],
    ),
    (
        "get_neg_risk",
        lambda c: c.get_neg_risk(TOKEN),
        [("GET", "/neg-risk", ("token_id",))],
    ),
    (
        "get_fee_rate_bps",
        lambda c: c.get_fee_rate_bps(TOKEN),
        [("GET", "/fee-rate", ("token_id",))],
    ),
    (
        "get_fee_exponent",
        lambda c: c.get_fee_exponent(TOKEN),
        [("GET", f"/markets-by-token/{TOKEN}", ()), ("GET", f"/clob-markets/{CID}", ())],
    ),
    (
        "get_midpoint",
        lambda c: c.get_midpoint(TOKEN),
        [("GET", "/midpoint", ("token_id",))],
    ),
    (
        "get_midpoints",
        lambda c: c.get_midpoints([BookParams(TOKEN)]),
        [("POST", "/midpoints", ())],
    ),
    (
        "get_price",
        lambda c: c.get_price(TOKEN, "BUY"),
        [("GET", "/price", ("side", "token_id"))],
    ),
    (
        "get_prices",
        lambda c: c.get_prices([BookParams(TOKEN, "SELL")]),
        [("POST", "/prices", ())],
    ),
    ("get_spread", lambda c: c.get_spread(TOKEN), [("GET", "/spread", ("token_id",))]),
    (
        "get_spreads",
        lambda c: c.get_spreads([BookParams(TOKEN)]),
        [("POST", "/spreads", ())],
    ),
    (
        "get_last_trade_price",
        lambda c: c.get_last_trade_price(TOKEN),
        [("GET", "/last-trade-price", ("token_id",))],
    ),
    (
        "get_last_trades_prices",
        lambda c: c.get_last_trades_prices([BookParams(TOKEN)]),
        [("POST", "/last-trades-prices", ())],
    ),
    (
        "get_prices_history",
        lambda c: c.get_prices_history(
            PricesHistoryParams(market=TOKEN, interval="1d", fidelity=5)
        ),
        [("GET", "/prices-history", ("fidelity", "interval", "market"))],
    ),
    (
        "get_current_rewards",
        lambda c: c.get_current_rewards(),
        [("GET", "/rewards/markets/current", ("next_cursor",))],
    ),
    (
        "get_raw_rewards_for_market",
        lambda c: c.get_raw_rewards_for_market(CID),
        [("GET", f"/rewards/markets/{CID}", ("next_cursor",))],
    ),
    (
        "get_builder_trades",
        lambda c: c.get_builder_trades(BuilderTradeParams(builder_code=BUILDER)),
        [("GET", "/builder/trades", ("builder_code", "next_cursor"))],
    ),
    (
        "get_market_trades_events",
        lambda c: c.get_market_trades_events(CID),
        [("GET", f"/markets/live-activity/{CID}", ())],
    ),
    (
        "calculate_market_price",
        lambda c: c.calculate_market_price(TOKEN, "BUY", 10),
        [("GET", "/book", ("token_id",))],
    ),
]


@pytest.mark.parametrize(
    ("name", "invoke", "expected"), L0_CALLS, ids=[row[0] for row in L0_CALLS]
)
def test_public_requests(
    name: str,
    invoke: Callable[[ClobClient], object],
    expected: list[tuple[str, str, tuple[str, ...]]],
) -> None:
    transport = FakeTransport(answer)
    client = transport.attach(ClobClient("http://emulator.test", POLYGON))
    invoke(client)
    seen = [
        (call.method, call.path, tuple(sorted(call.params or ())))
        for call in transport.calls
    ]
    assert seen == expected, name
    assert all(call.headers is None for call in transport.calls)


def test_book_params_body_drops_empty_side() -> None:
    transport = FakeTransport(answer)
    client = transport.attach(ClobClient("http://emulator.test", POLYGON))
    client.get_prices([BookParams(TOKEN, "BUY"), BookParams("9")])
    assert transport.last.data == [{"token_id": TOKEN, "side": "BUY"}, {"token_id": "9"}]
