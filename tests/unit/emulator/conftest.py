"""Fixtures for the emulator's auth and order tests: throw-away keys, a store, a client."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from py_clob_client_v2 import ApiCreds, ClobClient
from py_clob_client_v2.signer import Signer

from src.sim.emulator.auth import POLYGON, ApiKeyStore
from tests.unit.emulator.fake_clob import FakeTransport

SERVER_SECRET = b"emulator-test-server-secret"


@pytest.fixture
def account() -> LocalAccount:
    """A fresh random key, never persisted."""
    return Account.create()


@pytest.fixture
def other_account() -> LocalAccount:
    """A second, unrelated key."""
    return Account.create()


@pytest.fixture
def signer(account: LocalAccount) -> Signer:
    """The client's signer for ``account`` on Polygon."""
    return Signer(account.key.hex(), POLYGON)


@pytest.fixture
def store() -> ApiKeyStore:
    """An empty key store."""
    return ApiKeyStore(SERVER_SECRET)


@pytest.fixture
def creds(store: ApiKeyStore, account: LocalAccount) -> ApiCreds:
    """Credentials registered for ``account`` (nonce 0), in the client's type."""
    made = store.create(account.address, 0)
    return ApiCreds(
        api_key=made.api_key, api_secret=made.secret, api_passphrase=made.passphrase
    )


@pytest.fixture
def transport() -> FakeTransport:
    """A recording transport answering with an empty last page."""
    return FakeTransport()


@pytest.fixture
def client(account: LocalAccount, creds: ApiCreds, transport: FakeTransport) -> ClobClient:
    """A real L2 ``ClobClient`` whose requests land in ``transport``."""
    made = ClobClient("http://emulator.test", POLYGON, key=account.key.hex(), creds=creds)
    return transport.attach(made)
