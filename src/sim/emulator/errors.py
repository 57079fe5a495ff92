"""What the emulated CLOB answers when a request fails authentication or order parsing.

Every text is the venue's own (``reference/polymarket_api.md`` §1.5 and §2.6, and the CLOB
error-code page): clients match on them, so each is written once, here. Order-payload texts
that the matching engine shares live in ``src.sim.venue.errors`` and are re-used, not
copied. A rejection carries the HTTP status and the ``{"error": …}`` text the server must
send, plus a ``detail`` for our logs and tests that never goes on the wire (the venue does
not explain).
"""

from __future__ import annotations

from enum import StrEnum

from src.sim.venue.errors import INVALID_ORDER_PAYLOAD, batch_too_large_error

UNAUTHORIZED = "Unauthorized/Invalid api key"
"""401 for every L2 failure: unknown key, wrong passphrase, bad HMAC, stale timestamp."""

INVALID_L1_HEADERS = "Invalid L1 Request headers"
"""401 for every L1 failure on ``/auth/api-key`` and ``/auth/derive-api-key``."""

COULD_NOT_CREATE_API_KEY = "Could not create api key"
COULD_NOT_DERIVE_API_KEY = "Could not derive api key!"

INVALID_SIGNATURE = "invalid signature"
OWNER_MISMATCH = "the order owner has to be the owner of the API KEY"
SIGNER_MISMATCH = "the order signer address has to be the address of the API KEY"
INVALID_ORDER_VERSION = "invalid order version, please use the latest clob-client"
"""Production's answer to a V1-shaped order since mid-2026 (§0 of the reference)."""


class AuthFailure(StrEnum):
    """Why authentication failed; for logs and tests only (the venue says just 401)."""

    MISSING_HEADER = "missing_header"
    MALFORMED_HEADER = "malformed_header"
    STALE_TIMESTAMP = "stale_timestamp"
    BAD_SIGNATURE = "bad_signature"
    ADDRESS_MISMATCH = "address_mismatch"
    UNKNOWN_API_KEY = "unknown_api_key"
    BAD_PASSPHRASE = "bad_passphrase"


class RejectedRequestError(Exception):
    """A request the venue refuses: ``status`` and ``message`` are what goes on the wire."""

    status: int = 400
    message: str = ""

    def __init__(self, detail: str = "") -> None:
        super().__init__(
            f"{self.status} {self.message}" + (f" ({detail})" if detail else "")
        )
        self.detail = detail

    def body(self) -> dict[str, str]:
        """The JSON body the venue sends: ``{"error": message}``."""
        return {"error": self.message}


class AuthError(RejectedRequestError):
    """L1 or L2 authentication failed."""

    status = 401

    def __init__(self, reason: AuthFailure, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else str(reason))
        self.reason = reason


class L1AuthError(AuthError):
    """Bad ``ClobAuth`` headers on an API-key endpoint."""

    message = INVALID_L1_HEADERS


class L2AuthError(AuthError):
    """Bad L2 (API key + HMAC) headers."""

    message = UNAUTHORIZED


class ApiKeyNotFoundError(RejectedRequestError):
    """``GET /auth/derive-api-key`` for an address and nonce that never created a key."""

    message = COULD_NOT_DERIVE_API_KEY


class OrderRejectedError(RejectedRequestError):
    """Base class of every refusal of a posted order before it reaches the engine."""


class OrderPayloadError(OrderRejectedError):
    """The body is not a well-formed V2 order (bad JSON, missing field, wrong type)."""

    message = INVALID_ORDER_PAYLOAD


class OrderVersionError(OrderRejectedError):
    """A V1-shaped order (``taker``/``nonce``/``feeRateBps``, no ``timestamp``)."""

    message = INVALID_ORDER_VERSION


class OrderBatchSizeError(OrderRejectedError):
    """More orders in ``POST /orders`` than the venue takes; the text carries the count."""

    def __init__(self, count: int) -> None:
        self.message = batch_too_large_error(count)
        super().__init__(f"{count} orders")


class OrderSignatureError(OrderRejectedError):
    """The signature does not recover the order's signer for this exchange domain."""

    message = INVALID_SIGNATURE


class OrderOwnerError(OrderRejectedError):
    """``owner`` is not the caller's API key, or an EOA order's maker is not its address."""

    message = OWNER_MISMATCH


class OrderSignerError(OrderRejectedError):
    """The order was signed by another address than the API key's."""

    message = SIGNER_MISMATCH
