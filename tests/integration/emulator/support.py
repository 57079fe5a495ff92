"""Helpers for the emulator integration tests: clients, liquidity, fee arithmetic.

Nothing here reaches beyond 127.0.0.1. The official clients are used unmodified; only
their configuration (base URLs, the module-level HTTP client's timeout) is set.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from eth_account import Account
from eth_account.signers.local import LocalAccount
from py_clob_client_v2 import ClobClient

from src.sim.emulator.server import EmulatorHandle
from src.sim.emulator.world import ListedMarket
from src.sim.venue import OrderRequest, Side
from src.utils.money import MICRO

MAKER = "0x" + "11" * 20
"""A liquidity account of the tests (auto-funded, like the market model's makers)."""

FEE_RATE = Decimal("0.07")
FIVE_DP = Decimal("0.00001")


@dataclass
class Trader:
    """A generated key and its real, authenticated ``ClobClient``."""

    account: LocalAccount
    client: ClobClient

    @property
    def address(self) -> str:
        """The trader's EIP-55 address (its account at the venue)."""
        return self.account.address


def new_trader(handle: EmulatorHandle) -> Trader:
    """A fresh key with API credentials created through L1, as a bot does at start."""
    account = Account.create()
    client = ClobClient(
        handle.base_url, chain_id=137, key=account.key.hex(), signature_type=0
    )
    client.set_api_creds(client.create_or_derive_api_key())
    return Trader(account, client)


def current_market(handle: EmulatorHandle, coin: str = "BTC") -> ListedMarket:
    """The market of the window running at the emulator's time."""
    now = handle.clock.now()
    for market in handle.source.markets():
        if market.coin == coin and market.start <= now < market.end:
            return market
    raise AssertionError(f"no running {coin} market at {now}")


def quote(handle: EmulatorHandle, token_id: str, side: Side, price: str, size: str) -> str:
    """A resting order from the liquidity account; returns its id."""
    handle.venue.open_liquidity_account(MAKER)
    result = handle.venue.place(MAKER, OrderRequest.limit(token_id, side, price, size))
    assert result.success, result.error
    return result.order_id


def micro(value: str | Decimal) -> int:
    """Decimal text → micro-units (exact)."""
    scaled = Decimal(value) * MICRO
    assert scaled == scaled.to_integral_value(), value
    return int(scaled)


def buy_fee_shares(shares: str, price: str) -> Decimal:
    """Taker BUY fee, in shares: ``shares × 0.07 × (1 − p)`` floored to 5 decimals (the
    collateral fee ``shares × 0.07 × p × (1 − p)`` expressed in shares)."""
    return (Decimal(shares) * FEE_RATE * (1 - Decimal(price))).quantize(
        FIVE_DP, rounding=ROUND_DOWN
    )


def sell_fee_collateral(shares: str, price: str) -> Decimal:
    """Taker SELL fee, in collateral: ``shares × 0.07 × p × (1 − p)`` floored to 5 dp."""
    p = Decimal(price)
    return (Decimal(shares) * FEE_RATE * p * (1 - p)).quantize(FIVE_DP, rounding=ROUND_DOWN)
