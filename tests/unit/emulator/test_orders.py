"""V2 order parsing and verification against orders the real client signs."""

from __future__ import annotations

import copy
import dataclasses
import json
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from py_clob_client_v2 import (
    ApiCreds,
    ClobClient,
    MarketOrderArgs,
    OrderArgs,
    OrderType,
    PartialCreateOrderOptions,
    PostOrdersV2Args,
)
from py_clob_client_v2.clob_types import CreateOrderOptions
from py_clob_client_v2.config import get_contract_config
from py_clob_client_v2.order_builder.builder import OrderBuilder
from py_clob_client_v2.order_utils import SignatureTypeV2
from py_clob_client_v2.signer import Signer

from src.sim.emulator.auth import AMOY, POLYGON, ApiKeyStore, L2Auth, verify_l2_headers
from src.sim.emulator.errors import (
    INVALID_ORDER_VERSION,
    INVALID_SIGNATURE,
    OWNER_MISMATCH,
    SIGNER_MISMATCH,
    OrderBatchSizeError,
    OrderOwnerError,
    OrderPayloadError,
    OrderSignatureError,
    OrderSignerError,
    OrderVersionError,
)
from src.sim.emulator.orders import (
    ParsedOrderV2,
    SignatureType,
    SignedOrderV2,
    accept_order,
    exchange_domain,
    parse_order_body,
    parse_orders_body,
    verify_order_signature,
)
from src.sim.venue.errors import INVALID_ORDER_PAYLOAD
from src.sim.venue.types import OrderType as VenueOrderType
from src.sim.venue.types import Side
from tests.unit.emulator.fake_clob import Call, FakeTransport
from tests.unit.emulator.orders_support import (
    CONDITION,
    TOKEN,
    V2_ORDER_FIELDS,
    client_hash,
    limit_order,
    market_order,
    request_dict,
    wire,
)

ZERO32 = "0x" + "00" * 32


@pytest.fixture
def auth(account: LocalAccount, creds: ApiCreds) -> L2Auth:
    """The L2 caller: the account's own key."""
    return L2Auth(address=account.address, api_key=creds.api_key, timestamp=0)


def accept(body: bytes | str, auth: L2Auth, *, neg_risk: bool = False) -> SignedOrderV2:
    return accept_order(
        parse_order_body(body), auth=auth, domain=exchange_domain(neg_risk=neg_risk)
    )


def assert_same_order(parsed: ParsedOrderV2, order: Any) -> None:
    """Every signed field as the client built it."""
    assert parsed.salt == int(order.salt)
    assert parsed.maker == order.maker
    assert parsed.signer == order.signer
    assert parsed.token_id == order.tokenId
    assert parsed.maker_amount == int(order.makerAmount)
    assert parsed.taker_amount == int(order.takerAmount)
    assert parsed.side is (Side.BUY if int(order.side) == 0 else Side.SELL)
    assert parsed.expiration == int(order.expiration)
    assert parsed.timestamp == int(order.timestamp)
    assert parsed.metadata == order.metadata
    assert parsed.builder == order.builder
    assert parsed.signature_type == int(order.signatureType)
    assert parsed.signature == order.signature


# --- the exchange contracts ---------------------------------------------------------------


@pytest.mark.parametrize("chain_id", [POLYGON, AMOY])
def test_exchange_addresses_match_the_client_config(chain_id: int) -> None:
    config = get_contract_config(chain_id)
    assert (
        exchange_domain(neg_risk=False, chain_id=chain_id).verifying_contract
        == config.exchange_v2
    )
    assert (
        exchange_domain(neg_risk=True, chain_id=chain_id).verifying_contract
        == config.neg_risk_exchange_v2
    )
    v3 = exchange_domain(neg_risk=False, chain_id=chain_id, version=3)
    assert (v3.verifying_contract, v3.version) == (config.exchange_v3, "3")


@pytest.mark.parametrize(
    ("chain_id", "version", "neg_risk"),
    [(1, 2, False), (POLYGON, 1, False), (POLYGON, 3, True)],
)
def test_unknown_exchange_is_a_setup_error(
    chain_id: int, version: int, neg_risk: bool
) -> None:
    with pytest.raises(ValueError):
        exchange_domain(neg_risk=neg_risk, chain_id=chain_id, version=version)


# --- valid orders -------------------------------------------------------------------------

LIMIT_CASES = [
    ("BUY", 0.52, 10, "0.01"),
    ("SELL", 0.48, 12.5, "0.01"),
    ("BUY", 0.123, 7.77, "0.001"),
    ("SELL", 0.999, 5, "0.001"),
    ("BUY", 0.01, 1234.56, "0.01"),
]


@pytest.mark.parametrize("neg_risk", [False, True])
@pytest.mark.parametrize(("side", "price", "size", "tick"), LIMIT_CASES)
def test_limit_orders_verify(
    signer: Signer,
    auth: L2Auth,
    side: str,
    price: float,
    size: float,
    tick: str,
    neg_risk: bool,
) -> None:
    order = limit_order(signer, side, price, size, tick=tick, neg_risk=neg_risk)
    body = wire(request_dict(order, auth.api_key, "GTD", post_only=True))
    signed = accept(body, auth, neg_risk=neg_risk)
    assert_same_order(signed, order)
    assert signed.side is Side(side)
    assert signed.order_type is VenueOrderType.GTD
    assert (signed.post_only, signed.defer_exec, signed.owner) == (
        True,
        False,
        auth.api_key,
    )
    assert signed.price == Decimal(str(price))
    assert signed.size == Decimal(str(size))
    assert signed.price_fraction == signed.price
    assert signed.signing_eoa == auth.address
    domain = exchange_domain(neg_risk=neg_risk)
    assert signed.domain == domain
    assert signed.order_hash == client_hash(order, signer, domain)
    assert signed.order_hash == signed.hash_in(domain)


MARKET_CASES = [
    ("BUY", 5, 0.52, "0.01"),
    ("SELL", 10, 0.5, "0.01"),
    ("BUY", 3.33, 0.123, "0.001"),
    ("SELL", 7.25, 0.061, "0.001"),
]


@pytest.mark.parametrize("neg_risk", [False, True])
@pytest.mark.parametrize(("side", "amount", "price", "tick"), MARKET_CASES)
def test_market_orders_verify(
    signer: Signer,
    auth: L2Auth,
    side: str,
    amount: float,
    price: float,
    tick: str,
    neg_risk: bool,
) -> None:
    order = market_order(signer, side, amount, price, tick=tick, neg_risk=neg_risk)
    signed = accept(wire(request_dict(order, auth.api_key, "FOK")), auth, neg_risk=neg_risk)
    assert_same_order(signed, order)
    assert signed.order_type is VenueOrderType.FOK
    assert signed.order_hash == client_hash(
        order, signer, exchange_domain(neg_risk=neg_risk)
    )
    maker, taker = int(order.makerAmount), int(order.takerAmount)
    if side == "BUY":
        # BUY: maker pays collateral (the dollar amount), taker receives shares.
        assert signed.collateral_micro == maker == round(amount * 1_000_000)
        assert (signed.size_micro, signed.price_fraction) == (taker, Fraction(maker, taker))
    else:
        assert signed.size == Decimal(str(amount))
        assert signed.price_fraction == Fraction(taker, maker)


def test_market_buy_matches_the_reference_worked_example(
    signer: Signer, auth: L2Auth
) -> None:
    order = market_order(signer, "BUY", 5, 0.52)
    signed = accept(wire(request_dict(order, auth.api_key, "FAK")), auth)
    assert (signed.maker_amount, signed.taker_amount) == (5_000_000, 9_615_300)
    # 5 / 9.6153 does not terminate: the Decimal is rounded, the Fraction is exact.
    assert signed.price_fraction == Fraction(5_000_000, 9_615_300)
    assert signed.price == Decimal("0.520004576040269154")
    assert signed.size == Decimal("9.6153")


def test_order_signed_for_the_other_exchange_is_rejected(
    signer: Signer, auth: L2Auth
) -> None:
    body = wire(request_dict(limit_order(signer, neg_risk=True), auth.api_key))
    with pytest.raises(OrderSignatureError) as caught:
        accept(body, auth, neg_risk=False)
    assert caught.value.body() == {"error": INVALID_SIGNATURE}


@pytest.mark.parametrize(
    "signature_type", [SignatureTypeV2.POLY_PROXY, SignatureTypeV2.POLY_GNOSIS_SAFE]
)
def test_proxy_orders_record_the_wallet(
    signer: Signer, auth: L2Auth, signature_type: SignatureTypeV2
) -> None:
    wallet = "0x" + "5a" * 20
    order = limit_order(signer, signature_type=signature_type, funder=wallet)
    signed = accept(wire(request_dict(order, auth.api_key)), auth)
    assert signed.signature_type == int(signature_type)
    assert signed.maker.lower() == wallet
    assert signed.signer == signed.signing_eoa == auth.address


def test_deposit_wallet_1271_orders_verify(signer: Signer, auth: L2Auth) -> None:
    wallet = "0x" + "7c" * 20
    order = limit_order(signer, signature_type=SignatureTypeV2.POLY_1271, funder=wallet)
    signed = accept(wire(request_dict(order, auth.api_key)), auth)
    assert signed.signature_type is SignatureType.POLY_1271
    assert signed.maker.lower() == signed.signer.lower() == wallet
    assert signed.signing_eoa == auth.address
    assert signed.order_hash == client_hash(order, signer, exchange_domain(neg_risk=False))


def test_tampered_1271_envelope_is_rejected(signer: Signer, auth: L2Auth) -> None:
    wallet = "0x" + "7c" * 20
    order = limit_order(signer, signature_type=SignatureTypeV2.POLY_1271, funder=wallet)
    payload = request_dict(order, auth.api_key)
    payload["order"]["takerAmount"] = str(int(order.takerAmount) + 1)
    with pytest.raises(OrderSignatureError):
        accept(wire(payload), auth)
    with pytest.raises(OrderSignatureError):
        accept(wire(request_dict(order, auth.api_key)), auth, neg_risk=True)
    truncated = request_dict(order, auth.api_key)
    truncated["order"]["signature"] = order.signature[:-4]
    with pytest.raises(OrderSignatureError):
        accept(wire(truncated), auth)


def test_1271_order_of_another_eoa_is_rejected(
    signer: Signer, auth: L2Auth, other_account: LocalAccount
) -> None:
    other = Signer(other_account.key.hex(), POLYGON)
    order = limit_order(
        other, signature_type=SignatureTypeV2.POLY_1271, funder="0x" + "7c" * 20
    )
    with pytest.raises(OrderSignerError):
        accept(wire(request_dict(order, auth.api_key)), auth)


def test_exchange_v3_position_orders_verify(signer: Signer, auth: L2Auth) -> None:
    order = OrderBuilder(signer).build_order(
        OrderArgs(position_id=TOKEN, price=0.4, size=6, side="SELL"),
        CreateOrderOptions(tick_size="0.01", neg_risk=False),
    )
    parsed = parse_order_body(wire(request_dict(order, auth.api_key)))
    v3 = exchange_domain(neg_risk=False, version=3)
    signed = accept_order(parsed, auth=auth, domain=v3)
    assert signed.order_hash == client_hash(order, signer, v3)
    with pytest.raises(OrderSignatureError):
        accept_order(parsed, auth=auth, domain=exchange_domain(neg_risk=False))


def test_amoy_orders_need_the_amoy_domain(account: LocalAccount, auth: L2Auth) -> None:
    amoy = Signer(account.key.hex(), AMOY)
    parsed = parse_order_body(wire(request_dict(limit_order(amoy), auth.api_key)))
    assert accept_order(
        parsed, auth=auth, domain=exchange_domain(neg_risk=False, chain_id=AMOY)
    )
    with pytest.raises(OrderSignatureError):
        accept_order(parsed, auth=auth, domain=exchange_domain(neg_risk=False))


def test_verify_without_auth_keeps_the_fields(signer: Signer, auth: L2Auth) -> None:
    parsed = parse_order_body(wire(request_dict(limit_order(signer), auth.api_key)))
    signed = verify_order_signature(parsed, exchange_domain(neg_risk=False))
    assert isinstance(signed, ParsedOrderV2)
    assert all(
        getattr(signed, item.name) == getattr(parsed, item.name)
        for item in dataclasses.fields(ParsedOrderV2)
    )


# --- through the real client --------------------------------------------------------------


class MiniClob:
    """Just enough CLOB for create/post: market params and an /order running our checks."""

    def __init__(self, store: ApiKeyStore, *, neg_risk: bool) -> None:
        self.store = store
        self.neg_risk = neg_risk
        self.accepted: list[SignedOrderV2] = []

    def _accept(self, call: Call) -> list[SignedOrderV2]:
        assert call.headers is not None
        auth = verify_l2_headers(
            call.headers,
            method=call.method,
            path=call.target,
            body=call.body,
            store=self.store,
            now=int(call.headers["POLY_TIMESTAMP"]),
        )
        assert call.body is not None
        domain = exchange_domain(neg_risk=self.neg_risk)
        if call.path == "/order":
            parsed: tuple[ParsedOrderV2, ...] = (parse_order_body(call.body),)
        else:
            parsed = parse_orders_body(call.body)
        signed = [accept_order(order, auth=auth, domain=domain) for order in parsed]
        self.accepted.extend(signed)
        return signed

    def __call__(self, call: Call) -> object:
        route = (call.method, call.path)
        if route == ("GET", "/version"):
            return {"version": 2}
        if route == ("GET", "/tick-size"):
            return {"minimum_tick_size": 0.01}
        if route == ("GET", "/neg-risk"):
            return {"neg_risk": self.neg_risk}
        if route == ("GET", f"/markets-by-token/{TOKEN}"):
            return {"condition_id": CONDITION, "primary_token_id": TOKEN}
        if route == ("GET", f"/clob-markets/{CONDITION}"):
            return {
                "c": CONDITION,
                "t": [{"t": TOKEN, "o": "Up"}, {"t": "2", "o": "Down"}],
                "mts": 0.01,
                "nr": self.neg_risk,
                "fd": {"r": 0.07, "e": 1, "to": True},
            }
        if route in {("POST", "/order"), ("POST", "/orders")}:
            answers = [
                {
                    "success": True,
                    "errorMsg": "",
                    "orderID": order.order_hash,
                    "status": "live",
                    "makingAmount": "",
                    "takingAmount": "",
                    "transactionsHashes": [],
                }
                for order in self._accept(call)
            ]
            return answers[0] if call.path == "/order" else answers
        raise AssertionError(f"unexpected request {route}")


@pytest.mark.parametrize("neg_risk", [False, True])
def test_client_post_order_paths(
    account: LocalAccount, creds: ApiCreds, store: ApiKeyStore, neg_risk: bool
) -> None:
    clob = MiniClob(store, neg_risk=neg_risk)
    transport = FakeTransport(clob)
    client = transport.attach(
        ClobClient("http://emulator.test", POLYGON, key=account.key.hex(), creds=creds)
    )

    limit = client.create_and_post_order(
        OrderArgs(token_id=TOKEN, price=0.45, size=20, side="BUY"),
        PartialCreateOrderOptions(tick_size="0.01"),
        order_type=OrderType.GTC,
        post_only=True,
    )
    market = client.create_and_post_market_order(
        MarketOrderArgs(token_id=TOKEN, amount=12, side="SELL", price=0.4),
        PartialCreateOrderOptions(tick_size="0.01", neg_risk=neg_risk),
        order_type=OrderType.FAK,
    )
    first = client.create_order(OrderArgs(token_id=TOKEN, price=0.3, size=5, side="SELL"))
    second = client.create_market_order(
        MarketOrderArgs(token_id=TOKEN, amount=2, side="BUY", price=0.6)
    )
    batch = client.post_orders(
        [
            PostOrdersV2Args(order=first, orderType=OrderType.GTD),
            PostOrdersV2Args(order=second, orderType=OrderType.FOK),
        ]
    )

    ids = [limit["orderID"], market["orderID"]] + [answer["orderID"] for answer in batch]
    assert ids == [order.order_hash for order in clob.accepted]
    kinds = [(order.side, order.order_type, order.post_only) for order in clob.accepted]
    assert kinds == [
        (Side.BUY, VenueOrderType.GTC, True),
        (Side.SELL, VenueOrderType.FAK, False),
        (Side.SELL, VenueOrderType.GTD, False),
        (Side.BUY, VenueOrderType.FOK, False),
    ]
    domain = exchange_domain(neg_risk=neg_risk)
    signer = Signer(account.key.hex(), POLYGON)
    assert clob.accepted[2].order_hash == client_hash(first, signer, domain)
    assert clob.accepted[0].price == Decimal("0.45") and clob.accepted[0].size == 20


# --- rejections ---------------------------------------------------------------------------


@pytest.fixture
def valid(signer: Signer, auth: L2Auth) -> dict[str, Any]:
    return request_dict(limit_order(signer), auth.api_key)


def test_changed_amount_breaks_the_signature(valid: dict[str, Any], auth: L2Auth) -> None:
    for field in ("makerAmount", "takerAmount", "tokenId", "salt", "timestamp"):
        payload = copy.deepcopy(valid)
        payload["order"][field] = str(int(payload["order"][field]) + 1)
        with pytest.raises(OrderSignatureError):
            accept(wire(payload), auth)


@pytest.mark.parametrize(
    ("field", "value"),
    [("side", "SELL"), ("metadata", "0x01"), ("builder", "0x" + "ee" * 32)],
)
def test_changed_signed_field_breaks_the_signature(
    valid: dict[str, Any], auth: L2Auth, field: str, value: str
) -> None:
    valid["order"][field] = value
    with pytest.raises(OrderSignatureError):
        accept(wire(valid), auth)


def test_expiration_is_not_signed(valid: dict[str, Any], auth: L2Auth) -> None:
    valid["order"]["expiration"] = "1900000000"
    assert accept(wire(valid), auth).expiration == 1_900_000_000


def test_order_signed_by_someone_else(
    signer: Signer, auth: L2Auth, other_account: LocalAccount
) -> None:
    other = Signer(other_account.key.hex(), POLYGON)
    theirs = request_dict(limit_order(other), auth.api_key)
    # Their own order under my key: maker is not my address.
    with pytest.raises(OrderOwnerError) as caught:
        accept(wire(theirs), auth)
    assert caught.value.body() == {"error": OWNER_MISMATCH}
    # Their signature over an order that claims to be mine.
    forged = copy.deepcopy(theirs)
    forged["order"]["maker"] = forged["order"]["signer"] = auth.address
    with pytest.raises(OrderSignatureError):
        accept(wire(forged), auth)


def test_proxy_order_with_a_foreign_signer(
    auth: L2Auth, other_account: LocalAccount
) -> None:
    other = Signer(other_account.key.hex(), POLYGON)
    order = limit_order(
        other, signature_type=SignatureTypeV2.POLY_PROXY, funder=auth.address
    )
    with pytest.raises(OrderSignerError) as caught:
        accept(wire(request_dict(order, auth.api_key)), auth)
    assert caught.value.body() == {"error": SIGNER_MISMATCH}


def test_eoa_order_with_signer_not_maker_is_rejected(signer: Signer, auth: L2Auth) -> None:
    parsed = parse_order_body(wire(request_dict(limit_order(signer), auth.api_key)))
    other_maker = dataclasses.replace(parsed, maker="0x" + "44" * 20)
    with pytest.raises(OrderSignatureError):
        verify_order_signature(other_maker, exchange_domain(neg_risk=False))


def test_owner_must_be_the_callers_key(valid: dict[str, Any], auth: L2Auth) -> None:
    valid["owner"] = "00000000-0000-4000-8000-000000000000"
    with pytest.raises(OrderOwnerError):
        accept(wire(valid), auth)


@pytest.mark.parametrize("length", [64, 66, 0])
def test_wrong_signature_length(valid: dict[str, Any], auth: L2Auth, length: int) -> None:
    valid["order"]["signature"] = "0x" + "1b" * length
    error = OrderPayloadError if length == 0 else OrderSignatureError
    with pytest.raises(error):
        accept(wire(valid), auth)


GARBAGE_BODIES: list[bytes | str] = [
    b"",
    b"not json",
    b"{",
    b"\xff\xfe\x00",
    "[]",
    "null",
    "42",
    '"order"',
    "{}",
    '{"order": null}',
    '{"order": []}',
    "[" * 100_000 + "]" * 100_000,
    '{"order": ' + "9" * 5000 + "}",
    "NaN",
]


@pytest.mark.parametrize("body", GARBAGE_BODIES, ids=range(len(GARBAGE_BODIES)))
def test_garbage_bodies_are_invalid_payloads(body: bytes | str) -> None:
    with pytest.raises(OrderPayloadError) as caught:
        parse_order_body(body)
    assert caught.value.status == 400
    assert caught.value.body() == {"error": INVALID_ORDER_PAYLOAD}


ORDER_FIELDS = list(V2_ORDER_FIELDS)


@pytest.mark.parametrize("field", ORDER_FIELDS)
def test_missing_order_field(valid: dict[str, Any], field: str) -> None:
    del valid["order"][field]
    with pytest.raises(OrderPayloadError):
        parse_order_body(wire(valid))


@pytest.mark.parametrize("field", ["owner", "orderType"])
def test_missing_top_level_field(valid: dict[str, Any], field: str) -> None:
    del valid[field]
    with pytest.raises(OrderPayloadError):
        parse_order_body(wire(valid))


def test_optional_flags_default_to_false(valid: dict[str, Any]) -> None:
    del valid["postOnly"], valid["deferExec"]
    parsed = parse_order_body(wire(valid))
    assert (parsed.post_only, parsed.defer_exec) == (False, False)


WRONG_VALUES: list[tuple[str, object]] = [
    ("makerAmount", 1.5),
    ("makerAmount", True),
    ("makerAmount", None),
    ("makerAmount", []),
    ("makerAmount", "abc"),
    ("makerAmount", "-1"),
    ("makerAmount", "0x10"),
    ("makerAmount", " 1"),
    ("makerAmount", "1e6"),
    ("makerAmount", "٣"),  # a non-ASCII digit that int() would accept
    ("makerAmount", "0"),
    ("takerAmount", 0),
    ("makerAmount", "9" * 100),
    ("makerAmount", 2**256),
    ("salt", -1),
    ("salt", 2**256),
    ("tokenId", 1.0),
    ("tokenId", ""),
    ("side", "buy"),
    ("side", 0),
    ("side", None),
    ("signatureType", 4),
    ("signatureType", "EOA"),
    ("signatureType", -1),
    ("maker", "0x123"),
    ("maker", 123),
    ("signer", "0x" + "g" * 40),
    ("metadata", "0xzz"),
    ("metadata", "0x" + "0" * 65),
    ("metadata", 0),
    ("builder", ""),
    ("signature", "deadbeef"),
    ("signature", "0x123"),
    ("signature", None),
    ("expiration", "soon"),
    ("timestamp", 1.7e12),
]


@pytest.mark.parametrize(("field", "value"), WRONG_VALUES)
def test_wrong_order_field_types(valid: dict[str, Any], field: str, value: object) -> None:
    valid["order"][field] = value
    with pytest.raises(OrderPayloadError):
        parse_order_body(wire(valid))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("owner", ""),
        ("owner", 7),
        ("orderType", "IOC"),
        ("orderType", "gtc"),
        ("orderType", None),
        ("postOnly", "false"),
        ("postOnly", 0),
        ("deferExec", None),
    ],
)
def test_wrong_top_level_types(valid: dict[str, Any], field: str, value: object) -> None:
    valid[field] = value
    with pytest.raises(OrderPayloadError):
        parse_order_body(wire(valid))


def test_numbers_may_be_json_ints_or_strings(valid: dict[str, Any], auth: L2Auth) -> None:
    order = valid["order"]
    order["makerAmount"] = int(order["makerAmount"])
    order["salt"] = str(order["salt"])
    order["signatureType"] = "0"
    assert accept(wire(valid), auth).maker_amount == int(order["makerAmount"])


def test_short_bytes32_is_padded_like_the_client(valid: dict[str, Any]) -> None:
    valid["order"]["metadata"] = "0x0"
    assert parse_order_body(wire(valid)).metadata == ZERO32


def test_unknown_fields_are_ignored(valid: dict[str, Any], auth: L2Auth) -> None:
    valid["extra"] = {"anything": [1, 2]}
    valid["order"]["note"] = "x"
    assert accept(wire(valid), auth).owner == auth.api_key


def test_v1_order_gets_the_version_error(valid: dict[str, Any]) -> None:
    order = valid["order"]
    del order["timestamp"], order["metadata"], order["builder"]
    order.update(taker="0x" + "00" * 20, nonce="0", feeRateBps="0")
    with pytest.raises(OrderVersionError) as caught:
        parse_order_body(wire(valid))
    assert caught.value.body() == {"error": INVALID_ORDER_VERSION}


# --- batches ------------------------------------------------------------------------------


def test_batch_parses_each_order(valid: dict[str, Any]) -> None:
    assert len(parse_orders_body(wire([valid] * 15))) == 15


def test_batch_too_large(valid: dict[str, Any]) -> None:
    with pytest.raises(OrderBatchSizeError) as caught:
        parse_orders_body(wire([valid] * 16))
    assert caught.value.body() == {
        "error": "Too many orders in payload: 16, max allowed: 15"
    }


@pytest.mark.parametrize("body", [b"[]", b"{}", b"null", b"[1]", b"garbage"])
def test_batch_garbage(body: bytes) -> None:
    with pytest.raises(OrderPayloadError):
        parse_orders_body(body)


def test_one_bad_order_fails_the_batch(valid: dict[str, Any]) -> None:
    broken = copy.deepcopy(valid)
    broken["order"]["side"] = "HOLD"
    with pytest.raises(OrderPayloadError):
        parse_orders_body(json.dumps([valid, broken]))


# --- hand-off to the engine ---------------------------------------------------------


def test_limit_order_becomes_an_engine_request(signer: Signer, auth: L2Auth) -> None:
    order = limit_order(signer, "SELL", 0.48, 12.5)
    signed = accept(wire(request_dict(order, auth.api_key, "GTD", post_only=True)), auth)
    request = signed.to_request(tick=10_000)
    assert (request.token_id, request.side, request.order_type) == (
        TOKEN,
        Side.SELL,
        VenueOrderType.GTD,
    )
    assert (request.price, request.size, request.amount) == (480_000, 12_500_000, 6_000_000)
    assert (request.post_only, request.order_id) == (True, signed.order_hash)


def test_market_buy_becomes_an_engine_request(signer: Signer, auth: L2Auth) -> None:
    signed = accept(
        wire(request_dict(market_order(signer, "BUY", 5, 0.52), auth.api_key, "FOK")), auth
    )
    request = signed.to_request(tick=10_000)
    # The ratio sits a hair above 0.52 (the share count was floored); the engine snaps it.
    assert (request.price, request.amount, request.size) == (520_000, 5_000_000, 9_615_300)
