"""Signed orders built by the real ``py_clob_client_v2`` code, for the order tests."""

from __future__ import annotations

import json
from typing import Any

from py_clob_client_v2 import CreateOrderOptions, MarketOrderArgs, OrderArgs
from py_clob_client_v2.order_builder.builder import OrderBuilder
from py_clob_client_v2.order_utils import ExchangeOrderBuilderV2, SignatureTypeV2
from py_clob_client_v2.order_utils.model.order_data_v2 import SignedOrderV2 as ClientOrder
from py_clob_client_v2.order_utils.model.order_data_v2 import order_to_json_v2
from py_clob_client_v2.signer import Signer

from src.sim.emulator.orders import ExchangeDomain

TOKEN = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
CONDITION = "0x" + "cd" * 32

# The V2 order's wire fields, written out independently of the parser under test.
V2_ORDER_FIELDS = (
    "salt",
    "maker",
    "signer",
    "tokenId",
    "makerAmount",
    "takerAmount",
    "side",
    "expiration",
    "signatureType",
    "timestamp",
    "metadata",
    "builder",
    "signature",
)


def limit_order(
    signer: Signer,
    side: str = "BUY",
    price: float = 0.52,
    size: float = 10,
    *,
    tick: str = "0.01",
    neg_risk: bool = False,
    signature_type: SignatureTypeV2 | None = None,
    funder: str | None = None,
) -> ClientOrder:
    """A limit order exactly as ``ClobClient.create_order`` builds it."""
    builder = OrderBuilder(signer, signature_type=signature_type, funder=funder)
    return builder.build_order(
        OrderArgs(token_id=TOKEN, price=price, size=size, side=side),
        CreateOrderOptions(tick_size=tick, neg_risk=neg_risk),
    )


def market_order(
    signer: Signer,
    side: str = "BUY",
    amount: float = 5,
    price: float = 0.52,
    *,
    tick: str = "0.01",
    neg_risk: bool = False,
) -> ClientOrder:
    """A market (FOK/FAK) order as ``ClobClient.create_market_order`` builds it."""
    return OrderBuilder(signer).build_market_order(
        MarketOrderArgs(token_id=TOKEN, amount=amount, side=side, price=price),
        CreateOrderOptions(tick_size=tick, neg_risk=neg_risk),
    )


def client_hash(order: ClientOrder, signer: Signer, domain: ExchangeDomain) -> str:
    """The order hash as the client's own ``build_order_hash`` computes it."""
    builder = ExchangeOrderBuilderV2(
        domain.verifying_contract, domain.chain_id, signer, domain_version=domain.version
    )
    return builder.build_order_hash(builder.build_order_typed_data(order))


def request_dict(
    order: ClientOrder,
    owner: str,
    order_type: str = "GTC",
    post_only: bool = False,
    defer_exec: bool = False,
) -> dict[str, Any]:
    """The ``POST /order`` object the client sends."""
    return order_to_json_v2(order, owner, order_type, post_only, defer_exec)


def wire(payload: object) -> bytes:
    """Compact JSON bytes, as ``post_order`` serialises them."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
