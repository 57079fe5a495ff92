"""Parsing and verification of the V2 signed orders ``py_clob_client_v2`` posts.

``POST /order`` carries one object, ``POST /orders`` a JSON array of them (at most 15)::

    {"order": {"salt": 123, "maker": "0x…", "signer": "0x…", "tokenId": "…",
               "makerAmount": "5000000", "takerAmount": "10000000", "side": "BUY",
               "expiration": "0", "signatureType": 0, "timestamp": "1767225600000",
               "metadata": "0x00…", "builder": "0x00…", "signature": "0x…"},
     "owner": "<api key>", "orderType": "GTC", "deferExec": false, "postOnly": false}

(``order_to_json_v2`` in ``order_utils/model/order_data_v2.py``.) The EIP-712 struct is
``Order(uint256 salt,address maker,address signer,uint256 tokenId,uint256 makerAmount,
uint256 takerAmount,uint8 side,uint8 signatureType,uint256 timestamp,bytes32 metadata,
bytes32 builder)`` in the domain ``{name: "Polymarket CTF Exchange", version: "2", chainId,
verifyingContract}``; ``expiration`` travels in the JSON but is not signed. The body does
not say which exchange signed it: the server knows whether the token is neg-risk and picks
the :class:`ExchangeDomain`. The order hash in that domain is the venue's order id.

Three steps, so the server can answer in the venue's order: :func:`parse_order_body` /
:func:`parse_orders_body` (shape only → :class:`ParsedOrderV2`), then :func:`accept_order`
(owner and signer against the L2 caller, then the signature → :class:`SignedOrderV2`), whose
:meth:`SignedOrderV2.to_request` is the engine's input. Side and order type are the venue's
own enums. Nothing here raises anything but
:class:`~src.sim.emulator.errors.OrderRejectedError` for a bad request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from enum import IntEnum, StrEnum
from fractions import Fraction
from typing import TypeVar

from src.sim.emulator.auth import AMOY, POLYGON, L2Auth
from src.sim.emulator.eip712 import (
    SIGNATURE_LENGTH,
    UINT256_MAX,
    address_word,
    checksum,
    domain_separator,
    is_address,
    parse_hex,
    recover_signer,
    same_address,
    struct_hash,
    type_hash,
    typed_data_digest,
    uint_word,
)
from src.sim.emulator.errors import (
    OrderBatchSizeError,
    OrderOwnerError,
    OrderPayloadError,
    OrderSignatureError,
    OrderSignerError,
    OrderVersionError,
)
from src.sim.venue.errors import MAX_BATCH_ORDERS
from src.sim.venue.types import OrderRequest, OrderType, Side
from src.utils.safe_json import JsonBodyError, loads_bounded

EXCHANGE_DOMAIN_NAME = "Polymarket CTF Exchange"
ORDER_TYPE = (
    "Order(uint256 salt,address maker,address signer,uint256 tokenId,"
    "uint256 makerAmount,uint256 takerAmount,uint8 side,uint8 signatureType,"
    "uint256 timestamp,bytes32 metadata,bytes32 builder)"
)

# Exchange contracts by (chain, domain version, neg_risk), from the client's ``config.py``.
# Version 3 (ExchangeV3, "position id" orders) has no neg-risk twin: the client forces
# neg_risk=False for it.
_EXCHANGES: dict[tuple[int, int, bool], str] = {
    (POLYGON, 2, False): "0xE111180000d2663C0091e4f400237545B87B996B",
    (POLYGON, 2, True): "0xe2222d279d744050d28e00520010520000310F59",
    (POLYGON, 3, False): "0xe3333700cA9d93003F00f0F71f8515005F6c00Aa",
    (AMOY, 2, False): "0xE111180000d2663C0091e4f400237545B87B996B",
    (AMOY, 2, True): "0xe2222d279d744050d28e00520010520000310F59",
    (AMOY, 3, False): "0x9fE6e61422AdB6F610d8597F9684b16912D50C3D",
}

# POLY_1271 (deposit wallet) signatures are ERC-7739 "TypedDataSign" envelopes: the EOA
# signs the order nested in the wallet's own domain, and the blob carries inner signature
# (65) ‖ app domain separator (32) ‖ contents hash (32) ‖ contents type ‖ len (2)
# (``_build_poly_1271_order_signature`` in the client's ``exchange_order_builder_v2.py``).
TYPED_DATA_SIGN_TYPE = (
    "TypedDataSign(Order contents,string name,string version,uint256 chainId,"
    "address verifyingContract,bytes32 salt)" + ORDER_TYPE
)
DEPOSIT_WALLET_NAME = "DepositWallet"
DEPOSIT_WALLET_VERSION = "1"
_ORDER_TYPE_BYTES = ORDER_TYPE.encode("utf-8")
_ENVELOPE_LENGTH = SIGNATURE_LENGTH + 32 + 32 + len(_ORDER_TYPE_BYTES) + 2

_ORDER_FIELDS = (
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
_V1_ONLY_FIELDS = ("taker", "nonce", "feeRateBps")
_UINT_TEXT = re.compile(r"[0-9]{1,78}")
_BYTES32_TEXT = re.compile(r"0x[0-9a-fA-F]{1,64}")
_MICRO = 6
_INEXACT_PRICE_PLACES = Decimal(1).scaleb(-18)
_Choice = TypeVar("_Choice", bound=StrEnum)


_SIDE_CODE = {Side.BUY: 0, Side.SELL: 1}
"""The ``uint8 side`` of the signed struct."""


class SignatureType(IntEnum):
    """Who signs for the maker (``SignatureTypeV2`` in the client)."""

    EOA = 0
    POLY_PROXY = 1
    POLY_GNOSIS_SAFE = 2
    POLY_1271 = 3


@dataclass(frozen=True, slots=True)
class ExchangeDomain:
    """The EIP-712 domain an order is signed in."""

    chain_id: int
    verifying_contract: str
    version: str = "2"
    name: str = EXCHANGE_DOMAIN_NAME

    def separator(self) -> bytes:
        """The domain separator."""
        return domain_separator(
            self.name, self.version, self.chain_id, self.verifying_contract
        )


def exchange_domain(
    *, neg_risk: bool, chain_id: int = POLYGON, version: int = 2
) -> ExchangeDomain:
    """The exchange the client signs for: CTF Exchange V2, its neg-risk twin, or V3.

    Raises ``ValueError`` for a chain/version the client does not know (a setup error).
    """
    address = _EXCHANGES.get((chain_id, version, neg_risk))
    if address is None:
        raise ValueError(
            f"no exchange for chain {chain_id}, version {version}, {neg_risk=}"
        )
    return ExchangeDomain(
        chain_id=chain_id, verifying_contract=address, version=str(version)
    )


@dataclass(frozen=True, slots=True)
class ParsedOrderV2:
    """A well-formed posted order whose signature has not been checked yet.

    Amounts are integer micro-units (6 decimals). Addresses are EIP-55, hex fields
    lower-case, ``metadata``/``builder`` padded to 32 bytes the way the client pads them
    before signing.
    """

    salt: int
    maker: str
    signer: str
    token_id: str
    maker_amount: int
    taker_amount: int
    side: Side
    expiration: int
    timestamp: int
    metadata: str
    builder: str
    signature_type: SignatureType
    signature: str
    owner: str
    order_type: OrderType
    post_only: bool
    defer_exec: bool

    @property
    def size_micro(self) -> int:
        """Shares, in micro-units: the taker amount of a BUY, the maker amount of a SELL."""
        return self.taker_amount if self.side is Side.BUY else self.maker_amount

    @property
    def collateral_micro(self) -> int:
        """Collateral, in micro-units: paid by a BUY (maker), asked by a SELL (taker)."""
        return self.maker_amount if self.side is Side.BUY else self.taker_amount

    @property
    def size(self) -> Decimal:
        """Shares as an exact ``Decimal``."""
        return Decimal(self.size_micro).scaleb(-_MICRO)

    @property
    def price_fraction(self) -> Fraction:
        """The exact limit price: collateral per share (§2.2 of the reference)."""
        return Fraction(self.collateral_micro, self.size_micro)

    @property
    def price(self) -> Decimal:
        """The limit price as a ``Decimal``: exact whenever the ratio terminates (every
        limit order on a tick does); a market order's ratio that does not is rounded
        half-even to 18 places. Compare with :attr:`price_fraction` when exactness matters.
        """
        ratio = self.price_fraction
        with localcontext() as context:
            # Enough digits for any terminating ratio of realistic amounts; bigger ones fall
            # through to the rounded branch instead of raising.
            context.prec = 200
            value = Decimal(ratio.numerator) / Decimal(ratio.denominator)
            if value == ratio:
                return value.normalize(context)
            return value.quantize(_INEXACT_PRICE_PLACES, rounding=ROUND_HALF_EVEN)

    def struct_hash(self) -> bytes:
        """``hashStruct(Order)``."""
        return struct_hash(
            ORDER_TYPE,
            uint_word(self.salt),
            address_word(self.maker),
            address_word(self.signer),
            uint_word(int(self.token_id)),
            uint_word(self.maker_amount),
            uint_word(self.taker_amount),
            uint_word(_SIDE_CODE[self.side]),
            uint_word(int(self.signature_type)),
            uint_word(self.timestamp),
            bytes.fromhex(self.metadata[2:]),
            bytes.fromhex(self.builder[2:]),
        )

    def hash_in(self, domain: ExchangeDomain) -> str:
        """The EIP-712 hash in ``domain``, 0x-hex: the venue's order id."""
        return "0x" + typed_data_digest(domain.separator(), self.struct_hash()).hex()


@dataclass(frozen=True, slots=True)
class SignedOrderV2(ParsedOrderV2):
    """An order whose signature verified in ``domain``.

    ``signing_eoa`` is the key holder: ``signer`` itself for EOA/proxy/safe orders, the EOA
    recovered from the envelope for POLY_1271 orders (whose ``signer`` is the deposit
    wallet). For proxy and safe orders ``maker`` is the wallet; the emulator cannot check
    on-chain that the EOA owns it, so it records it as given.
    """

    order_hash: str
    """The EIP-712 hash in ``domain``, 0x-hex: the venue's order id."""
    signing_eoa: str
    domain: ExchangeDomain

    def to_request(self, tick: int) -> OrderRequest:
        """The engine's view of this order (``tick`` in micro-units), keyed by the hash."""
        return OrderRequest.from_amounts(
            self.token_id,
            self.side,
            self.maker_amount,
            self.taker_amount,
            tick,
            self.order_type,
            expiration=self.expiration,
            post_only=self.post_only,
            order_id=self.order_hash,
        )


# --- parsing ------------------------------------------------------------------------------


def _load_json(body: bytes | str) -> object:
    try:
        return loads_bounded(body)
    except JsonBodyError as exc:
        raise OrderPayloadError(str(exc)) from None


def _uint(value: object, where: str) -> int:
    """A uint256 as a JSON integer or a decimal string (clients differ; both are fine)."""
    if isinstance(value, bool):
        raise OrderPayloadError(f"{where}: boolean")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _UINT_TEXT.fullmatch(value) is not None:
        number = int(value)
    else:
        raise OrderPayloadError(f"{where}: not an unsigned integer")
    if not 0 <= number <= UINT256_MAX:
        raise OrderPayloadError(f"{where}: out of uint256 range")
    return number


def _address(value: object, where: str) -> str:
    if not is_address(value):
        raise OrderPayloadError(f"{where}: not an address")
    return checksum(str(value))


def _bytes32(value: object, where: str) -> str:
    # The client left-pads short hex before signing (``_hex_to_bytes32``); mirror it.
    if not isinstance(value, str) or _BYTES32_TEXT.fullmatch(value) is None:
        raise OrderPayloadError(f"{where}: not bytes32 hex")
    return "0x" + value[2:].lower().zfill(64)


def _flag(payload: dict[str, object], key: str) -> bool:
    value = payload.get(key, False)
    if not isinstance(value, bool):
        raise OrderPayloadError(f"{key}: not a boolean")
    return value


def _choice(enum: type[_Choice], value: object, where: str) -> _Choice:
    if not isinstance(value, str):
        raise OrderPayloadError(f"{where}: not a string")
    try:
        return enum(value)
    except ValueError:
        raise OrderPayloadError(
            f"{where}: not one of {[item.value for item in enum]}"
        ) from None


def parse_order_object(payload: object) -> ParsedOrderV2:
    """Check one decoded order request (``{"order": {...}, "owner": ..., ...}``)."""
    if not isinstance(payload, dict):
        raise OrderPayloadError("request is not an object")
    order = payload.get("order")
    if not isinstance(order, dict):
        raise OrderPayloadError("order: missing or not an object")
    if "timestamp" not in order and any(key in order for key in _V1_ONLY_FIELDS):
        raise OrderVersionError("V1 order fields")
    missing = [key for key in _ORDER_FIELDS if key not in order]
    if missing:
        raise OrderPayloadError(f"order: missing {', '.join(missing)}")
    owner = payload.get("owner")
    if not isinstance(owner, str) or not owner:
        raise OrderPayloadError("owner: missing or not a string")
    maker_amount = _uint(order["makerAmount"], "order.makerAmount")
    taker_amount = _uint(order["takerAmount"], "order.takerAmount")
    if maker_amount == 0 or taker_amount == 0:
        # A zero leg has no price; the exchange contract refuses it too (ZeroMakerAmount).
        raise OrderPayloadError("order: zero amount")
    try:
        signature_type = SignatureType(_uint(order["signatureType"], "order.signatureType"))
    except ValueError:
        raise OrderPayloadError("order.signatureType: unknown") from None
    signature = parse_hex(order["signature"])
    if signature is None or not signature:
        raise OrderPayloadError("order.signature: not hex")
    return ParsedOrderV2(
        salt=_uint(order["salt"], "order.salt"),
        maker=_address(order["maker"], "order.maker"),
        signer=_address(order["signer"], "order.signer"),
        token_id=str(_uint(order["tokenId"], "order.tokenId")),
        maker_amount=maker_amount,
        taker_amount=taker_amount,
        side=_choice(Side, order["side"], "order.side"),
        expiration=_uint(order["expiration"], "order.expiration"),
        timestamp=_uint(order["timestamp"], "order.timestamp"),
        metadata=_bytes32(order["metadata"], "order.metadata"),
        builder=_bytes32(order["builder"], "order.builder"),
        signature_type=signature_type,
        signature="0x" + signature.hex(),
        owner=owner,
        order_type=_choice(OrderType, payload.get("orderType"), "orderType"),
        post_only=_flag(payload, "postOnly"),
        defer_exec=_flag(payload, "deferExec"),
    )


def parse_order_body(body: bytes | str) -> ParsedOrderV2:
    """Parse the raw body of ``POST /order``; :class:`OrderPayloadError` if malformed."""
    return parse_order_object(_load_json(body))


def parse_orders_body(body: bytes | str) -> tuple[ParsedOrderV2, ...]:
    """Parse the raw body of ``POST /orders`` (1 to 15 orders).

    Any malformed element fails the whole request, as a JSON decode would on the venue.
    """
    payload = _load_json(body)
    if not isinstance(payload, list) or not payload:
        raise OrderPayloadError("batch: not a non-empty array")
    if len(payload) > MAX_BATCH_ORDERS:
        raise OrderBatchSizeError(len(payload))
    return tuple(parse_order_object(item) for item in payload)


# --- verification -------------------------------------------------------------------------


def _recover_1271(order: ParsedOrderV2, domain: ExchangeDomain, blob: bytes) -> str | None:
    """The EOA behind a POLY_1271 envelope, or ``None`` if it is not for this order."""
    if len(blob) != _ENVELOPE_LENGTH:
        return None
    inner = blob[:SIGNATURE_LENGTH]
    app_separator = blob[SIGNATURE_LENGTH : SIGNATURE_LENGTH + 32]
    contents_hash = blob[SIGNATURE_LENGTH + 32 : SIGNATURE_LENGTH + 64]
    contents_type = blob[SIGNATURE_LENGTH + 64 : -2]
    declared_length = int.from_bytes(blob[-2:], "big")
    separator = domain.separator()
    if (
        app_separator != separator
        or contents_hash != order.struct_hash()
        or contents_type != _ORDER_TYPE_BYTES
        or declared_length != len(_ORDER_TYPE_BYTES)
    ):
        return None
    # The wallet's own domain: DepositWallet v1 at the wallet (= signer) address, zero salt.
    sign_hash = struct_hash(
        TYPED_DATA_SIGN_TYPE,
        contents_hash,
        type_hash(DEPOSIT_WALLET_NAME),
        type_hash(DEPOSIT_WALLET_VERSION),
        uint_word(domain.chain_id),
        address_word(order.signer),
        bytes(32),
    )
    return recover_signer(separator, sign_hash, inner)


def verify_order_signature(order: ParsedOrderV2, domain: ExchangeDomain) -> SignedOrderV2:
    """Check the signature in ``domain``; :class:`OrderSignatureError` if it does not hold.

    EOA: recovers ``signer`` and ``signer == maker``. Proxy/safe: recovers ``signer`` (the
    EOA; ``maker`` is the wallet). POLY_1271: the envelope is for this order and domain, and
    ``signer == maker`` (both the deposit wallet).
    """
    signature = bytes.fromhex(order.signature[2:])
    if order.signature_type is SignatureType.POLY_1271:
        if not same_address(order.signer, order.maker):
            raise OrderSignatureError("1271: signer is not the maker wallet")
        eoa = _recover_1271(order, domain, signature)
        if eoa is None:
            raise OrderSignatureError("1271 envelope does not verify")
    else:
        if order.signature_type is SignatureType.EOA and not same_address(
            order.signer, order.maker
        ):
            raise OrderSignatureError("EOA order with signer != maker")
        eoa = recover_signer(domain.separator(), order.struct_hash(), signature)
        if eoa is None or not same_address(eoa, order.signer):
            raise OrderSignatureError("does not recover signer")
    parsed = {item.name: getattr(order, item.name) for item in fields(ParsedOrderV2)}
    return SignedOrderV2(
        **parsed,
        order_hash=order.hash_in(domain),
        signing_eoa=checksum(eoa),
        domain=domain,
    )


def accept_order(
    order: ParsedOrderV2, *, auth: L2Auth, domain: ExchangeDomain
) -> SignedOrderV2:
    """Everything the venue checks about a parsed order before the engine sees it.

    In the venue's order: ``owner`` is the caller's API key and an EOA order's maker is the
    key's address (:class:`OrderOwnerError`), the signer is the key's address
    (:class:`OrderSignerError`), then the signature (:class:`OrderSignatureError`). For
    POLY_1271 the key may belong to the deposit wallet or to the EOA that signed for it.
    """
    if order.owner != auth.api_key:
        raise OrderOwnerError("owner is not the caller's API key")
    if order.signature_type is SignatureType.EOA and not same_address(
        order.maker, auth.address
    ):
        raise OrderOwnerError("maker is not the API key's address")
    is_1271 = order.signature_type is SignatureType.POLY_1271
    if not is_1271 and not same_address(order.signer, auth.address):
        raise OrderSignerError("signer is not the API key's address")
    signed = verify_order_signature(order, domain)
    if is_1271 and not (
        same_address(signed.signing_eoa, auth.address)
        or same_address(order.maker, auth.address)
    ):
        raise OrderSignerError("1271 order signed by another EOA")
    return signed
