"""L2 (HMAC) verification against every L2 request the real client makes."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from eth_account.signers.local import LocalAccount
from py_clob_client_v2 import (
    ApiCreds,
    AssetType,
    BalanceAllowanceParams,
    ClobClient,
    DropNotificationParams,
    OpenOrderParams,
    OrderMarketCancelParams,
    OrderPayload,
    OrderScoringParams,
    OrdersScoringParams,
    TradeParams,
)
from py_clob_client_v2.clob_types import RequestArgs
from py_clob_client_v2.headers.headers import create_level_2_headers
from py_clob_client_v2.signer import Signer

from src.sim.emulator.auth import (
    ApiKeyStore,
    AuthPolicy,
    L2Auth,
    hmac_signature,
    request_path,
    verify_l2_headers,
)
from src.sim.emulator.errors import UNAUTHORIZED, AuthFailure, L2AuthError
from tests.unit.emulator.fake_clob import Call, FakeTransport

NOW = 1_790_000_000
ORDER_ID = "0x" + "ab" * 32
CONDITION = "0x" + "cd" * 32
TOKEN = "71321045679252212594626385532706912750332728571942532289631379312455583992563"

# Every L2 method of ClobClient: how to call it, and the method + path it must hit.
L2_CALLS: list[tuple[str, Callable[[ClobClient], object], str, str]] = [
    ("get_api_keys", lambda c: c.get_api_keys(), "GET", "/auth/api-keys"),
    (
        "get_closed_only_mode",
        lambda c: c.get_closed_only_mode(),
        "GET",
        "/auth/ban-status/closed-only",
    ),
    ("delete_api_key", lambda c: c.delete_api_key(), "DELETE", "/auth/api-key"),
    ("get_order", lambda c: c.get_order(ORDER_ID), "GET", f"/data/order/{ORDER_ID}"),
    (
        "get_open_orders",
        lambda c: c.get_open_orders(OpenOrderParams(market=CONDITION, asset_id=TOKEN)),
        "GET",
        "/data/orders",
    ),
    (
        "get_pre_migration_orders",
        lambda c: c.get_pre_migration_orders(),
        "GET",
        "/data/pre-migration-orders",
    ),
    (
        "get_trades",
        lambda c: c.get_trades(TradeParams(market=CONDITION, after=1, maker_address="0x1")),
        "GET",
        "/data/trades",
    ),
    (
        "get_trades_paginated",
        lambda c: c.get_trades_paginated(TradeParams(id="t1")),
        "GET",
        "/data/trades",
    ),
    ("get_notifications", lambda c: c.get_notifications(), "GET", "/notifications"),
    (
        "drop_notifications",
        lambda c: c.drop_notifications(DropNotificationParams(ids=["1", "2"])),
        "DELETE",
        "/notifications",
    ),
    (
        "get_balance_allowance",
        lambda c: c.get_balance_allowance(
            BalanceAllowanceParams(asset_type=AssetType.COLLATERAL)
        ),
        "GET",
        "/balance-allowance",
    ),
    (
        "update_balance_allowance",
        lambda c: c.update_balance_allowance(
            BalanceAllowanceParams(asset_type=AssetType.CONDITIONAL, token_id=TOKEN)
        ),
        "GET",
        "/balance-allowance/update",
    ),
    (
        "cancel_order",
        lambda c: c.cancel_order(OrderPayload(orderID=ORDER_ID)),
        "DELETE",
        "/order",
    ),
    ("cancel_orders", lambda c: c.cancel_orders([ORDER_ID, ORDER_ID]), "DELETE", "/orders"),
    ("cancel_all", lambda c: c.cancel_all(), "DELETE", "/cancel-all"),
    (
        "cancel_market_orders",
        lambda c: c.cancel_market_orders(
            OrderMarketCancelParams(market=CONDITION, asset_id=TOKEN)
        ),
        "DELETE",
        "/cancel-market-orders",
    ),
    (
        "cancel_market_orders(empty)",
        lambda c: c.cancel_market_orders(OrderMarketCancelParams()),
        "DELETE",
        "/cancel-market-orders",
    ),
    (
        "is_order_scoring",
        lambda c: c.is_order_scoring(OrderScoringParams(orderId=ORDER_ID)),
        "GET",
        "/order-scoring",
    ),
    (
        "are_orders_scoring",
        lambda c: c.are_orders_scoring(OrdersScoringParams(orderIds=[ORDER_ID])),
        "POST",
        "/orders-scoring",
    ),
    (
        "get_earnings_for_user_for_day",
        lambda c: c.get_earnings_for_user_for_day("2026-11-01"),
        "GET",
        "/rewards/user",
    ),
    (
        "get_total_earnings_for_user_for_day",
        lambda c: c.get_total_earnings_for_user_for_day("2026-11-01"),
        "GET",
        "/rewards/user/total",
    ),
    (
        "get_user_earnings_and_markets_config",
        lambda c: c.get_user_earnings_and_markets_config("2026-11-01"),
        "GET",
        "/rewards/user/markets",
    ),
    (
        "get_reward_percentages",
        lambda c: c.get_reward_percentages(),
        "GET",
        "/rewards/user/percentages",
    ),
    (
        "create_builder_api_key",
        lambda c: c.create_builder_api_key(),
        "POST",
        "/auth/builder-api-key",
    ),
    (
        "get_builder_api_keys",
        lambda c: c.get_builder_api_keys(),
        "GET",
        "/auth/builder-api-key",
    ),
    (
        "revoke_builder_api_key",
        lambda c: c.revoke_builder_api_key(),
        "DELETE",
        "/auth/builder-api-key",
    ),
    (
        "create_readonly_api_key",
        lambda c: c.create_readonly_api_key(),
        "POST",
        "/auth/readonly-api-key",
    ),
    (
        "get_readonly_api_keys",
        lambda c: c.get_readonly_api_keys(),
        "GET",
        "/auth/readonly-api-keys",
    ),
    (
        "delete_readonly_api_key",
        lambda c: c.delete_readonly_api_key("it's a key"),
        "DELETE",
        "/auth/readonly-api-key",
    ),
    ("post_heartbeat", lambda c: c.post_heartbeat("hb-1"), "POST", "/v1/heartbeats"),
    ("post_heartbeat(first)", lambda c: c.post_heartbeat(), "POST", "/v1/heartbeats"),
]


def verify(call: Call, store: ApiKeyStore, **overrides: object) -> L2Auth:
    assert call.headers is not None
    arguments: dict[str, object] = {
        "method": call.method,
        "path": call.target,
        "body": call.body,
        "store": store,
        "now": int(call.headers.get("POLY_TIMESTAMP", NOW)),
    }
    arguments.update(overrides)
    return verify_l2_headers(call.headers, **arguments)


def rejected(call: Call, store: ApiKeyStore, **overrides: object) -> AuthFailure:
    with pytest.raises(L2AuthError) as caught:
        verify(call, store, **overrides)
    assert caught.value.status == 401
    assert caught.value.body() == {"error": UNAUTHORIZED}
    return caught.value.reason


@pytest.mark.parametrize(
    ("name", "invoke", "method", "path"), L2_CALLS, ids=[row[0] for row in L2_CALLS]
)
def test_every_l2_request_verifies(
    name: str,
    invoke: Callable[[ClobClient], object],
    method: str,
    path: str,
    client: ClobClient,
    transport: FakeTransport,
    store: ApiKeyStore,
    account: LocalAccount,
    creds: ApiCreds,
) -> None:
    invoke(client)
    assert transport.calls, name
    for call in transport.calls:
        assert (call.method, call.path) == (method, path)
        auth = verify(call, store)
        assert auth == L2Auth(
            address=account.address, api_key=creds.api_key, timestamp=auth.timestamp
        )


def test_paginated_headers_are_reused_across_pages(
    client: ClobClient, transport: FakeTransport, store: ApiKeyStore
) -> None:
    pages = iter(["Mg==", "LTE="])
    transport.handler = lambda call: {"next_cursor": next(pages), "data": [{"id": "x"}]}
    assert len(client.get_open_orders()) == 2
    first, second = transport.calls
    assert first.headers == second.headers
    assert first.target != second.target  # only the query string moved
    verify(first, store)
    verify(second, store)


@pytest.fixture
def posted(client: ClobClient, transport: FakeTransport) -> Call:
    client.cancel_market_orders(OrderMarketCancelParams(market="it's", asset_id=TOKEN))
    return transport.last


def test_single_quotes_are_signed_as_double_quotes(
    posted: Call, store: ApiKeyStore
) -> None:
    assert posted.body is not None
    assert b"it's" in posted.body  # the wire keeps the quote; only the signed copy changes
    verify(posted, store)


def test_query_string_is_not_signed(posted: Call, store: ApiKeyStore) -> None:
    verify(posted, store, path="/cancel-market-orders?whatever=1")
    assert request_path("/data/orders?next_cursor=MA==") == "/data/orders"


@pytest.mark.parametrize(
    ("override", "value"),
    [
        ("method", "POST"),
        ("method", "delete"),
        ("path", "/cancel-all"),
        ("path", "/cancel-market-orders/"),
        ("body", b'{"market":"other"}'),
        ("body", None),
        ("body", b"\xff\xfe not utf-8"),
    ],
)
def test_tampered_request_is_rejected(
    posted: Call, store: ApiKeyStore, override: str, value: object
) -> None:
    assert rejected(posted, store, **{override: value}) is AuthFailure.BAD_SIGNATURE


def test_wrong_secret_is_rejected(
    signer: Signer, creds: ApiCreds, store: ApiKeyStore
) -> None:
    forged = ApiCreds(creds.api_key, "A" * 43 + "=", creds.api_passphrase)
    headers = create_level_2_headers(
        signer, forged, RequestArgs("DELETE", "/cancel-all"), timestamp=NOW
    )
    call = Call("DELETE", "http://emulator.test/cancel-all", headers, None, None)
    assert rejected(call, store, now=NOW) is AuthFailure.BAD_SIGNATURE


def test_wrong_passphrase_is_rejected(posted: Call, store: ApiKeyStore) -> None:
    assert posted.headers is not None
    headers = {**posted.headers, "POLY_PASSPHRASE": "0" * 64}
    call = Call(posted.method, posted.url, headers, posted.data, posted.params)
    assert rejected(call, store) is AuthFailure.BAD_PASSPHRASE


def test_unknown_and_deleted_keys_are_rejected(
    posted: Call, store: ApiKeyStore, creds: ApiCreds
) -> None:
    assert posted.headers is not None
    unknown = {**posted.headers, "POLY_API_KEY": "00000000-0000-4000-8000-000000000000"}
    call = Call(posted.method, posted.url, unknown, posted.data, posted.params)
    assert rejected(call, store) is AuthFailure.UNKNOWN_API_KEY
    store.delete(creds.api_key)
    assert rejected(posted, store) is AuthFailure.UNKNOWN_API_KEY


def test_other_address_with_a_stolen_key_is_rejected(
    posted: Call, store: ApiKeyStore, other_account: LocalAccount
) -> None:
    assert posted.headers is not None
    headers = {**posted.headers, "POLY_ADDRESS": other_account.address}
    call = Call(posted.method, posted.url, headers, posted.data, posted.params)
    assert rejected(call, store) is AuthFailure.ADDRESS_MISMATCH


@pytest.mark.parametrize("offset", [-61, 61, 3600])
def test_stale_timestamp_is_rejected(posted: Call, store: ApiKeyStore, offset: int) -> None:
    assert posted.headers is not None
    now = int(posted.headers["POLY_TIMESTAMP"]) + offset
    assert rejected(posted, store, now=now) is AuthFailure.STALE_TIMESTAMP
    verify(posted, store, now=now, policy=AuthPolicy(max_skew_seconds=None))


@pytest.mark.parametrize(
    "name",
    ["POLY_ADDRESS", "POLY_SIGNATURE", "POLY_TIMESTAMP", "POLY_API_KEY", "POLY_PASSPHRASE"],
)
def test_missing_header_is_rejected(posted: Call, store: ApiKeyStore, name: str) -> None:
    assert posted.headers is not None
    headers = {key: value for key, value in posted.headers.items() if key != name}
    call = Call(posted.method, posted.url, headers, posted.data, posted.params)
    assert rejected(call, store) is AuthFailure.MISSING_HEADER


def test_hmac_matches_the_client_function(creds: ApiCreds) -> None:
    from py_clob_client_v2.signing.hmac import build_hmac_signature

    body = '{"orderID":"0xab","note":"it\'s"}'
    ours = hmac_signature(creds.api_secret, str(NOW), "DELETE", "/order", body)
    assert ours == build_hmac_signature(creds.api_secret, NOW, "DELETE", "/order", body)
    assert hmac_signature(
        creds.api_secret, str(NOW), "GET", "/x", ""
    ) == build_hmac_signature(creds.api_secret, NOW, "GET", "/x", None)
