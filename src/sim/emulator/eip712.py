"""EIP-712 primitives shared by L1 auth (``ClobAuth``) and order signatures.

Every struct the venue signs has only static fields (uints, addresses, bytes32) and strings,
so the typed-data encoding is a row of 32-byte words; encoding it here by hand keeps the
digest byte-for-byte the one ``eth_account.encode_typed_data`` gives the client (the tests
compare both) without building a nested ``dict`` per request.
"""

from __future__ import annotations

import re

from eth_account import Account
from eth_account.messages import SignableMessage
from eth_utils import keccak, to_checksum_address

UINT256_MAX = 2**256 - 1
SIGNATURE_LENGTH = 65
"""An ECDSA signature as the client sends it: r (32) ‖ s (32) ‖ v (1)."""

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_HEX = re.compile(r"0x(?:[0-9a-fA-F]{2})*")

DOMAIN_TYPE = (
    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
DOMAIN_TYPE_NO_CONTRACT = "EIP712Domain(string name,string version,uint256 chainId)"
"""``ClobAuthDomain`` has no verifying contract: the client builds it with name, version and
chain id only (``py_clob_client_v2/signing/eip712.py``)."""


def type_hash(type_string: str) -> bytes:
    """``keccak256`` of an EIP-712 type string."""
    return keccak(text=type_string)


def uint_word(value: int) -> bytes:
    """A ``uint256`` (or ``uint8``) as one big-endian 32-byte word."""
    return value.to_bytes(32, "big")


def address_word(address: str) -> bytes:
    """An ``address`` left-padded to one 32-byte word."""
    return bytes(12) + bytes.fromhex(address[2:])


def string_word(text: str) -> bytes:
    """A ``string`` field: EIP-712 encodes it as the hash of its UTF-8 bytes."""
    return keccak(text.encode("utf-8"))


def struct_hash(type_string: str, *words: bytes) -> bytes:
    """``hashStruct``: keccak of the type hash followed by the encoded field words."""
    return keccak(type_hash(type_string) + b"".join(words))


def domain_separator(
    name: str, version: str, chain_id: int, verifying_contract: str | None = None
) -> bytes:
    """The domain separator, with or without a verifying contract."""
    if verifying_contract is None:
        return struct_hash(
            DOMAIN_TYPE_NO_CONTRACT,
            string_word(name),
            string_word(version),
            uint_word(chain_id),
        )
    return struct_hash(
        DOMAIN_TYPE,
        string_word(name),
        string_word(version),
        uint_word(chain_id),
        address_word(verifying_contract),
    )


def typed_data_digest(separator: bytes, message_hash: bytes) -> bytes:
    """The 32 bytes that get signed: ``keccak(0x19 0x01 ‖ domainSeparator ‖
    hashStruct)``."""
    return keccak(b"\x19\x01" + separator + message_hash)


def recover_signer(separator: bytes, message_hash: bytes, signature: bytes) -> str | None:
    """The checksummed address whose key signed the typed data, or ``None`` if
    unrecoverable."""
    if len(signature) != SIGNATURE_LENGTH:
        return None
    message = SignableMessage(version=b"\x01", header=separator, body=message_hash)
    try:
        return Account.recover_message(message, signature=signature)
    except Exception:
        # eth_account/eth_keys raise a zoo of types (ValueError, BadSignature,
        # ValidationError, TypeError) for r/s/v out of range; to a verifier every one means
        # "not a signature".
        return None


def is_address(text: object) -> bool:
    """True for ``0x`` + 40 hex digits (any case: the venue does not enforce EIP-55)."""
    return isinstance(text, str) and _ADDRESS.fullmatch(text) is not None


def checksum(address: str) -> str:
    """The EIP-55 form of an address already checked with :func:`is_address`."""
    return to_checksum_address(address)


def same_address(left: str, right: str) -> bool:
    """Address equality regardless of EIP-55 letter case."""
    return left.lower() == right.lower()


def parse_hex(text: object) -> bytes | None:
    """``0x``-prefixed, even-length hex as bytes; ``None`` for anything else."""
    if not isinstance(text, str) or _HEX.fullmatch(text) is None:
        return None
    return bytes.fromhex(text[2:])
