"""Deterministic API credentials and the thread-safe key store."""

from __future__ import annotations

import base64
import re
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from eth_account.signers.local import LocalAccount

from src.sim.emulator.auth import ApiKeyStore, derive_api_creds
from src.sim.emulator.errors import COULD_NOT_DERIVE_API_KEY, ApiKeyNotFoundError

SECRET = b"server-secret"
ADDRESS = "0x19E7E376E7C213B7E7e7e46cc70A5dD086DAff2A"


def test_creds_have_the_venue_shapes() -> None:
    creds = derive_api_creds(ADDRESS, 0, SECRET)
    assert uuid.UUID(creds.api_key).version == 4
    assert str(uuid.UUID(creds.api_key)) == creds.api_key
    assert len(base64.urlsafe_b64decode(creds.secret)) == 32
    assert re.fullmatch(r"[0-9a-f]{64}", creds.passphrase)
    assert creds.response_body() == {
        "apiKey": creds.api_key,
        "secret": creds.secret,
        "passphrase": creds.passphrase,
    }


def test_creds_never_print_their_secrets() -> None:
    creds = derive_api_creds(ADDRESS, 0, SECRET)
    assert creds.secret not in repr(creds)
    assert creds.passphrase not in repr(creds)


def test_creds_are_deterministic_and_case_blind() -> None:
    assert derive_api_creds(ADDRESS, 3, SECRET) == derive_api_creds(
        ADDRESS.lower(), 3, SECRET
    )


@pytest.mark.parametrize(
    ("address", "nonce", "secret"),
    [(ADDRESS, 1, SECRET), ("0x" + "22" * 20, 0, SECRET), (ADDRESS, 0, b"other secret")],
)
def test_creds_differ_by_address_nonce_and_server(
    address: str, nonce: int, secret: bytes
) -> None:
    base = derive_api_creds(ADDRESS, 0, SECRET)
    other = derive_api_creds(address, nonce, secret)
    assert other.api_key != base.api_key
    assert other.secret != base.secret
    assert other.passphrase != base.passphrase


def test_create_is_idempotent_and_derive_agrees(
    store: ApiKeyStore, account: LocalAccount
) -> None:
    first = store.create(account.address, 0)
    assert store.create(account.address.lower(), 0) == first
    assert store.derive(account.address, 0) == first
    record = store.lookup(first.api_key)
    assert record is not None
    assert record.address == account.address


def test_derive_before_create_fails_like_the_venue(
    store: ApiKeyStore, account: LocalAccount
) -> None:
    with pytest.raises(ApiKeyNotFoundError) as caught:
        store.derive(account.address, 0)
    assert caught.value.status == 400
    assert caught.value.body() == {"error": COULD_NOT_DERIVE_API_KEY}


def test_derive_can_create_on_demand(account: LocalAccount) -> None:
    store = ApiKeyStore(SECRET, derive_creates=True)
    creds = store.derive(account.address, 9)
    assert store.lookup(creds.api_key) is not None


def test_keys_for_and_delete(store: ApiKeyStore, account: LocalAccount) -> None:
    keys = {store.create(account.address, nonce).api_key for nonce in range(3)}
    store.create("0x" + "33" * 20, 0)
    assert set(store.keys_for(account.address.lower())) == keys
    victim = sorted(keys)[0]
    assert store.delete(victim)
    assert not store.delete(victim)
    assert store.lookup(victim) is None
    assert victim not in store.keys_for(account.address)


def test_empty_server_secret_is_refused() -> None:
    with pytest.raises(ValueError):
        ApiKeyStore(b"")


def test_store_is_thread_safe(store: ApiKeyStore) -> None:
    addresses = [f"0x{index:040x}" for index in range(64)]

    def work(address: str) -> str:
        created = store.create(address, 0)
        assert store.derive(address, 0) == created
        return created.api_key

    with ThreadPoolExecutor(max_workers=8) as pool:
        keys = list(pool.map(work, addresses * 4))
    assert len(set(keys)) == len(addresses)
    assert all(store.lookup(key) is not None for key in keys)
