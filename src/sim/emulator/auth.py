"""L1 and L2 authentication of the emulated CLOB, exactly as ``py_clob_client_v2`` signs.

L1 (``POST /auth/api-key``, ``GET /auth/derive-api-key``): the client signs the EIP-712
struct ``ClobAuth(address address,string timestamp,uint256 nonce,string message)`` in the
domain ``{name: "ClobAuthDomain", version: "1", chainId}`` (no verifying contract) and sends
``POLY_ADDRESS``, ``POLY_SIGNATURE``, ``POLY_TIMESTAMP``, ``POLY_NONCE``. We recover the
signer and require it to be ``POLY_ADDRESS``.

L2 (everything private): ``POLY_SIGNATURE`` is
``urlsafe_b64(HMAC_SHA256(urlsafe_b64decode(secret), ts + METHOD + path + body))`` where
``path`` has no query string and ``body`` is the exact JSON text sent, with every ``'``
turned into ``"`` (the client applies that replacement to the signed copy only, so we must
too).

API credentials are a pure function of (address, nonce, server secret), so ``create`` and
``derive`` agree and an emulator restarted with the same secret hands out the same keys.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from src.sim.emulator.eip712 import (
    UINT256_MAX,
    address_word,
    checksum,
    domain_separator,
    is_address,
    parse_hex,
    recover_signer,
    same_address,
    string_word,
    struct_hash,
    uint_word,
)
from src.sim.emulator.errors import (
    ApiKeyNotFoundError,
    AuthFailure,
    L1AuthError,
    L2AuthError,
)

POLY_ADDRESS = "POLY_ADDRESS"
POLY_SIGNATURE = "POLY_SIGNATURE"
POLY_TIMESTAMP = "POLY_TIMESTAMP"
POLY_NONCE = "POLY_NONCE"
POLY_API_KEY = "POLY_API_KEY"
POLY_PASSPHRASE = "POLY_PASSPHRASE"

POLYGON = 137
AMOY = 80002

CLOB_AUTH_DOMAIN_NAME = "ClobAuthDomain"
CLOB_AUTH_DOMAIN_VERSION = "1"
CLOB_AUTH_TYPE = "ClobAuth(address address,string timestamp,uint256 nonce,string message)"
CLOB_AUTH_MESSAGE = "This message attests that I control the given wallet"

DEFAULT_MAX_SKEW_SECONDS = 60
"""How far ``POLY_TIMESTAMP`` may sit from the server clock, either way. Third-party reports
put the venue's window at about a minute; the client reuses one set of L2 headers for every
page of a paginated GET, so keep it well above a page round-trip."""

# Timestamps are unix seconds; 12 digits reach year 33658, anything longer is garbage and
# would only cost us a big-int parse.
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_UINT = re.compile(r"[0-9]{1,78}")


@dataclass(frozen=True, slots=True)
class AuthPolicy:
    """What the verifiers accept: the chain of the L1 domain and the timestamp window."""

    chain_id: int = POLYGON
    max_skew_seconds: float | None = DEFAULT_MAX_SKEW_SECONDS
    """``None`` turns the timestamp check off (e.g. a clock the client cannot see)."""


@dataclass(frozen=True, slots=True)
class L1Auth:
    """A verified L1 request: who signed, when, and for which key nonce."""

    address: str
    timestamp: int
    nonce: int


@dataclass(frozen=True, slots=True)
class L2Auth:
    """A verified L2 request: the API key used and the address it belongs to."""

    address: str
    api_key: str
    timestamp: int


@dataclass(frozen=True, slots=True)
class ApiCredentials:
    """An API key, its HMAC secret and passphrase, in the venue's formats."""

    api_key: str
    secret: str = field(repr=False)
    passphrase: str = field(repr=False)

    def response_body(self) -> dict[str, str]:
        """The create/derive reply: ``{"apiKey": …, "secret": …, "passphrase": …}``."""
        return {
            "apiKey": self.api_key,
            "secret": self.secret,
            "passphrase": self.passphrase,
        }


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """A registered key: whose it is and the nonce it was created with."""

    address: str
    nonce: int
    credentials: ApiCredentials


def _header_map(headers: Mapping[str, str]) -> dict[str, str]:
    """Names upper-cased: HTTP header names are case-insensitive."""
    return {str(name).upper(): value for name, value in headers.items()}


def _require(
    headers: dict[str, str], name: str, error: type[L1AuthError] | type[L2AuthError]
) -> str:
    value = headers.get(name)
    if value is None or value == "":
        raise error(AuthFailure.MISSING_HEADER, name)
    if not isinstance(value, str):
        raise error(AuthFailure.MALFORMED_HEADER, name)
    return value


def _timestamp(
    text: str,
    now: float,
    policy: AuthPolicy,
    error: type[L1AuthError] | type[L2AuthError],
) -> int:
    if _TIMESTAMP.fullmatch(text) is None:
        raise error(AuthFailure.MALFORMED_HEADER, POLY_TIMESTAMP)
    stamp = int(text)
    # Written as "not within" so a NaN clock fails closed instead of skipping the check.
    if (
        policy.max_skew_seconds is not None
        and not abs(now - stamp) <= policy.max_skew_seconds
    ):
        raise error(
            AuthFailure.STALE_TIMESTAMP, f"timestamp {stamp}, server time {now:.0f}"
        )
    return stamp


def clob_auth_hash(address: str, timestamp: str, nonce: int) -> bytes:
    """``hashStruct(ClobAuth)`` for the exact timestamp text the client signed."""
    return struct_hash(
        CLOB_AUTH_TYPE,
        address_word(address),
        string_word(timestamp),
        uint_word(nonce),
        string_word(CLOB_AUTH_MESSAGE),
    )


def clob_auth_domain_separator(chain_id: int) -> bytes:
    """The ``ClobAuthDomain`` separator for ``chain_id``."""
    return domain_separator(CLOB_AUTH_DOMAIN_NAME, CLOB_AUTH_DOMAIN_VERSION, chain_id)


def verify_l1_headers(
    headers: Mapping[str, str], *, now: float, policy: AuthPolicy = AuthPolicy()
) -> L1Auth:
    """Check L1 headers; return who signed, or raise :class:`L1AuthError` (401).

    ``now`` is the server clock in unix seconds, compared with ``POLY_TIMESTAMP``.
    """
    named = _header_map(headers)
    address = _require(named, POLY_ADDRESS, L1AuthError)
    signature_text = _require(named, POLY_SIGNATURE, L1AuthError)
    timestamp_text = _require(named, POLY_TIMESTAMP, L1AuthError)
    # The client always sends one ("0" by default): none means not a client request.
    nonce_text = _require(named, POLY_NONCE, L1AuthError)
    if not is_address(address):
        raise L1AuthError(AuthFailure.MALFORMED_HEADER, POLY_ADDRESS)
    signature = parse_hex(signature_text)
    if signature is None:
        raise L1AuthError(AuthFailure.MALFORMED_HEADER, POLY_SIGNATURE)
    if _UINT.fullmatch(nonce_text) is None or int(nonce_text) > UINT256_MAX:
        raise L1AuthError(AuthFailure.MALFORMED_HEADER, POLY_NONCE)
    nonce = int(nonce_text)
    stamp = _timestamp(timestamp_text, now, policy, L1AuthError)
    recovered = recover_signer(
        clob_auth_domain_separator(policy.chain_id),
        clob_auth_hash(address, timestamp_text, nonce),
        signature,
    )
    if recovered is None:
        raise L1AuthError(AuthFailure.BAD_SIGNATURE, "signature does not recover")
    if not same_address(recovered, address):
        raise L1AuthError(AuthFailure.ADDRESS_MISMATCH, "signer is not POLY_ADDRESS")
    return L1Auth(address=checksum(address), timestamp=stamp, nonce=nonce)


def _derive_bytes(server_secret: bytes, label: str, address: str, nonce: int) -> bytes:
    message = f"polyflup-emulator/{label}/{address.lower()}/{nonce}".encode()
    return hmac.new(server_secret, message, hashlib.sha256).digest()


def derive_api_creds(address: str, nonce: int, server_secret: bytes) -> ApiCredentials:
    """Deterministic credentials for (address, nonce): a UUID key, a urlsafe-base64 secret
    of 32 bytes and a 64-hex passphrase, the shapes the venue returns.

    The address is case-blind: EIP-55 and lower-case spellings get the same key.
    """
    key_bytes = _derive_bytes(server_secret, "key", address, nonce)[:16]
    secret = base64.urlsafe_b64encode(
        _derive_bytes(server_secret, "secret", address, nonce)
    )
    passphrase = _derive_bytes(server_secret, "passphrase", address, nonce).hex()
    return ApiCredentials(
        api_key=str(uuid.UUID(bytes=key_bytes, version=4)),
        secret=secret.decode("ascii"),
        passphrase=passphrase,
    )


class ApiKeyStore:
    """The API keys the emulator has handed out, by key; safe to share between threads.

    ``create`` is idempotent (the venue returns the same credentials again, as observed);
    ``derive`` answers only for keys created before, like the venue, unless
    ``derive_creates`` is set (handy for a bot restarted against a fresh emulator).
    """

    def __init__(self, server_secret: bytes, *, derive_creates: bool = False) -> None:
        if not server_secret:
            raise ValueError("server_secret must not be empty")
        self._server_secret = server_secret
        self._derive_creates = derive_creates
        self._lock = threading.Lock()
        self._records: dict[str, ApiKeyRecord] = {}

    def create(self, address: str, nonce: int) -> ApiCredentials:
        """Register (again, harmlessly) the key of (address, nonce); return its credentials.

        ``address`` must be a valid address: pass :attr:`L1Auth.address`.
        """
        credentials = derive_api_creds(address, nonce, self._server_secret)
        record = ApiKeyRecord(
            address=checksum(address), nonce=nonce, credentials=credentials
        )
        with self._lock:
            self._records[credentials.api_key] = record
        return credentials

    def derive(self, address: str, nonce: int) -> ApiCredentials:
        """The credentials of a created key, else :class:`ApiKeyNotFoundError` (400)."""
        if self._derive_creates:
            return self.create(address, nonce)
        credentials = derive_api_creds(address, nonce, self._server_secret)
        with self._lock:
            known = credentials.api_key in self._records
        if not known:
            raise ApiKeyNotFoundError(f"no key for {address} nonce {nonce}")
        return credentials

    def lookup(self, api_key: str) -> ApiKeyRecord | None:
        """The record of ``api_key``, or ``None`` if it was never created or was deleted."""
        with self._lock:
            return self._records.get(api_key)

    def keys_for(self, address: str) -> tuple[str, ...]:
        """Every live API key of ``address`` (for ``GET /auth/api-keys``), sorted."""
        with self._lock:
            return tuple(
                sorted(
                    key
                    for key, record in self._records.items()
                    if same_address(record.address, address)
                )
            )

    def delete(self, api_key: str) -> bool:
        """Forget ``api_key`` (``DELETE /auth/api-key``); True if it existed."""
        with self._lock:
            return self._records.pop(api_key, None) is not None


def _same_secret(given: str, expected: str) -> bool:
    """Constant-time equality; ``surrogatepass`` because header text may hold anything."""
    return hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )


def request_path(target: str) -> str:
    """The part of a request target the client signs: the path, without the query string."""
    return target.split("?", 1)[0]


def hmac_signature(secret: str, timestamp: str, method: str, path: str, body: str) -> str:
    """The L2 ``POLY_SIGNATURE`` as ``py_clob_client_v2/signing/hmac.py`` computes it.

    ``body`` is the request body text as sent; empty means none.
    """
    message = timestamp + method + path
    if body:
        message += body.replace("'", '"')
    # surrogatepass: a server may hand us text it decoded leniently; such a body can never
    # match, but it must fail the comparison rather than raise.
    raw = message.encode("utf-8", "surrogatepass")
    digest = hmac.new(base64.urlsafe_b64decode(secret), raw, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")


def verify_l2_headers(
    headers: Mapping[str, str],
    *,
    method: str,
    path: str,
    body: bytes | str | None,
    store: ApiKeyStore,
    now: float,
    policy: AuthPolicy = AuthPolicy(),
) -> L2Auth:
    """Check L2 headers against the request: the caller, or :class:`L2AuthError` (401).

    ``method`` is the HTTP method as received, ``path`` the raw request target (a query
    string is ignored, percent-escapes are not decoded) and ``body`` the raw request body.
    """
    named = _header_map(headers)
    address = _require(named, POLY_ADDRESS, L2AuthError)
    signature = _require(named, POLY_SIGNATURE, L2AuthError)
    timestamp_text = _require(named, POLY_TIMESTAMP, L2AuthError)
    api_key = _require(named, POLY_API_KEY, L2AuthError)
    passphrase = _require(named, POLY_PASSPHRASE, L2AuthError)
    record = store.lookup(api_key)
    if record is None:
        raise L2AuthError(AuthFailure.UNKNOWN_API_KEY)
    credentials = record.credentials
    if not _same_secret(passphrase, credentials.passphrase):
        raise L2AuthError(AuthFailure.BAD_PASSPHRASE)
    if not is_address(address) or not same_address(address, record.address):
        raise L2AuthError(
            AuthFailure.ADDRESS_MISMATCH, "POLY_ADDRESS is not the key's owner"
        )
    stamp = _timestamp(timestamp_text, now, policy, L2AuthError)
    if isinstance(body, bytes):
        try:
            body_text = body.decode("utf-8")
        except UnicodeDecodeError:
            # The client always sends UTF-8, so this body cannot carry its signature.
            raise L2AuthError(AuthFailure.BAD_SIGNATURE, "body is not UTF-8") from None
    else:
        body_text = body or ""
    expected = hmac_signature(
        credentials.secret, timestamp_text, method, request_path(path), body_text
    )
    if not _same_secret(signature, expected):
        raise L2AuthError(AuthFailure.BAD_SIGNATURE, "HMAC mismatch")
    return L2Auth(address=record.address, api_key=api_key, timestamp=stamp)
