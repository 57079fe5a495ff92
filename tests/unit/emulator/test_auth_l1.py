"""L1 (EIP-712 ClobAuth) verification against headers the real client builds."""

from __future__ import annotations

import pytest
from eth_account.signers.local import LocalAccount
from py_clob_client_v2 import ClobClient
from py_clob_client_v2.headers.headers import create_level_1_headers
from py_clob_client_v2.signer import Signer

from src.sim.emulator.auth import (
    AMOY,
    POLYGON,
    ApiKeyStore,
    AuthPolicy,
    L1Auth,
    verify_l1_headers,
)
from src.sim.emulator.errors import INVALID_L1_HEADERS, AuthFailure, L1AuthError
from tests.unit.emulator.fake_clob import Call, FakeTransport

NOW = 1_790_000_000


def headers_for(signer: Signer, nonce: int = 0, timestamp: int = NOW) -> dict[str, str]:
    return create_level_1_headers(signer, nonce=nonce, timestamp=timestamp)


def rejected(
    headers: dict[str, str], *, now: float = NOW, policy: AuthPolicy = AuthPolicy()
) -> L1AuthError:
    with pytest.raises(L1AuthError) as caught:
        verify_l1_headers(headers, now=now, policy=policy)
    error = caught.value
    assert error.status == 401
    assert error.body() == {"error": INVALID_L1_HEADERS}
    return error


@pytest.mark.parametrize("nonce", [0, 1, 7, 2**255])
def test_accepts_client_headers(signer: Signer, account: LocalAccount, nonce: int) -> None:
    auth = verify_l1_headers(headers_for(signer, nonce), now=NOW)
    assert auth == L1Auth(address=account.address, timestamp=NOW, nonce=nonce)


def test_accepts_amoy_when_configured(account: LocalAccount) -> None:
    amoy = Signer(account.key.hex(), AMOY)
    auth = verify_l1_headers(headers_for(amoy), now=NOW, policy=AuthPolicy(chain_id=AMOY))
    assert auth.address == account.address


def test_wrong_chain_is_rejected(account: LocalAccount) -> None:
    amoy = Signer(account.key.hex(), AMOY)
    assert rejected(headers_for(amoy)).reason is AuthFailure.ADDRESS_MISMATCH


def test_header_names_are_case_insensitive(signer: Signer) -> None:
    lowered = {name.lower(): value for name, value in headers_for(signer).items()}
    assert verify_l1_headers(lowered, now=NOW).nonce == 0


def test_lowercase_address_is_the_same_signer(
    signer: Signer, account: LocalAccount
) -> None:
    headers = headers_for(signer)
    headers["POLY_ADDRESS"] = headers["POLY_ADDRESS"].lower()
    assert verify_l1_headers(headers, now=NOW).address == account.address


def test_someone_elses_address_is_rejected(
    signer: Signer, other_account: LocalAccount
) -> None:
    headers = headers_for(signer)
    headers["POLY_ADDRESS"] = other_account.address
    assert rejected(headers).reason is AuthFailure.ADDRESS_MISMATCH


@pytest.mark.parametrize(
    ("name", "value"), [("POLY_NONCE", "1"), ("POLY_TIMESTAMP", str(NOW + 1))]
)
def test_changed_signed_field_is_rejected(signer: Signer, name: str, value: str) -> None:
    headers = headers_for(signer)
    headers[name] = value
    assert rejected(headers).reason is AuthFailure.ADDRESS_MISMATCH


@pytest.mark.parametrize("offset", [-61, 61, -10_000])
def test_stale_timestamp_is_rejected(signer: Signer, offset: int) -> None:
    assert (
        rejected(headers_for(signer), now=NOW + offset).reason
        is AuthFailure.STALE_TIMESTAMP
    )


@pytest.mark.parametrize("offset", [-60, 0, 60])
def test_timestamp_inside_window_is_accepted(signer: Signer, offset: int) -> None:
    assert verify_l1_headers(headers_for(signer), now=NOW + offset).timestamp == NOW


def test_skew_window_is_configurable(signer: Signer) -> None:
    headers = headers_for(signer)
    assert verify_l1_headers(
        headers, now=NOW + 3600, policy=AuthPolicy(max_skew_seconds=None)
    )
    rejected(headers, now=NOW + 6, policy=AuthPolicy(max_skew_seconds=5))


@pytest.mark.parametrize(
    "name", ["POLY_ADDRESS", "POLY_SIGNATURE", "POLY_TIMESTAMP", "POLY_NONCE"]
)
def test_missing_header_is_rejected(signer: Signer, name: str) -> None:
    headers = headers_for(signer)
    del headers[name]
    assert rejected(headers).reason is AuthFailure.MISSING_HEADER


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("POLY_ADDRESS", "0x1234"),
        ("POLY_ADDRESS", "not an address"),
        ("POLY_SIGNATURE", "0xnothex"),
        ("POLY_SIGNATURE", "abc"),
        ("POLY_TIMESTAMP", "-5"),
        ("POLY_TIMESTAMP", "1.5"),
        ("POLY_TIMESTAMP", "9" * 40),
        ("POLY_NONCE", "-1"),
        ("POLY_NONCE", "0x1"),
        ("POLY_NONCE", str(2**256)),
    ],
)
def test_malformed_header_is_rejected(signer: Signer, name: str, value: str) -> None:
    headers = headers_for(signer)
    headers[name] = value
    assert rejected(headers).reason is AuthFailure.MALFORMED_HEADER


@pytest.mark.parametrize(
    "signature", ["0x" + "ff" * 65, "0x" + "00" * 65, "0x" + "11" * 64, "0x"]
)
def test_garbage_signature_is_rejected(signer: Signer, signature: str) -> None:
    headers = headers_for(signer)
    headers["POLY_SIGNATURE"] = signature
    assert rejected(headers).reason is AuthFailure.BAD_SIGNATURE


def test_client_create_or_derive_round_trip(
    account: LocalAccount, store: ApiKeyStore
) -> None:
    """The real client's create_or_derive_api_key against a minimal L1 handler."""

    def handler(call: Call) -> object:
        assert call.headers is not None
        # The client stamps real wall time; the handler plays a server with a synced clock.
        auth = verify_l1_headers(call.headers, now=int(call.headers["POLY_TIMESTAMP"]))
        if (call.method, call.path) == ("POST", "/auth/api-key"):
            return store.create(auth.address, auth.nonce).response_body()
        assert (call.method, call.path) == ("GET", "/auth/derive-api-key")
        return store.derive(auth.address, auth.nonce).response_body()

    transport = FakeTransport(handler)
    client = transport.attach(
        ClobClient("http://emulator.test", POLYGON, key=account.key.hex())
    )
    created = client.create_or_derive_api_key(nonce=5)
    derived = client.derive_api_key(nonce=5)
    assert created == derived
    assert [(call.method, call.path) for call in transport.calls] == [
        ("POST", "/auth/api-key"),
        ("GET", "/auth/derive-api-key"),
    ]
    assert all(call.body is None for call in transport.calls)
    record = store.lookup(created.api_key)
    assert record is not None
    assert (record.address, record.nonce) == (account.address, 5)
