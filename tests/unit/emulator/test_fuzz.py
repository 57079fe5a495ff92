"""Fuzz: whatever arrives, the parsers and verifiers answer only with their typed errors."""

from __future__ import annotations

import copy
import functools
import json
from typing import Any

from eth_account import Account
from hypothesis import given, settings
from hypothesis import strategies as st
from py_clob_client_v2.signer import Signer

from src.sim.emulator.auth import (
    POLYGON,
    ApiKeyStore,
    L2Auth,
    verify_l1_headers,
    verify_l2_headers,
)
from src.sim.emulator.errors import L1AuthError, L2AuthError, OrderRejectedError
from src.sim.emulator.orders import (
    SignedOrderV2,
    accept_order,
    exchange_domain,
    parse_order_body,
    parse_orders_body,
)
from tests.unit.emulator.orders_support import (
    V2_ORDER_FIELDS,
    limit_order,
    request_dict,
    wire,
)

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**200, max_value=2**300)
    | st.floats()
    | st.text(max_size=80)
    | st.sampled_from(["BUY", "SELL", "GTC", "FOK", "0", "0x", "0x" + "00" * 32, "1" * 80]),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.text(max_size=12), children, max_size=6)
    ),
    max_leaves=40,
)
ORDER_KEYS = list(V2_ORDER_FIELDS)
TOP_KEYS = ["order", "owner", "orderType", "postOnly", "deferExec"]
HEADER_NAMES = [
    "POLY_ADDRESS",
    "POLY_SIGNATURE",
    "POLY_TIMESTAMP",
    "POLY_NONCE",
    "POLY_API_KEY",
    "POLY_PASSPHRASE",
    "poly_address",
    "Other",
]


@functools.cache
def valid_case() -> tuple[dict[str, Any], L2Auth, ApiKeyStore]:
    """One valid order from a throw-away key (cached: we fuzz parsing, not keygen)."""
    account = Account.create()
    store = ApiKeyStore(b"fuzz")
    creds = store.create(account.address, 0)
    order = limit_order(Signer(account.key.hex(), POLYGON))
    auth = L2Auth(address=account.address, api_key=creds.api_key, timestamp=0)
    return request_dict(order, creds.api_key), auth, store


def parse_both(body: bytes | str) -> None:
    for parse in (parse_order_body, parse_orders_body):
        try:
            result = parse(body)
        except OrderRejectedError:
            continue
        orders = result if isinstance(result, tuple) else (result,)
        for order in orders:
            # The derived values must be total too: no ZeroDivision, no Decimal overflow.
            assert order.price >= 0  # a non-terminating ratio below 1e-18 rounds to 0
            assert order.size > 0
            order.hash_in(exchange_domain(neg_risk=False))


@given(JSON)
def test_any_json_value(value: object) -> None:
    parse_both(json.dumps(value))


@given(st.binary(max_size=300) | st.text(max_size=300))
def test_any_bytes_or_text(body: bytes | str) -> None:
    parse_both(body)


@given(
    st.fixed_dictionaries({key: JSON for key in ORDER_KEYS}),
    st.sampled_from(["GTC", "FOK"]),
)
def test_any_values_in_every_order_field(order: dict[str, object], order_type: str) -> None:
    parse_both(json.dumps({"order": order, "owner": "k", "orderType": order_type}))


@given(
    st.integers(min_value=1, max_value=2**256 - 1),
    st.integers(min_value=1, max_value=2**256 - 1),
    st.sampled_from(["BUY", "SELL"]),
)
def test_extreme_amounts_parse_and_price(maker: int, taker: int, side: str) -> None:
    payload, _, _ = valid_case()
    payload = copy.deepcopy(payload)
    payload["order"].update(makerAmount=str(maker), takerAmount=str(taker), side=side)
    parse_both(wire(payload))


@settings(max_examples=150)
@given(
    st.sampled_from(["order." + key for key in ORDER_KEYS] + TOP_KEYS),
    JSON,
    st.booleans(),
)
def test_one_field_replaced_or_dropped(where: str, value: object, drop: bool) -> None:
    payload, auth, _ = valid_case()
    payload = copy.deepcopy(payload)
    target = payload["order"] if where.startswith("order.") else payload
    key = where.removeprefix("order.")
    if drop:
        target.pop(key, None)
    else:
        target[key] = value
    try:
        parsed = parse_order_body(wire(payload))
        signed = accept_order(parsed, auth=auth, domain=exchange_domain(neg_risk=False))
    except OrderRejectedError:
        return
    assert isinstance(signed, SignedOrderV2)
    # Whatever survived verification still carries exactly the signed values.
    original, _, _ = valid_case()
    assert signed.maker_amount == int(original["order"]["makerAmount"])
    assert signed.signature == original["order"]["signature"]


@given(
    st.dictionaries(st.sampled_from(HEADER_NAMES), st.text(max_size=140), max_size=8),
    st.floats(),
)
def test_l1_headers_fuzz(headers: dict[str, str], now: float) -> None:
    try:
        verify_l1_headers(headers, now=now)
    except L1AuthError:
        return
    raise AssertionError("random headers verified")


@given(
    st.dictionaries(st.sampled_from(HEADER_NAMES), st.text(max_size=140), max_size=8),
    st.booleans(),
    st.text(max_size=20),
    st.text(max_size=60),
    st.none() | st.binary(max_size=80) | st.text(max_size=80),
    st.floats(),
)
def test_l2_headers_fuzz(
    headers: dict[str, str],
    real_key: bool,
    method: str,
    path: str,
    body: bytes | str | None,
    now: float,
) -> None:
    _, auth, store = valid_case()
    if real_key:
        # Get past the key lookup so the timestamp, HMAC and body paths are fuzzed too.
        record = store.lookup(auth.api_key)
        assert record is not None
        headers = {
            **headers,
            "POLY_API_KEY": auth.api_key,
            "POLY_PASSPHRASE": record.credentials.passphrase,
            "POLY_ADDRESS": auth.address,
        }
    try:
        verify_l2_headers(
            headers, method=method, path=path, body=body, store=store, now=now
        )
    except L2AuthError:
        return
    raise AssertionError("random headers verified")
